"""Throttle, stale cache, hedger and the retry call itself under stateful testing."""

from __future__ import annotations

import random

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from policies.backoff import BackoffPolicy
from policies.cache import CacheHit, StaleIfErrorCache
from policies.decisions import Attempt, Done, GiveUp, Sleep
from policies.hedge import HedgePolicy
from policies.outcome import Outcome
from policies.pipeline import ClientPolicy
from policies.retry import RetryPolicy
from policies.throttle import AdaptiveThrottle
from policies.timeout import TimeoutPolicy

steps = st.sampled_from([0.0, 0.1, 0.7, 2.0, 6.0])


class ThrottleMachine(RuleBasedStateMachine):
    """The throttle's probability is the SRE formula over the model's window, always."""

    @initialize(k=st.sampled_from([1.0, 1.5, 2.0]), window_s=st.sampled_from([1.0, 5.0]))
    def setup(self, k: float, window_s: float) -> None:
        self.t = AdaptiveThrottle(k, window_s)
        self.k, self.window_s, self.now = k, window_s, 0.0
        self.requests: list[float] = []
        self.accepts: list[float] = []
        self.rng = random.Random(0)

    def expected(self) -> float:
        req = sum(1 for r in self.requests if r > self.now - self.window_s)
        acc = sum(1 for a in self.accepts if a > self.now - self.window_s)
        return max(0.0, (req - self.k * acc) / (req + 1))

    @rule(dt=steps, accepted=st.booleans())
    def request(self, dt: float, accepted: bool) -> None:
        self.now += dt
        assert self.t.reject_probability(self.now) == self.expected()
        p = self.expected()
        allowed = self.t.allow(self.now, self.rng)
        if p == 0.0:
            assert allowed
        if allowed:  # its answer comes back at once
            self.t.record_answer(self.now, accepted)
            if accepted:
                self.accepts.append(self.now)
        self.requests.append(self.now)

    @invariant()
    def probability_matches(self) -> None:
        if hasattr(self, "t"):
            assert self.t.reject_probability(self.now) == self.expected()


TestThrottleMachine = ThrottleMachine.TestCase


class CacheMachine(RuleBasedStateMachine):
    """Fresh within ttl, stale (and flagged) up to max staleness, gone after; bounded size."""

    def __init__(self) -> None:
        super().__init__()
        self.cache: StaleIfErrorCache[int] = StaleIfErrorCache(2.0, 10.0, max_entries=3)
        self.stored: dict[str, tuple[int, float]] = {}
        self.order: list[str] = []
        self.now, self.counter = 0.0, 0

    @rule(key=st.sampled_from("abcd"), dt=steps)
    def put(self, key: str, dt: float) -> None:
        self.now += dt
        self.counter += 1
        self.cache.put(key, self.counter, self.now)
        if key in self.order:
            self.order.remove(key)
        self.order.append(key)
        self.stored[key] = (self.counter, self.now)
        if len(self.order) > 3:
            del self.stored[self.order.pop(0)]

    @rule(key=st.sampled_from("abcd"), dt=steps)
    def get(self, key: str, dt: float) -> None:
        self.now += dt
        entry = self.stored.get(key)
        fresh, stale = self.cache.get(key, self.now), self.cache.get_stale(key, self.now)
        if entry is None:
            assert fresh is None and stale is None
            return
        value, at = entry
        age = self.now - at
        assert fresh == (CacheHit(value, age, False) if age <= 2.0 else None)
        assert stale == (CacheHit(value, age, age > 2.0) if age <= 10.0 else None)

    @invariant()
    def bounded(self) -> None:
        assert len(self.cache) == len(self.stored) <= 3


TestCacheMachine = CacheMachine.TestCase


