"""Samplers for the scenario's distributions: each a function of a seeded `random.Random`.

A sampler is built once from its schema model and called per request, so the per-draw cost
is one bound method call; lognormal parameters come from the median and p99 as quoted.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from itertools import accumulate

from scenario.schema import Deterministic, Dist, Empirical, Exponential, Lognormal, Uniform

Sampler = Callable[[random.Random], float]
Z99 = 2.3263478740408408  # the standard normal's 99th percentile


def sampler(dist: Dist, scale: float = 1.0) -> Sampler:
    """A sampler of `dist` in seconds, every draw multiplied by `scale`."""
    if isinstance(dist, Exponential):
        rate = 1.0 / (dist.mean * scale)
        return lambda rng: rng.expovariate(rate)
    if isinstance(dist, Lognormal):
        mu = math.log(dist.p50 * scale)
        sigma = (math.log(dist.p99) - math.log(dist.p50)) / Z99
        return lambda rng: rng.lognormvariate(mu, sigma)
    if isinstance(dist, Deterministic):
        value = dist.value * scale
        return lambda rng: value
    if isinstance(dist, Uniform):
        low, high = dist.low * scale, dist.high * scale
        return lambda rng: rng.uniform(low, high)
    if isinstance(dist, Empirical):
        values = [v * scale for v in dist.values]
        cum = list(accumulate(dist.weights or [1.0] * len(values)))
        return lambda rng: rng.choices(values, cum_weights=cum)[0]
    raise TypeError(f"unknown distribution {dist!r}")


def mean_of(dist: Dist) -> float:
    """The distribution's mean in seconds (for capacity arithmetic and reports)."""
    if isinstance(dist, Exponential):
        return dist.mean
    if isinstance(dist, Lognormal):
        sigma = (math.log(dist.p99) - math.log(dist.p50)) / Z99
        return dist.p50 * math.exp(sigma * sigma / 2)
    if isinstance(dist, Deterministic):
        return dist.value
    if isinstance(dist, Uniform):
        return (dist.low + dist.high) / 2
    weights = dist.weights or [1.0] * len(dist.values)
    return sum(v * w for v, w in zip(dist.values, weights, strict=True)) / sum(weights)


def upper_bound_s(dist: Dist) -> float:
    """About the 99th percentile of `dist`, in seconds (its maximum where it has one)."""
    if isinstance(dist, Deterministic):
        return dist.value
    if isinstance(dist, Uniform):
        return dist.high
    if isinstance(dist, Exponential):
        return dist.mean * 4.605  # -ln(0.01)
    if isinstance(dist, Lognormal):
        return dist.p99
    if isinstance(dist, Empirical):
        return max(dist.values)
    raise TypeError(f"unknown distribution {dist!r}")
