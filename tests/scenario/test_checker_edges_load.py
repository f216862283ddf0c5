"""The load checkers at their edges: goodput exactly at its share of capacity, a reply exactly
at its SLO, a lower priority served exactly as the interval closes, recovery in the last
bucket of its window, and each reason a trigger cannot be judged.
"""

from __future__ import annotations

from scenario.checkers.index import build_index
from scenario.checkers.load import (
    GoodputParams,
    MetastableParams,
    PriorityParams,
    count_between,
    good_times,
    goodput_near_capacity,
    metastable_recovery,
    priority_shedding,
)
from scenario.history import History, Op
from scenario.verdict import Verdict
from tests.scenario.builder import Builder


def steady(b: Builder, start: float, end: float, per_s: int, *, outcome: str = "ok",
           latency_s: float = 0.1, tag: str = "c") -> None:
    """`per_s` calls invoked each second of [start, end), each by its own process."""
    n = 0
    t = start
    while t < end:
        for k in range(per_s):
            b.call(f"{tag}-{n}-{k}", "read_history", t, latency_s, outcome,  # type: ignore[arg-type]
                   error="" if outcome == "ok" else "timeout")
        n += 1
        t = start + n
    return None


def test_good_times_and_counts() -> None:
    b = Builder(1)
    b.call("c1", "read_history", 0.0, 0.5)
    b.call("c2", "read_history", 0.0, 0.25)
    b.call("c3", "read_history", 0.0, 0.1, "fail", error="shed")
    b.call("c4", "read_history", 0.0, 0.1, None)
    ix = build_index(b.history())
    assert good_times(ix) == [0.25, 0.5]
    assert good_times(ix, slo_ms=250) == [0.25]  # a reply exactly at the SLO is good
    assert count_between([1.0, 2.0, 2.0, 3.0], 2.0, 3.0) == 2  # [start, end)


# --- goodput_near_capacity -----------------------------------------------------------------

def peak(ok_per_s: int, offered_per_s: int, *, kind: str = "peak_load") -> History:
    b = Builder(1)
    b.fault(kind, "portal", 10.0, 20.0)
    steady(b, 10.0, 20.0, ok_per_s)
    steady(b, 10.0, 20.0, offered_per_s - ok_per_s, outcome="info", tag="x")
    return b.history()


def test_goodput_exactly_at_its_share_of_capacity_passes() -> None:
    check = goodput_near_capacity(GoodputParams(capacity_per_s=10, min_ratio=0.8))
    assert check(peak(8, 20)) == Verdict(
        "goodput_near_capacity", True,
        "goodput >= 0.8 x min(capacity, offered) in all 1 peaks")
    assert check(peak(7, 20)) == Verdict(
        "goodput_near_capacity", False,
        "goodput fell below capacity: 7.0/s in [10s, 20s] (expected >= 0.8 x 10.0/s)")


def test_goodput_is_judged_against_the_offered_load_when_below_capacity() -> None:
    check = goodput_near_capacity(GoodputParams(capacity_per_s=100, min_ratio=0.8))
    assert check(peak(4, 5)).valid is True
    assert check(peak(3, 5)).detail == ("goodput fell below capacity: 3.0/s in [10s, 20s] "
                                        "(expected >= 0.8 x 5.0/s)")


def test_goodput_needs_a_capacity_and_a_peak_longer_than_its_warmup() -> None:
    h = peak(1, 20)
    for capacity in (None,):  # zero or a negative capacity is refused when read (params)
        assert goodput_near_capacity(GoodputParams(capacity_per_s=capacity))(h) == Verdict(
            "goodput_near_capacity", "unknown", "capacity_per_s is not set for this scenario")
    assert goodput_near_capacity(GoodputParams(capacity_per_s=10, warmup_s=10))(h) == \
        Verdict("goodput_near_capacity", "unknown", "every peak is shorter than its warm-up")
    assert goodput_near_capacity(GoodputParams(capacity_per_s=10, warmup_s=9))(h).valid \
        is False
    assert goodput_near_capacity(GoodputParams(capacity_per_s=10))(peak(1, 20, kind="x")) == \
        Verdict("goodput_near_capacity", "unknown", "no fault of kind ['peak_load', 'surge']")
    assert goodput_near_capacity(GoodputParams(capacity_per_s=10))(peak(1, 20, kind="surge")) \
        .valid is False
    assert goodput_near_capacity(GoodputParams())(h).name == "goodput_near_capacity"


