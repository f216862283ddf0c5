"""The drivers at their edges: hedged lookups cut by a deadline, attempts that raise,
answers arriving together, and bulkhead waiters that are refused or cancelled."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Generator
from typing import Any

import simpy

from policies import aio, simpy_driver
from policies.backoff import BackoffPolicy
from policies.bulkhead import Bulkhead
from policies.hedge import HedgePolicy
from policies.outcome import Outcome
from policies.pipeline import ClientPolicy
from policies.result import CallResult
from policies.retry import RetryPolicy
from policies.timeout import TimeoutPolicy
from tests.policies.vclock import VirtualClock

HEDGE = HedgePolicy(delay_s=0.5, quantile=None, max_hedges=1, max_ratio=1.0,
                    attempt_timeout_s=2.0)


def answer(index: int, latency: float, failing: set[int]) -> tuple[Outcome, str | None]:
    if index in failing:
        return Outcome(False, status=503, duration_s=latency), None
    return Outcome(True, duration_s=latency), f"answer {index}"


def aio_hedged(latencies: list[float], deadline_s: float | None = None,
               failing: frozenset[int] = frozenset(),
               ) -> tuple[CallResult[str], list[float], float]:
    """A hedged lookup under asyncio on a virtual clock; attempt i answers after
    latencies[i] (whatever its timeout). Returns the result, the timeouts the attempts
    were given, and when the lookup ended."""
    clock, timeouts = VirtualClock(), []

    async def attempt(timeout_s: float) -> tuple[Outcome, str | None]:
        index = len(timeouts)
        timeouts.append(timeout_s)
        await clock.sleep(latencies[index])
        return answer(index, latencies[index], set(failing))

    async def lookup() -> tuple[CallResult[str], float]:
        result = await aio.run_hedged(HEDGE.build(), attempt, clock=clock, sleep=clock.sleep,
                                      deadline_s=deadline_s)
        return result, clock.now

    [(result, ended)] = asyncio.run(clock.run([lookup()]))
    return result, timeouts, ended


def sim_hedged(latencies: list[float], deadline_s: float | None = None,
               failing: frozenset[int] = frozenset(),
               ) -> tuple[CallResult[str], list[float], float]:
    """The same lookup in SimPy."""
    env, timeouts, box = simpy.Environment(), [], []

    def attempt(timeout_s: float) -> Generator[Any, Any, tuple[Outcome, str | None]]:
        index = len(timeouts)
        timeouts.append(timeout_s)
        yield env.timeout(latencies[index])
        return answer(index, latencies[index], set(failing))

    def lookup() -> Generator[Any, Any, None]:
        result = yield from simpy_driver.run_hedged(env, HEDGE.build(), attempt,
                                                    deadline_s=deadline_s)
        box.append((result, env.now))

    env.process(lookup())
    env.run(until=100.0)
    [(result, ended)] = box
    return result, timeouts, ended


def test_a_hedged_lookup_gives_up_at_its_deadline_in_both_drivers() -> None:
    for run in (aio_hedged, sim_hedged):
        result, timeouts, ended = run([5.0, 5.0], deadline_s=1.2)
        assert result == CallResult(False, None, None, 2, "deadline", "deadline"), run
        assert timeouts == [1.2, 1.2 - 0.5] and ended == 1.2, run


def test_a_hedged_lookup_ends_when_its_answer_comes_in_both_drivers() -> None:
    """The hedge timer is abandoned: the lookup ends at the answer, not at the hedge delay."""
    for run in (aio_hedged, sim_hedged):
        result, timeouts, ended = run([0.2])
        assert result == CallResult(True, "answer 0", Outcome(True, duration_s=0.2), 1), run
        assert timeouts == [2.0] and ended == 0.2, run


def test_a_failed_attempt_launches_the_hedge_at_once_in_both_drivers() -> None:
    """The first copy fails after 0.1 s: the hedge goes then, not at the 0.5 s delay."""
    for run in (aio_hedged, sim_hedged):
        result, timeouts, ended = run([0.1, 0.2], failing=frozenset({0}))
        assert result == CallResult(True, "answer 1", Outcome(True, duration_s=0.2), 2), run
        assert timeouts == [2.0, 2.0] and ended == 0.1 + 0.2, run


def test_the_first_launched_wins_when_answers_arrive_together() -> None:
    """The stuck first copy and its hedge answer at the same instant: attempts are recorded
    in launch order, so the first copy's answer is the one returned."""
    result, _, ended = sim_hedged([1.0, 0.5])
    assert result.value == "answer 0" and result.attempts == 2 and ended == 1.0
    clock, gate, release = VirtualClock(), asyncio.Event(), []

    async def first_and_hedge_together(timeout_s: float) -> tuple[Outcome, str | None]:
        if not gate.is_set():
            waiting = asyncio.Event()
            gate.set()
            release.append(waiting)
            await waiting.wait()
            return Outcome(True, duration_s=0.5), "first"
        release[0].set()  # the first copy answers as the hedge does
        return Outcome(True, duration_s=0.0), "hedge"

    [result] = asyncio.run(clock.run([aio.run_hedged(
        HEDGE.build(), first_and_hedge_together, clock=clock, sleep=clock.sleep)]))
    assert result.value == "first" and result.attempts == 2


