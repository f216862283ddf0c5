"""One user operation as a person lives it: wait, maybe refresh, maybe give up.

DOMAIN.md: a user whose request takes more than about 10 s re-submits with probability
0.5–0.7 after 3–10 s more; the browser drops the first request (the portal may still finish
it: that is the refresh storm's extra load). A user who waits past their patience abandons.
Each submission is its own invoke/completion pair in the history, so the history shows every
request the portal really received.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mock_services.lab.clients.http import Completion
from scenario.history import History, Op

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How patient users are (seconds of the run's clock)."""

    refresh_after_s: float = 10.0
    refresh_probability: float = 0.6
    min_refresh_pause_s: float = 3.0
    max_refresh_pause_s: float = 10.0
    max_refreshes: int = 2
    patience_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.refresh_probability <= 1:
            raise ValueError(f"refresh_probability {self.refresh_probability}: expected 0..1")
        if not 0 < self.min_refresh_pause_s <= self.max_refresh_pause_s:
            raise ValueError("refresh pauses: expected 0 < min_refresh_pause_s <= "
                             "max_refresh_pause_s")
        if not self.patience_s > 0 or not self.refresh_after_s > 0:
            raise ValueError("patience_s and refresh_after_s must be > 0")


async def _wait(task: asyncio.Task[Completion], timeout_s: float) -> bool:
    done, _ = await asyncio.wait({task}, timeout=max(0.0, timeout_s))
    return bool(done)


async def perform(history: History, process: str, f: str, *, key: str, priority: int,
                  submit: Callable[[], Awaitable[Completion]], behaviour: Behaviour,
                  rng: random.Random, clock: Clock, write: bool) -> Completion:
    """Run one user operation (with its refreshes); record every submission; return the last."""
    refreshes = 0
    while True:
        invoked = history.invoke(process, f, clock(), key=key, priority=priority)
        started = clock()
        task = asyncio.ensure_future(submit())
        if await _wait(task, behaviour.refresh_after_s):
            return _complete(history, invoked, task.result(), clock)
        refresh = refreshes < behaviour.max_refreshes and (
            rng.random() < behaviour.refresh_probability)
        if refresh:
            pause = rng.uniform(behaviour.min_refresh_pause_s, behaviour.max_refresh_pause_s)
            wait_s = min(pause, behaviour.patience_s - (clock() - started))
        else:
            wait_s = behaviour.patience_s - (clock() - started)
        if await _wait(task, wait_s):
            return _complete(history, invoked, task.result(), clock)
        task.cancel()
        # the browser dropped the request; a write may still be applied by the portal
        history.complete(invoked, "info" if write else "fail", clock(),
                         value="refreshed" if refresh else "abandoned", error="timeout")
        if not refresh:
            return Completion("info" if write else "fail", "abandoned", "timeout")
        refreshes += 1


def _complete(history: History, invoked: Op, c: Completion, clock: Clock) -> Completion:
    history.complete(invoked, c.type, clock(), value=c.value, error=c.error)
    return c
