"""Admission control at its edges: the hold, the AIMD and gradient rules, the Retry-After advice.

Each test pins one rule of `policies/shedding.py`'s module doc at the point where getting it
wrong shows: the instant a hold ends, a completion exactly at the latency target or at exactly
half the limit in use, the gradient's first sample, a failure, a drop in load.
"""

from __future__ import annotations

import math
import re

import pytest

from policies.decisions import Admit, Reject
from policies.errors import PolicyConfigError
from policies.shedding import AdmissionController, AdmissionPolicy, says_nothing_of_capacity


def fixed(limit: int, **kw: object) -> AdmissionController:
    return AdmissionController(AdmissionPolicy(algorithm="fixed", initial_limit=limit,
                                               min_limit=1, **kw))  # type: ignore[arg-type]


# --- the config ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kw,message", [
    ({"min_limit": 10, "initial_limit": 5}, "initial_limit must lie in [min_limit, max_limit]"),
    ({"initial_limit": 2000}, "initial_limit must lie in [min_limit, max_limit]"),
    ({"priority_shares": ()}, "priority_shares must be non-empty, each in (0, 1]"),
    ({"priority_shares": (1.0, 0.0)}, "priority_shares must be non-empty, each in (0, 1]"),
    ({"priority_shares": (1.5,)}, "priority_shares must be non-empty, each in (0, 1]"),
    ({"priority_shares": (0.5, 0.6)}, "priority_shares must not increase with the class number"),
    ({"min_retry_after_s": 5.0, "max_retry_after_s": 4.0},
     "max_retry_after_s must be >= min_retry_after_s"),
])
def test_inconsistent_configs_are_refused_in_one_sentence(kw: dict[str, object],
                                                          message: str) -> None:
    with pytest.raises(PolicyConfigError, match=re.escape(f"AdmissionPolicy: {message}") + "$"):
        AdmissionPolicy(**kw)  # type: ignore[arg-type]


def test_the_config_boundaries_are_allowed() -> None:
    for kw in ({"min_limit": 5, "initial_limit": 5, "max_limit": 5},
               {"priority_shares": (1.0, 1.0)}, {"priority_shares": (0.3,)},
               {"min_retry_after_s": 4.0, "max_retry_after_s": 4.0}):
        AdmissionPolicy(**kw)


# --- priorities and the shedding hold ---------------------------------------------------------

def test_the_default_class_is_the_most_important() -> None:
    ctl = fixed(2, priority_shares=(1.0, 0.5))
    assert ctl.admit(0.0, priority=0) == Admit()
    assert ctl.would_admit(0.0) is True and ctl.would_admit(0.0, priority=1) is False
    assert ctl.admit(0.0) == Admit()  # class 0 may use the whole limit


def test_a_class_past_the_shares_gets_the_last_share() -> None:
    ctl = fixed(4, priority_shares=(1.0, 0.5))
    assert [ctl.admit(0.0, priority=7) for _ in range(3)] == [Admit(), Admit(),
                                                                Reject("shed", 1.0)]


def test_lower_classes_are_held_back_until_exactly_the_hold_ends() -> None:
    ctl = fixed(2, priority_shares=(1.0, 1.0, 1.0), shed_hold_s=2.5)
    assert ctl.admit(0.0, 0) == Admit() and ctl.admit(0.0, 0) == Admit()
    assert isinstance(ctl.admit(0.0, 0), Reject)  # class 0 refused: 1 and 2 held until 2.5
    ctl.release(0.1, 0.1)
    assert ctl.would_admit(2.4, 1) is False  # a slot is free, but held
    assert isinstance(ctl.admit(2.4, 2), Reject)  # refused: holds only classes below 2
    assert ctl.would_admit(2.4, 0) is True  # the refused class itself is not held
    assert ctl.admit(2.5, 2) == Admit()  # the hold is over at 0.0 + 2.5


