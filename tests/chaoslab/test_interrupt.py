"""Ctrl-C during a live run always ends it: `run_interruptible` against a workload that
loses the cancellation asyncio.run relies on. The SIGINT is sent from inside the running
coroutine, so it always lands while the handler is watching (never on pytest itself)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from chaoslab.live.runner import run_interruptible


def _interrupt_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)


async def _swallows_cancellation(seen: list[str]) -> None:
    _interrupt_self()
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        seen.append("cancelled")  # and carries on, as a library that loses it would
    seen.append("returned")


async def _propagates(seen: list[str]) -> None:
    _interrupt_self()
    try:
        await asyncio.sleep(10)
    finally:
        seen.append("cancelled")


async def _fails_on_cancel(seen: list[str]) -> None:
    _interrupt_self()
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        seen.append("cancelled")
        raise RuntimeError("cleaning up after the cancel went wrong") from None


@pytest.mark.parametrize("workload", [_swallows_cancellation, _propagates, _fails_on_cancel])
def test_ctrl_c_is_keyboard_interrupt_whatever_the_workload_does(
        workload: Callable[[list[str]], Coroutine[Any, Any, None]]) -> None:
    seen: list[str] = []
    before = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_interruptible(workload(seen), on_interrupt=lambda: seen.append("told to stop"))
    assert time.monotonic() - started < 5.0  # the 10 s sleep was cut short
    assert seen[:2] == ["told to stop", "cancelled"]
    assert signal.getsignal(signal.SIGINT) is before


def test_without_ctrl_c_it_is_asyncio_run() -> None:
    async def answer(out: list[int]) -> None:
        await asyncio.sleep(0)
        out.append(42)

    async def fails() -> None:
        raise ValueError("from the workload")

    out: list[int] = []
    run_interruptible(answer(out), on_interrupt=lambda: out.append(-1))
    assert out == [42]
    with pytest.raises(ValueError, match="from the workload"):
        run_interruptible(fails(), on_interrupt=lambda: None)
