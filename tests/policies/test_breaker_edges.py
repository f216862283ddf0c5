"""The circuit breaker at its edges: operator switches, permits given back, window boundaries.

test_breaker.py walks the main scenarios; these pin what a driver or an operator relies on in
the less-travelled states: the time each transition is recorded at, a release that must not
mint a probe, a time window read without a call, the growth of the open wait past many opens.
"""

from __future__ import annotations

from policies.breaker import (
    CLOSED,
    DISABLED,
    FORCED_OPEN,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    CircuitBreakerPolicy,
)
from policies.events import PolicyEvent
from tests.policies.test_breaker import make


def trip(b: CircuitBreaker, start: float = 0.0) -> None:
    """Four failures in a row: the default window (minimum 4, threshold 0.5) opens."""
    for i in range(4):
        assert b.try_acquire(start + i)
        b.on_result(start + i, 0.01, True)
    assert b.state == OPEN


def probes_granted(b: CircuitBreaker, now: float, limit: int = 10) -> int:
    """How many further permits half-open hands out at `now` before it rejects."""
    granted = 0
    while granted < limit and b.try_acquire(now):
        granted += 1
    return granted


# -- operator switches and the events they leave ----------------------------------------

def test_transition_to_open_opens_at_once_for_the_configured_wait() -> None:
    b = make()
    b.transition_to_open(2.0)
    assert b.state == OPEN and b.open_until == 7.0 and b.opens == 1
    assert b.events == [PolicyEvent(2.0, "breaker", "up", "closed->open")]
    assert not b.try_acquire(6.99) and b.rejected == 1
    assert b.try_acquire(7.0) and b.state == HALF_OPEN


def test_every_switch_is_an_event_at_the_time_it_was_made() -> None:
    b = make()
    b.transition_to_forced_open(1.0)
    b.transition_to_disabled(2.5)
    b.reset(4.0)
    assert b.events == [PolicyEvent(1.0, "breaker", "up", "closed->forced_open"),
                        PolicyEvent(2.5, "breaker", "up", "forced_open->disabled"),
                        PolicyEvent(4.0, "breaker", "up", "disabled->closed")]
    assert b.state == CLOSED


def test_forced_open_rejects_and_counts_every_call() -> None:
    b = make()
    b.transition_to_forced_open(0.0)
    assert not any(b.try_acquire(t) for t in (0.0, 5.0, 1e6))
    assert b.state == FORCED_OPEN and b.rejected == 3


def test_disabled_records_nothing_and_reset_starts_an_empty_window() -> None:
    b = make()
    for t in range(3):
        b.on_result(t, 0.01, True)  # three failures in the closed window
    b.transition_to_disabled(3.0)
    for t in range(4, 30):
        assert b.try_acquire(t)
        b.on_result(t, 0.01, True)
    assert b.state == DISABLED
    b.reset(30.0)
    assert b.window_counts() == (0, 0, 0)
    for t in range(31, 34):  # three more failures do not reach the minimum of four
        b.on_result(t, 0.01, True)
    assert b.state == CLOSED


def test_a_breaker_built_without_a_name_reports_under_the_empty_key() -> None:
    b = CircuitBreakerPolicy().build()
    b.transition_to_open(0.0)
    assert b.key == "" and b.events[0].key == ""


def test_a_breaker_appends_its_events_to_the_list_it_was_built_with() -> None:
    history: list[PolicyEvent] = [PolicyEvent(0.0, "throttle", "up", "limit=40")]
    b = CircuitBreakerPolicy().build("up", history)
    b.transition_to_open(1.0)
    assert b.events is history
    assert history[1:] == [PolicyEvent(1.0, "breaker", "up", "closed->open")]


def test_opens_counts_every_opening_as_the_events_do() -> None:
    b = make()
    trip(b)
    for reopen in (8.0, 20.0, 40.0):  # each time, the first probe fails: open again
        assert b.try_acquire(reopen) and b.try_acquire(reopen)
        b.on_result(reopen, 0.01, True)
        b.on_result(reopen, 0.01, True)
        assert b.state == OPEN
    opened = [e for e in b.events if e.value.endswith("->open")]
    assert b.opens == len(opened) == 4


# -- the open wait ------------------------------------------------------------------------

def test_the_open_wait_keeps_growing_until_the_cap_even_after_many_opens() -> None:
    """resilience4j's IntervalBiFunction: wait * multiplier**(opens - 1), capped; no other cap."""
    b = make(wait_open_s=1.0, wait_open_multiplier=1.01, max_wait_open_s=2.5)
    waits = []
    for _ in range(100):
        b.transition_to_open(0.0)  # opened again and again without closing in between
        waits.append(b.open_until)
    assert waits == [min(2.5, 1.01 ** k) for k in range(100)]
    assert waits[69] > waits[64]  # 1.01**69 is still below the cap of 2.5


