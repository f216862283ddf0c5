"""latency: every chunk is released `latency` ± `jitter` ms after it arrived."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from faults.toxiserver.toxics.base import Toxic, ToxicStub


@dataclass(frozen=True, slots=True)
class LatencyToxic(Toxic):
    """Delays each chunk from its arrival, so delays do not add up and throughput holds."""

    wire_name = "latency"
    units = {"latency": "ms", "jitter": "ms"}  # noqa: RUF012 - ClassVar on the base

    latency: int = 0  # ms
    jitter: int = 0  # ms, uniform in [-jitter, +jitter)

    async def pipe(self, stub: ToxicStub) -> None:
        loop = asyncio.get_running_loop()
        while (chunk := await stub.receive()) is not None:
            delay_ms = self.latency
            if self.jitter > 0:
                delay_ms += stub.rng.randrange(2 * self.jitter) - self.jitter
            await stub.sleep(chunk.arrival_s + delay_ms / 1000 - loop.time())
            await stub.send(chunk)
