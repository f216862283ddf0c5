"""A bounded queue of chunks between two stages of a link, with an end-of-stream marker.

asyncio.Queue lacks the two moves a toxic chain needs when it is re-plumbed under load:
putting a held chunk back at the front, and retiring a queue into the next one so that a
producer blocked on the old queue lands its chunk in the right place, in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

MAX_ITEMS = 16  # chunks buffered between two stages: backpressure without stalling latency


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes read from one socket, stamped with the loop time they arrived at."""

    data: bytes
    arrival_s: float


Item = Chunk | None  # None marks the end of the stream


class Channel:
    """A FIFO of chunks; `put` waits while it is full, `get` waits while it is empty."""

    __slots__ = ("_getter", "_items", "_max_items", "_putters", "forward_to")

    def __init__(self, max_items: int = MAX_ITEMS) -> None:
        self._items: deque[Item] = deque()
        self._max_items = max_items
        self._getter: asyncio.Future[None] | None = None
        self._putters: list[asyncio.Future[None]] = []
        self.forward_to: Channel | None = None

    def __len__(self) -> int:
        return len(self._items)

    def target(self) -> Channel:
        """This channel, or the one it was retired into."""
        channel = self
        while channel.forward_to is not None:
            channel = channel.forward_to
        return channel

    async def put(self, item: Item) -> None:
        """Append `item`, waiting while the (current target) channel is full."""
        channel = self.target()
        while item is not None and len(channel._items) >= channel._max_items:
            waiter = asyncio.get_running_loop().create_future()
            channel._putters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in channel._putters:
                    channel._putters.remove(waiter)
            channel = self.target()
        channel.push(item)

    def push(self, item: Item) -> None:
        """Append without waiting (end markers, chunks put back by the pipeline)."""
        self._items.append(item)
        self._wake_getter()

    def push_front(self, item: Item) -> None:
        """Put an item back where the next `get` finds it first."""
        self._items.appendleft(item)
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
        if self._putters:
            waiter = self._putters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
        return item

    def retire_into(self, other: Channel) -> None:
        """Move every item to the end of `other` and send future puts there too."""
        while self._items:
            other.push(self._items.popleft())
        self.forward_to = other
        for waiter in self._putters:
            if not waiter.done():
                waiter.set_result(None)
        self._putters.clear()

    def _wake_getter(self) -> None:
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)
