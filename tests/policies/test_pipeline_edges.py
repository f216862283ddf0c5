"""The client call at its edges: where the deadline and the time limit meet, the minimum
budget, zero and decorrelated waits, the shared event list, misuse and cancellation."""

from __future__ import annotations

import random
import re

import pytest

from policies.backoff import BackoffPolicy, decorrelated_jitter
from policies.breaker import CircuitBreakerPolicy
from policies.decisions import Attempt, Done, GiveUp, Sleep
from policies.events import PolicyEvent
from policies.outcome import Outcome
from policies.pipeline import ClientPipeline, ClientPolicy
from policies.retry import RetryPolicy
from policies.timeout import TimeoutPolicy
from tests.policies.test_pipeline import drive

OK = Outcome(True, status=200, duration_s=0.1)
TIMEOUT = Outcome(False, error="timeout", duration_s=1.0)
E503 = Outcome(False, status=503, duration_s=0.1)


def policy(base_s: float = 1.0, jitter: str = "none", min_budget_s: float = 0.0,
           max_total_s: float | None = None, max_attempts: int = 3) -> ClientPolicy:
    backoff = BackoffPolicy(base_s=base_s, multiplier=2.0, max_s=20.0,
                            jitter=jitter)  # type: ignore[arg-type]
    return ClientPolicy(
        timeout=TimeoutPolicy(attempt_timeout_s=1.0, min_budget_s=min_budget_s),
        retry=RetryPolicy(max_attempts=max_attempts, backoff=backoff, max_total_s=max_total_s))


def test_a_deadline_equal_to_the_time_limit_is_reported_as_the_deadline() -> None:
    call = policy(max_total_s=4.0).build().start(0.0, random.Random(0), deadline_s=4.0)
    # [0, 1] times out, 1 s wait, [2, 3] times out: a 2 s wait would end at 5 > 4
    assert drive(call, [TIMEOUT] * 3) == [Attempt(1.0), Sleep(1.0), Attempt(1.0),
                                          GiveUp("timeout", "deadline")]
    call = policy(max_total_s=4.0).build().start(0.0, random.Random(0), deadline_s=4.5)
    assert drive(call, [TIMEOUT] * 3)[-1] == GiveUp("timeout", "time_limit")


def test_a_wait_ending_exactly_at_the_deadline_is_not_taken() -> None:
    """Waiting until the deadline leaves no time for the retry: give up at once."""
    call = policy(base_s=2.0).build().start(0.0, random.Random(0), deadline_s=3.0)
    assert drive(call, [TIMEOUT] * 3) == [Attempt(1.0), GiveUp("timeout", "deadline")]


@pytest.mark.parametrize(("deadline_s", "max_total_s", "cause"), [
    (2.5, None, "deadline"), (None, 2.5, "time_limit")])
def test_no_attempt_is_made_on_no_more_than_the_minimum_budget(
        deadline_s: float | None, max_total_s: float | None, cause: str) -> None:
    """0.5 s left with min_budget_s = 0.5: the retry could only time out; the user sees
    the last error, not "deadline"."""
    call = policy(min_budget_s=0.5, max_total_s=max_total_s).build().start(
        0.0, random.Random(0), deadline_s=deadline_s)
    assert drive(call, [TIMEOUT] * 3) == [Attempt(1.0), Sleep(1.0), GiveUp("timeout", cause)]
    call = policy(min_budget_s=0.49, max_total_s=max_total_s).build().start(
        0.0, random.Random(0), deadline_s=deadline_s)
    assert drive(call, [TIMEOUT] * 3)[2] == Attempt(0.5)  # just above it: one more try


def test_immediate_retries_have_no_zero_sleep_between_them() -> None:
    call = policy(base_s=0.0).build().start(0.0, random.Random(0))
    assert drive(call, [E503, E503, OK]) == [Attempt(1.0), Attempt(1.0), Attempt(1.0), Done()]


def test_decorrelated_waits_each_follow_the_previous_wait() -> None:
    """AWS's rule: wait = min(cap, uniform(base, 3 x previous)), the first from the base."""
    call = policy(base_s=0.5, jitter="decorrelated", max_attempts=5).build().start(
        0.0, random.Random(11))
    sleeps = [d for d in drive(call, [E503] * 4 + [OK]) if isinstance(d, Sleep)]
    rng, previous, expected = random.Random(11), 0.5, []
    for _ in range(4):
        previous = decorrelated_jitter(previous, 0.5, 20.0, rng)
        expected.append(Sleep(previous))
    assert sleeps == expected
    assert len({s.seconds for s in sleeps}) == 4


def test_a_pipeline_keeps_its_policy_and_name_and_writes_to_the_given_events() -> None:
    breaker = CircuitBreakerPolicy(window_size=2, minimum_calls=2, wait_open_s=10.0)
    pol = policy(max_attempts=1).model_copy(update={"breaker": breaker})
    events: list[PolicyEvent] = []
    named, unnamed = pol.build("shahkar", events), pol.build(events=events)
    assert named.policy is pol and named.name == "shahkar" and unnamed.name == ""
    assert ClientPipeline(pol).name == "" and ClientPipeline(pol).events == []
    for pipeline in (named, unnamed):
        for _ in range(2):
            drive(pipeline.start(0.0, random.Random(0)), [E503])
    assert events == [PolicyEvent(0.1, "breaker", "shahkar", "closed->open"),
                      PolicyEvent(0.1, "breaker", "", "closed->open")]
    seen = list(events)
    assert unnamed.drain_events() == seen and events == [] and named.events is events


def test_a_call_knows_when_it_started() -> None:
    assert policy().build().start(12.5, random.Random(0)).started_s == 12.5


def test_misuse_is_refused_with_what_to_do_instead() -> None:
    call = policy().build().start(0.0, random.Random(0))
    with pytest.raises(RuntimeError,
                       match=re.escape("no attempt in flight: ask next() for an Attempt first")
                       + "$"):
        call.record(0.0, OK)
    assert call.next(0.0) == Attempt(1.0)
    with pytest.raises(RuntimeError, match=re.escape(
            "record the outcome of the attempt before asking for the next") + "$"):
        call.next(0.0)


def test_a_late_answer_after_cancelling_is_refused() -> None:
    call = policy().build().start(0.0, random.Random(0))
    call.next(0.0)
    call.cancel(0.3)
    assert call.done and call.next(0.4) == GiveUp("cancelled", "cancelled")
    with pytest.raises(RuntimeError, match="no attempt in flight"):
        call.record(0.5, OK)