class HedgerMachine(RuleBasedStateMachine):
    """Hedges never exceed their budget and a lookup never launches more than 1 + max."""

    def __init__(self) -> None:
        super().__init__()
        self.cfg = HedgePolicy(delay_s=0.5, quantile=0.9, min_samples=3, max_hedges=2,
                               max_ratio=0.25, window_s=5.0)
        self.hedger = self.cfg.build()
        self.now = 0.0
        self.requests: list[float] = []
        self.hedge_times: list[float] = []

    @rule(gaps=st.lists(steps, min_size=1, max_size=5), ok_at=st.integers(0, 3))
    def lookup(self, gaps: list[float], ok_at: int) -> None:
        call = self.hedger.start(self.now)
        self.requests.append(self.now)
        for gap in gaps:
            d = call.next(self.now)
            while isinstance(d, Attempt):
                if call.launched > 1:
                    self.hedge_times.append(self.now)
                d = call.next(self.now)
            if isinstance(d, Done | GiveUp):
                break
            self.now += gap
            if call.launched > ok_at:
                call.record(self.now, ok_at, Outcome(True, duration_s=gap))
        assert call.launched <= 1 + self.cfg.max_hedges

    @invariant()
    def within_budget(self) -> None:
        for t in self.hedge_times[-5:]:
            hedges = sum(1 for h in self.hedge_times if t - 5.0 < h <= t)
            requests = sum(1 for r in self.requests if t - 5.0 < r <= t)
            assert hedges <= 0.25 * requests


TestHedgerMachine = HedgerMachine.TestCase

outcomes = st.sampled_from([
    Outcome(True, status=200, duration_s=0.1), Outcome(False, error="timeout", duration_s=1.0),
    Outcome(False, status=503, retry_after_s=7.0), Outcome(False, status=503),
    Outcome(False, status=400), Outcome(False, error="refused"),
])


class CallMachine(RuleBasedStateMachine):
    """One logical call at a time, driven by random outcomes and random lateness."""

    @initialize(max_attempts=st.integers(1, 4), idempotent=st.booleans(),
                jitter=st.sampled_from(["none", "full", "equal", "decorrelated"]),
                deadline=st.sampled_from([None, 1.5, 4.0, 20.0]))
    def setup(self, max_attempts: int, idempotent: bool, jitter: str,
              deadline: float | None) -> None:
        self.policy = ClientPolicy(
            timeout=TimeoutPolicy(attempt_timeout_s=1.0),
            retry=RetryPolicy(max_attempts=max_attempts, max_retry_after_s=3.0,
                              backoff=BackoffPolicy(base_s=0.2, max_s=2.0,
                                                    jitter=jitter)))  # type: ignore[arg-type]
        self.idempotent, self.deadline = idempotent, deadline
        self.pipeline = self.policy.build()
        self.rng = random.Random(5)
        self.now = 0.0
        self.new_call()

    def new_call(self) -> None:
        deadline = None if self.deadline is None else self.now + self.deadline
        self.call = self.pipeline.start(self.now, self.rng, deadline_s=deadline,
                                        idempotent=self.idempotent)
        self.call_deadline = deadline
        self.attempts = 0
        self.last: Outcome | None = None

    @rule(outcome=outcomes, late=st.sampled_from([0.0, 0.3]))
    def step(self, outcome: Outcome, late: float) -> None:
        self.now += late
        d = self.call.next(self.now)
        if isinstance(d, Attempt):
            self.attempts += 1
            assert self.attempts <= self.policy.retry.max_attempts
            assert self.attempts == 1 or self.idempotent  # a keyless write is never retried
            if self.call_deadline is not None:
                assert self.now + d.timeout_s <= self.call_deadline + 1e-9
            assert 0.0 < d.timeout_s <= 1.0
            self.now += min(outcome.duration_s, d.timeout_s)
            self.call.record(self.now, outcome)
            self.last = outcome
        elif isinstance(d, Sleep):
            assert self.last is not None and not self.last.ok
            assert 0.0 < d.seconds <= 3.0  # backoff cap 2 s, Retry-After cap 3 s
            if self.last.retry_after_s is not None:
                assert d.seconds == 3.0  # advice of 7 s honoured up to its cap
            self.now += d.seconds
        elif isinstance(d, Done):
            assert self.last is not None and self.last.ok
            self.new_call()
        else:
            assert d.reason in {"deadline", "timeout", "http_503", "http_400", "refused"}
            if self.last is not None:
                assert d.reason == self.last.label
            self.new_call()


TestCallMachine = CallMachine.TestCase
