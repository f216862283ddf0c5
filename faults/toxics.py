"""Toxic specs: the wire-level description of one Toxiproxy toxic, checked before it is sent.

Pure data, no I/O: the catalog, the schedules and the simulator import it. The attribute
names are Toxiproxy's own (so they carry no unit suffix); their units are in `TOXIC_UNITS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from faults.errors import InvalidFault

Stream = Literal["upstream", "downstream"]

# Toxiproxy 2.12's toxic types and the unit of each attribute (see shared/TOXIPROXY.md).
TOXIC_UNITS: Mapping[str, Mapping[str, str]] = {
    "latency": {"latency": "ms", "jitter": "ms"},
    "bandwidth": {"rate": "KB/s"},
    "slow_close": {"delay": "ms"},
    "timeout": {"timeout": "ms"},
    "reset_peer": {"timeout": "ms"},
    "slicer": {"average_size": "bytes", "size_variation": "bytes", "delay": "us"},
    "limit_data": {"bytes": "bytes"},
    "noop": {},
}


@dataclass(frozen=True, slots=True)
class ToxicSpec:
    """One toxic to add to a proxy: type, attributes (integers), stream, toxicity, name.

    `attributes` is a sorted tuple of (name, value) pairs so the spec stays hashable; build
    one with `ToxicSpec.of("latency", latency=3000, jitter=500)`. An empty `name` lets the
    server choose `<type>_<stream>`.
    """

    type: str
    attributes: tuple[tuple[str, int], ...] = ()
    stream: Stream = "downstream"
    toxicity: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        known = TOXIC_UNITS.get(self.type)
        if known is None:
            raise InvalidFault(
                f"toxic type {self.type!r} is unknown; expected one of {sorted(TOXIC_UNITS)}"
            )
        if self.stream not in ("upstream", "downstream"):
            raise InvalidFault(
                f"toxic stream {self.stream!r} is invalid; expected 'upstream' or 'downstream'"
            )
        if not 0.0 <= self.toxicity <= 1.0:
            raise InvalidFault(f"toxic toxicity {self.toxicity} is not between 0 and 1")
        for key, value in self.attributes:
            if key not in known:
                raise InvalidFault(
                    f"toxic {self.type!r} has no attribute {key!r}; expected one of "
                    f"{sorted(known)}"
                )
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidFault(
                    f"toxic {self.type!r} attribute {key!r} is {value!r}; expected an "
                    f"integer >= 0 ({known[key]})"
                )
        attrs = dict(self.attributes)
        # The real server crashes on these (TOXIPROXY.md "Deviate"): refuse them here.
        if self.type == "slicer" and attrs.get("average_size", 0) <= 0:
            raise InvalidFault("toxic 'slicer' needs average_size > 0 bytes")
        if self.type == "slicer" and attrs.get("size_variation", 0) >= attrs["average_size"]:
            raise InvalidFault("toxic 'slicer' needs size_variation < average_size")
        object.__setattr__(self, "attributes", tuple(sorted(attrs.items())))

    @classmethod
    def of(
        cls,
        type_: str,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str = "",
        **attributes: int,
    ) -> ToxicSpec:
        """Build a spec with the attributes given as keywords."""
        return cls(type_, tuple(attributes.items()), stream, toxicity, name)

    def attributes_dict(self) -> dict[str, int]:
        """The attributes as the JSON object Toxiproxy expects."""
        return dict(self.attributes)


@dataclass(frozen=True, slots=True)
class ToxicInfo:
    """A toxic as the server reports it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: tuple[tuple[str, float], ...]