def test_a_class_refused_while_held_holds_the_classes_below_it_for_its_own_hold() -> None:
    # month_end_lists, resilient, seed 1, portal-b: a login (class 1) was refused at 198.589 s
    # behind a prescription's hold, which ended at 199.290 s; a history read (class 2) got in
    # at 199.409 s, 0.82 s after the login was refused at the same replica
    ctl = fixed(1, priority_shares=(1.0, 1.0, 1.0), shed_hold_s=1.0)
    ctl.admit(0.0, 0)
    assert isinstance(ctl.admit(0.0, 0), Reject)  # classes 1 and 2 held until 1.0
    ctl.release(0.0, 0.1)
    assert isinstance(ctl.admit(0.5, 2), Reject)  # held (the slot is free) ...
    assert isinstance(ctl.admit(0.6, 1), Reject)  # ... which does not free class 1
    assert ctl.would_admit(1.0, 1) is True  # class 0's hold is over, for class 1 ...
    assert isinstance(ctl.admit(1.0, 2), Reject)  # ... not for class 2: class 1 was refused
    assert isinstance(ctl.admit(1.599, 2), Reject)  # at 0.6, so class 2 waits until 1.6
    assert ctl.admit(1.6, 2) == Admit()


def test_each_refused_class_keeps_its_own_hold() -> None:
    ctl = fixed(1, priority_shares=(1.0, 1.0, 1.0), shed_hold_s=1.0)
    ctl.admit(0.0, 0)
    assert isinstance(ctl.admit(0.9, 0), Reject)  # classes 1 and 2 held until 1.9
    assert isinstance(ctl.admit(0.95, 0), Reject)  # ... 1.95
    ctl.release(1.0, 0.1)
    assert isinstance(ctl.admit(1.0, 1), Reject)  # held: holds class 2 until 2.0
    assert ctl.would_admit(1.94, 1) is False and ctl.would_admit(1.95, 1) is True
    assert ctl.would_admit(1.99, 2) is False and ctl.would_admit(2.0, 2) is True


def test_the_refused_class_gets_the_next_free_slot() -> None:
    ctl = fixed(4, priority_shares=(1.0, 0.5, 0.5), shed_hold_s=10.0)
    ctl.admit(0.0, 0)
    ctl.admit(0.0, 0)
    assert isinstance(ctl.admit(0.0, 1), Reject)  # 2 in flight = class 1's share of 4
    ctl.release(0.1, 0.1)
    assert isinstance(ctl.admit(0.2, 2), Reject)  # class 2 is held (its share has room)
    assert ctl.admit(0.2, 1) == Admit()  # class 1 is not held behind itself


def test_a_lower_class_refusal_holds_nobody_above_it() -> None:
    ctl = fixed(2, priority_shares=(1.0, 0.5), shed_hold_s=10.0)
    ctl.admit(0.0, 1)
    assert isinstance(ctl.admit(0.0, 1), Reject)
    assert ctl.admit(0.0, 0) == Admit()


@pytest.mark.parametrize("hold", [{}, {"shed_hold_s": 0.0}], ids=["default 1 s", "zero"])
def test_the_hold_is_one_second_by_default_and_zero_switches_it_off(
        hold: dict[str, float]) -> None:
    ctl = fixed(1, priority_shares=(1.0, 1.0), **hold)
    ctl.admit(0.0, 0)
    assert isinstance(ctl.admit(0.0, 0), Reject)
    ctl.release(0.0, 0.1)
    assert ctl.would_admit(0.0, 1) is (hold != {})
    assert ctl.would_admit(0.999, 1) is (hold != {}) and ctl.would_admit(1.0, 1) is True


def test_asking_would_admit_changes_nothing() -> None:
    ctl = fixed(1, priority_shares=(1.0, 1.0), shed_hold_s=10.0)
    ctl.admit(0.0, 0)
    assert ctl.would_admit(0.0, 0) is False  # a question, not a refusal: no hold
    ctl.release(0.0, 0.1)
    assert ctl.admit(0.0, 1) == Admit() and ctl.shed == 0