def test_closing_restarts_the_growth_of_the_open_wait() -> None:
    b = make(wait_open_multiplier=2.0, max_wait_open_s=100.0)
    b.transition_to_open(0.0)
    b.transition_to_open(0.0)
    assert b.open_until == 10.0
    b.reset(1.0)
    b.transition_to_open(2.0)
    assert b.open_until == 7.0


# -- half-open permits ------------------------------------------------------------------

def test_release_gives_back_exactly_one_permit() -> None:
    b = make(half_open_calls=2)
    trip(b)
    assert probes_granted(b, 8.0) == 2
    b.release(8.1)
    assert probes_granted(b, 8.2) == 1


def test_release_after_the_outcome_was_recorded_mints_no_extra_probe() -> None:
    b = make(half_open_calls=3)
    trip(b)
    assert b.try_acquire(8.0)
    b.on_result(8.0, 0.01, False)
    b.release(8.0)  # a driver's spurious give-back: the permit was already used
    assert probes_granted(b, 8.1) == 2
    assert b.state == HALF_OPEN


def test_a_straggler_from_before_the_reopen_does_not_count() -> None:
    b = make(half_open_calls=1, max_wait_half_open_s=2.0)
    trip(b)
    assert b.try_acquire(8.0)  # a probe that hangs
    assert not b.try_acquire(10.0) and b.state == OPEN  # half-open gave up on it
    b.on_result(10.5, 0.01, False)  # its late answer changes nothing
    assert b.state == OPEN and b.open_until == 15.0


# -- the time window ----------------------------------------------------------------------

def test_time_window_counts_can_be_read_without_a_clock() -> None:
    b = make(window_type="time", window_size=3, minimum_calls=10)
    for t, fail in ((0.1, True), (0.2, False), (1.7, True)):
        assert b.try_acquire(t)
        b.on_result(t, 0.01, fail)
    assert b.window_counts() == (3, 2, 0)


def test_time_window_counts_at_a_later_time_forget_the_old_seconds() -> None:
    b = make(window_type="time", window_size=3, minimum_calls=10)
    for t, fail in ((0.1, True), (1.5, False)):
        b.on_result(t, 0.01, fail)
    assert b.window_counts(2.9) == (2, 1, 0)  # window [0, 2]
    assert b.window_counts(3.0) == (1, 0, 0)  # window [1, 3]: second 0 is out
    assert b.window_counts(4.0) == (0, 0, 0)


def test_count_window_counts_ignore_the_clock() -> None:
    b = make(window_size=3, minimum_calls=3, failure_rate_threshold=1.0)
    for t, fail in ((0.0, True), (1.0, False)):
        b.on_result(t, 0.01, fail)
    assert b.window_counts(1e6) == (2, 1, 0)


def test_time_window_works_on_a_wall_clock() -> None:
    """A live service may pass epoch seconds: the window still spans only its own seconds."""
    start = 1.7e9
    b = make(window_type="time", window_size=5, minimum_calls=4, failure_rate_threshold=0.75)
    for i, fail in enumerate([True, True, False, True]):
        assert b.try_acquire(start + i)
        b.on_result(start + i, 0.01, fail)
    assert b.state == OPEN  # 3 of 4 failed within 5 s
    assert b.window_counts(start + 3.5) == (4, 3, 0)


def test_a_breaker_constructed_directly_without_a_name_has_the_empty_key() -> None:
    b = CircuitBreaker(CircuitBreakerPolicy())
    b.transition_to_open(0.0)
    assert b.key == "" and b.events == [PolicyEvent(0.0, "breaker", "", "closed->open")]


# -- rejected: the count of refused calls a dashboard reads -------------------------------

def test_rejected_counts_every_refusal_while_open() -> None:
    b = make()
    trip(b)  # open from 3.0 until 8.0
    assert [b.try_acquire(t) for t in (4.0, 5.0, 7.9)] == [False, False, False]
    assert b.rejected == 3


def test_rejected_counts_every_refusal_once_the_probes_are_taken() -> None:
    b = make(half_open_calls=2)
    trip(b)
    assert not b.try_acquire(4.0) and b.rejected == 1
    assert probes_granted(b, 8.0) == 2  # two probes out, then three refusals
    assert [b.try_acquire(t) for t in (8.1, 8.2)] == [False, False]
    assert b.rejected == 1 + 1 + 2 and b.state == HALF_OPEN


