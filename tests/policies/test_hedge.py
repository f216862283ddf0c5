"""Hedged lookups: sans-IO decisions, the hedge budget, and both drivers agreeing."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Generator
from typing import Any

import simpy

from policies import aio, simpy_driver
from policies.decisions import Attempt, Done, GiveUp, Sleep
from policies.hedge import HedgePolicy
from policies.outcome import Outcome
from policies.result import CallResult
from tests.policies.vclock import VirtualClock

POLICY = HedgePolicy(delay_s=0.5, quantile=None, max_hedges=2, max_ratio=1.0,
                     attempt_timeout_s=3.0)


def test_hedges_after_the_delay_and_the_first_success_wins() -> None:
    call = POLICY.build().start(0.0)
    assert call.next(0.0) == Attempt(3.0)
    assert call.next(0.0) == Sleep(0.5)
    assert call.next(0.5) == Attempt(3.0)  # no answer yet: hedge
    assert call.next(0.5) == Sleep(0.5)
    call.record(0.7, 1, Outcome(True, duration_s=0.2))
    assert call.next(0.7) == Done() and call.winner == 1
    call.record(0.9, 0, Outcome(True, duration_s=0.9))  # a late loser changes nothing
    assert call.winner == 1


def test_a_failure_hedges_at_once_and_all_failing_gives_up() -> None:
    hedger = POLICY.build()
    hedger.start(0.0)  # an earlier lookup leaves budget for two hedges (ratio 1.0)
    call = hedger.start(0.0)
    call.next(0.0)
    call.record(0.1, 0, Outcome(False, status=503))
    assert call.next(0.1) == Attempt(3.0)
    call.record(0.2, 1, Outcome(False, error="refused"))
    assert call.next(0.2) == Attempt(3.0)
    assert call.next(0.2) == Sleep(math.inf)  # nothing more to launch: wait for the last
    call.record(0.3, 2, Outcome(False, error="timeout"))
    assert call.next(0.3) == GiveUp("timeout", "hedges_exhausted")


def test_hedges_are_capped_by_their_budget() -> None:
    hedger = HedgePolicy(delay_s=0.1, quantile=None, max_hedges=1, max_ratio=0.1,
                         window_s=100.0).build()
    for i in range(100):
        call = hedger.start(i * 0.01)
        call.next(i * 0.01)
        call.next(i * 0.01 + 0.2)  # every lookup is slow enough to want a hedge
    assert hedger.hedges == 10


def test_the_delay_follows_the_latency_quantile() -> None:
    hedger = HedgePolicy(delay_s=0.5, quantile=0.9, min_samples=10).build()
    assert hedger.delay_s() == 0.5
    for ms in range(1, 101):
        hedger.observe(ms / 1000)
    assert abs(hedger.delay_s() - 0.091) < 1e-9


def latency(index: int, start: float) -> float:
    """The first copy of every third lookup is stuck; hedges answer in 0.1 s."""
    return 2.0 if index == 0 and int(start * 10) % 3 == 0 else 0.1 + 0.01 * index


def test_both_drivers_agree() -> None:
    clock, aio_log = VirtualClock(), []
    a_hedger = POLICY.build()

    async def a_one(i: int) -> None:
        await clock.sleep(i * 0.13)
        launched = [0]

        async def attempt(timeout_s: float) -> tuple[Outcome, str | None]:
            index, launched[0] = launched[0], launched[0] + 1
            d = latency(index, clock.now)
            await clock.sleep(d)
            return Outcome(True, duration_s=d), f"{i}.{index}"

        aio_log.append((i, await aio.run_hedged(a_hedger, attempt, clock=clock,
                                                sleep=clock.sleep), clock.now))

    asyncio.run(clock.run([a_one(i) for i in range(12)]))

    env, sim_log = simpy.Environment(), []
    s_hedger = POLICY.build()

    def s_one(i: int) -> Generator[Any, Any, None]:
        yield env.timeout(i * 0.13)
        launched = [0]

        def attempt(timeout_s: float) -> Generator[Any, Any, tuple[Outcome, str | None]]:
            index, launched[0] = launched[0], launched[0] + 1
            d = latency(index, env.now)
            yield env.timeout(d)
            return Outcome(True, duration_s=d), f"{i}.{index}"

        result = yield from simpy_driver.run_hedged(env, s_hedger, attempt)
        sim_log.append((i, result, env.now))

    for i in range(12):
        env.process(s_one(i))
    env.run()
    key = sorted
    assert key(aio_log) == key(sim_log)
    results: list[CallResult[str]] = [r for _, r, _ in aio_log]
    assert all(r.ok for r in results)
    assert any(r.value is not None and r.value.endswith(".1") for r in results)  # hedge won
    assert a_hedger.hedges == s_hedger.hedges > 0
