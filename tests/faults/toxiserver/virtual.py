"""A toxic driven on its own stub under a virtual clock: exact timings, no real waiting.

`drive(toxic, feed)` runs `toxic.pipe` on a real `ToxicStub` between real `Channel`s, on an
event loop whose clock jumps to the next timer whenever nothing is ready (the manual clock of
STYLE.md habit 7). A toxic's sleeps and idle timeouts then cost no wall time and its sends
are stamped with the exact time a socket would have seen them, so a test can check a delay
to the nanosecond on a loaded machine. `sent` is what the toxic's `send` delivered, with the
virtual time of each delivery; `ended_s` is when `pipe` returned (None: it waits forever,
which the loop detects as nothing ready, no timer and no I/O).
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from faults.toxiserver.channel import Channel, Chunk, Item
from faults.toxiserver.toxics import Toxic, ToxicStub

START_S = 1000.0  # the virtual clock's reading at the start (any value; not 0, to catch sums)


class Stalled(Exception):
    """Every task waits on something no timer or socket will ever bring."""


class _VirtualSelector(selectors.DefaultSelector):
    """Polls without blocking; where the loop would block, moves the clock on instead.

    `late_s` makes every timer fire that much late, like a loaded machine's wake-ups.
    """

    def __init__(self, late_s: float) -> None:
        super().__init__()
        self.now_s = START_S
        self.late_s = late_s

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:
            raise Stalled("nothing ready, no timer pending")
        self.now_s += timeout + self.late_s
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on the virtual clock of its selector."""

    def __init__(self, late_s: float = 0.0) -> None:
        self._virtual = _VirtualSelector(late_s)
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now_s


class _Recorder(Channel):
    """The toxic's output: records every chunk with the virtual time it was sent."""

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self._trace = trace

    def push(self, item: Item) -> None:
        if item is not None:  # toxics never send the end marker: the pipeline does
            now_s = asyncio.get_running_loop().time()
            self._trace.sent.append(Sent(now_s - START_S, item.data, item.arrival_s - START_S))


@dataclass(frozen=True)
class Sent:
    """One chunk the toxic sent: when (s from the start), its bytes, its stamp (s from start)."""

    at_s: float
    data: bytes
    stamp_s: float


@dataclass
class Trace:
    """What a toxic did with its input."""

    sent: list[Sent] = field(default_factory=list)
    ended_s: float | None = None  # when pipe returned, s from the start; None: still running
    stub: ToxicStub | None = None

    @property
    def data(self) -> bytes:
        """Every byte sent, in order."""
        return b"".join(s.data for s in self.sent)

    @property
    def times(self) -> list[float]:
        """The send times (s from the start; compare with a nanosecond's tolerance)."""
        return [s.at_s for s in self.sent]


def drive(toxic: Toxic, feed: Sequence[tuple[float, bytes]], *, close: bool = True,
          seed: int | None = 0, state: object | None = None, stop_s: float | None = None,
          late_s: float = 0.0) -> Trace:
    """Run `toxic` on chunks arriving at the given times (s from the start).

    `close`: the end of the stream follows the last chunk. `seed`: the stub's rng, as the
    pipeline seeds it (None: keep the stub's own). `state`: the stub's state (default: the
    toxic's `new_state()`). `stop_s`: cancel the toxic then, as the pipeline does when it
    interrupts one (what it held stays in `trace.stub.held`). `late_s`: timers fire late.
    """
    trace = Trace()
    loop = VirtualLoop(late_s)
    try:
        loop.run_until_complete(_run(toxic, feed, close, seed, state, stop_s, trace))
    except Stalled:
        pass
    finally:
        _close(loop)
    return trace


async def _run(toxic: Toxic, feed: Sequence[tuple[float, bytes]], close: bool, seed: int | None,
               state: object | None, stop_s: float | None, trace: Trace) -> None:
    loop = asyncio.get_running_loop()
    stub = ToxicStub(Channel(toxic.buffer_bytes), _Recorder(trace),
                     toxic.new_state() if state is None else state)
    if seed is not None:
        stub.rng = random.Random(seed)
    trace.stub = stub
    feeder = loop.create_task(_feed(stub.input, feed, close))
    pipe = loop.create_task(toxic.pipe(stub))
    if stop_s is not None:
        loop.call_at(START_S + stop_s, pipe.cancel)
    try:
        await pipe
    except asyncio.CancelledError:
        if not pipe.cancelled():
            raise
    else:
        trace.ended_s = loop.time() - START_S
    feeder.cancel()


async def _feed(channel: Channel, feed: Sequence[tuple[float, bytes]], close: bool) -> None:
    """Like the link's reader: while the toxic's channel is full, a chunk waits outside it,
    and it is stamped when it gets in (the reader stops reading, so the kernel holds it)."""
    loop = asyncio.get_running_loop()
    for at_s, data in feed:
        await asyncio.sleep(START_S + at_s - loop.time())
        await channel.wait_space()
        channel.push(Chunk(data, loop.time()))
    if close:
        await channel.put(None)


def _close(loop: VirtualLoop) -> None:
    """Cancel what is left (a stalled toxic, the feeder) and close the loop cleanly."""
    pending: set[asyncio.Task[Any]] = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
