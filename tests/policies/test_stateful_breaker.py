"""The circuit breaker against a ten-line model, under Hypothesis's stateful testing.

The model keeps the window as a plain list and recomputes the rates from scratch; the
breaker keeps running sums in a ring (count) or per-second buckets (time). They must agree
on every state after every step, and half-open must never let more than its permits through.
"""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from policies.breaker import (
    CLOSED,
    DISABLED,
    FORCED_OPEN,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    CircuitBreakerPolicy,
)

configs = st.builds(
    CircuitBreakerPolicy,
    window_type=st.sampled_from(["count", "time"]),
    window_size=st.integers(1, 8),
    minimum_calls=st.integers(1, 10),
    failure_rate_threshold=st.sampled_from([0.2, 0.3, 0.5, 0.75, 1.0]),
    slow_call_rate_threshold=st.sampled_from([0.3, 0.5, 1.0]),
    slow_call_duration_s=st.just(1.0),
    wait_open_s=st.sampled_from([1.0, 5.0]),
    wait_open_multiplier=st.sampled_from([1.0, 2.0]),
    max_wait_open_s=st.just(12.0),
    half_open_calls=st.integers(1, 4),
    max_wait_half_open_s=st.sampled_from([0.0, 3.0]),
)


class Model:
    """The breaker as the spec says it, without any cleverness."""

    def __init__(self, cfg: CircuitBreakerPolicy) -> None:
        self.cfg, self.state, self.now = cfg, CLOSED, 0.0
        self.window: list[tuple[float, bool, bool]] = []  # (time, failed, slow)
        self.opens_in_a_row, self.open_until = 0, 0.0
        self.permits = self.results = 0
        self.half_results: list[tuple[bool, bool]] = []
        self.half_since = 0.0

    def go(self, state: str) -> None:
        if state == OPEN:
            self.opens_in_a_row += 1
            wait = self.cfg.wait_open_s * self.cfg.wait_open_multiplier ** (
                self.opens_in_a_row - 1)
            self.open_until = self.now + min(wait, self.cfg.max_wait_open_s)
        if state == HALF_OPEN:
            self.permits, self.half_results, self.half_since = 0, [], self.now
        if state in (CLOSED, DISABLED):
            self.opens_in_a_row, self.window = 0, []
        self.state = state

    def acquire(self) -> bool:
        if self.state in (CLOSED, DISABLED):
            return True
        if self.state == FORCED_OPEN or (self.state == OPEN and self.now < self.open_until):
            return False
        if self.state == OPEN:
            self.go(HALF_OPEN)
        limit = self.cfg.max_wait_half_open_s
        if limit and self.now - self.half_since >= limit:
            self.go(OPEN)
            return False
        if self.permits < self.cfg.half_open_calls:
            self.permits += 1
            return True
        return False

    def visible(self) -> list[tuple[float, bool, bool]]:
        if self.cfg.window_type == "count":
            return self.window[-self.cfg.window_size:]
        second = int(self.now // 1)
        return [c for c in self.window if int(c[0] // 1) > second - self.cfg.window_size]

    def tripped(self, calls: list[tuple[bool, bool]]) -> bool:
        n = len(calls)
        return (sum(f for f, _ in calls) / n >= self.cfg.failure_rate_threshold
                or sum(s for _, s in calls) / n >= self.cfg.slow_call_rate_threshold)

    def result(self, failed: bool, duration_s: float) -> None:
        slow = duration_s > self.cfg.slow_call_duration_s
        if self.state == HALF_OPEN and len(self.half_results) < self.permits:
            self.half_results.append((failed, slow))
            if len(self.half_results) >= self.cfg.half_open_calls:
                self.go(OPEN if self.tripped(self.half_results) else CLOSED)
        elif self.state == CLOSED:
            self.window.append((self.now, failed, slow))
            calls = [(f, s) for _, f, s in self.visible()]
            minimum = self.cfg.minimum_calls
            if self.cfg.window_type == "count":
                minimum = min(minimum, self.cfg.window_size)
            if len(calls) >= minimum and self.tripped(calls):
                self.go(OPEN)


class BreakerMachine(RuleBasedStateMachine):
    """Random traffic, time steps and operator switches against breaker and model."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.in_flight = 0
        self.half_open_admitted = 0

    @initialize(cfg=configs)
    def setup(self, cfg: CircuitBreakerPolicy) -> None:
        self.breaker = CircuitBreaker(cfg, "up")
        self.model = Model(cfg)

    @rule(dt=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0, 2.5, 6.0]))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.model.now = self.now

    @rule()
    def acquire(self) -> None:
        was_half_open = self.breaker.state == HALF_OPEN
        got = self.breaker.try_acquire(self.now)
        assert got == self.model.acquire()
        if got:
            self.in_flight += 1
            if self.breaker.state == HALF_OPEN:
                self.half_open_admitted = (self.half_open_admitted + 1) if was_half_open else 1

    @precondition(lambda self: self.in_flight > 0)
    @rule(failed=st.booleans(), duration_s=st.sampled_from([0.1, 1.0, 1.5]))
    def complete(self, failed: bool, duration_s: float) -> None:
        self.in_flight -= 1
        self.breaker.on_result(self.now, duration_s, failed)
        self.model.result(failed, duration_s)

    @rule(failed=st.sampled_from([False, False, True]),
          duration_s=st.sampled_from([0.1, 0.1, 1.0, 1.5]),
          dt=st.sampled_from([0.0, 0.0, 0.4, 1.0, 3.0]))
    def call(self, failed: bool, duration_s: float, dt: float) -> None:
        """A call that completes at once (most traffic), a moment after the last step."""
        self.tick(dt)
        self.acquire()
        if self.in_flight > 0:
            self.complete(failed, duration_s)

    @rule(switch=st.sampled_from(["forced_open", "disabled", "reset"]),
          roll=st.integers(0, 29))
    def operator(self, switch: str, roll: int) -> None:
        if roll:  # operators are rare: 29 draws in 30 do nothing
            return
        if switch == "forced_open":
            self.breaker.transition_to_forced_open(self.now)
            self.model.go(FORCED_OPEN)
        elif switch == "disabled":
            self.breaker.transition_to_disabled(self.now)
            self.model.go(DISABLED)
        else:
            self.breaker.reset(self.now)
            self.model.go(CLOSED)

    @invariant()
    def same_state(self) -> None:
        if hasattr(self, "model"):
            assert self.breaker.state == self.model.state
            if self.breaker.state == OPEN:
                assert self.breaker.open_until == self.model.open_until

    @invariant()
    def half_open_never_exceeds_its_permits(self) -> None:
        if hasattr(self, "model") and self.breaker.state == HALF_OPEN:
            assert self.half_open_admitted <= self.model.cfg.half_open_calls

    @invariant()
    def every_transition_is_an_event(self) -> None:
        if hasattr(self, "model"):
            events = self.breaker.events
            assert all(a.value.split("->")[1] == b.value.split("->")[0]
                       for a, b in itertools.pairwise(events))
            if events:
                assert events[-1].value.endswith("->" + self.breaker.state)


BreakerMachine.TestCase.settings = settings(BreakerMachine.TestCase.settings,
                                            stateful_step_count=80,
                                            max_examples=200)
TestBreakerMachine = BreakerMachine.TestCase
