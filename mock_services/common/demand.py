"""The service demand a scenario puts on the live services, as one JSON file the lab writes.

A scenario gives each portal replica `workers` and `max_queue`, each request kind a service
time and each upstream a latency (scenario/schema.py). The live services do far less work than
that on their own, so the lab writes this model to `<run dir>/demand.json` and every service
emulates it on top of its real work (`mock_services.common.emulation`). No file: no emulation,
the services behave as they always did.

`replicas` is keyed by the portal's `--replica-id` (the lab translates scenario names), the
upstream latencies by the upstream's service name. Every draw is multiplied by `time_factor`.
"""

from __future__ import annotations

import json
import math
import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from scenario.schema import Dist, Kind

_DURATION_KEYS = ("mean", "p50", "p99", "value", "low", "high")


def _seconds_text(value: object) -> object:
    """A number of seconds as the schema's duration text ("0.05s"), exactly; else as is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if not math.isfinite(value) or value < 0:
        return value  # the schema's own sentence refuses it
    text = repr(float(value))
    return f"{text if 'e' not in text else format(Decimal(value), 'f')}s"


def _with_units(raw: object) -> object:
    # The schema's durations are text with units; the file (and tests) may give seconds.
    if not isinstance(raw, dict):
        return raw
    out = {k: _seconds_text(v) if k in _DURATION_KEYS else v for k, v in raw.items()}
    values = out.get("values")
    if isinstance(values, list):
        out["values"] = [_seconds_text(v) for v in values]
    return out


SecondsDist = Annotated[Dist, BeforeValidator(_with_units)]
"""A scenario distribution whose durations may also be plain numbers of seconds."""


class DemandError(ValueError):
    """A demand file that cannot be read or does not match the model (one sentence)."""


class ReplicaDemand(BaseModel):
    """One portal replica's worker slots and the waiting room in front of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workers: Annotated[int, Field(ge=1, le=100_000)]
    max_queue: Annotated[int, Field(ge=0, le=10_000_000)]


class Demand(BaseModel):
    """What every service emulates: the seed of its draws, a time factor, and the demand."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    seed: int
    time_factor: Annotated[float, Field(gt=0.0, le=1_000.0)] = 1.0
    replicas: dict[str, ReplicaDemand] = {}
    kinds: dict[Kind, SecondsDist] = {}
    upstreams: dict[str, SecondsDist] = {}
    # the scenario's submit_list `accept_share`: under `list_queue`, the part of a list's
    # service time spent before its 202
    list_accept_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1


def load_demand(path: Path | None) -> Demand | None:
    """The demand in `path`; None when no path is given or the file does not exist."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DemandError(f"demand file {path}: cannot read it ({exc.strerror or exc})"
                          ) from None
    try:
        return Demand.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise DemandError(f"demand file {path}: key {where}: {err['msg']}") from None


def write_demand(path: Path, demand: Demand) -> None:
    """Write `demand` to `path` atomically (a reader sees the old file or the new, whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(json.dumps(demand.model_dump(mode="json"), indent=1, sort_keys=True))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