def test_an_attempt_that_raises_is_a_failed_attempt() -> None:
    """An exception is an "error" outcome, a TimeoutError a "timeout": the lookup hedges at
    once and reports the last failure."""
    raised = [TimeoutError(), ConnectionResetError()]
    clock = VirtualClock()

    async def attempt(timeout_s: float) -> tuple[Outcome, str | None]:
        raise raised.pop(0)

    [result] = asyncio.run(clock.run([aio.run_hedged(HEDGE.build(), attempt, clock=clock,
                                                     sleep=clock.sleep)]))
    assert result == CallResult(False, None, Outcome(False, error="error"), 2, "error",
                                "hedges_exhausted")
    raised = [ConnectionResetError(), TimeoutError()]
    [result] = asyncio.run(clock.run([aio.run_hedged(HEDGE.build(), attempt, clock=clock,
                                                     sleep=clock.sleep)]))
    assert result == CallResult(False, None, Outcome(False, error="timeout"), 2, "timeout",
                                "hedges_exhausted")
    assert clock.now == 0.0


def test_a_full_bulkhead_without_waiting_room_refuses_in_both_drivers() -> None:
    async def aio_twice() -> list[bool]:
        abh = aio.AsyncBulkhead(Bulkhead(1, 0.0), lambda: 0.0)
        return [await abh.acquire(), await abh.acquire()]

    assert asyncio.run(aio_twice()) == [True, False]
    env, seen = simpy.Environment(), []
    sbh = simpy_driver.SimBulkhead(env, Bulkhead(1, 0.0))

    def twice() -> Generator[Any, Any, None]:
        seen.append((yield from sbh.acquire()))
        seen.append((yield from sbh.acquire()))

    env.process(twice())
    env.run()
    assert seen == [True, False]


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_a_cancelled_waiter_gives_up_its_place_not_a_slot() -> None:
    async def scenario() -> None:
        bulkhead = Bulkhead(1, 10.0)
        abh = aio.AsyncBulkhead(bulkhead, lambda: 0.0, VirtualClock().sleep)
        assert await abh.acquire()  # A holds the only slot
        b, c = asyncio.ensure_future(abh.acquire()), asyncio.ensure_future(abh.acquire())
        await settle()
        assert bulkhead.waiting == 2
        b.cancel()
        await settle()
        assert b.cancelled() and not c.done()  # C still waits: A holds the slot
        assert bulkhead.waiting == 1 and bulkhead.active == 1 and bulkhead.rejected == 1
        abh.release()  # A done: C gets the slot
        await settle()
        assert c.result() is True and bulkhead.active == 1
        abh.release()
        assert bulkhead.active == 0 and bulkhead.waiting == 0

    asyncio.run(scenario())


