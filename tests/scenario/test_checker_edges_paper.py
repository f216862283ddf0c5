"""The paper checkers at their edges: exactly 20 % paper is within the law, a pharmacy is the
part of a process name before "/", claim periods are 30-day slices from time 0, and each
paper prescription is registered exactly once.
"""

from __future__ import annotations

from scenario.checkers.index import index
from scenario.checkers.paper import (
    MONTH_S,
    PaperCounts,
    PaperReconciledParams,
    PaperShareParams,
    paper_counts,
    paper_reconciled_once,
    paper_share,
)
from scenario.history import FINAL, History, Op
from scenario.verdict import Verdict
from tests.scenario.builder import Builder

DAY_S = 86400.0


def prescriptions(*rows: tuple[str, str, float, str]) -> History:
    """(process, f, start, outcome) rows, each 0.1 s long."""
    b = Builder(1)
    for process, f, start, outcome in rows:
        b.call(process, f, start, 0.1, outcome, key=b.key("rx"))  # type: ignore[arg-type]
    return b.history()


def mix(process: str, paper: int, electronic: int, start_s: float = 0.0) -> list[
        tuple[str, str, float, str]]:
    """`paper` paper_records then `electronic` dispenses by one process, 1 s apart."""
    fs = ["paper_record"] * paper + ["dispense"] * electronic
    return [(process, f, start_s + n, "ok") for n, f in enumerate(fs)]


def test_a_pharmacys_terminals_are_counted_together() -> None:
    h = prescriptions(*mix("pharmacy-1/0", 1, 0), *mix("pharmacy-1/1", 0, 3, 10.0),
                      *mix("pharmacy-1", 0, 1, 20.0))
    assert paper_counts(index(h)) == [PaperCounts("pharmacy-1", 0, 1, 4)]
    assert paper_share(PaperShareParams())(h) == Verdict(
        "paper_share", True,
        "max paper share 0.200 (pharmacy-1, period 0) <= 0.2 in all 1 pharmacy-periods")


def test_exactly_the_cap_passes_and_just_over_fails() -> None:
    check = paper_share(PaperShareParams())
    assert check(prescriptions(*mix("pharmacy-1/0", 1, 4))).valid is True
    assert check(prescriptions(*mix("pharmacy-1/0", 2, 7))) == Verdict(
        "paper_share", False,
        "1 of 1 pharmacy-periods over 0.2; max paper share 0.222 (pharmacy-1, period 0)")


def test_the_worst_pharmacy_is_reported_and_each_is_judged_alone() -> None:
    h = prescriptions(*mix("pharmacy-1/0", 1, 9), *mix("pharmacy-2/0", 1, 1),
                      *mix("pharmacy-3/0", 0, 5))
    assert paper_share(PaperShareParams())(h) == Verdict(
        "paper_share", False,
        "1 of 3 pharmacy-periods over 0.2; max paper share 0.500 (pharmacy-2, period 0)")
    assert paper_share(PaperShareParams(max_share=0.5))(h) == Verdict(
        "paper_share", True,
        "max paper share 0.500 (pharmacy-2, period 0) <= 0.5 in all 3 pharmacy-periods")


def test_equal_shares_report_the_last_pharmacy_by_name() -> None:
    h = prescriptions(*mix("pharmacy-2/0", 1, 1), *mix("pharmacy-1/0", 1, 1))
    assert "(pharmacy-2, period 0)" in paper_share(PaperShareParams())(h).detail


def test_claim_periods_are_thirty_day_slices_from_time_zero() -> None:
    assert MONTH_S == 30 * DAY_S
    h = prescriptions(("pharmacy-1/0", "paper_record", MONTH_S - 1.0, "ok"),
                      ("pharmacy-1/1", "dispense", MONTH_S, "ok"),
                      ("pharmacy-1/1", "dispense", 2 * MONTH_S + 5.0, "ok"))
    assert paper_counts(index(h)) == [PaperCounts("pharmacy-1", 0, 1, 0),
                                      PaperCounts("pharmacy-1", 1, 0, 1),
                                      PaperCounts("pharmacy-1", 2, 0, 1)]
    assert paper_counts(index(h), DAY_S)[0] == PaperCounts("pharmacy-1", 29, 1, 0)


