"""The client call state machine: retries, backoff, Retry-After, budget, deadline, breaker."""

from __future__ import annotations

import random

import pytest

from policies.backoff import BackoffPolicy
from policies.breaker import CircuitBreakerPolicy
from policies.budget import RetryBudgetPolicy
from policies.decisions import Attempt, Done, GiveUp, Sleep
from policies.outcome import Outcome
from policies.pipeline import Call, ClientPolicy
from policies.retry import RetryPolicy
from policies.throttle import ThrottlePolicy
from policies.timeout import TimeoutPolicy

OK = Outcome(True, status=200, duration_s=0.1)
TIMEOUT = Outcome(False, error="timeout", duration_s=1.0)
E503 = Outcome(False, status=503, duration_s=0.1)
E400 = Outcome(False, status=400, duration_s=0.1)


def policy(**retry: object) -> ClientPolicy:
    kw: dict[str, object] = dict(
        max_attempts=3, backoff=BackoffPolicy(base_s=1.0, multiplier=2.0, max_s=10.0,
                                              jitter="none"))
    kw.update(retry)
    return ClientPolicy(timeout=TimeoutPolicy(attempt_timeout_s=1.0),
                        retry=RetryPolicy(**kw))  # type: ignore[arg-type]


def drive(call: Call, outcomes: list[Outcome], now: float = 0.0) -> list[object]:
    """Run a call against scripted outcomes; returns the decisions in order."""
    seen: list[object] = []
    script = iter(outcomes)
    while True:
        d = call.next(now)
        seen.append(d)
        if isinstance(d, Attempt):
            outcome = next(script)
            now += min(outcome.duration_s, d.timeout_s)
            call.record(now, outcome)
        elif isinstance(d, Sleep):
            now += d.seconds
        else:
            return seen


def test_success_first_time() -> None:
    call = policy().build("u").start(0.0, random.Random(0))
    assert drive(call, [OK]) == [Attempt(1.0), Done()]
    assert call.result_outcome == OK and call.attempts == 1


def test_retries_with_exponential_backoff_then_gives_up_with_the_last_error() -> None:
    call = policy().build().start(0.0, random.Random(0))
    seen = drive(call, [TIMEOUT, E503, TIMEOUT])
    assert seen == [Attempt(1.0), Sleep(1.0), Attempt(1.0), Sleep(2.0), Attempt(1.0),
                    GiveUp("timeout", "max_attempts")]


def test_non_retryable_status_is_not_retried() -> None:
    call = policy().build().start(0.0, random.Random(0))
    assert drive(call, [E400]) == [Attempt(1.0), GiveUp("http_400", "not_retryable")]


def test_a_write_without_idempotency_key_is_not_retried() -> None:
    call = policy().build().start(0.0, random.Random(0), idempotent=False)
    assert drive(call, [TIMEOUT]) == [Attempt(1.0), GiveUp("timeout", "not_idempotent")]
    call = policy(retry_non_idempotent=True).build().start(0.0, random.Random(0),
                                                           idempotent=False)
    assert drive(call, [TIMEOUT, OK])[-1] == Done()


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    advised = Outcome(False, status=503, retry_after_s=4.0)
    call = policy(max_retry_after_s=30.0).build().start(0.0, random.Random(0))
    assert drive(call, [advised, OK])[1] == Sleep(4.0)
    call = policy(max_retry_after_s=2.5).build().start(0.0, random.Random(0))
    assert drive(call, [advised, OK])[1] == Sleep(2.5)
    call = policy(honour_retry_after=False).build().start(0.0, random.Random(0))
    assert drive(call, [advised, OK])[1] == Sleep(1.0)


def test_deadline_shortens_the_attempt_and_stops_retries() -> None:
    pipeline = policy().build()
    call = pipeline.start(0.0, random.Random(0), deadline_s=2.5)
    seen = drive(call, [TIMEOUT, TIMEOUT])
    # attempt 1 [0,1], sleep 1 s, attempt 2 gets the 0.5 s left, then no time for a sleep
    assert seen == [Attempt(1.0), Sleep(1.0), Attempt(0.5), GiveUp("timeout", "deadline")]
    late = pipeline.start(5.0, random.Random(0), deadline_s=5.0)
    assert late.next(5.0) == GiveUp("deadline", "deadline")  # no budget: no call made


def test_total_time_limit() -> None:
    call = policy(max_attempts=10, max_total_s=4.0).build().start(0.0, random.Random(0))
    assert drive(call, [TIMEOUT] * 10)[-1] == GiveUp("timeout", "time_limit")


def test_retry_budget_caps_retries_across_calls() -> None:
    pol = policy(max_attempts=2, backoff=BackoffPolicy(base_s=0.0, max_s=0.0, jitter="none"))
    pipeline = pol.model_copy(update={"budget": RetryBudgetPolicy(
        ratio=0.1, window_s=10.0, min_per_s=0.0)}).build()
    results = [drive(pipeline.start(0.0, random.Random(0)), [TIMEOUT, TIMEOUT])[-1]
               for _ in range(50)]
    retried = sum(1 for r in results if r == GiveUp("timeout", "max_attempts"))
    assert retried == 5  # 10 % of 50 requests
    assert results[0] == GiveUp("timeout", "retry_budget")  # 1 request: 0.1 retries allowed


def test_open_breaker_fails_fast_without_an_attempt() -> None:
    pol = policy(max_attempts=1).model_copy(update={"breaker": CircuitBreakerPolicy(
        window_size=4, minimum_calls=4, wait_open_s=10.0, half_open_calls=1)})
    pipeline = pol.build("shahkar")
    for _ in range(4):
        drive(pipeline.start(0.0, random.Random(0)), [E503])
    assert pipeline.start(1.0, random.Random(0)).next(1.0) == GiveUp("breaker_open", "breaker")
    assert [e.value for e in pipeline.drain_events()] == ["closed->open"]
    assert pipeline.events == []


def test_throttle_rejects_locally_when_the_backend_refuses() -> None:
    pol = policy(max_attempts=1).model_copy(update={"throttle": ThrottlePolicy(k=2.0)})
    pipeline = pol.build()
    rng = random.Random(3)
    results = [drive(pipeline.start(t * 0.01, rng), [E503], t * 0.01)[-1] for t in range(200)]
    throttled = sum(1 for r in results if r == GiveUp("throttled", "throttle"))
    assert 100 < throttled < 200  # p -> 1 - 1/(n+1) as nothing is accepted


def test_misuse_is_reported() -> None:
    call = policy().build().start(0.0, random.Random(0))
    with pytest.raises(RuntimeError):
        call.record(0.0, OK)
    call.next(0.0)
    with pytest.raises(RuntimeError):
        call.next(0.0)
    call.cancel(0.5)
    assert call.done and call.next(1.0) == GiveUp("cancelled", "cancelled")
