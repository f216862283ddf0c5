"""The field types scenario files share, and the strict base of every section's model.

Durations carry units ("300ms", "90s", "20m", "2h", "1d", "1h30m") and are at most
`MAX_DAYS` days; times of day are "HH:MM"; the start is a Solar Hijri "YYYY-MM-DDTHH:MM";
a scenario's name is a plain name, since it names the run's directory.
"""

from __future__ import annotations

import re
from typing import Annotated

import jdatetime
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_START = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2})?$")
NAME = re.compile(r"^[\w-][\w.-]{0,99}$")  # a run directory's name: no "/", no leading "."
MAX_DAYS = 400  # a year and a bit: longer durations are typos (or would run for ever)
MAX_DURATION_S = MAX_DAYS * 86_400.0


def parse_duration(value: object) -> float:
    """Seconds from a duration with units: "300ms", "90s", "20m", "2h", "1d", "1h30m"; at most
    `MAX_DAYS` days."""
    if isinstance(value, str) and _DURATION.match(value.strip()):
        seconds = sum(float(n) * _UNIT_S[u] for n, u in _PART.findall(value))
        if not seconds <= MAX_DURATION_S:  # inf too (a number of hundreds of digits)
            raise ValueError(f"a duration of at most {MAX_DAYS}d (a year and a bit), "
                             f"got {value!r}")
        return seconds
    raise ValueError(f'a duration with a unit like "300ms", "90s", "20m", "2h", got {value!r}')


def parse_positive_duration(value: object) -> float:
    """`parse_duration`, refusing zero."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f'a duration greater than 0 like "300ms", "90s", "20m", got {value!r}')
    return seconds


def parse_time_of_day(value: object) -> float:
    """Hours since midnight from "HH:MM" (24:00 allowed as the end of a day)."""
    if isinstance(value, str):
        m = _TIME_OF_DAY.match(value)
        if m and (m.group(1) != "24" or m.group(2) == "00"):
            return int(m.group(1)) + int(m.group(2)) / 60
    raise ValueError(f'a time of day "HH:MM", got {value!r}')


def parse_start(text: str) -> jdatetime.datetime:
    """The scenario's start, "1403-12-25T00:00" in Solar Hijri local time (scenario/calendar.py
    reads it with this parser too); ValueError when it is no such date and time."""
    date, _, clock = text.partition("T")
    year, month, day = (int(x) for x in date.split("-"))
    hour, _, minute = (clock or "00:00").partition(":")
    return jdatetime.datetime(year, month, day, int(hour), int(minute or 0))


def check_start(value: str) -> str:
    """`value` when it is a Solar Hijri start that exists; ValueError saying what was expected."""
    try:
        if not _START.match(value):
            raise ValueError(value)
        parse_start(value)
    except (ValueError, OverflowError):
        raise ValueError(f'a Solar Hijri date and time "YYYY-MM-DDTHH:MM" like '
                         f'"1403-01-15T09:00" (months 1-12, days as in the month, hours '
                         f'00-23), got {value!r}') from None
    return value


def check_name(value: str) -> str:
    """`value` when it is a plain name (it names the run's directory)."""
    if not NAME.match(value):
        raise ValueError(f"a plain name of at most 100 letters, digits, '_', '-' and '.', not "
                         f"starting with '.' (it names the run's directory), got {value!r}")
    return value


def time_of_day_text(hours: float) -> str:
    """"HH:MM" from hours since midnight (the inverse of `parse_time_of_day`)."""
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_positive_duration)]
TimeOfDay = Annotated[float, BeforeValidator(parse_time_of_day)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Factor = Annotated[float, Field(ge=0.0)]


# Every section's model: frozen, no unknown keys (a typo in a scenario is an error, not a
# silent default), no inf or nan; a field's docstring (the string under it) is its
# description in docs/scenarios.md.
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                    use_attribute_docstrings=True)


class Strict(BaseModel):
    """Frozen, no unknown keys: a typo in a scenario is an error, not a silent default."""

    model_config = STRICT
