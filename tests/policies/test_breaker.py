"""The circuit breaker, scenario by scenario (the state machine test is in test_stateful)."""

from __future__ import annotations

import pytest

from policies.breaker import (
    CLOSED,
    DISABLED,
    FORCED_OPEN,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    CircuitBreakerPolicy,
)
from policies.errors import PolicyConfigError


def make(**kw: object) -> CircuitBreaker:
    defaults: dict[str, object] = dict(window_size=10, minimum_calls=4, wait_open_s=5.0,
                                       half_open_calls=2, failure_rate_threshold=0.5)
    defaults.update(kw)
    return CircuitBreakerPolicy(**defaults).build("up")  # type: ignore[arg-type]


def call(b: CircuitBreaker, now: float, fail: bool, duration_s: float = 0.01) -> bool:
    if not b.try_acquire(now):
        return False
    b.on_result(now, duration_s, fail)
    return True


def test_opens_when_the_rate_reaches_the_threshold_with_the_minimum_calls() -> None:
    b = make()
    for t, fail in enumerate([True, True, False]):
        call(b, t, fail)
    assert b.state == CLOSED  # 2/3 failed but only 3 < minimum_calls calls
    call(b, 3, False)  # 2/4 = 0.5 >= 0.5
    assert b.state == OPEN
    assert [e.value for e in b.events] == ["closed->open"]
    assert b.events[0].key == "up" and b.events[0].time_s == 3


def test_open_rejects_until_the_wait_then_half_open_permits_exactly_n() -> None:
    b = make()
    for t in range(4):
        call(b, t, True)
    assert b.state == OPEN and not b.try_acquire(7.9)  # opened at 3, wait 5 s
    assert b.try_acquire(8.0) and b.state == HALF_OPEN
    assert b.try_acquire(8.1)
    assert not b.try_acquire(8.2)  # only two permits
    b.on_result(8.3, 0.01, False)
    b.on_result(8.4, 0.01, False)
    assert b.state == CLOSED
    assert [e.value for e in b.events] == ["closed->open", "open->half_open",
                                           "half_open->closed"]


def test_failed_probes_reopen_with_a_growing_wait() -> None:
    b = make(wait_open_multiplier=2.0, max_wait_open_s=15.0)
    for t in range(4):
        call(b, t, True)
    assert b.open_until == 8.0
    for reopen_at, expected_until in [(8.0, 18.0), (18.0, 33.0), (33.0, 48.0)]:
        assert b.try_acquire(reopen_at) and b.try_acquire(reopen_at)
        b.on_result(reopen_at, 0.01, True)
        b.on_result(reopen_at, 0.01, False)  # 1/2 failed >= 0.5: open again
        assert b.state == OPEN and b.open_until == expected_until  # 5, 10, then capped 15


def test_slow_calls_open_the_breaker() -> None:
    b = make(slow_call_duration_s=1.0, slow_call_rate_threshold=0.75)
    for t in range(3):
        call(b, t, False, duration_s=2.0)
    assert b.state == CLOSED
    call(b, 3, False, duration_s=0.5)  # 3/4 slow
    assert b.state == OPEN


def test_count_window_forgets_old_calls() -> None:
    b = make(window_size=4, minimum_calls=4, failure_rate_threshold=0.75)
    for t, fail in enumerate([True, True, False, False, False, True]):
        call(b, t, fail)
    assert b.window_counts() == (4, 1, 0)
    assert b.state == CLOSED


def test_time_window_keeps_only_the_last_seconds() -> None:
    b = make(window_type="time", window_size=3, minimum_calls=3, failure_rate_threshold=0.6)
    call(b, 0.1, True)
    call(b, 0.2, True)
    call(b, 5.0, False)  # the failures of second 0 fell out of the window [3, 5]
    assert b.window_counts(5.0) == (1, 0, 0)
    call(b, 5.5, True)
    call(b, 6.0, True)  # window [4, 6]: 3 calls, 2 failed = 0.67 >= 0.6
    assert b.state == OPEN


def test_half_open_max_wait_reopens() -> None:
    b = make(max_wait_half_open_s=2.0)
    for t in range(4):
        call(b, t, True)
    assert b.try_acquire(8.0)  # a probe that never answers
    assert not b.try_acquire(10.0)
    assert b.state == OPEN


def test_forced_open_and_disabled() -> None:
    b = make()
    b.transition_to_forced_open(0.0)
    assert b.state == FORCED_OPEN and not b.try_acquire(1e9)
    b.transition_to_disabled(1.0)
    for t in range(20):
        assert call(b, 2 + t, True)
    assert b.state == DISABLED
    b.reset(30.0)
    assert b.state == CLOSED and b.window_counts() == (0, 0, 0)


def test_release_returns_a_half_open_permit() -> None:
    b = make(half_open_calls=1)
    for t in range(4):
        call(b, t, True)
    assert b.try_acquire(8.0) and not b.try_acquire(8.0)
    b.release(8.0)
    assert b.try_acquire(8.1)


@pytest.mark.parametrize("field,value", [
    ("failure_rate_threshold", 0.0), ("failure_rate_threshold", 1.01),
    ("slow_call_rate_threshold", -0.1), ("half_open_calls", 0), ("wait_open_s", -1.0),
    ("window_size", 0), ("minimum_calls", 0), ("slow_call_duration_s", 0.0),
    ("wait_open_multiplier", 0.5), ("window_type", "sliding"),
])
def test_bad_parameters_name_the_parameter(field: str, value: object) -> None:
    with pytest.raises(PolicyConfigError, match=f"CircuitBreakerPolicy.{field}"):
        CircuitBreakerPolicy(**{field: value})  # type: ignore[arg-type]
