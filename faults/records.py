"""Faults to and from plain records (a scenario's TOML timeline, a report's JSON).

A record is a flat mapping with `kind` and the fault's fields, e.g.
`{"kind": "slow_upstream", "link": "portal->shahkar", "latency_ms": 3000}`. A raw toxic
carries the toxic's own fields: `{"kind": "toxic", "link": ..., "type": "latency",
"attributes": {"latency": 100}, "stream": "upstream", "toxicity": 0.5}`. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from faults.catalog import FAULT_TYPES, Fault, RawToxic
from faults.errors import InvalidFault
from faults.toxics import ToxicSpec

_TOXIC_FIELDS = frozenset({"type", "attributes", "stream", "toxicity", "name"})


def fault_from_record(record: Mapping[str, Any], where: str = "fault") -> Fault:
    """Build a fault from a record; `InvalidFault` names `where`, the field and what was
    expected."""
    kind = record.get("kind")
    cls = FAULT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidFault(f"{where}: kind {kind!r} is unknown; expected one of "
                           f"{sorted(FAULT_TYPES)}")
    fields = {k: v for k, v in record.items() if k != "kind"}
    if cls is RawToxic:
        return _raw_toxic(fields, where)
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise InvalidFault(f"{where}: {kind} has no field {unknown[0]!r}; expected some of "
                           f"{sorted(allowed)}")
    try:
        fault: Fault = TypeAdapter(cls).validate_python(fields)
    except ValidationError as exc:
        raise InvalidFault(f"{where}: {_first_error(exc, cls.kind)}") from None
    return fault


def _raw_toxic(fields: Mapping[str, Any], where: str) -> RawToxic:
    unknown = sorted(set(fields) - _TOXIC_FIELDS - {"link"})
    if unknown or not isinstance(fields.get("link"), str) or "type" not in fields:
        raise InvalidFault(f"{where}: toxic needs 'link' (text) and 'type', and takes only "
                           f"{sorted(_TOXIC_FIELDS)} besides")
    attributes = fields.get("attributes", {})
    if not isinstance(attributes, Mapping):
        raise InvalidFault(f"{where}: toxic attributes must be a table of integers")
    try:
        spec = ToxicSpec(str(fields["type"]), tuple(attributes.items()),
                         fields.get("stream", "downstream"),
                         float(fields.get("toxicity", 1.0)), str(fields.get("name", "")))
    except InvalidFault as exc:
        raise InvalidFault(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise InvalidFault(f"{where}: toxic toxicity must be a number ({exc})") from None
    return RawToxic(link=fields["link"], toxic=spec)


def _first_error(exc: ValidationError, kind: str) -> str:
    error = exc.errors()[0]
    loc = ".".join(str(part) for part in error["loc"])
    # Errors without a location come from the fault's own checks, which name the kind.
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{kind} field {loc!r}: {message}" if loc else message


def fault_to_record(fault: Fault) -> dict[str, Any]:
    """The record of a fault (the inverse of `fault_from_record`)."""
    if isinstance(fault, RawToxic):
        spec = fault.toxic
        record: dict[str, Any] = {"kind": fault.kind, "link": fault.link, "type": spec.type,
                                  "attributes": spec.attributes_dict(), "stream": spec.stream,
                                  "toxicity": spec.toxicity}
        if spec.name:
            record["name"] = spec.name
        return record
    return {"kind": fault.kind} | {f.name: getattr(fault, f.name)
                                   for f in dataclasses.fields(fault)}
