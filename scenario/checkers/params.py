"""Checker parameters: the base model and the field types thresholds share.

Each checker's thresholds are a frozen pydantic model that forbids unknown keys, so a typo
in a scenario's `[invariants]` table is an error naming the key, never a silent default.
Durations take seconds or a string with a unit, like the scenario file ("90s", "20m").
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration_s(value: object) -> object:
    """Seconds from a number or a string with a unit ("90s", "250ms", "2h")."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"expected a duration like '90s', '250ms' or '20m', got {value!r}")
        return float(match.group(1)) * _UNITS_S[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(parse_duration_s), Field(gt=0, allow_inf_nan=False)]
SecondsOrZero = Annotated[float, BeforeValidator(parse_duration_s),
                          Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # milliseconds, rates, ratios
Count = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Quantile = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class Params(BaseModel):
    """Base of every checker's thresholds: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")
