"""slicer: splits chunks into pieces of about `average_size` ± `size_variation` bytes."""

from __future__ import annotations

import random
from dataclasses import dataclass

from faults.toxiserver.channel import Chunk
from faults.toxiserver.toxics.base import Toxic, ToxicStub


@dataclass(frozen=True, slots=True)
class SlicerToxic(Toxic):
    """Sends each chunk as several smaller ones with `delay` µs between them."""

    wire_name = "slicer"
    go_int = "int"  # slicer.go declares its attributes int, the others int64

    average_size: int = 0  # bytes
    size_variation: int = 0  # bytes
    delay: int = 0  # µs

    def problem(self) -> str | None:
        if self.average_size <= 0:
            return f"slicer average_size must be > 0 bytes, got {self.average_size}"
        if self.size_variation < 0:
            return f"slicer size_variation must be >= 0 bytes, got {self.size_variation}"
        if self.size_variation > self.average_size:
            # Toxiproxy's chunk() then cuts at a negative offset and panics (slice bounds out
            # of range); equal values stay in bounds and work there, so they work here.
            return (
                f"slicer size_variation ({self.size_variation}) must be at most "
                f"average_size ({self.average_size})"
            )
        return None

    def cuts(self, size: int, rng: random.Random) -> list[int]:
        """Offsets 0 < ... < size where to cut, halving with variation like Toxiproxy."""
        cuts: list[int] = []
        spans = [(0, size)]
        while spans:
            start, end = spans.pop()
            if (end - start) - self.average_size <= self.size_variation:
                cuts.append(end)
                continue
            swing = rng.randrange(2 * self.size_variation) if self.size_variation else 0
            mid = start + (end - start) // 2 + swing - self.size_variation
            spans.append((mid, end))
            spans.append((start, mid))
        return cuts

    async def pipe(self, stub: ToxicStub) -> None:
        while (chunk := await stub.receive()) is not None:
            start = 0
            for end in self.cuts(len(chunk.data), stub.rng):
                await stub.send(Chunk(chunk.data[start:end], chunk.arrival_s))
                start = end
                await stub.sleep(self.delay / 1_000_000)
