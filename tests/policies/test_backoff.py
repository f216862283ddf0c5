"""Properties of the pure backoff functions: bounds, caps, monotone growth."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from policies.backoff import (
    BackoffPolicy,
    decorrelated_jitter,
    equal_jitter,
    exponential,
    full_jitter,
)

bases = st.floats(min_value=0.0, max_value=10.0)
mults = st.floats(min_value=1.0, max_value=4.0)
caps = st.floats(min_value=0.0, max_value=100.0)
ns = st.integers(min_value=0, max_value=2000)
seeds = st.integers(min_value=0, max_value=2**32)


@given(ns, bases, mults, caps)
def test_exponential_is_capped_and_monotone_in_n(n: int, base: float, mult: float,
                                                 cap: float) -> None:
    now, after = exponential(n, base, mult, cap), exponential(n + 1, base, mult, cap)
    assert 0.0 <= now <= cap
    assert now <= after  # growth never reverses, even after reaching the cap


@given(ns, bases, mults, caps, caps)
def test_exponential_is_monotone_in_the_cap(n: int, base: float, mult: float,
                                            cap1: float, cap2: float) -> None:
    low, high = sorted((cap1, cap2))
    assert exponential(n, base, mult, low) <= exponential(n, base, mult, high)


@given(ns, bases, mults, caps, seeds)
def test_full_jitter_lies_in_zero_to_the_exponential(n: int, base: float, mult: float,
                                                    cap: float, seed: int) -> None:
    value = full_jitter(n, base, mult, cap, random.Random(seed))
    assert 0.0 <= value <= exponential(n, base, mult, cap)


@given(ns, bases, mults, caps, seeds)
def test_equal_jitter_lies_in_the_upper_half(n: int, base: float, mult: float, cap: float,
                                            seed: int) -> None:
    top = exponential(n, base, mult, cap)
    value = equal_jitter(n, base, mult, cap, random.Random(seed))
    assert top / 2 <= value <= top + 1e-12


@given(st.floats(min_value=0.0, max_value=1000.0), bases, caps, seeds)
def test_decorrelated_jitter_lies_between_base_and_cap(prev: float, base: float, cap: float,
                                                       seed: int) -> None:
    value = decorrelated_jitter(prev, base, cap, random.Random(seed))
    assert value <= cap
    assert value >= min(base, cap)
    assert value <= max(base, prev * 3)


def test_full_jitter_actually_spreads_the_waits() -> None:
    rng = random.Random(7)
    waits = {round(full_jitter(3, 0.1, 2.0, 10.0, rng), 6) for _ in range(50)}
    assert len(waits) > 40  # a constant (unjittered) wait would give one value


def test_policy_delay_dispatches_on_the_jitter_kind() -> None:
    rng = random.Random(1)
    none = BackoffPolicy(base_s=1.0, multiplier=2.0, max_s=5.0, jitter="none")
    assert [none.delay(n, 0.0, rng) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    deco = BackoffPolicy(base_s=1.0, multiplier=2.0, max_s=5.0, jitter="decorrelated")
    prev = 0.0
    for n in range(20):
        prev = deco.delay(n, prev, rng)
        assert 1.0 <= prev <= 5.0
