"""The injected clock: wall time and sleep, real in processes, manual in tests.

One home for the names of injected time, so each means one thing across mock_services/:
`Clock` is the services' object (`now()` and `sleep()` together, wall time: sessions and
records outlive a process); `Now` and `AsyncSleep` are the bare callables the lab's clients
and the demand emulator take one at a time (`time.monotonic`, `asyncio.sleep` by default).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio
import anyio.lowlevel

Now = Callable[[], float]
"""A clock read: seconds, on whatever scale the caller chose (monotonic in the lab)."""
AsyncSleep = Callable[[float], Awaitable[object]]
"""An awaitable sleep of `seconds` (`asyncio.sleep`, or a test's fake that advances time)."""


class Clock(Protocol):
    """Seconds since the epoch, and an awaitable sleep."""

    def now(self) -> float:
        """The current time in seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a manual clock advances instead)."""
        ...


class SystemClock:
    """The real clock of a running service."""

    def now(self) -> float:
        """time.time(): sessions and records outlive the process, so wall time."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """anyio.sleep, so cancellation works."""
        await anyio.sleep(seconds)


class ManualClock:
    """A test clock: time moves only when told (or when something sleeps)."""

    def __init__(self, start_s: float = 1_750_000_000.0) -> None:
        self.t = start_s

    def now(self) -> float:
        """The manual time."""
        return self.t

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        """Advance instead of waiting, then yield once so other tasks run."""
        self.t += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()
