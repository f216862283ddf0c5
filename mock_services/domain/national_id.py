"""Iranian national ID (کد ملی): the check-digit rule of DOMAIN.md and a pydantic type for it."""

from __future__ import annotations

import random
import re
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field

_TEN_DIGITS = re.compile(r"^\d{10}$")
FORMAT = "ir-national-id"
"""The OpenAPI `format` of a national ID. A JSON Schema pattern cannot hold the check digit
(a mod-11 sum), and "ten digits" admits IDs the services refuse (`0000000000`, a wrong check
digit), so the document names the rule as a format instead and describes it; a fuzzer
generates values for it from a strategy registered under this name."""
DESCRIPTION = ("An Iranian national ID (kod-e melli): 10 digits, not all equal, the last the "
               "check digit of the first nine (r = sum of d[i]*(10-i) for i = 0..8, mod 11; "
               "check = r if r < 2 else 11 - r). Anything else is refused with 422.")
_SCHEMA = {"format": FORMAT}


def check_digit(first_nine: str) -> int:
    """The check digit for nine leading digits: r = Σ d[i]·(10−i) mod 11; r if r < 2 else 11 − r."""
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(first_nine)) % 11
    return remainder if remainder < 2 else 11 - remainder


def national_id_problem(value: str) -> str | None:
    """Why `value` is not a valid national ID, in one sentence, or None when it is valid."""
    if not _TEN_DIGITS.match(value):
        return f"national ID {value[:20]!r} must be exactly 10 digits"
    if len(set(value)) == 1:
        return f"national ID {value} must not have all digits equal"
    expected = check_digit(value[:9])
    if int(value[9]) != expected:
        return f"national ID {value} fails its check digit (last digit should be {expected})"
    return None


def is_valid_national_id(value: str) -> bool:
    """True when `value` is 10 digits, not all equal, with a correct check digit."""
    return national_id_problem(value) is None


def make_national_id(rng: random.Random) -> str:
    """A random valid national ID drawn from `rng` (deterministic for a seeded rng)."""
    while True:
        first_nine = f"{rng.randrange(10**9):09d}"
        candidate = first_nine + str(check_digit(first_nine))
        if is_valid_national_id(candidate):
            return candidate


def _validate(value: str) -> str:
    problem = national_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


NationalId = Annotated[
    str,
    Field(description=DESCRIPTION, examples=["0013542419"], json_schema_extra=_SCHEMA),
    AfterValidator(_validate),
]
"""A request field holding a valid national ID; a bad one gives a 422 naming the rule broken."""

NationalIdPath = Annotated[
    str,
    Path(description=DESCRIPTION, examples=["0013542419"], json_schema_extra=_SCHEMA),
    AfterValidator(_validate),
]
"""A path parameter holding a valid national ID (422 naming the rule broken otherwise)."""
