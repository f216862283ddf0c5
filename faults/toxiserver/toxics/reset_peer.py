"""reset_peer: on the first data, waits `timeout` ms, then ends the connection with a reset."""

from __future__ import annotations

from dataclasses import dataclass

from faults.toxiserver.toxics.base import Toxic, ToxicStub


@dataclass(frozen=True, slots=True)
class ResetToxic(Toxic):
    """Drops the first chunk and closes; a TCP RST when the toxic was there at connect."""

    wire_name = "reset_peer"
    resets_at_connect = True

    timeout: int = 0  # ms

    async def pipe(self, stub: ToxicStub) -> None:
        await stub.receive()
        await stub.sleep(self.timeout / 1000)
