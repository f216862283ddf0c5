"""The one error of the policies package: a bad parameter, raised at construction.

`PolicyConfigError` is a `ValueError` whose message is one sentence naming the parameter, the
value given and the allowed range, e.g. "breaker.failure_rate_threshold must be in (0, 1]
(got 1.5)". The `check_*` helpers below are what constructors of plain (hot-path) classes
use; pydantic configs convert their validation errors with `from_validation_error`.
"""

from __future__ import annotations

import math

from pydantic import ValidationError


class PolicyConfigError(ValueError):
    """A policy parameter is outside its allowed range."""


def _fail(name: str, allowed: str, value: object) -> PolicyConfigError:
    return PolicyConfigError(f"{name} must be {allowed} (got {value!r})")


def check_positive(name: str, value: float) -> float:
    """Return `value` if it is a finite number > 0, else raise naming `name`."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise _fail(name, "a finite number > 0", value)
    return float(value)


def check_non_negative(name: str, value: float) -> float:
    """Return `value` if it is a finite number >= 0, else raise naming `name`."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise _fail(name, "a finite number >= 0", value)
    return float(value)


def check_at_least(name: str, value: float, minimum: float) -> float:
    """Return `value` if it is a finite number >= `minimum`, else raise naming `name`."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= minimum):
        raise _fail(name, f"a finite number >= {minimum:g}", value)
    return float(value)


def check_ratio(name: str, value: float) -> float:
    """Return `value` if it lies in (0, 1], else raise naming `name`."""
    if not (isinstance(value, int | float) and 0 < value <= 1):
        raise _fail(name, "in (0, 1]", value)
    return float(value)


def check_int_at_least(name: str, value: int, minimum: int) -> int:
    """Return `value` if it is an int >= `minimum`, else raise naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(name, f"an integer >= {minimum}", value)
    return value


def from_validation_error(error: ValidationError, prefix: str = "") -> PolicyConfigError:
    """Turn pydantic's report into one sentence per bad field, naming each parameter."""
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"] if p != "__root__")
        name = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "policy"
        msg = item["msg"].replace("Input should be", "must be").replace("Value error, ", "")
        given = item.get("input")
        got = "" if isinstance(given, dict) else f" (got {given!r})"
        parts.append(f"{name}: {msg[0].lower()}{msg[1:]}{got}")
    return PolicyConfigError("; ".join(parts))