def test_the_warmup_is_left_out_of_the_judged_window() -> None:
    b = Builder(1)
    b.fault("peak_load", "portal", 10.0, 20.0)
    steady(b, 10.0, 15.0, 10, outcome="info", tag="x")  # the first 5 s collapse
    steady(b, 15.0, 20.0, 10)
    h = b.history()
    assert goodput_near_capacity(GoodputParams(capacity_per_s=10))(h).valid is False
    assert goodput_near_capacity(GoodputParams(capacity_per_s=10, warmup_s=5))(h).valid is True


def test_replies_slower_than_the_slo_are_not_goodput() -> None:
    b = Builder(1)
    b.fault("peak_load", "portal", 10.0, 20.0)
    steady(b, 10.0, 20.0, 10, latency_s=0.5)
    h = b.history()
    assert goodput_near_capacity(GoodputParams(capacity_per_s=10, slo_ms=500))(h).valid is True
    assert goodput_near_capacity(GoodputParams(capacity_per_s=10, slo_ms=400))(h).detail == (
        "goodput fell below capacity: 0.0/s in [10s, 20s] (expected >= 0.8 x 10.0/s)")


# --- priority_shedding ---------------------------------------------------------------------

def shed(*rows: tuple[int, float, str, str]) -> History:
    """(priority, start, outcome, error) rows, one process each."""
    b = Builder(1)
    for n, (priority, start, outcome, error) in enumerate(rows):
        b.call(f"c{n}", "read_history", start, 0.1, outcome,  # type: ignore[arg-type]
               error=error, priority=priority)
    return b.history()


def test_a_drop_followed_within_the_interval_by_a_lower_priority_served_is_inverted() -> None:
    check = priority_shedding(PriorityParams())
    assert check(shed((0, 10.0, "fail", "shed"), (1, 10.9, "ok", ""))) == Verdict(
        "priority_shedding", False,
        "1 of 1 dropped requests were followed within 1s by a lower-priority request served "
        "(first: priority 0 read_history at 10s, shed)")
    # at the drop itself too; exactly one interval later is no longer "within"
    assert check(shed((0, 10.0, "fail", "shed"), (2, 10.0, "ok", ""))).valid is False
    assert check(shed((0, 10.0, "fail", "shed"), (1, 11.0, "ok", ""))) == Verdict(
        "priority_shedding", True,
        "0 of 1 dropped requests were followed within 1s by a lower-priority request served")


def test_only_drops_of_a_higher_priority_than_the_served_count() -> None:
    check = priority_shedding(PriorityParams())
    h = shed((1, 10.0, "fail", "shed"), (1, 10.5, "ok", ""), (0, 10.5, "ok", ""),
             (1, 9.5, "ok", ""), (2, 10.5, "fail", "timeout"))
    assert check(h).detail == ("0 of 2 dropped requests were followed within 1s by a "
                               "lower-priority request served")


def test_only_the_drop_errors_are_drops() -> None:
    h = shed((0, 10.0, "fail", "bug"), (0, 10.1, "info", "timeout"), (1, 10.5, "ok", ""))
    assert priority_shedding(PriorityParams())(h).detail.startswith("1 of 1 dropped")
    assert priority_shedding(PriorityParams(drop_errors=("bug",)))(h).detail.startswith(
        "1 of 1 dropped requests were followed within 1s by a lower-priority request served "
        "(first: priority 0 read_history at 10s, bug)")


def test_inversions_up_to_the_tolerance_pass_and_the_first_is_named() -> None:
    h = shed((0, 20.0, "fail", "shed"), (1, 20.5, "ok", ""),
             (0, 10.0, "fail", "refused"), (1, 10.5, "ok", ""))
    assert priority_shedding(PriorityParams(max_inverted=2))(h).valid is True
    assert priority_shedding(PriorityParams(max_inverted=1))(h) == Verdict(
        "priority_shedding", False,
        "2 of 2 dropped requests were followed within 1s by a lower-priority request served "
        "(first: priority 0 read_history at 10s, refused)")
    quarter = PriorityParams.model_validate({"interval_s": "250ms"})
    assert priority_shedding(quarter)(h).detail.startswith(
        "0 of 2 dropped requests were followed within 0.25s")


def test_priority_zero_counts_and_unprioritised_or_unfinished_requests_do_not() -> None:
    check = priority_shedding(PriorityParams())
    b = Builder(1)
    b.call("c1", "read_history", 0.0, 0.1, priority=-1)
    b.call("c2", "read_history", 0.0, 0.1, None, priority=1)
    assert check(b.history()) == Verdict("priority_shedding", "unknown",
                                         "no prioritised request in the history")
    b.call("c3", "read_history", 0.0, 0.1, priority=0)
    assert check(b.history()).valid is True


# --- metastable_recovery -------------------------------------------------------------------

