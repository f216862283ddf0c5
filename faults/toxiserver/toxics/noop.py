"""noop: passes everything; the reference example of a toxic's shape."""

from __future__ import annotations

from dataclasses import dataclass

from faults.toxiserver.toxics.base import Toxic, ToxicStub


@dataclass(frozen=True, slots=True)
class NoopToxic(Toxic):
    """Forwards every chunk unchanged (no attributes)."""

    wire_name = "noop"

    async def pipe(self, stub: ToxicStub) -> None:
        while (chunk := await stub.receive()) is not None:
            await stub.send(chunk)