def test_a_release_without_an_admission_frees_no_extra_slot() -> None:
    ctl = fixed(1)
    ctl.release(0.0, 0.1)
    assert ctl.in_flight == 0
    assert ctl.admit(0.0) == Admit() and isinstance(ctl.admit(0.0), Reject)


# --- Retry-After: (in flight + shed this second) * mean latency / limit -------------------------

def advice_ctl() -> AdmissionController:
    """Limit 1; mean latency starts at half the 4 s target, i.e. 2 s; no clamping in the way."""
    return fixed(1, latency_target_s=4.0, min_retry_after_s=0.0, max_retry_after_s=1000.0)


def test_retry_after_counts_the_requests_shed_in_the_current_second() -> None:
    ctl = advice_ctl()
    assert ctl.retry_after_s() == 0.0  # nothing in flight, nothing shed: no wait
    assert ctl.admit(0.0) == Admit()
    assert ctl.admit(0.1) == Reject("shed", 4.0)  # (1 + 1) * 2 s / 1
    assert ctl.admit(0.2) == Reject("shed", 6.0)  # (1 + 2) * 2 s / 1
    assert ctl.admit(1.5) == Reject("shed", 4.0)  # a new second: (1 + 1) * 2 s / 1
    assert ctl.admit(1.9) == Reject("shed", 6.0)
    assert ctl.shed == 4


def test_retry_after_follows_the_mean_latency() -> None:
    ctl = advice_ctl()
    ctl.admit(0.0)
    ctl.release(0.5, 12.0)  # mean latency 2 + 0.1 * (12 - 2) = 3 s
    assert ctl.admit(0.6) == Admit()
    assert ctl.admit(0.7) == Reject("shed", 6.0)  # (1 + 1) * 3 s / 1
    ctl.release(0.8, 13.0, ignore=True)  # a dependency's failure: no latency sample either
    assert ctl.admit(0.8) == Admit() and ctl.admit(0.9) == Reject("shed", 9.0)


def test_retry_after_is_rounded_up_and_clamped() -> None:
    ctl = fixed(3, latency_target_s=1.0, min_retry_after_s=0.0, max_retry_after_s=2.0)
    for _ in range(3):
        ctl.admit(0.0)
    assert ctl.admit(0.0) == Reject("shed", 1.0)  # 4 * 0.5 / 3 = 0.67 -> 1
    assert [ctl.admit(0.0) for _ in range(3)][-1] == Reject("shed", 2.0)  # 7 * 0.5 / 3 -> 2
    assert [ctl.admit(0.0) for _ in range(8)][-1] == Reject("shed", 2.0)  # 15 * 0.5 / 3
    #  = 2.5 -> 3, over the maximum
    floor = fixed(3, latency_target_s=1.0, min_retry_after_s=5.0, max_retry_after_s=9.0)
    assert floor.retry_after_s() == 5.0


def test_reset_forgets_the_limit_the_shed_and_the_latency() -> None:
    ctl = AdmissionController(AdmissionPolicy(algorithm="aimd", initial_limit=2, min_limit=1,
                                              latency_target_s=4.0, min_retry_after_s=0.0))
    ctl.admit(0.0)
    ctl.release(0.0, 20.0)  # slow: the limit falls, the mean latency rises
    # 3 * 3.8 / 1.897, rounded up
    assert [ctl.admit(0.1) for _ in range(3)][-1] == Reject("shed", 7.0)
    assert ctl.shed == 1 and ctl.limit == pytest.approx(2 * 0.9 ** 0.5)
    ctl.reset()
    assert ctl.shed == 0 and ctl.limit == 2.0 and ctl.in_flight == 2
    assert ctl.retry_after_s() == 2.0  # 2 in flight * 2 s / 2; this second's shed forgotten


# --- AIMD ---------------------------------------------------------------------------------------

