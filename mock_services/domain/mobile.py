"""Iranian mobile numbers: the pattern of DOMAIN.md, normalised to the 09xxxxxxxxx form."""

from __future__ import annotations

import random
import re
from typing import Annotated

from pydantic import AfterValidator, Field

MOBILE_PATTERN = r"^(\+98|0)?9\d{9}$"
_MOBILE = re.compile(MOBILE_PATTERN)


def normalise_mobile(value: str) -> str:
    """The 11-digit 09xxxxxxxxx form of a valid mobile; ValueError naming the expected form."""
    if not _MOBILE.match(value):
        raise ValueError(f"mobile {value[:20]!r} must look like 09xxxxxxxxx (or +989xxxxxxxxx)")
    return "0" + value[-10:]


def make_mobile(rng: random.Random) -> str:
    """A random well-formed mobile number drawn from `rng`."""
    return f"09{rng.randrange(10**9):09d}"


Mobile = Annotated[
    str,
    Field(min_length=10, max_length=13, pattern=MOBILE_PATTERN, examples=["09121234567"]),
    AfterValidator(normalise_mobile),
]
"""A request field holding a mobile number, normalised to 09xxxxxxxxx."""
