"""A virtual clock for asyncio tests: sleeping advances simulated time, in FIFO order.

Every wait goes through `VirtualClock.sleep`; `run` wakes the earliest sleeper (ties in the
order they went to sleep, as SimPy does), then lets the woken tasks run until they are all
waiting again. Real time is not involved, so runs are exact and fast.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Coroutine
from typing import Any


class VirtualClock:
    """now() and sleep() for the drivers, and a scheduler that runs coroutines to the end."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, coros: list[Coroutine[Any, Any, Any]]) -> list[Any]:
        """Run `coros` as tasks (started in list order) until every one has finished."""
        tasks = [asyncio.ensure_future(c) for c in coros]
        while True:
            for _ in range(20):  # let woken tasks reach their next sleep
                await asyncio.sleep(0)
            if not self._sleepers:
                break
            wake, _, future = heapq.heappop(self._sleepers)
            if future.cancelled():  # an abandoned timer: time does not jump for it
                continue
            self.now = wake
            future.set_result(None)
        return await asyncio.gather(*tasks)