def aimd(limit: int = 10, max_limit: int = 20) -> AdmissionController:
    return AdmissionController(AdmissionPolicy(algorithm="aimd", initial_limit=limit,
                                               min_limit=2, max_limit=max_limit,
                                               latency_target_s=1.0))


def complete(ctl: AdmissionController, in_flight: int, latency_s: float, ok: bool = True) -> float:
    """Admit `in_flight` requests, complete one of them; the limit afterwards."""
    for _ in range(in_flight):
        assert ctl.admit(0.0) == Admit()
    ctl.release(0.0, latency_s, ok)
    return ctl.limit


def test_aimd_adds_one_when_half_the_limit_is_in_use() -> None:
    assert complete(aimd(), 5, 0.2) == 11.0  # 5 of 10 in use counting the one completing
    assert complete(aimd(), 4, 0.2) == 10.0  # 4 of 10: a quiet server does not grow


def test_aimd_a_completion_exactly_at_the_target_is_not_slow() -> None:
    assert complete(aimd(), 5, 1.0) == 11.0
    # over it: times backoff_ratio 0.9 per window of 10 samples, 0.9 ** 0.1 for this one
    assert complete(aimd(), 5, 1.01) == pytest.approx(10 * 0.9 ** 0.1)


def test_aimd_a_failure_backs_off_and_the_bounds_hold() -> None:
    assert complete(aimd(), 5, 0.2, ok=False) == pytest.approx(10 * 0.9 ** 0.1)
    assert complete(aimd(11, max_limit=11), 11, 0.2) == 11.0  # max_limit
    assert complete(aimd(2), 1, 5.0) == 2.0  # min_limit, not 2 * 0.9 ** 0.5
    ctl = aimd(3)
    for _ in range(20):
        complete(ctl, 1, 5.0)
    assert ctl.limit == 2.0  # min_limit, never below


@pytest.mark.parametrize("scale", [1, 8])
def test_aimd_backs_off_by_the_window_not_by_the_sample_count(scale: int) -> None:
    # a burst of slow completions as large as the limit (a whole window's worth) backs off
    # once, however many requests a second the replica sees: at 1:8 a limit of 4 and 4 slow
    # samples, at 1:1 a limit of 32 and 32 (per sample, the 1:1 one fell to min_limit)
    limit = 4 * scale
    ctl = AdmissionController(AdmissionPolicy(algorithm="aimd", initial_limit=limit,
                                              min_limit=2, max_limit=1000,
                                              latency_target_s=1.0))
    for _ in range(limit):
        ctl.admit(0.0)
    for _ in range(limit):
        ctl.release(0.0, 5.0)
    assert ctl.limit / limit == pytest.approx(0.9, abs=0.01)


# --- gradient -----------------------------------------------------------------------------------

