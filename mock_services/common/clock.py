"""The injected clock: wall time and sleep, real in processes, manual in tests."""

from __future__ import annotations

import time
from typing import Protocol

import anyio
import anyio.lowlevel


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
