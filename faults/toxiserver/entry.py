"""A toxic as the API knows it: name, type, stream, toxicity and its attributes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from faults.toxiserver.gojson import float32
from faults.toxiserver.toxics import Toxic

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"


def float32_json(value: float) -> int | float:
    """The shortest decimal that reads back as the same float32 (1, 0.5, 0.1), as Go prints it."""
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        with contextlib.suppress(OverflowError):  # near the top, a short form rounds past it
            if float32(float(text)) == value:
                break
    number = float(text)
    return int(number) if number.is_integer() and abs(number) < 1e21 else number


@dataclass(slots=True)
class ToxicEntry:
    """One toxic of one proxy; mutable like Toxiproxy's ToxicWrapper (updates change it)."""

    name: str
    type: str
    stream: str  # as sent; the direction is its lower-case form
    toxicity: float  # float32, as the real server keeps it
    toxic: Toxic

    @property
    def direction(self) -> str:
        """`upstream` (client to server) or `downstream` (server to client)."""
        return self.stream.lower()

    def to_json(self) -> dict[str, Any]:
        """The wire form: attributes, name, type, stream, toxicity."""
        return {
            "attributes": self.toxic.attributes(),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": float32_json(self.toxicity),
        }
