"""latency: every chunk is released `latency` ± `jitter` ms after it arrived."""

from __future__ import annotations

from dataclasses import dataclass

from faults.toxiserver.channel import Chunk
from faults.toxiserver.toxics.base import Toxic, ToxicStub

GO_CHUNK_BYTES = 32 * 1024  # Toxiproxy's io.Copy buffer: the largest chunk it reads


@dataclass(frozen=True, slots=True)
class LatencyToxic(Toxic):
    """Delays each chunk from its arrival, so delays do not add up and throughput holds.

    The deadline is absolute (arrival + delay), so time spent queued or descheduled is not
    added on top. The chunk goes on stamped with that deadline: a second latency toxic in
    the same direction counts from it, so stacked latencies add, as Toxiproxy's do (its
    Pipe moves the chunk's Timestamp forward by the sleep). Ahead of it a channel holds up to
    1024 of Toxiproxy's 32 KB chunks (GetBufferSize 1024), so a stream keeps its throughput.
    """

    wire_name = "latency"
    buffer_bytes = 1024 * GO_CHUNK_BYTES

    latency: int = 0  # ms
    jitter: int = 0  # ms, uniform in [-jitter, +jitter)

    async def pipe(self, stub: ToxicStub) -> None:
        while (chunk := await stub.receive()) is not None:
            delay_ms = self.latency
            if self.jitter > 0:
                delay_ms += stub.rng.randrange(2 * self.jitter) - self.jitter
            deadline_s = chunk.arrival_s + delay_ms / 1000
            await stub.sleep_until(deadline_s)
            await stub.send(Chunk(chunk.data, deadline_s))
