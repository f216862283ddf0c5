"""The SimPy driver: carries out a `Call`'s decisions in simulated time.

Used by sim/. `attempt_proc(timeout_s)` is a generator (a SimPy process body) that models one
attempt, honours its timeout and returns `(Outcome, value)`; the driver runs it inline with
`yield from`, so an attempt costs no extra process. Sleeps are `env.timeout`s. The decisions
are those of the asyncio driver, step for step: same pipeline, same rng, same outcomes.
`SimBulkhead` runs a `Bulkhead` the same way, and `run_hedged` a hedged lookup.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from policies.bulkhead import Bulkhead
from policies.decisions import Admit, Attempt, Done, Reject, Sleep
from policies.hedge import Hedger
from policies.outcome import Outcome
from policies.pipeline import ClientPipeline
from policies.result import CallResult

T = TypeVar("T")

AttemptProc = Callable[[float], Generator[Any, Any, tuple[Outcome, T | None]]]


def run_call(env: Any, pipeline: ClientPipeline, attempt_proc: AttemptProc[T],
             rng: random.Random, *, deadline_s: float | None = None,
             idempotent: bool = True) -> Generator[Any, Any, CallResult[T]]:
    """Run one logical call through `pipeline` as a SimPy generator; returns `CallResult`."""
    call = pipeline.start(env.now, rng, deadline_s=deadline_s, idempotent=idempotent)
    next_decision, record = call.next, call.record
    value: T | None = None
    try:
        while True:
            decision = next_decision(env.now)
            if isinstance(decision, Attempt):
                outcome, value = yield from attempt_proc(decision.timeout_s)
                record(env.now, outcome)
            elif isinstance(decision, Sleep):
                yield env.timeout(decision.seconds)
            elif isinstance(decision, Done):
                return CallResult(True, value, call.result_outcome, call.attempts)
            else:
                return CallResult(False, None, call.result_outcome, call.attempts,
                                  decision.reason, decision.cause)
    except BaseException:
        call.cancel(env.now)
        raise


class SimBulkhead:
    """Runs a sans-IO `Bulkhead` in SimPy: waiters park on events until granted or expired."""

    __slots__ = ("_bulkhead", "_env", "_grants")

    def __init__(self, env: Any, bulkhead: Bulkhead) -> None:
        self._env = env
        self._bulkhead = bulkhead
        self._grants: dict[int, Any] = {}

    def acquire(self) -> Generator[Any, Any, bool]:
        """Take a slot (a generator: `ok = yield from bh.acquire()`); False if none came."""
        env = self._env
        decision = self._bulkhead.enter(env.now)
        if isinstance(decision, Admit):
            return True
        if isinstance(decision, Reject):
            return False
        ticket = decision.ticket
        grant = self._grants[ticket] = env.event()
        yield grant | env.timeout(max(0.0, decision.until_s - env.now))
        self._grants.pop(ticket, None)
        if grant.triggered:
            return True
        return not self._bulkhead.cancel(ticket)

    def release(self) -> None:
        """Give the slot back; the first live waiter, if any, gets it."""
        ticket = self._bulkhead.release(self._env.now)
        if ticket is not None:
            grant = self._grants.get(ticket)
            if grant is not None and not grant.triggered:
                grant.succeed()


def run_hedged(env: Any, hedger: Hedger, attempt_proc: AttemptProc[T], *,
               deadline_s: float | None = None) -> Generator[Any, Any, CallResult[T]]:
    """Run one hedged lookup as a SimPy generator; returns `CallResult`.

    Each attempt is its own process. The losers are not interrupted (an attempt process need
    not handle `Interrupt`): they run on, as the upstream's work does, and are ignored.
    """
    call = hedger.start(env.now, deadline_s)
    running: dict[Any, int] = {}
    value: T | None = None
    while True:
        decision = call.next(env.now)
        if isinstance(decision, Attempt):
            running[env.process(attempt_proc(decision.timeout_s))] = call.launched - 1
        elif isinstance(decision, Sleep):
            waiters = list(running)
            if decision.seconds != math.inf:
                waiters.append(env.timeout(decision.seconds))
            yield env.any_of(waiters)
            for proc in sorted((p for p in running if p.triggered), key=running.__getitem__):
                index = running.pop(proc)
                outcome, result = proc.value
                call.record(env.now, index, outcome)
                if call.winner == index:
                    value = result
        elif isinstance(decision, Done):
            return CallResult(True, value, call.result_outcome, call.launched)
        else:
            return CallResult(False, None, call.result_outcome, call.launched,
                              decision.reason, decision.cause)
