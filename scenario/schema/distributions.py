"""Distributions of durations (service times, latencies, patience, pauses), tagged by `dist`.

    service = { dist = "lognormal", p50 = "300ms", p99 = "2s" }

scenario/dists.py draws from them; this module only says which are well formed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from scenario.schema.fields import STRICT, Duration, PositiveDuration
from scenario.schema.problems import Problem, invalid


class Exponential(BaseModel):
    """Exponential with the given mean: memoryless, as textbook service times."""

    model_config = STRICT

    dist: Literal["exponential"]
    mean: PositiveDuration
    """the mean"""


class Lognormal(BaseModel):
    """Lognormal given by its median and 99th percentile, as latencies are usually quoted."""

    model_config = STRICT

    dist: Literal["lognormal"]
    p50: Duration
    """the median"""
    p99: Duration
    """the 99th percentile, greater than p50"""

    @model_validator(mode="after")
    def _ordered(self) -> Lognormal:
        if not self.p99 > self.p50 > 0:
            raise invalid(Problem("", "p99 greater than p50 greater than 0"))
        return self


class Deterministic(BaseModel):
    """Always the same value."""

    model_config = STRICT

    dist: Literal["deterministic"]
    value: Duration
    """the value"""


class Uniform(BaseModel):
    """Uniform between low and high."""

    model_config = STRICT

    dist: Literal["uniform"]
    low: Duration
    """the least value"""
    high: Duration
    """the greatest value, at least low"""

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low > self.high:
            raise invalid(Problem("", "low at most high",
                                  f"low {self.low:g} s > high {self.high:g} s"))
        return self


class Empirical(BaseModel):
    """Samples drawn from observed values, each with an optional weight."""

    model_config = STRICT

    dist: Literal["empirical"]
    values: Annotated[list[Duration], Field(min_length=1)]
    """the observed values"""
    weights: list[Annotated[float, Field(gt=0)]] | None = None
    """a weight per value (default: equal weights)"""

    @model_validator(mode="after")
    def _same_length(self) -> Empirical:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise invalid(Problem("", "as many weights as values"))
        return self


Dist = Annotated[
    Exponential | Lognormal | Deterministic | Uniform | Empirical, Field(discriminator="dist")
]
