"""One breaker scenario under the asyncio driver and under the SimPy driver: same decisions.

Sixty overlapping calls to an upstream that times out from t=3 s to 9 s and answers 503
until 12 s. The pipeline has retries with jitter, a budget, a throttle and a breaker, all
sharing one rng; each driver logs every attempt (time, call, timeout) and every result, and
the two logs and breaker histories must be identical — the seam is in the right place when a
policy needs no code path per runtime.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Generator
from typing import Any

import pytest
import simpy

from policies import aio, simpy_driver
from policies.backoff import BackoffPolicy
from policies.breaker import CircuitBreakerPolicy
from policies.budget import RetryBudgetPolicy
from policies.bulkhead import Bulkhead
from policies.outcome import Outcome
from policies.pipeline import ClientPolicy
from policies.retry import RetryPolicy
from policies.throttle import ThrottlePolicy
from policies.timeout import TimeoutPolicy
from tests.policies.vclock import VirtualClock

POLICY = ClientPolicy(
    timeout=TimeoutPolicy(attempt_timeout_s=1.0),
    retry=RetryPolicy(max_attempts=3, backoff=BackoffPolicy(base_s=0.2, max_s=2.0,
                                                            jitter="full")),
    budget=RetryBudgetPolicy(ratio=0.2, window_s=5.0, min_per_s=0.5),
    breaker=CircuitBreakerPolicy(window_size=8, minimum_calls=4, wait_open_s=1.5,
                                 wait_open_multiplier=2.0, max_wait_open_s=4.0,
                                 half_open_calls=2),
    throttle=ThrottlePolicy(k=2.0, window_s=10.0),
)
CALLS = 60
Log = list[tuple[Any, ...]]


def upstream(start: float, timeout_s: float) -> Outcome:
    """The upstream's answer to an attempt started at `start`."""
    if 3.0 <= start < 9.0:
        return Outcome(False, error="timeout", duration_s=timeout_s)
    if 9.0 <= start < 12.0:
        return Outcome(False, status=503, retry_after_s=0.5, duration_s=0.05)
    return Outcome(True, status=200, duration_s=0.2)


def arrival(i: int) -> float:
    return i * 0.41


def run_asyncio(seed: int) -> tuple[Log, list[str]]:
    clock, rng, log = VirtualClock(), random.Random(seed), []
    pipeline = POLICY.build("shahkar")

    async def one(i: int) -> None:
        await clock.sleep(arrival(i))

        async def attempt(timeout_s: float) -> tuple[Outcome, str | None]:
            outcome = upstream(clock.now, timeout_s)
            log.append(("attempt", clock.now, i, timeout_s))
            await clock.sleep(outcome.duration_s)
            return outcome, f"r{i}" if outcome.ok else None

        result = await aio.run_call(pipeline, attempt, clock=clock, rng=rng, sleep=clock.sleep)
        log.append(("result", clock.now, i, result))

    asyncio.run(clock.run([one(i) for i in range(CALLS)]))
    return log, [f"{e.time_s:.6f} {e.value}" for e in pipeline.events]


def run_simpy(seed: int) -> tuple[Log, list[str]]:
    env, rng, log = simpy.Environment(), random.Random(seed), []
    pipeline = POLICY.build("shahkar")

    def one(i: int) -> Generator[Any, Any, None]:
        yield env.timeout(arrival(i))

        def attempt(timeout_s: float) -> Generator[Any, Any, tuple[Outcome, str | None]]:
            outcome = upstream(env.now, timeout_s)
            log.append(("attempt", env.now, i, timeout_s))
            yield env.timeout(outcome.duration_s)
            return outcome, f"r{i}" if outcome.ok else None

        result = yield from simpy_driver.run_call(env, pipeline, attempt, rng)
        log.append(("result", env.now, i, result))

    for i in range(CALLS):
        env.process(one(i))
    env.run()
    return log, [f"{e.time_s:.6f} {e.value}" for e in pipeline.events]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_decisions_under_asyncio_and_simpy(seed: int) -> None:
    aio_log, aio_events = run_asyncio(seed)
    sim_log, sim_events = run_simpy(seed)
    assert aio_log == sim_log
    assert aio_events == sim_events
    values = [e.split()[1] for e in aio_events]
    assert "closed->open" in values and "half_open->closed" in values  # the scenario bites
    reasons = {r[3].reason for r in aio_log if r[0] == "result"}
    assert {"", "breaker_open"} <= reasons


def test_bulkhead_grants_the_same_slots_under_both_drivers() -> None:
    durations = [0.5, 0.2, 1.3, 0.1, 0.7, 0.4, 0.9, 0.3]

    def script(now: float, i: int, got: bool, log: list[tuple[float, int, bool]]) -> None:
        log.append((round(now, 9), i, got))

    clock, aio_log = VirtualClock(), []
    abh = aio.AsyncBulkhead(Bulkhead(2, 0.6), clock, clock.sleep)

    async def a_one(i: int) -> None:
        await clock.sleep(i * 0.15)
        got = await abh.acquire()
        script(clock.now, i, got, aio_log)
        if got:
            await clock.sleep(durations[i])
            abh.release()

    asyncio.run(clock.run([a_one(i) for i in range(len(durations))]))

    env, sim_log = simpy.Environment(), []
    sbh = simpy_driver.SimBulkhead(env, Bulkhead(2, 0.6))

    def s_one(i: int) -> Generator[Any, Any, None]:
        yield env.timeout(i * 0.15)
        got = yield from sbh.acquire()
        script(env.now, i, got, sim_log)
        if got:
            yield env.timeout(durations[i])
            sbh.release()

    for i in range(len(durations)):
        env.process(s_one(i))
    env.run()
    assert aio_log == sim_log
    assert any(not got for _, _, got in aio_log) and all(got for _, i, got in aio_log if i < 2)
