"""The asyncio and SimPy drivers carry out the same decisions for the same call."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Generator
from typing import Any

import simpy

from policies import aio, simpy_driver
from policies.backoff import BackoffPolicy
from policies.outcome import Outcome
from policies.pipeline import ClientPolicy
from policies.result import CallResult
from policies.retry import RetryPolicy
from policies.timeout import TimeoutPolicy

POLICY = ClientPolicy(timeout=TimeoutPolicy(attempt_timeout_s=1.0),
                      retry=RetryPolicy(max_attempts=4, backoff=BackoffPolicy(
                          base_s=0.5, multiplier=2.0, max_s=4.0, jitter="full")))
SCRIPT = [Outcome(False, error="timeout", duration_s=1.0),
          Outcome(False, status=503, duration_s=0.2), Outcome(True, status=200, duration_s=0.3)]


class ManualClock:
    """A clock the test advances; sleeping advances it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def run_aio(script: list[Outcome], seed: int) -> tuple[CallResult[str], list[float]]:
    clock = ManualClock()
    starts: list[float] = []
    outcomes = iter(script)

    async def attempt(timeout_s: float) -> tuple[Outcome, str | None]:
        starts.append(clock.now)
        outcome = next(outcomes)
        clock.now += outcome.duration_s
        return outcome, "body" if outcome.ok else None

    result = asyncio.run(aio.run_call(POLICY.build("u"), attempt, clock=clock,
                                      rng=random.Random(seed), sleep=clock.sleep))
    return result, starts


def run_simpy(script: list[Outcome], seed: int) -> tuple[CallResult[str], list[float]]:
    env = simpy.Environment()
    starts: list[float] = []
    outcomes = iter(script)
    box: list[CallResult[str]] = []

    def attempt(timeout_s: float) -> Generator[Any, Any, tuple[Outcome, str | None]]:
        starts.append(env.now)
        outcome = next(outcomes)
        yield env.timeout(outcome.duration_s)
        return outcome, "body" if outcome.ok else None

    def proc() -> Generator[Any, Any, None]:
        result = yield from simpy_driver.run_call(env, POLICY.build("u"), attempt,
                                                  random.Random(seed))
        box.append(result)

    env.process(proc())
    env.run()
    return box[0], starts


def test_both_drivers_make_the_same_attempts_at_the_same_times() -> None:
    for seed in range(5):
        a_result, a_starts = run_aio(SCRIPT, seed)
        s_result, s_starts = run_simpy(SCRIPT, seed)
        assert a_result == s_result
        assert a_result.ok and a_result.value == "body" and a_result.attempts == 3
        assert a_starts == s_starts
        assert a_starts[1] > 1.0  # a jittered sleep happened between attempts


def test_giving_up_is_reported_the_same_way() -> None:
    script = [Outcome(False, status=400)]
    a_result, _ = run_aio(script, 0)
    s_result, _ = run_simpy(script, 0)
    assert a_result == s_result == CallResult(False, None, script[0], 1, "http_400",
                                              "not_retryable")


def test_aio_driver_enforces_the_attempt_timeout() -> None:
    async def hangs(timeout_s: float) -> tuple[Outcome, None]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    loop_clock = ManualClock()
    pol = ClientPolicy(timeout=TimeoutPolicy(attempt_timeout_s=0.05),
                       retry=RetryPolicy(max_attempts=1))
    result = asyncio.run(aio.run_call(pol.build(), hangs, clock=loop_clock,
                                      rng=random.Random(0)))
    assert not result.ok and result.reason == "timeout"
