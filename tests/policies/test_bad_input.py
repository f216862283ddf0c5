"""Every invalid parameter raises one clear PolicyConfigError at construction.

The message names the parameter, the value and the allowed range; it is one line, so the
CLI can print it as is (exit 2) and a service can return it as a 4xx detail.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from policies.backoff import BackoffPolicy
from policies.breaker import CircuitBreakerPolicy
from policies.budget import RetryBudget, RetryBudgetPolicy
from policies.bulkhead import Bulkhead, BulkheadPolicy
from policies.errors import PolicyConfigError
from policies.retry import RetryPolicy
from policies.serverside import CachePolicy, LoginLimitPolicy
from policies.shedding import AdmissionPolicy
from policies.throttle import AdaptiveThrottle, ThrottlePolicy
from policies.timeout import TimeoutPolicy

CASES: list[tuple[Callable[[], object], str, str]] = [
    (lambda: TimeoutPolicy(attempt_timeout_s=-1.0), "attempt_timeout_s", "greater than 0"),
    (lambda: TimeoutPolicy(attempt_timeout_s=float("inf")), "attempt_timeout_s", "finite"),
    (lambda: BackoffPolicy(base_s=-0.1), "base_s", "greater than or equal to 0"),
    (lambda: BackoffPolicy(multiplier=0.5), "multiplier", "greater than or equal to 1"),
    (lambda: BackoffPolicy(base_s=5.0, max_s=1.0), "max_s", ">= base_s"),
    (lambda: BackoffPolicy(jitter="random"), "jitter", "'none', 'full', 'equal'"),
    (lambda: RetryPolicy(max_attempts=0), "max_attempts", "greater than or equal to 1"),
    (lambda: RetryPolicy(max_total_s=0.0), "max_total_s", "greater than 0"),
    (lambda: RetryPolicy(max_retry_after_s=-1.0), "max_retry_after_s", "greater than or"),
    (lambda: RetryBudgetPolicy(ratio=1.5), "ratio", "less than or equal to 1"),
    (lambda: RetryBudget(0.1, 0.0, 1.0), "window_s", "greater than 0"),
    (lambda: CircuitBreakerPolicy(failure_rate_threshold=0.0), "failure_rate_threshold",
     "greater than 0"),
    (lambda: CircuitBreakerPolicy(failure_rate_threshold=1.5), "failure_rate_threshold",
     "less than or equal to 1"),
    (lambda: CircuitBreakerPolicy(half_open_calls=0), "half_open_calls",
     "greater than or equal to 1"),
    (lambda: CircuitBreakerPolicy(wait_open_s=-5.0), "wait_open_s", "greater than 0"),
    (lambda: CircuitBreakerPolicy(wait_open_s=60.0, max_wait_open_s=10.0), "max_wait_open_s",
     ">= wait_open_s"),
    (lambda: CircuitBreakerPolicy(max_wait_half_open_s=-1.0), "max_wait_half_open_s",
     "greater than or equal to 0"),
    (lambda: ThrottlePolicy(k=0.5), "k", "greater than or equal to 1"),
    (lambda: AdaptiveThrottle(k=0.5), "throttle.k", ">= 1"),
    (lambda: AdaptiveThrottle(window_s=-1.0), "throttle.window_s", "> 0"),
    (lambda: BulkheadPolicy(max_concurrent=0), "max_concurrent", "greater than or equal to 1"),
    (lambda: Bulkhead(0), "bulkhead.max_concurrent", ">= 1"),
    (lambda: Bulkhead(2, -1.0), "bulkhead.max_wait_s", ">= 0"),
    (lambda: AdmissionPolicy(backoff_ratio=1.0), "backoff_ratio", "less than 1"),
    (lambda: AdmissionPolicy(min_limit=10, initial_limit=5), "initial_limit",
     "[min_limit, max_limit]"),
    (lambda: CachePolicy(ttl_s=-1.0), "ttl_s", "greater than or equal to 0"),
    (lambda: LoginLimitPolicy(per_account_burst=0.5), "per_account_burst", "greater than or"),
]


@pytest.mark.parametrize("build,name,allowed", CASES)
def test_one_clear_sentence(build: Callable[[], object], name: str, allowed: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        build()
    message = str(info.value)
    assert name in message and allowed in message
    assert "\n" not in message and "Traceback" not in message
    assert isinstance(info.value, ValueError)


def test_unknown_fields_are_rejected_by_name() -> None:
    with pytest.raises(PolicyConfigError, match="half_open_permits"):
        CircuitBreakerPolicy(half_open_permits=3)  # type: ignore[call-arg]
