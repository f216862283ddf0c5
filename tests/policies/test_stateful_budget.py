"""The retry budget never grants more retries than its rule allows, over any window."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from policies.backoff import BackoffPolicy
from policies.budget import RetryBudget, RetryBudgetPolicy
from policies.decisions import Attempt, Sleep
from policies.outcome import Outcome
from policies.pipeline import ClientPolicy
from policies.retry import RetryPolicy


def allowed(requests: list[float], retries: list[float], now: float, ratio: float,
            window_s: float, min_per_s: float) -> float:
    """The rule: retries in (now - w, now] <= ratio * requests in it + min_per_s * w."""
    in_window = [t for t in requests if now - window_s < t <= now]
    return ratio * len(in_window) + min_per_s * window_s


class BudgetMachine(RuleBasedStateMachine):
    """Requests and retry attempts at random times, against lists of timestamps."""

    @initialize(ratio=st.sampled_from([0.0, 0.1, 0.25, 1.0]),
                window_s=st.sampled_from([1.0, 2.5, 10.0]),
                min_per_s=st.sampled_from([0.0, 0.2, 1.0]))
    def setup(self, ratio: float, window_s: float, min_per_s: float) -> None:
        self.params = (ratio, window_s, min_per_s)
        self.budget = RetryBudget(ratio, window_s, min_per_s)
        self.now = 0.0
        self.requests: list[float] = []
        self.retries: list[float] = []

    @rule(dt=st.sampled_from([0.0, 0.05, 0.3, 1.0, 4.0]))
    def request(self, dt: float) -> None:
        self.now += dt
        self.budget.record_request(self.now)
        self.requests.append(self.now)

    @rule(dt=st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    def retry(self, dt: float) -> None:
        self.now += dt
        limit = allowed(self.requests, self.retries, self.now, *self.params)
        before = sum(1 for t in self.retries if self.now - self.params[1] < t <= self.now)
        granted = self.budget.try_retry(self.now)
        assert granted == (before + 1 <= limit)  # exactly the rule: no more, no less
        if granted:
            self.retries.append(self.now)

    @invariant()
    def never_exceeded_over_a_window_ending_at_a_retry(self) -> None:
        if not hasattr(self, "budget"):
            return
        for t in self.retries[-5:]:
            count = sum(1 for r in self.retries if t - self.params[1] < r <= t)
            assert count <= allowed(self.requests, self.retries, t, *self.params)


BudgetMachine.TestCase.settings = settings(BudgetMachine.TestCase.settings,
                                           stateful_step_count=60)
TestBudgetMachine = BudgetMachine.TestCase


@settings(max_examples=30)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.01, 0.2, 1.5]), st.booleans()),
                min_size=1, max_size=120),
       st.integers(0, 2**16))
def test_pipeline_retries_stay_within_the_budget(calls: list[tuple[float, bool]],
                                                 seed: int) -> None:
    """Through the whole call state machine: every retry respects the 10 % rule."""
    policy = ClientPolicy(
        retry=RetryPolicy(max_attempts=4, backoff=BackoffPolicy(base_s=0.0, max_s=0.0,
                                                                jitter="none")),
        budget=RetryBudgetPolicy(ratio=0.1, window_s=5.0, min_per_s=0.2))
    pipeline = policy.build()
    rng, now = random.Random(seed), 0.0
    requests: list[float] = []
    retries: list[float] = []
    for dt, fails in calls:
        now += dt
        call = pipeline.start(now, rng)
        while True:
            d = call.next(now)
            if isinstance(d, Attempt):
                (retries if call.attempts > 1 else requests).append(now)
                call.record(now, Outcome(False, error="timeout") if fails else Outcome(True))
            elif not isinstance(d, Sleep):
                break
    for t in retries:
        count = sum(1 for r in retries if t - 5.0 < r <= t)
        assert count <= allowed(requests, retries, t, 0.1, 5.0, 0.2)
    if sum(f for _, f in calls) > 10:
        assert retries  # the floor lets some retries through: the test can see them
