"""The asyncio driver: carries out a `Call`'s decisions with real awaits.

Used by mock_services (portal -> upstream calls, the load driver). Clock, sleep and rng are
injected so tests can run it on a manual clock. The attempt function is expected to honour
its `timeout_s`; the driver also bounds it with `asyncio.timeout` (loop time: a backstop, not
the policy's clock) so a decision's timeout holds even if the attempt forgets, reporting
Outcome(error="timeout") as the attempt should have.
`AsyncBulkhead` runs a `Bulkhead` the same way, and `run_hedged` a hedged lookup.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from policies.bulkhead import Bulkhead
from policies.decisions import Admit, Attempt, Done, Reject, Sleep
from policies.hedge import Hedger
from policies.outcome import Outcome
from policies.pipeline import ClientPipeline
from policies.result import CallResult

T = TypeVar("T")

AttemptFn = Callable[[float], Awaitable[tuple[Outcome, T | None]]]


async def run_call(pipeline: ClientPipeline, attempt_fn: AttemptFn[T], *,
                   clock: Callable[[], float], rng: random.Random,
                   sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                   deadline_s: float | None = None,
                   idempotent: bool = True) -> CallResult[T]:
    """Run one logical call through `pipeline`; returns its `CallResult`."""
    call = pipeline.start(clock(), rng, deadline_s=deadline_s, idempotent=idempotent)
    value: T | None = None
    try:
        while True:
            decision = call.next(clock())
            if isinstance(decision, Attempt):
                started = clock()
                try:
                    async with asyncio.timeout(decision.timeout_s):
                        outcome, value = await attempt_fn(decision.timeout_s)
                except TimeoutError:
                    outcome, value = Outcome(False, error="timeout",
                                             duration_s=clock() - started), None
                call.record(clock(), outcome)
            elif isinstance(decision, Sleep):
                await sleep(decision.seconds)
            elif isinstance(decision, Done):
                return CallResult(True, value, call.result_outcome, call.attempts)
            else:
                return CallResult(False, None, call.result_outcome, call.attempts,
                                  decision.reason, decision.cause)
    except BaseException:
        call.cancel(clock())
        raise


class AsyncBulkhead:
    """Runs a sans-IO `Bulkhead` under asyncio: waiters park on futures, never poll.

    The wait is measured with the injected `sleep`, like every other wait of the policies, so
    a virtual clock in tests (or a compressed one in the lab) governs it too.
    """

    __slots__ = ("_bulkhead", "_clock", "_grants", "_sleep")

    def __init__(self, bulkhead: Bulkhead, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._bulkhead = bulkhead
        self._clock = clock
        self._sleep = sleep
        self._grants: dict[int, asyncio.Future[None]] = {}

    async def _timer(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def acquire(self) -> bool:
        """Take a slot, waiting at most the bulkhead's max wait; False if none came."""
        decision = self._bulkhead.enter(self._clock())
        if isinstance(decision, Admit):
            return True
        if isinstance(decision, Reject):
            return False
        ticket = decision.ticket
        grant = self._grants[ticket] = asyncio.get_running_loop().create_future()
        timer = asyncio.ensure_future(self._timer(max(0.0, decision.until_s - self._clock())))
        try:
            await asyncio.wait((grant, timer), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if not self._bulkhead.cancel(ticket):
                self.release()  # the slot arrived as we were cancelled: hand it on
            raise
        finally:
            timer.cancel()
            self._grants.pop(ticket, None)
        if grant.done():
            return True
        # not cancellable = the slot was handed over as the wait ran out: keep it
        return not self._bulkhead.cancel(ticket)

    def release(self) -> None:
        """Give the slot back; the first live waiter, if any, gets it."""
        ticket = self._bulkhead.release(self._clock())
        if ticket is not None:
            grant = self._grants.get(ticket)
            if grant is not None and not grant.done():
                grant.set_result(None)


async def run_hedged(hedger: Hedger, attempt_fn: AttemptFn[T], *,
                     clock: Callable[[], float],
                     sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                     deadline_s: float | None = None) -> CallResult[T]:
    """Run one hedged lookup: concurrent attempts, first success wins, the rest cancelled."""
    call = hedger.start(clock(), deadline_s)
    running: dict[asyncio.Task[tuple[Outcome, T | None]], int] = {}
    value: T | None = None
    try:
        while True:
            decision = call.next(clock())
            if isinstance(decision, Attempt):
                task = asyncio.ensure_future(attempt_fn(decision.timeout_s))
                running[task] = call.launched - 1  # attempts are numbered in launch order
            elif isinstance(decision, Sleep):
                waiters: set[asyncio.Future[Any]] = set(running)
                timer = None
                if decision.seconds != math.inf:
                    timer = asyncio.ensure_future(sleep(decision.seconds))
                    waiters.add(timer)
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                if timer is not None:
                    timer.cancel()
                for task in sorted((t for t in done if t in running), key=running.__getitem__):
                    index = running.pop(task)
                    outcome, result = _attempt_result(task)
                    call.record(clock(), index, outcome)
                    if call.winner == index:
                        value = result
            elif isinstance(decision, Done):
                return CallResult(True, value, call.result_outcome, call.launched)
            else:
                return CallResult(False, None, call.result_outcome, call.launched,
                                  decision.reason, decision.cause)
    finally:
        for task in running:
            task.cancel()


def _attempt_result(task: asyncio.Task[tuple[Outcome, T | None]]) -> tuple[Outcome, T | None]:
    error = task.exception()
    if error is None:
        return task.result()
    return Outcome(False, error="timeout" if isinstance(error, TimeoutError) else "error"), None
