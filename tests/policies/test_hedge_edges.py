"""Hedged lookups at their edges: deadlines, the spent budget, the latency window."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Generator
from typing import Any

import simpy

from policies import aio, simpy_driver
from policies.decisions import Attempt, Done, GiveUp, Sleep
from policies.hedge import HedgePolicy
from policies.outcome import Outcome
from policies.result import CallResult
from tests.policies.vclock import VirtualClock

OK = Outcome(True, duration_s=0.2)
FAILED = Outcome(False, status=503, duration_s=0.1)


def test_a_deadline_shortens_the_attempts_and_ends_the_lookup() -> None:
    hedger = HedgePolicy(delay_s=0.5, quantile=None, max_ratio=1.0,
                         attempt_timeout_s=2.0).build()
    call = hedger.start(10.0, deadline_s=11.2)
    assert call.next(10.0) == Attempt(11.2 - 10.0)
    assert call.next(10.0) == Sleep(0.5)
    assert call.next(10.5) == Attempt(11.2 - 10.5)  # the hedge gets what is left
    assert call.next(10.5) == Sleep(11.2 - 10.5)  # no more hedges: wait until the deadline
    assert call.next(11.2) == GiveUp("deadline", "deadline")  # nothing answered by then


def test_the_deadline_gives_up_with_the_last_failure_seen() -> None:
    hedger = HedgePolicy(delay_s=0.5, quantile=None, max_hedges=1, max_ratio=0.0).build()
    call = hedger.start(0.0, deadline_s=3.0)
    assert call.next(0.0) == Attempt(2.0)
    assert call.next(0.0) == Sleep(0.5)
    assert call.next(0.5) == Sleep(2.5)  # hedge refused by the budget
    assert call.next(2.999) == Sleep(3.0 - 2.999)  # still time: nothing decided yet
    call.record(2.999, 0, Outcome(False, error="refused"))
    assert call.next(2.999) == GiveUp("refused", "hedges_exhausted")
    late = hedger.start(5.0, deadline_s=5.0)
    assert late.next(5.0) == GiveUp("deadline", "deadline")


def test_a_short_deadline_still_gets_its_attempt() -> None:
    call = HedgePolicy(attempt_timeout_s=2.0).build().start(0.0, deadline_s=0.4)
    assert call.next(0.0) == Attempt(0.4)
    call.record(0.3, 0, OK)
    assert call.next(0.3) == Done()


def test_a_spent_budget_waits_for_the_first_attempt_then_gives_up_on_its_failure() -> None:
    hedger = HedgePolicy(delay_s=0.5, quantile=None, max_hedges=3, max_ratio=0.0).build()
    call = hedger.start(0.0)
    assert call.next(0.0) == Attempt(2.0)
    assert call.next(0.6) == Sleep(math.inf)  # no hedge allowed: wait for the first only
    assert call.next(0.7) == Sleep(math.inf)
    call.record(0.8, 0, FAILED)
    assert call.next(0.8) == GiveUp("http_503", "hedges_exhausted")  # no hedge after failing
    assert hedger.hedges == 0


def test_both_drivers_end_a_lookup_whose_only_attempt_fails_after_the_budget_ran_out() -> None:
    """The budget refuses the hedge; the first attempt then fails: the lookup ends with its
    error and one attempt (it once waited forever: no attempt left to wait for)."""
    policy = HedgePolicy(delay_s=0.5, quantile=None, max_ratio=0.0, attempt_timeout_s=2.0)
    clock = VirtualClock()

    async def a_attempt(timeout_s: float) -> tuple[Outcome, str | None]:
        await clock.sleep(0.8)
        return FAILED, None

    [a_result] = asyncio.run(clock.run([aio.run_hedged(
        policy.build(), a_attempt, clock=clock, sleep=clock.sleep)]))
    env = simpy.Environment()
    box: list[tuple[CallResult[str], float]] = []

    def s_attempt(timeout_s: float) -> Generator[Any, Any, tuple[Outcome, str | None]]:
        yield env.timeout(0.8)
        return FAILED, None

    def lookup() -> Generator[Any, Any, None]:
        result = yield from simpy_driver.run_hedged(env, policy.build(), s_attempt)
        box.append((result, env.now))

    env.process(lookup())
    env.run(until=10.0)  # bounded: the simulated lookup cannot run on
    expected = CallResult(False, None, FAILED, 1, "http_503", "hedges_exhausted")
    assert box == [(expected, 0.8)]
    assert a_result == expected and clock.now == 0.8


def test_the_first_success_ends_the_lookup_even_after_a_failure() -> None:
    hedger = HedgePolicy(delay_s=0.5, quantile=None, max_hedges=2, max_ratio=1.0).build()
    hedger.start(0.0)
    hedger.start(0.0)
    call = hedger.start(0.0)
    call.next(0.0)
    call.record(0.1, 0, FAILED)
    assert call.next(0.1) == Attempt(2.0)  # a failure hedges at once
    call.record(0.3, 1, OK)
    assert call.next(0.3) == Done() and call.winner == 1 and call.result_outcome == OK
    call.record(0.4, 2, FAILED)  # a late answer changes nothing
    assert call.next(0.4) == Done() and call.result_outcome == OK


def test_the_delay_is_the_quantile_from_exactly_min_samples() -> None:
    hedger = HedgePolicy(delay_s=0.5, quantile=0.99, min_samples=3).build()
    hedger.observe(0.1)
    hedger.observe(0.3)
    assert hedger.delay_s() == 0.5  # two latencies: not enough to judge
    hedger.observe(0.2)
    assert hedger.delay_s() == 0.3  # the 99th percentile of three is the largest


def expected_delay(latencies: list[float], quantile: float) -> float:
    """The quantile of the last 256 latencies (the hedger's memory), nearest-rank below."""
    window = sorted(latencies[-256:])
    return window[min(len(window) - 1, int(quantile * len(window)))]


def test_the_delay_follows_the_last_256_latencies() -> None:
    """Old latencies are forgotten oldest first, so the delay tracks a changing upstream."""
    hedger = HedgePolicy(delay_s=0.5, quantile=0.99, min_samples=1).build()
    rng = random.Random(7)
    seen: list[float] = []
    for i in range(700):
        # slow at first, then fast, then a few spikes: the window must slide over all of it
        latency = rng.uniform(1.0, 2.0) if i < 200 else rng.uniform(0.01, 0.1)
        if i % 97 == 0:
            latency = 5.0 + i
        hedger.observe(latency)
        seen.append(latency)
        assert hedger.delay_s() == expected_delay(seen, 0.99), i


def test_the_oldest_latency_is_the_first_forgotten() -> None:
    hedger = HedgePolicy(delay_s=0.5, quantile=0.99, min_samples=1).build()
    # the third-largest of 256 is the 99th percentile; three spikes, the first one oldest
    for latency in [9.0, 0.1, 9.0, 9.0] + [0.1] * 252:
        hedger.observe(latency)
    assert hedger.delay_s() == 9.0
    hedger.observe(0.1)  # the 257th pushes out the first: two spikes left
    assert hedger.delay_s() == 0.1
