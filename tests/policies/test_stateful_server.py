"""Bulkhead, token buckets and admission control under Hypothesis's stateful testing."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from policies.bulkhead import Bulkhead, Queued
from policies.decisions import Admit, Reject
from policies.ratelimit import KeyedTokenBucket
from policies.shedding import AdmissionController, AdmissionPolicy

steps = st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0])


class BulkheadMachine(RuleBasedStateMachine):
    """Callers enter, leave, wait and give up; the model is a counter and a FIFO list."""

    @initialize(max_concurrent=st.integers(1, 4), max_wait_s=st.sampled_from([0.0, 1.0, 2.0]))
    def setup(self, max_concurrent: int, max_wait_s: float) -> None:
        self.bh = Bulkhead(max_concurrent, max_wait_s)
        self.now = 0.0
        self.holders = 0
        self.queue: list[tuple[int, float]] = []  # model: live waiters, FIFO

    @rule(dt=steps)
    def enter(self, dt: float) -> None:
        self.now += dt
        d = self.bh.enter(self.now)
        if self.holders < self.bh.max_concurrent and not self.queue:
            assert d == Admit()
            self.holders += 1
        elif self.bh.max_wait_s == 0.0:
            assert isinstance(d, Reject) and d.reason == "bulkhead_full"
        else:
            assert isinstance(d, Queued) and d.until_s == self.now + self.bh.max_wait_s
            self.queue.append((d.ticket, d.until_s))

    @rule(dt=steps)
    def leave(self, dt: float) -> None:
        if not self.holders:
            return
        self.now += dt
        granted = self.bh.release(self.now)
        expired = [w for w in self.queue if w[1] < self.now]
        live = [w for w in self.queue if w[1] >= self.now]
        if live:
            assert granted == live[0][0]  # first come, first served, never an expired one
            self.queue = live[1:]
        else:
            assert granted is None
            self.holders -= 1
            self.queue = []
        for ticket, _ in expired:  # their drivers time out and learn they got nothing
            assert self.bh.cancel(ticket) is True

    @rule(index=st.integers(0, 3))
    def give_up(self, index: int) -> None:
        if index < len(self.queue):
            ticket, _ = self.queue.pop(index)
            assert self.bh.cancel(ticket) is True
            assert self.bh.cancel(ticket) is False

    @invariant()
    def never_more_than_max_concurrent(self) -> None:
        if hasattr(self, "bh"):
            assert self.bh.active == self.holders <= self.bh.max_concurrent


TestBulkheadMachine = BulkheadMachine.TestCase


class TokenBucketMachine(RuleBasedStateMachine):
    """Admissions per key never exceed burst + rate * elapsed over any interval."""

    @initialize(rate=st.sampled_from([0.5, 1.0, 4.0]), burst=st.sampled_from([1.0, 3.0]))
    def setup(self, rate: float, burst: float) -> None:
        self.rl = KeyedTokenBucket(rate, burst, max_keys=2)
        self.now = 0.0
        self.admitted: dict[str, list[float]] = {}

    @rule(key=st.sampled_from(["acct1", "acct2", "10.0.0.1"]), dt=steps)
    def take(self, key: str, dt: float) -> None:
        self.now += dt
        answer = self.rl.take(key, self.now)
        if isinstance(answer, Admit):
            self.admitted.setdefault(key, []).append(self.now)
        else:
            assert answer.retry_after_s is not None and 0 < answer.retry_after_s <= 1 / \
                self.rl.rate_per_s + 1e-9

    @invariant()
    def no_key_beats_its_rate(self) -> None:
        for times in getattr(self, "admitted", {}).values():
            last = times[-1]
            for i, start in enumerate(times):
                admitted = len(times) - i
                assert admitted <= self.rl.burst + self.rl.rate_per_s * (last - start) + 1e-9


TestTokenBucketMachine = TokenBucketMachine.TestCase


HOLD_S = 1.0


class AdmissionMachine(RuleBasedStateMachine):
    """Random arrivals and completions: a class is never shed while a lower one gets in."""

    @initialize(algorithm=st.sampled_from(["fixed", "aimd", "gradient"]),
                limit=st.integers(1, 12))
    def setup(self, algorithm: str, limit: int) -> None:
        self.ctl = AdmissionController(AdmissionPolicy(
            algorithm=algorithm, initial_limit=limit, min_limit=1, max_limit=40,  # type: ignore[arg-type]
            priority_shares=(1.0, 0.75, 0.5), shed_hold_s=HOLD_S))
        self.now = 0.0
        self.in_flight = 0
        self.shed_at: dict[int, float] = {}  # class -> when it was last refused

    @rule(priority=st.integers(0, 3), dt=steps)
    def arrive(self, priority: int, dt: float) -> None:
        self.now += dt
        would = [self.ctl.would_admit(self.now, p) for p in range(4)]
        answer = self.ctl.admit(self.now, priority)
        assert isinstance(answer, Admit) == would[priority]
        # higher priority (lower number) is admitted whenever a lower one would be
        assert all(would[p] >= would[p + 1] for p in range(3))
        if isinstance(answer, Admit):
            self.in_flight += 1
            # and no class gets in within the hold after a higher one was refused
            assert all(self.now >= t + HOLD_S for p, t in self.shed_at.items() if p < priority)
        else:
            # every refusal counts, one behind a higher class's hold too: the held class was
            # still refused, so a lower one must not get in right after it
            self.shed_at[priority] = self.now
            assert answer.reason == "shed" and answer.retry_after_s is not None
            assert 1.0 <= answer.retry_after_s <= 60.0  # rejected at once, with advice

    @rule(latency=st.sampled_from([0.05, 0.5, 2.0]), ok=st.booleans())
    def complete(self, latency: float, ok: bool) -> None:
        if self.in_flight:
            self.in_flight -= 1
            self.ctl.release(self.now, latency, ok)

    @invariant()
    def limit_in_bounds(self) -> None:
        if hasattr(self, "ctl"):
            assert 1 <= self.ctl.limit <= 40
            assert self.ctl.in_flight == self.in_flight


TestAdmissionMachine = AdmissionMachine.TestCase
