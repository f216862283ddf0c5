"""Keyed token buckets at their edges: refused parameters, `tokens`, refill, the memory bound.

The memory bound has no outward sign by design (a dropped bucket was full, like a new one), so
those tests count the buckets held, as tests/policies/test_serverside.py does.
"""

from __future__ import annotations

import re

import pytest

from policies.decisions import Admit, Reject
from policies.errors import PolicyConfigError
from policies.ratelimit import KeyedTokenBucket


@pytest.mark.parametrize("build,message", [
    (lambda: KeyedTokenBucket(0.0, 1.0),
     "ratelimit.rate_per_s must be a finite number > 0 (got 0.0)"),
    (lambda: KeyedTokenBucket(1.0, 0),
     "ratelimit.burst must be a finite number > 0 (got 0)"),
    (lambda: KeyedTokenBucket(1.0, 0.5), "ratelimit.burst must be >= 1 (got 0.5)"),
    (lambda: KeyedTokenBucket(1.0, 1.0, max_keys=0),
     "ratelimit.max_keys must be an integer >= 1 (got 0)"),
])
def test_bad_parameters_are_refused_in_one_sentence(build: object, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=re.escape(message) + "$"):
        build()  # type: ignore[operator]


def test_tokens_reports_the_refilled_count_without_taking() -> None:
    rl = KeyedTokenBucket(rate_per_s=0.5, burst=4.0)
    assert rl.tokens("a", 10.0) == 4.0  # an unknown key has a full bucket
    for _ in range(3):
        assert rl.take("a", 10.0) == Admit()
    assert rl.tokens("a", 10.0) == 1.0
    assert rl.tokens("a", 12.0) == 2.0  # 1 + 2 s * 0.5/s
    assert rl.tokens("a", 12.0) == 2.0  # asking takes nothing
    assert rl.tokens("a", 30.0) == 4.0  # never more than the burst
    assert rl.tokens("b", 12.0) == 4.0


def test_a_rejection_says_when_the_tokens_are_back() -> None:
    rl = KeyedTokenBucket(rate_per_s=0.5, burst=2.0)
    assert rl.take("a", 0.0) == Admit() and rl.take("a", 0.0) == Admit()
    assert rl.take("a", 1.0) == Reject("rate_limited", 1.0)  # 0.5 there, 0.5 missing at 0.5/s
    assert rl.take("a", 2.0) == Admit()
    assert rl.take("a", 2.0, cost=2.0) == Reject("rate_limited", 4.0)


def test_a_single_key_bound_is_allowed() -> None:
    rl = KeyedTokenBucket(rate_per_s=1.0, burst=1.0, max_keys=1)
    assert rl.take("a", 0.0) == Admit() and rl.take("b", 1.0) == Admit()
    assert len(rl._buckets) == 1  # "a" was full again at 1.0


def test_buckets_full_at_exactly_this_instant_are_dropped() -> None:
    rl = KeyedTokenBucket(rate_per_s=2.0, burst=2.0, max_keys=2)
    rl.take("a", 0.0)
    rl.take("b", 0.0)  # both hold 1 token, full again at 0.5 (1 + 0.5 s * 2/s)
    rl.take("c", 0.5)
    assert len(rl._buckets) <= rl.max_keys
    assert rl.take("a", 0.5) == Admit() and rl.take("a", 0.5) == Admit()  # a fresh burst


def test_buckets_not_yet_full_are_kept_past_the_bound() -> None:
    rl = KeyedTokenBucket(rate_per_s=2.0, burst=2.0, max_keys=2)
    rl.take("a", 0.0)
    rl.take("b", 0.0)
    rl.take("c", 0.25)  # a and b hold 1.5: forgetting them would hand out a fresh burst
    assert len(rl._buckets) == 3
    assert rl.take("a", 0.25) == Admit() and isinstance(rl.take("a", 0.25), Reject)


def test_the_default_bound_is_a_hundred_thousand_keys() -> None:
    rl = KeyedTokenBucket(rate_per_s=1.0, burst=1.0)
    for i in range(100_000):
        rl.take(str(i), 0.0)
    assert len(rl._buckets) == 100_000
    rl.take("one more", 1.0)  # every other bucket is full again: dropped
    assert len(rl._buckets) == 1
