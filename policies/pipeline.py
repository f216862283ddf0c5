"""The client pipeline: timeout, retry, retry budget, breaker and throttle for one upstream.

`ClientPolicy` is the frozen config; `ClientPolicy.build(name)` makes a `ClientPipeline`, the
state shared by all calls to that upstream (breaker, budget, throttle, events). Each logical
call is a `Call`, a sans-IO state machine: the driver asks `next(now)` and gets `Attempt`,
`Sleep`, `GiveUp` or `Done`; after an attempt it reports `record(now, outcome)`.

Order of the gates before an attempt (cheapest refusal first, nothing left half-taken):
deadline / time limit -> breaker permit -> throttle. A refused retry (budget, deadline) gives
up with the last outcome's label, so the user sees "timeout", not "retry_budget".
"""

from __future__ import annotations

import math
import random

from policies.breaker import CircuitBreaker, CircuitBreakerPolicy
from policies.budget import RetryBudget, RetryBudgetPolicy
from policies.bulkhead import Bulkhead, BulkheadPolicy
from policies.config import PolicyConfig
from policies.decisions import DONE, Attempt, CallDecision, Done, GiveUp, Sleep
from policies.events import PolicyEvent
from policies.hedge import HedgePolicy, Hedger
from policies.outcome import Outcome
from policies.retry import RetryPolicy
from policies.throttle import AdaptiveThrottle, ThrottlePolicy
from policies.timeout import TimeoutPolicy


class ClientPolicy(PolicyConfig):
    """The policies of a client towards one upstream; None switches a policy off.

    failover: a failed attempt's retry goes to another replica of the upstream (the portal
    has several; the users' clients fail over across switches); False pins every attempt of
    a caller to its home replica, as a user who refreshes the same page does.
    """

    timeout: TimeoutPolicy = TimeoutPolicy()
    retry: RetryPolicy = RetryPolicy()
    budget: RetryBudgetPolicy | None = None
    breaker: CircuitBreakerPolicy | None = None
    throttle: ThrottlePolicy | None = None
    # Built here so one config describes the upstream, but run by the caller around calls:
    # `aio.AsyncBulkhead(pipeline.bulkhead, ...)`, `aio.run_hedged(pipeline.hedger, ...)`.
    bulkhead: BulkheadPolicy | None = None
    hedge: HedgePolicy | None = None
    failover: bool = True

    def build(self, name: str = "", events: list[PolicyEvent] | None = None) -> ClientPipeline:
        """The stateful pipeline for upstream `name`; state changes go to `events`."""
        return ClientPipeline(self, name, events)


class ClientPipeline:
    """The state shared by every call to one upstream."""

    __slots__ = ("attempt", "attempt_timeout_s", "breaker", "budget", "bulkhead", "classifier",
                 "events", "hedger", "max_attempts", "max_total_s", "min_budget_s", "name",
                 "policy", "retry", "throttle")

    def __init__(self, policy: ClientPolicy, name: str = "",
                 events: list[PolicyEvent] | None = None) -> None:
        self.policy = policy
        self.name = name
        self.events: list[PolicyEvent] = [] if events is None else events
        self.breaker: CircuitBreaker | None = (
            policy.breaker.build(name, self.events) if policy.breaker else None)
        self.budget: RetryBudget | None = policy.budget.build() if policy.budget else None
        self.throttle: AdaptiveThrottle | None = (
            policy.throttle.build() if policy.throttle else None)
        self.bulkhead: Bulkhead | None = policy.bulkhead.build() if policy.bulkhead else None
        self.hedger: Hedger | None = policy.hedge.build() if policy.hedge else None
        # copied to slots: the hot path reads them once per attempt
        self.retry = policy.retry
        self.classifier = policy.retry.classifier
        self.max_attempts = policy.retry.max_attempts
        self.max_total_s = policy.retry.max_total_s or math.inf
        self.attempt_timeout_s = policy.timeout.attempt_timeout_s
        # decisions are immutable: the usual one is made once, not once per attempt
        self.attempt = Attempt(self.attempt_timeout_s)
        self.min_budget_s = policy.timeout.min_budget_s

    def start(self, now: float, rng: random.Random, deadline_s: float | None = None,
              idempotent: bool = True) -> Call:
        """Begin one logical call; `idempotent` = safe to repeat (a read, or a keyed write)."""
        return Call(self, now, rng, deadline_s, idempotent)

    def drain_events(self) -> list[PolicyEvent]:
        """The events since the last drain, oldest first (the runner writes them out)."""
        out = list(self.events)
        self.events.clear()
        return out


