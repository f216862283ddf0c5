"""Timing under load (issue #22): what the proxy does so that a latency of L ms adds L ms.

Three mechanisms, each shown on real descriptors and real processes: the latency toxic waits
on a timerfd at its deadline instead of an epoll timeout rounded up to the millisecond
(deadline.py); a chunk on the chain path is stamped with the kernel's arrival time of its
bytes, not the time the loop got round to reading them (stamped.py); the server process
keeps its start-up heap out of later garbage collections (server.py). No assertion here is
on a duration: each is on an order of events (never before the deadline, stamped before the
read) or on what the process reports.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from faults.toxiserver import spawn
from faults.toxiserver.channel import Channel, Chunk, Item
from faults.toxiserver.deadline import Deadlines
from faults.toxiserver.stamped import AVAILABLE, SO_TIMESTAMPNS, StampedReader, arrival_s
from faults.toxiserver.toxics import ToxicStub
from faults.toxiserver.toxics.latency import LatencyToxic

LINUX = os.uname().sysname == "Linux"
T = TypeVar("T")


class _Recording(selectors.DefaultSelector):
    """The loop's selector, noting every timeout the loop waited with."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.timeouts.append(timeout)
        return super().select(timeout)


def _run(main: Callable[[asyncio.AbstractEventLoop], Awaitable[T]]) -> tuple[T, list[float]]:
    """Run `main(loop)` on a stock selector loop; its result and the positive timeouts waited."""
    selector = _Recording()
    loop = asyncio.SelectorEventLoop(selector)
    try:
        result = loop.run_until_complete(main(loop))
    finally:
        loop.close()
    return result, [t for t in selector.timeouts if t]


# -- deadline.py: a timerfd, not a rounded epoll timeout ----------------------------------


@pytest.mark.skipif(not LINUX, reason="timerfd is Linux only")
def test_sleepers_wake_in_deadline_order_never_early_without_an_epoll_timeout() -> None:
    async def main(loop: asyncio.AbstractEventLoop) -> list[tuple[str, float, float]]:
        deadlines = Deadlines.of(loop)
        assert deadlines is not None
        start = loop.time()
        woke: list[tuple[str, float, float]] = []

        async def sleeper(name: str, deadline_s: float) -> None:
            await deadlines.sleep_until(deadline_s)
            woke.append((name, deadline_s, loop.time()))

        cancelled = loop.create_task(sleeper("cancelled", start + 0.01))
        tasks = [loop.create_task(sleeper(n, start + d)) for n, d in
                 (("c", 0.03), ("a", 0.01), ("b", 0.02), ("past", -1.0))]
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(*tasks)
        return woke

    woke, timeouts = _run(main)
    assert [name for name, _, _ in woke] == ["past", "a", "b", "c"]
    assert all(at >= deadline for _, deadline, at in woke)  # never before the deadline
    # The loop slept until the timer's descriptor fired: it never waited on an epoll
    # timeout, which CPython rounds up to the next whole millisecond.
    assert timeouts == []


@pytest.mark.skipif(not LINUX, reason="timerfd is Linux only")
def test_the_latency_toxic_waits_on_the_timerfd_of_its_pipeline() -> None:
    """As the pipeline runs it (link.py gives every stub its loop's Deadlines)."""

    async def main(loop: asyncio.AbstractEventLoop) -> tuple[float, float]:
        sent = Channel()
        stub = ToxicStub(Channel(), sent, None)
        stub.deadlines = Deadlines.of(loop)
        arrival = loop.time()
        stub.input.push(Chunk(b"x", arrival))
        stub.input.push(None)
        await LatencyToxic(latency=20).pipe(stub)
        item: Item = await sent.get()
        assert item is not None
        return arrival + 0.020, item.arrival_s

    (deadline, stamped), timeouts = _run(main)
    assert stamped == deadline  # sent on with the deadline it kept, as before
    assert timeouts == []  # with asyncio.sleep the loop waited about 0.02 s, rounded up


def test_a_loop_with_its_own_clock_gets_no_timerfd() -> None:
    class OwnClock(asyncio.SelectorEventLoop):
        def time(self) -> float:
            return 0.0

    loop = OwnClock()
    try:
        assert Deadlines.of(loop) is None  # a test's virtual clock: asyncio.sleep as before
    finally:
        loop.close()


# -- stamped.py: the kernel's arrival time -------------------------------------------------


@pytest.mark.network
@pytest.mark.skipif(not AVAILABLE, reason="SO_TIMESTAMPNS through recvmsg is Linux only")
def test_a_read_is_stamped_with_the_kernels_arrival_not_the_time_it_was_read() -> None:
    """The loop is busy when the bytes come in, as a loaded proxy is; the stamp is not.

    Linux turns receive timestamps on for the whole system when a first socket asks, through
    deferred work: until that has run (later on a loaded machine), packets are stamped when
    read. Probes go first, until one is stamped before its read (a bounded loop on what the
    kernel does, not a sleep); then the measured send."""
    busy_s, probes = 0.005, 50

    def busy(until_s: float, loop: asyncio.AbstractEventLoop) -> None:
        while loop.time() < until_s:  # the loop busy elsewhere: no read meanwhile
            pass

    async def main(loop: asyncio.AbstractEventLoop) -> tuple[float, float, float, float]:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            left = socket.create_connection(listener.getsockname())
            right, _ = listener.accept()
        reads: asyncio.Queue[tuple[float, float]] = asyncio.Queue()

        def on_data(data: bytes, at_s: float) -> None:
            reads.put_nowait((at_s, loop.time()))

        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, right)
        reader = StampedReader(transport, on_data, lambda error: None)
        reader.start()
        try:
            for _ in range(probes):  # until the kernel stamps on arrival
                left.sendall(b"p")
                busy(loop.time() + busy_s, loop)
                at_s, read_at = await reads.get()
                if at_s < read_at - busy_s / 2:
                    break
            before = loop.time()
            left.sendall(b"stamped")
            sent = loop.time()
            busy(sent + busy_s, loop)
            arrival, read_at = await reads.get()
        finally:
            reader.close()
            transport.close()
            left.close()
        return before, sent, read_at, arrival

    (before, sent, read_at, arrival), _ = _run(main)
    assert before <= arrival <= sent < read_at  # stamped when the kernel had the bytes


def _timestamp(at_s: float) -> list[tuple[int, int, bytes]]:
    seconds = int(at_s)
    return [(socket.SOL_SOCKET, SO_TIMESTAMPNS,
             struct.pack("qq", seconds, round((at_s - seconds) * 1e9)))]


@pytest.mark.parametrize(("ancillary", "expected"), [
    (_timestamp(999.75), 49.75),  # 0.25 s old on the wall clock: 0.25 s before loop time
    ([], 50.0),  # no timestamp (the option refused): the loop's time
    (_timestamp(1000.5), 50.0),  # from the future (the wall clock stepped back)
    (_timestamp(990.0), 50.0),  # older than MAX_AGE_S (the wall clock stepped forward)
])
def test_arrival_from_a_timestamp_or_else_the_loops_time(
        ancillary: list[tuple[int, int, bytes]], expected: float) -> None:
    assert arrival_s(ancillary, 1000.0, 50.0) == pytest.approx(expected, abs=1e-6)


# -- server.py: the start-up heap out of later collections --------------------------------


@pytest.mark.network
def test_the_server_process_freezes_its_start_up_heap(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    spawn.start(log_path=log_path).stop()
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    [frozen] = [line for line in lines if line.get("msg") == "start-up heap frozen"]
    assert frozen["objects"] > 1000  # modules and classes: start-up's, not a handful
