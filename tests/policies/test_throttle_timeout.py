"""Adaptive throttling (SRE book) and the timeout/deadline helpers."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from policies.throttle import AdaptiveThrottle
from policies.timeout import attempt_timeout, decode_budget, encode_budget, remaining_s


def test_no_throttling_while_the_backend_accepts() -> None:
    t = AdaptiveThrottle(k=2.0, window_s=60.0)
    rng = random.Random(0)
    for i in range(500):
        assert t.allow(i * 0.1, rng)
        t.record_answer(i * 0.1, accepted=True)
    assert t.reject_probability(50.0) == 0.0


def test_rejection_follows_the_sre_formula_and_recovers() -> None:
    t = AdaptiveThrottle(k=2.0, window_s=10.0)
    rng = random.Random(0)
    for i in range(100):  # 100 answers, 10 of them accepts
        t.record_answer(i * 0.01, accepted=i % 10 == 0)
    assert abs(t.reject_probability(1.0) - (100 - 2 * 10) / 101) < 1e-12
    rejected = sum(not t.allow(1.0, rng) for _ in range(1000))
    assert rejected > 900  # p starts at 0.79 and rises to 0.98: rejections count as requests
    assert t.reject_probability(20.0) == 0.0  # the window forgot the bad period


def test_requests_in_flight_are_not_refusals() -> None:
    # a cold client's burst: none answered yet, so nothing is known against the backend
    t = AdaptiveThrottle(k=2.0, window_s=60.0)
    rng = random.Random(0)
    assert all(t.allow(0.0, rng) for _ in range(50))
    assert t.reject_probability(0.0) == 0.0
    for _ in range(50):  # then they all come back refused
        t.record_answer(1.0, accepted=False)
    assert t.reject_probability(1.0) == 50 / 51


@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans()), max_size=200),
       st.floats(1.0, 4.0))
def test_reject_probability_is_a_probability(steps: list[tuple[float, bool]], k: float) -> None:
    t = AdaptiveThrottle(k=k, window_s=5.0)
    rng, now = random.Random(1), 0.0
    for dt, accepted in steps:
        now += dt
        if t.allow(now, rng):
            t.record_answer(now, accepted)
        assert 0.0 <= t.reject_probability(now) < 1.0


def test_attempt_timeout_takes_the_smaller_of_timeout_and_budget() -> None:
    assert attempt_timeout(0.0, 2.0, None) == 2.0
    assert attempt_timeout(9.0, 2.0, 10.0) == 1.0
    assert attempt_timeout(10.0, 2.0, 10.0) is None  # no budget left: no call
    assert attempt_timeout(9.96, 2.0, 10.0, min_budget_s=0.05) is None
    assert remaining_s(3.0, None) == float("inf")


def test_budget_travels_as_a_header() -> None:
    assert encode_budget(1.2345) == "1234"
    assert encode_budget(-3.0) == "0"
    assert decode_budget("1500", 100.0) == 101.5
    for bad in (None, "", "-5", "1e3", "abc", "9" * 20):
        assert decode_budget(bad, 0.0) is None
