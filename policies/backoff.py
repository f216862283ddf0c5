"""Backoff: pure functions giving the wait before retry number n, and their config.

The jitter variants follow Marc Brooker, "Exponential Backoff and Jitter", AWS Architecture
Blog, 2015 (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):

- none:          sleep = min(cap, base * multiplier**n)
- full:          sleep = uniform(0, min(cap, base * multiplier**n))
- equal:         t = min(cap, base * multiplier**n); sleep = t/2 + uniform(0, t/2)
- decorrelated:  sleep = min(cap, uniform(base, previous_sleep * 3))

`n` counts retries from 0 (the wait before the second attempt). The functions take the rng
as an argument and never read a clock: the same seed gives the same waits.
"""

from __future__ import annotations

import math
import random
from typing import Literal

from pydantic import Field, model_validator

from policies.config import PolicyConfig

Jitter = Literal["none", "full", "equal", "decorrelated"]


def exponential(n: int, base_s: float, multiplier: float, cap_s: float) -> float:
    """Capped exponential backoff without jitter: min(cap, base * multiplier**n).

    multiplier**n overflows a float near n = 1024 for multiplier 2, long after any cap is
    reached; the overflow is taken as "past the cap" so the function stays total. (The
    exponent is not clamped: with a multiplier near 1 the wait must keep growing to the cap.)
    """
    try:
        grown = base_s * multiplier ** n
    except OverflowError:
        grown = math.inf if base_s else 0.0
    return min(cap_s, grown)


def full_jitter(n: int, base_s: float, multiplier: float, cap_s: float,
                rng: random.Random) -> float:
    """AWS "Full Jitter": uniform(0, min(cap, base * multiplier**n))."""
    return rng.uniform(0.0, exponential(n, base_s, multiplier, cap_s))


def equal_jitter(n: int, base_s: float, multiplier: float, cap_s: float,
                 rng: random.Random) -> float:
    """AWS "Equal Jitter": half the capped exponential, plus uniform(0, the other half)."""
    half = exponential(n, base_s, multiplier, cap_s) / 2.0
    return half + rng.uniform(0.0, half)


def decorrelated_jitter(previous_s: float, base_s: float, cap_s: float,
                        rng: random.Random) -> float:
    """AWS "Decorrelated Jitter": min(cap, uniform(base, previous * 3)).

    `previous_s` is the previous sleep (use `base_s` before the first retry).
    """
    return min(cap_s, rng.uniform(base_s, max(base_s, previous_s * 3.0)))


class BackoffPolicy(PolicyConfig):
    """How long to wait before each retry: exponential with a cap, and a jitter.

    base_s: first wait (0 = immediate retries, the refreshing user of `baseline`);
    multiplier: growth per retry (1 = constant); max_s: the cap; jitter: see module doc.
    """

    base_s: float = Field(default=0.1, ge=0.0, allow_inf_nan=False)
    multiplier: float = Field(default=2.0, ge=1.0, allow_inf_nan=False)
    max_s: float = Field(default=10.0, ge=0.0, allow_inf_nan=False)
    jitter: Jitter = "full"

    @model_validator(mode="after")
    def _cap_covers_base(self) -> BackoffPolicy:
        if self.max_s < self.base_s:
            raise ValueError(f"max_s must be >= base_s ({self.base_s})")
        return self

    def delay(self, n: int, previous_s: float, rng: random.Random) -> float:
        """The wait before retry `n` (0-based); `previous_s` is the last wait (decorrelated)."""
        jitter = self.jitter
        if jitter == "full":
            return full_jitter(n, self.base_s, self.multiplier, self.max_s, rng)
        if jitter == "equal":
            return equal_jitter(n, self.base_s, self.multiplier, self.max_s, rng)
        if jitter == "decorrelated":
            return decorrelated_jitter(previous_s or self.base_s, self.base_s, self.max_s, rng)
        return exponential(n, self.base_s, self.multiplier, self.max_s)
