"""slow_close: data passes; the close is delayed by `delay` ms."""

from __future__ import annotations

from dataclasses import dataclass

from faults.toxiserver.toxics.base import Toxic, ToxicStub


@dataclass(frozen=True, slots=True)
class SlowCloseToxic(Toxic):
    """Forwards every chunk, then waits `delay` before passing the end of the stream on."""

    wire_name = "slow_close"

    delay: int = 0  # ms

    async def pipe(self, stub: ToxicStub) -> None:
        while (chunk := await stub.receive()) is not None:
            await stub.send(chunk)
        await stub.sleep(self.delay / 1000)