def test_rejected_counts_the_refusal_that_gives_up_on_half_open() -> None:
    b = make(half_open_calls=1, max_wait_half_open_s=2.0)
    trip(b)
    assert not b.try_acquire(4.0) and not b.try_acquire(5.0)
    assert b.try_acquire(8.0)  # a probe that hangs
    assert not b.try_acquire(10.0) and b.state == OPEN  # half-open gave up on it
    assert b.rejected == 3
    assert not b.try_acquire(11.0) and b.rejected == 4


# -- half-open's slow-call boundary --------------------------------------------------------

def test_half_open_reopens_when_the_slow_rate_is_exactly_at_the_threshold() -> None:
    """The docstring's rule, as resilience4j's: it closes only with rates *below* the thresholds."""
    b = make(half_open_calls=2, slow_call_duration_s=1.0, slow_call_rate_threshold=0.5)
    trip(b)
    assert probes_granted(b, 8.0) == 2
    b.on_result(8.0, 2.0, False)  # slow but successful
    b.on_result(8.0, 0.1, False)
    assert b.state == OPEN and b.opens == 2  # 1/2 slow >= 0.5


def test_half_open_closes_when_the_slow_rate_is_below_the_threshold() -> None:
    b = make(half_open_calls=3, slow_call_duration_s=1.0, slow_call_rate_threshold=0.5)
    trip(b)
    assert probes_granted(b, 8.0) == 3
    for duration in (2.0, 0.1, 0.1):  # 1/3 slow < 0.5
        b.on_result(8.0, duration, False)
    assert b.state == CLOSED


# -- slow calls leaving the window -------------------------------------------------------

def test_count_window_forgets_slow_calls_that_leave_it() -> None:
    b = make(window_size=2, minimum_calls=2, slow_call_duration_s=1.0)
    for t in (0.0, 1.0):  # the window is all slow: the default threshold 1.0 opens it
        b.on_result(t, 2.0, False)
    assert b.state == OPEN
    b.reset(2.0)
    b.on_result(3.0, 2.0, False)
    b.on_result(4.0, 0.1, False)
    assert b.window_counts() == (2, 0, 1)
    b.on_result(5.0, 0.1, False)  # pushes out the slow call
    assert b.window_counts() == (2, 0, 0)
    b.on_result(6.0, 0.1, False)
    assert b.window_counts() == (2, 0, 0) and b.state == CLOSED


def test_count_window_slow_rate_falls_as_slow_calls_age_out() -> None:
    """Two slow calls that aged out must not help two new ones reach the threshold."""
    b = make(window_size=4, minimum_calls=4, slow_call_duration_s=1.0,
             slow_call_rate_threshold=0.75)
    for t, duration in enumerate((2.0, 2.0, 0.1, 0.1, 0.1, 0.1)):
        b.on_result(float(t), duration, False)
    assert b.window_counts() == (4, 0, 0) and b.state == CLOSED
    for later in (6.0, 7.0):
        b.on_result(later, 2.0, False)
    assert b.window_counts() == (4, 0, 2) and b.state == CLOSED  # 2/4 < 0.75
    b.on_result(8.0, 2.0, False)
    assert b.state == OPEN  # 3/4 slow


def test_time_window_counts_every_slow_call_of_a_second_and_forgets_them_together() -> None:
    b = make(window_type="time", window_size=2, minimum_calls=10, slow_call_duration_s=1.0)
    for t in (0.1, 0.2, 0.3):
        b.on_result(t, 2.0, False)
    b.on_result(1.5, 2.0, True)
    assert b.window_counts(1.9) == (4, 1, 4)
    assert b.window_counts(2.0) == (1, 1, 1)  # second 0 left the window [1, 2]
    assert b.window_counts(3.0) == (0, 0, 0)


def test_time_window_opens_on_slow_calls_only_while_they_are_in_it() -> None:
    b = make(window_type="time", window_size=2, minimum_calls=3, slow_call_duration_s=1.0,
             slow_call_rate_threshold=0.5)
    for t in (0.1, 0.2):
        b.on_result(t, 2.0, False)  # two slow calls in second 0
    for t in (2.1, 2.2):
        b.on_result(t, 0.1, False)  # second 0 has left: 0 of 2 slow, under the minimum
    b.on_result(2.3, 2.0, False)  # 1 of 3 slow: < 0.5
    assert b.state == CLOSED and b.window_counts(2.5) == (3, 0, 1)
    b.on_result(3.0, 2.0, False)
    assert b.state == OPEN  # 2 of 4 slow in the window [2, 3]: >= 0.5