def storm(recover_at: float | None, *, start: float = 0.0, end: float = 200.0,
          trigger: tuple[float, float] = (60.0, 90.0), kind: str = "refresh_storm") -> History:
    """2 ok/s from `start`, none during the trigger, none after it until `recover_at`."""
    b = Builder(1)
    b.fault(kind, "portal", *trigger)
    steady(b, start, trigger[0], 2)
    steady(b, trigger[0], recover_at if recover_at is not None else end, 2, outcome="info",
           tag="x")
    if recover_at is not None:
        steady(b, recover_at, end, 2, tag="r")
    return b.history()


def test_recovery_in_the_last_bucket_of_its_window_is_in_time() -> None:
    check = metastable_recovery(MetastableParams(recover_within_s=30))
    assert check(storm(115.0)) == Verdict(
        "metastable_recovery", True, "goodput recovered within 30s after all 1 triggers")
    assert check(storm(116.0)) == Verdict(
        "metastable_recovery", False,
        "metastable: not recovered to 0.9 x 2.0/s within 30s after 90s")


def test_recovery_is_measured_against_the_goodput_before_the_trigger() -> None:
    assert metastable_recovery(MetastableParams(recover_ratio=0.5))(storm(90.0)).valid is True
    h = storm(90.0, start=30.0)  # the reference window reaches back before the run: 30 s
    assert metastable_recovery(MetastableParams())(h).valid is True


def test_a_trigger_without_a_fault_free_period_before_it_is_not_judged() -> None:
    check = metastable_recovery(MetastableParams())
    h = storm(100.0, start=56.0, trigger=(60.0, 90.0))
    assert check(h) == Verdict("metastable_recovery", "unknown",
                               "no fault-free period before 60s")
    h = storm(100.0, start=55.0, trigger=(60.0, 90.0))  # exactly one bucket is enough
    assert check(h).valid is True


def test_a_trigger_with_no_goodput_before_it_is_not_judged() -> None:
    b = Builder(1)
    b.fault("refresh_storm", "portal", 60.0, 90.0)
    steady(b, 0.0, 60.0, 1, outcome="info", tag="x")
    steady(b, 90.0, 200.0, 1)
    assert metastable_recovery(MetastableParams())(b.history()) == Verdict(
        "metastable_recovery", "unknown", "no goodput before 60s")


def test_a_run_ending_before_the_recovery_window_is_not_judged() -> None:
    check = metastable_recovery(MetastableParams(recover_within_s=30))
    assert check(storm(None, end=110.0)) == Verdict(
        "metastable_recovery", "unknown",
        "the run ended 19.1s after the trigger at 90s, before 30s")
    for end_s, valid in ((119.75, "unknown"), (120.0, False)):  # the window ends at 120 s
        h = storm(None, end=110.0)
        h.append(Op("invoke", "late", "read_history", 119.5))
        h.append(Op("info", "late", "read_history", end_s, error="timeout"))
        assert check(h).valid == valid, end_s


def test_every_trigger_is_judged_after_one_that_cannot_be() -> None:
    b = Builder(1)
    b.fault("refresh_storm", "portal", 2.0, 10.0)  # nothing before it to compare with
    b.fault("refresh_storm", "portal", 60.0, 90.0)
    b.fault("refresh_storm", "portal", 150.0, 160.0)
    steady(b, 10.0, 60.0, 2)
    steady(b, 60.0, 200.0, 2, outcome="info", tag="x")  # never recovers
    check = metastable_recovery(MetastableParams(recover_within_s=30))
    assert check(b.history()) == Verdict(
        "metastable_recovery", False,
        "metastable: not recovered to 0.9 x 1.7/s within 30s after 90s")


def test_two_recovered_triggers_and_the_notes_of_unjudged_ones() -> None:
    b = Builder(1)
    b.fault("refresh_storm", "portal", 60.0, 70.0)
    b.fault("refresh_storm", "portal", 140.0, 150.0)
    steady(b, 0.0, 200.0, 2)
    check = metastable_recovery(MetastableParams())
    assert check(b.history()).detail == "goodput recovered within 60s after all 2 triggers"
    b = Builder(1)
    b.fault("refresh_storm", "portal", 0.0, 10.0)
    b.fault("refresh_storm", "portal", 12.0, 14.0)
    b.fault("refresh_storm", "portal", 30.0, 40.0)
    b.fault("refresh_storm", "portal", 60.0, 70.0)
    steady(b, 10.0, 75.0, 1, outcome="info", tag="x")
    assert check(b.history()).detail == ("no fault-free period before 0s; no goodput before "
                                         "12s; no goodput before 30s")