def test_a_slot_granted_as_its_waiter_is_cancelled_is_handed_on() -> None:
    async def scenario() -> None:
        bulkhead = Bulkhead(1, 10.0)
        abh = aio.AsyncBulkhead(bulkhead, lambda: 0.0, VirtualClock().sleep)
        assert await abh.acquire()
        b, c = asyncio.ensure_future(abh.acquire()), asyncio.ensure_future(abh.acquire())
        await settle()
        abh.release()  # the slot passes to B ...
        b.cancel()  # ... as B is cancelled, before it could see it
        await settle()
        assert b.cancelled() and c.result() is True  # B handed the slot on to C
        assert bulkhead.active == 1 and bulkhead.rejected == 0
        abh.release()
        assert bulkhead.active == 0

    asyncio.run(scenario())


RETRYING = ClientPolicy(timeout=TimeoutPolicy(attempt_timeout_s=1.0),
                        retry=RetryPolicy(max_attempts=5, backoff=BackoffPolicy(
                            base_s=1.0, multiplier=1.0, max_s=1.0, jitter="none")))
E503 = Outcome(False, status=503, duration_s=0.5)


def aio_call(deadline_s: float | None, idempotent: bool) -> tuple[CallResult[str], list[float]]:
    """A call under asyncio whose attempts all answer 503 after 0.5 s; returns the result
    and the timeouts the attempts were given."""
    clock, timeouts = VirtualClock(), []

    async def attempt(timeout_s: float) -> tuple[Outcome, str | None]:
        timeouts.append(timeout_s)
        await clock.sleep(0.5)
        return E503, None

    [result] = asyncio.run(clock.run([aio.run_call(
        RETRYING.build(), attempt, clock=clock, rng=random.Random(0), sleep=clock.sleep,
        deadline_s=deadline_s, idempotent=idempotent)]))
    return result, timeouts


def sim_call(deadline_s: float | None, idempotent: bool) -> tuple[CallResult[str], list[float]]:
    """The same call in SimPy."""
    env, timeouts, box = simpy.Environment(), [], []

    def attempt(timeout_s: float) -> Generator[Any, Any, tuple[Outcome, str | None]]:
        timeouts.append(timeout_s)
        yield env.timeout(0.5)
        return E503, None

    def proc() -> Generator[Any, Any, None]:
        box.append((yield from simpy_driver.run_call(
            env, RETRYING.build(), attempt, random.Random(0), deadline_s=deadline_s,
            idempotent=idempotent)))

    env.process(proc())
    env.run(until=100.0)
    return box[0], timeouts


def test_both_drivers_pass_on_the_deadline_and_whether_the_call_may_be_repeated() -> None:
    for run in (aio_call, sim_call):
        # attempts at [0, 0.5] and [1.5, 2.0]; the third would start at 3.0 with 0.2 s left
        result, timeouts = run(3.2, True)
        assert result == CallResult(False, None, E503, 3, "http_503", "deadline"), run
        assert timeouts == [1.0, 1.0, 3.2 - 3.0], run
        result, timeouts = run(None, False)  # a write without a key: never repeated
        assert result == CallResult(False, None, E503, 1, "http_503", "not_idempotent"), run


def test_the_aio_backstop_reports_the_time_the_attempt_took() -> None:
    """An attempt that ignores its timeout is cut by the driver and reported as the timeout
    it should have been, with the time it took on the injected clock."""
    clock = VirtualClock()
    clock.now = 10.0

    async def hangs(timeout_s: float) -> tuple[Outcome, None]:
        clock.now += 0.7  # the injected clock moves on while the attempt hangs
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    pol = ClientPolicy(timeout=TimeoutPolicy(attempt_timeout_s=0.01),
                       retry=RetryPolicy(max_attempts=1))
    result = asyncio.run(aio.run_call(pol.build(), hangs, clock=clock, rng=random.Random(0)))
    timeout = Outcome(False, error="timeout", duration_s=(10.0 + 0.7) - 10.0)
    assert result == CallResult(False, None, timeout, 1, "timeout", "max_attempts")