class Call:
    """One logical call: a sans-IO state machine of attempts, sleeps and the final answer."""

    __slots__ = (
        "_end_is_deadline",
        "_end_s",
        "_in_flight",
        "_pending",
        "_pl",
        "_prev_s",
        "attempts",
        "idempotent",
        "result_outcome",
        "rng",
        "started_s",
    )

    def __init__(self, pipeline: ClientPipeline, now: float, rng: random.Random,
                 deadline_s: float | None, idempotent: bool) -> None:
        self._pl = pipeline
        self.rng = rng
        self.started_s = now
        self.idempotent = idempotent
        limit = now + pipeline.max_total_s
        self._end_is_deadline = deadline_s is not None and deadline_s <= limit
        self._end_s = deadline_s if deadline_s is not None and deadline_s <= limit else limit
        self.attempts = 0
        self.result_outcome: Outcome | None = None
        self._pending: CallDecision | None = None
        self._in_flight = False
        self._prev_s = 0.0

    @property
    def done(self) -> bool:
        """True once the call has succeeded or given up."""
        return isinstance(self._pending, Done | GiveUp)

    def _give_up(self, reason: str, cause: str) -> GiveUp:
        decision = GiveUp(reason, cause)
        self._pending = decision
        return decision

    def _last_label(self, default: str) -> str:
        return default if self.result_outcome is None else self.result_outcome.label

    def next(self, now: float) -> CallDecision:
        """The next thing the driver must do."""
        pending = self._pending
        if pending is not None:
            if isinstance(pending, Sleep):
                self._pending = None
            return pending
        if self._in_flight:
            raise RuntimeError("record the outcome of the attempt before asking for the next")
        pl = self._pl
        left = self._end_s - now
        if left <= 0.0 or left <= pl.min_budget_s:
            cause = "deadline" if self._end_is_deadline else "time_limit"
            return self._give_up(self._last_label("deadline"), cause)
        breaker = pl.breaker
        if breaker is not None and not breaker.try_acquire(now):
            return self._give_up("breaker_open", "breaker")
        throttle = pl.throttle
        if throttle is not None and not throttle.allow(now, self.rng):
            if breaker is not None:
                breaker.release(now)
            return self._give_up("throttled", "throttle")
        if self.attempts == 0 and pl.budget is not None:
            pl.budget.record_request(now)
        self.attempts += 1
        self._in_flight = True
        return pl.attempt if pl.attempt_timeout_s < left else Attempt(left)

    def record(self, now: float, outcome: Outcome) -> None:
        """Report the outcome of the attempt the last `next` asked for."""
        if not self._in_flight:
            raise RuntimeError("no attempt in flight: ask next() for an Attempt first")
        self._in_flight = False
        self.result_outcome = outcome
        pl = self._pl
        classifier = pl.classifier
        if pl.breaker is not None:
            pl.breaker.on_result(now, outcome.duration_s, classifier.is_failure(outcome))
        if pl.throttle is not None:
            pl.throttle.record_answer(now, not classifier.is_overload(outcome))
        if outcome.ok:
            self._pending = DONE
            return
        reason = outcome.label
        retry = pl.retry
        if not classifier.is_retryable(outcome):
            self._give_up(reason, "not_retryable")
        elif not (self.idempotent or retry.retry_non_idempotent):
            self._give_up(reason, "not_idempotent")
        elif self.attempts >= pl.max_attempts:
            self._give_up(reason, "max_attempts")
        else:
            delay = retry.wait_s(self.attempts - 1, self._prev_s, outcome, self.rng)
            if now + delay >= self._end_s:
                self._give_up(reason, "deadline" if self._end_is_deadline else "time_limit")
            elif pl.budget is not None and not pl.budget.try_retry(now):
                self._give_up(reason, "retry_budget")
            else:
                self._prev_s = delay
                self._pending = Sleep(delay) if delay > 0.0 else None

    def cancel(self, now: float) -> None:
        """Abandon the call (the caller went away); a breaker permit in hand is returned."""
        if self._in_flight:
            self._in_flight = False
            if self._pl.breaker is not None:
                self._pl.breaker.release(now)
        if not self.done:
            self._give_up("cancelled", "cancelled")