def gradient(limit: int = 100, **kw: object) -> AdmissionController:
    return AdmissionController(AdmissionPolicy(algorithm="gradient", initial_limit=limit,
                                               min_limit=1, max_limit=1000,
                                               **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("rtt_s", [0.1, 10.0])
def test_gradient_first_sample_is_the_baseline_and_grows_the_limit(rtt_s: float) -> None:
    """Whatever the usual latency, the first completion sets long_rtt: gradient 1, so the
    target is limit + sqrt(limit) = 110 and the limit moves 20 % (smoothing) towards it."""
    ctl = gradient(tolerance=1.5, smoothing=0.2)
    ctl.admit(0.0)
    ctl.release(0.0, rtt_s)
    assert ctl.limit == pytest.approx(100 * 0.8 + 110 * 0.2, rel=1e-12)


def test_gradient_a_failure_halves_the_target() -> None:
    ctl = gradient(tolerance=1.5, smoothing=0.2)
    ctl.admit(0.0)
    ctl.release(0.0, 0.1, ok=False)
    assert ctl.limit == pytest.approx(100 * 0.8 + (100 * 0.5 + 10) * 0.2, rel=1e-12)


def test_gradient_follows_queueing_delay_through_the_slow_average() -> None:
    """tolerance 1 and smoothing 1: the limit is the target, limit * long_rtt / rtt + sqrt."""
    ctl = gradient(tolerance=1.0, smoothing=1.0)
    ctl.admit(0.0)
    ctl.release(0.0, 1.0)
    assert ctl.limit == pytest.approx(110.0, rel=1e-12)
    ctl.admit(0.0)
    ctl.release(0.0, 1.25)  # queueing: long_rtt moves 1/600 of the way towards 1.25 s
    long_rtt = 1.0 + (1.25 - 1.0) / 600
    assert ctl.limit == pytest.approx(110 * long_rtt / 1.25 + math.sqrt(110), rel=1e-12)


def _limits_after_1_2(second_rtt_s: float, long_rtt_s: float) -> tuple[float, float]:
    """Samples 1.0 s, `second_rtt_s`, then 1.2 s (tolerance 1, smoothing 1; the first two
    give gradient 1): the controller's limit, and the one expected when long_rtt stood at
    `long_rtt_s` before the 1.2 s sample."""
    ctl = gradient(tolerance=1.0, smoothing=1.0)
    expected = 100.0
    for rtt_s in (1.0, second_rtt_s):
        ctl.admit(0.0)
        ctl.release(0.0, rtt_s)
        expected += math.sqrt(expected)
    ctl.admit(0.0)
    ctl.release(0.0, 1.2)
    long_rtt_s += (1.2 - long_rtt_s) / 600
    return ctl.limit, expected * long_rtt_s / 1.2 + math.sqrt(expected)


def test_gradient_forgets_the_old_latency_when_the_load_drops() -> None:
    """A sample under half long_rtt decays it by 0.95 (after the average's own step)."""
    limit, expected = _limits_after_1_2(0.4, (1.0 + (0.4 - 1.0) / 600) * 0.95)
    assert limit == pytest.approx(expected, rel=1e-12)


def test_gradient_long_rtt_exactly_twice_the_sample_is_not_a_drop() -> None:
    """The decay needs long_rtt *over* twice the sample; this sample makes them equal."""
    half = 0.49958298582151794  # 1.0 + (half - 1.0) / 600 == 2 * half, exactly
    assert 1.0 + (half - 1.0) / 600 == 2 * half
    limit, expected = _limits_after_1_2(half, 2 * half)
    assert limit == pytest.approx(expected, rel=1e-12)


def test_gradient_limit_stays_within_its_bounds() -> None:
    ctl = AdmissionController(AdmissionPolicy(algorithm="gradient", initial_limit=5,
                                              min_limit=5, max_limit=6, smoothing=1.0))
    ctl.admit(0.0)
    ctl.release(0.0, 0.1)
    assert ctl.limit == 6.0  # 5 + sqrt(5) capped
    for _ in range(5):
        ctl.admit(0.0)
        ctl.release(0.0, 0.1, ok=False)
    assert ctl.limit == 5.0


def test_reset_forgets_the_gradients_baseline() -> None:
    ctl = gradient(tolerance=1.0, smoothing=1.0)
    ctl.admit(0.0)
    ctl.release(0.0, 0.1)
    ctl.reset()
    ctl.admit(0.0)
    ctl.release(0.0, 10.0)  # a new baseline, not 100 times the old one
    assert ctl.limit == pytest.approx(110.0, rel=1e-12)


@pytest.mark.parametrize(("status", "says_nothing"), [
    (400, True), (401, True), (409, True), (429, True), (499, True),
    (None, False), (200, False), (202, False), (399, False), (500, False), (502, False),
    (503, False), (504, False)])
def test_only_the_clients_own_errors_say_nothing_of_capacity(status: int | None,
                                                             says_nothing: bool) -> None:
    assert says_nothing_of_capacity(status) is says_nothing
