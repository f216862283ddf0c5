"""bandwidth: paces the stream at `rate` KB/s (1 KB = 1000 bytes); rate 0 stalls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from faults.toxiserver.channel import Chunk
from faults.toxiserver.toxics.base import Toxic, ToxicStub

SLICE_S = 0.1  # chunks larger than 100 ms worth of data go out in 100 ms slices


@dataclass(frozen=True, slots=True)
class BandwidthToxic(Toxic):
    """Holds each chunk for its size / rate, carrying the sleep error over to the next."""

    wire_name = "bandwidth"

    rate: int = 0  # KB/s

    def problem(self) -> str | None:
        if self.rate < 0:
            return f"bandwidth rate must be >= 0 KB/s, got {self.rate}"
        return None

    async def pipe(self, stub: ToxicStub) -> None:
        loop = asyncio.get_running_loop()
        debt_s = 0.0  # how far ahead of the allowed rate the stream is
        bytes_per_s = self.rate * 1000
        slice_bytes = int(bytes_per_s * SLICE_S)
        while (chunk := await stub.receive()) is not None:
            if bytes_per_s <= 0:
                await stub.stall()
            data = chunk.data
            debt_s += len(data) / bytes_per_s
            while len(data) > slice_bytes:
                await stub.sleep(SLICE_S)
                await stub.send(Chunk(data[:slice_bytes], chunk.arrival_s))
                data = data[slice_bytes:]
                debt_s -= SLICE_S
            started_s = loop.time()
            await stub.sleep(debt_s)
            debt_s -= loop.time() - started_s
            await stub.send(Chunk(data, chunk.arrival_s))
