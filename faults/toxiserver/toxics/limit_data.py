"""limit_data: forwards exactly `bytes` bytes per connection and direction, then closes."""

from __future__ import annotations

from dataclasses import dataclass

from faults.toxiserver.channel import Chunk
from faults.toxiserver.toxics.base import Toxic, ToxicStub


@dataclass(slots=True)
class LimitState:
    """Bytes already forwarded on this connection and direction."""

    sent_bytes: int = 0


@dataclass(frozen=True, slots=True)
class LimitDataToxic(Toxic):
    """Cuts the stream after `bytes` bytes, counted across updates of the toxic."""

    wire_name = "limit_data"

    bytes: int = 0  # bytes

    def new_state(self) -> object | None:
        return LimitState()

    async def pipe(self, stub: ToxicStub) -> None:
        state = stub.state
        assert isinstance(state, LimitState)
        while (chunk := await stub.receive()) is not None:
            allowed = max(self.bytes - state.sent_bytes, 0)
            data = chunk.data[:allowed]
            if data:
                await stub.send(Chunk(data, chunk.arrival_s))
                state.sent_bytes += len(data)
            if self.bytes - state.sent_bytes <= 0:
                return
