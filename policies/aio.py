"""The asyncio driver: carries out a `Call`'s decisions with real awaits.

Used by mock_services (portal -> upstream calls, the load driver). Clock, sleep and rng are
injected so tests can run it on a manual clock. The attempt function is expected to honour
its `timeout_s`; the driver also bounds it with `asyncio.timeout` so a decision's timeout holds
even if the attempt forgets, reporting Outcome(error="timeout") as the attempt should have.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from policies.decisions import Attempt, Done, Sleep
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