def test_paper_share_uses_its_claim_period() -> None:
    # one paper prescription on day 0 and four dispenses on day 1: over by the day, not by
    # the month
    h = prescriptions(*mix("pharmacy-1/0", 1, 0), *mix("pharmacy-1/1", 0, 4, DAY_S))
    assert paper_share(PaperShareParams())(h).valid is True
    assert paper_share(PaperShareParams.model_validate({"period_s": "1d"}))(h) == Verdict(
        "paper_share", False,
        "1 of 2 pharmacy-periods over 0.2; max paper share 1.000 (pharmacy-1, period 0)")


def test_only_completed_paper_and_dispense_operations_are_prescriptions() -> None:
    h = prescriptions(("pharmacy-1/0", "paper_record", 0.0, "fail"),
                      ("pharmacy-1/0", "paper_record", 1.0, "info"),
                      ("pharmacy-1/0", "prescribe", 2.0, "ok"),
                      ("pharmacy-1/0", "dispense", 3.0, "fail"),
                      ("pharmacy-1/0", "dispense", 4.0, "ok"))
    assert paper_counts(index(h)) == [PaperCounts("pharmacy-1", 0, 0, 1)]


def test_paper_share_without_paper_is_true_and_without_prescriptions_unknown() -> None:
    check = paper_share(PaperShareParams())
    assert check(prescriptions(*mix("pharmacy-1/0", 0, 3))) == Verdict(
        "paper_share", True, "no paper prescription recorded")
    assert check(prescriptions(("pharmacy-1/0", "dispense", 0.0, "fail"))) == Verdict(
        "paper_share", "unknown", "no prescription in the history")


def test_a_share_with_no_prescriptions_is_zero() -> None:
    assert PaperCounts("pharmacy-1", 0, 0, 0).share == 0.0
    assert PaperCounts("pharmacy-1", 0, 1, 3).share == 0.25


# --- paper_reconciled_once -----------------------------------------------------------------

def reconciled(registered: dict[str, int | None], *, final: bool = True,
               failed_paper: str = "") -> History:
    """Paper prescriptions (key -> times "reconcile:key" is applied, None when absent)."""
    b = Builder(1)
    for n, key in enumerate(registered):
        b.call("pharmacy-1/0", "paper_record", float(n), 0.1, key=key)
    if failed_paper:
        b.call("pharmacy-1/1", "paper_record", 0.0, 0.1, "fail", key=failed_paper)
    b.call("pharmacy-1/1", "paper_record", 1.0, 0.1, key="")  # no key: nothing to reconcile
    if final:
        b.final("sentinel", 1, 500.0)
        for key, times in registered.items():
            if times is not None:
                b.final("reconcile:" + key, times, 500.0)
                b.final(key, 5, 500.0)  # the paper key itself is not its registration
    return b.history()


def test_each_paper_prescription_registered_exactly_once_passes() -> None:
    check = paper_reconciled_once(PaperReconciledParams())
    assert check(reconciled({"c1": 1, "c2": 1}, failed_paper="c9")) == Verdict(
        "paper_reconciled_once", True, "all 2 paper prescriptions registered once")


def test_never_and_twice_registered_prescriptions_fail() -> None:
    check = paper_reconciled_once(PaperReconciledParams())
    assert check(reconciled({"c1": 0, "c2": 1, "c3": 2, "c4": None})) == Verdict(
        "paper_reconciled_once", False,
        "3 of 4 paper prescriptions not registered exactly once (2 never): "
        "'c1' 0x, 'c3' 2x, 'c4' 0x")
    five = check(reconciled({f"c{n}": 2 for n in range(5)}))
    assert five.detail == ("5 of 5 paper prescriptions not registered exactly once (0 never): "
                           "'c0' 2x, 'c1' 2x, 'c2' 2x")


def test_reconciliation_is_unknown_without_paper_or_final_state() -> None:
    check = paper_reconciled_once(PaperReconciledParams())
    assert check(reconciled({}, failed_paper="c9")) == Verdict(
        "paper_reconciled_once", "unknown", "no paper prescription recorded")
    assert check(reconciled({"c1": 1}, final=False)) == Verdict(
        "paper_reconciled_once", "unknown",
        "the history has no final state (no 'final' ops read after healing)")
    h = reconciled({"c1": 1})
    h.append(Op("info", FINAL, "applied", 500.0, "reconcile:c2", "one"))
    assert check(h) == Verdict("paper_reconciled_once", "unknown",
                               "final state has 1 unreadable counts, e.g. 'one'")


def test_paper_checkers_name_themselves_by_default() -> None:
    h = History()
    assert paper_share(PaperShareParams())(h).name == "paper_share"
    assert paper_reconciled_once(PaperReconciledParams())(h).name == "paper_reconciled_once"