def test_only_the_chosen_fault_kinds_trigger() -> None:
    h = storm(200.0, kind="retry_storm")
    assert metastable_recovery(MetastableParams())(h).valid is False
    assert metastable_recovery(MetastableParams(fault_kinds=("refresh_storm",)))(h) == Verdict(
        "metastable_recovery", "unknown", "no trigger fault in the history")
    assert metastable_recovery(MetastableParams())(History()).name == "metastable_recovery"


def test_a_capacity_below_one_per_second_is_still_a_capacity() -> None:
    assert goodput_near_capacity(GoodputParams(capacity_per_s=0.5))(peak(1, 20)).valid is True


def test_every_peak_is_judged_after_one_shorter_than_its_warmup() -> None:
    b = Builder(1)
    b.fault("peak_load", "portal", 0.0, 5.0)  # no longer than the warm-up
    for n in range(4):
        start = 10.0 + 20 * n
        b.fault("surge", "portal", start, start + 10.0)
        steady(b, start, start + 10.0, 10 if n < 2 else 1, tag=f"p{n}")
        steady(b, start, start + 10.0, 0 if n < 2 else 9, outcome="info", tag=f"x{n}")
    check = goodput_near_capacity(GoodputParams(capacity_per_s=10, warmup_s=5))
    assert check(b.history()) == Verdict(
        "goodput_near_capacity", False,
        "goodput fell below capacity: 1.0/s in [55s, 60s] (expected >= 0.8 x 10.0/s); "
        "1.0/s in [75s, 80s] (expected >= 0.8 x 10.0/s)")
    b = Builder(1)
    b.fault("peak_load", "portal", 0.0, 5.0)
    for n in range(5):
        start = 10.0 + 20 * n
        b.fault("surge", "portal", start, start + 10.0)
        steady(b, start, start + 10.0, 10 if n < 1 else 1, tag=f"p{n}")
        steady(b, start, start + 10.0, 0 if n < 1 else 9, outcome="info", tag=f"x{n}")
    low = check(b.history()).detail
    assert low.count("; ") == 2 and low.endswith("1.0/s in [75s, 80s] (expected >= 0.8 x "
                                                 "10.0/s)")  # the first three of four
    b = Builder(1)
    b.fault("peak_load", "portal", 0.0, 5.0)
    for n in range(2):
        b.fault("surge", "portal", 10.0 + 20 * n, 20.0 + 20 * n)
        steady(b, 10.0 + 20 * n, 20.0 + 20 * n, 10, tag=f"p{n}")
    assert check(b.history()).detail == \
        "goodput >= 0.8 x min(capacity, offered) in all 2 peaks"


def test_a_trigger_the_run_ended_too_soon_to_judge_does_not_hide_a_later_one() -> None:
    """The second trigger needs less to recover: goodput before it was already lower."""
    b = Builder(1)
    b.fault("refresh_storm", "portal", 60.0, 90.0)
    b.fault("refresh_storm", "portal", 95.0, 100.0)
    steady(b, 0.0, 60.0, 2)
    steady(b, 60.0, 100.0, 1, outcome="info", tag="x")
    steady(b, 100.0, 110.0, 1, tag="r")
    assert metastable_recovery(MetastableParams(recover_within_s=30))(b.history()) == Verdict(
        "metastable_recovery", True, "goodput recovered within 30s after all 1 triggers")


def test_stuck_triggers_are_listed_three_then_cut() -> None:
    b = Builder(1)
    steady(b, 0.0, 60.0, 2)
    for n in range(4):
        b.fault("refresh_storm", "portal", 60.0 + 20 * n, 70.0 + 20 * n)
    steady(b, 60.0, 200.0, 1, outcome="info", tag="x")
    check = metastable_recovery(MetastableParams(recover_within_s=10, reference_s=120))
    assert check(b.history()).detail == (
        "metastable: not recovered to 0.9 x 2.0/s within 10s after 70s; not recovered to "
        "0.9 x 1.5/s within 10s after 90s; not recovered to 0.9 x 1.2/s within 10s after 110s")


def test_an_instant_reply_within_the_slo_is_goodput() -> None:
    b = Builder(1)
    b.call("c1", "read_history", 1.0, 0.0)  # answered from memory in no measurable time
    assert good_times(build_index(b.history()), slo_ms=500) == [1.0]


def test_a_bucket_must_lie_within_the_recovery_window() -> None:
    # window 90..124 s: the buckets 90..95 .. 115..120 fit, 120..125 does not
    assert metastable_recovery(MetastableParams(recover_within_s=34))(storm(120.0)).valid \
        is False
    assert metastable_recovery(MetastableParams(recover_within_s=35))(storm(120.0)).valid \
        is True


def test_goodput_exactly_back_to_its_ratio_has_recovered() -> None:
    check = metastable_recovery(MetastableParams(recover_ratio=1.0))
    assert check(storm(90.0)).valid is True
