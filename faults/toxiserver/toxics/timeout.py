"""timeout: drops every chunk; closes after `timeout` ms of silence (0: never)."""

from __future__ import annotations

from dataclasses import dataclass

from faults.toxiserver.toxics.base import Toxic, ToxicStub


@dataclass(frozen=True, slots=True)
class TimeoutToxic(Toxic):
    """A black hole with an idle timer that restarts on every dropped chunk."""

    wire_name = "timeout"
    closes_on_removal = True  # the stream it swallowed cannot resume: the connection ends

    timeout: int = 0  # ms

    async def pipe(self, stub: ToxicStub) -> None:
        idle_s = self.timeout / 1000 if self.timeout > 0 else None
        try:
            while await stub.receive(idle_s) is not None:
                pass  # dropped on the floor
        except TimeoutError:
            return
