"""A queue of chunks between two stages of a link, bounded in bytes, with an end marker.

asyncio.Queue lacks the two moves a toxic chain needs when it is re-plumbed under load:
putting a held chunk back at the front, and retiring a queue into the next one so that a
producer blocked on the old queue lands its chunk in the right place, in order.

The bound is in bytes, not chunks, because chunks are as big as a read (up to 256 KB on the
chain path): Toxiproxy's channels hold chunks of at most 32 KB, and the latency toxic's holds
1024 of them (its GetBufferSize), which is what keeps a stream's throughput through latency.
Every operation is O(1) in the queue's length, so a long queue costs no chunk more time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

BUFFER_BYTES = 1024 * 1024  # ahead of a stage: one read's worth and more, never a whole stream


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes read from one socket, stamped with the loop time they arrived at.

    `arrival_s` is the base of a latency toxic's deadline; a latency toxic sends its chunks on
    stamped with the deadline it kept, so a second latency toxic adds its own (Toxiproxy's
    latency moves StreamChunk.Timestamp forward by the time it waited).
    """

    data: bytes
    arrival_s: float


Item = Chunk | None  # None marks the end of the stream


class Channel:
    """A FIFO of chunks; `put` waits while it holds `max_bytes`, `get` waits while it is empty."""

    __slots__ = ("_bytes", "_getter", "_items", "_max_bytes", "_putters", "forward_to")

    def __init__(self, max_bytes: int = BUFFER_BYTES) -> None:
        self._items: deque[Item] = deque()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()
        self.forward_to: Channel | None = None

    def __len__(self) -> int:
        return len(self._items)

    def target(self) -> Channel:
        """This channel, or the one it was retired into."""
        channel = self
        while channel.forward_to is not None:
            channel = channel.forward_to
        return channel

    def full(self) -> bool:
        """True while a `put` would wait."""
        return self._bytes >= self._max_bytes

    async def wait_space(self) -> None:
        """Wait until the (current target) channel has room for one more chunk."""
        if self.forward_to is not None:
            await self.target().wait_space()  # the target may wait its own way (a Sink)
            return
        while self.full():
            waiter = asyncio.get_running_loop().create_future()
            self._putters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done() or waiter.cancelled():
                    _discard(self._putters, waiter)
            if self.target() is not self:  # retired meanwhile
                await self.target().wait_space()
                return

    async def put(self, item: Item) -> None:
        """Append `item`, waiting while the (current target) channel is full."""
        if item is not None:
            await self.wait_space()
        self.target().push(item)

    def push(self, item: Item) -> None:
        """Append without waiting (end markers, chunks put back by the pipeline)."""
        self._items.append(item)
        if item is not None:
            self._bytes += len(item.data)
        self._wake_getter()

    def push_front(self, item: Item) -> None:
        """Put an item back where the next `get` finds it first."""
        self._items.appendleft(item)
        if item is not None:
            self._bytes += len(item.data)
        self._wake_getter()

    async def get(self) -> Item:
        """The oldest item, waiting while there is none."""
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._getter = waiter
            try:
                await waiter
            finally:
                self._getter = None
        item = self._items.popleft()
        if item is not None:
            self._bytes -= len(item.data)
        if self._putters and not self.full():
            waiter = self._putters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        return item

    def retire_into(self, other: Channel) -> None:
        """Move every item to the end of `other` and send future puts there too."""
        while self._items:
            item = self._items.popleft()
            if item is not None:
                self._bytes -= len(item.data)
            other.push(item)
        self.forward_to = other
        for waiter in self._putters:
            if not waiter.done():
                waiter.set_result(None)
        self._putters.clear()

    def _wake_getter(self) -> None:
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)


def _discard(waiters: deque[asyncio.Future[None]], waiter: asyncio.Future[None]) -> None:
    with contextlib.suppress(ValueError):
        waiters.remove(waiter)
