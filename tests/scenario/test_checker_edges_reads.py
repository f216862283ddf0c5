"""The stale-if-error checker at its edges: the served share and the staleness bound are
both inclusive, every stale answer (in a fault or not) carries an age, and an answer that
carries none leaves the verdict unknown.
"""

from __future__ import annotations

from scenario.checkers.reads import StaleReadsParams, stale_reads
from scenario.history import History
from scenario.names import stale_age_s
from scenario.verdict import Verdict
from tests.scenario.builder import Builder


def reads(*rows: tuple[float, str, str], f: str = "read_history",
          kind: str = "upstream_outage") -> History:
    """A fault 10..20 s; reads (start, outcome, value), one process each."""
    b = Builder(1)
    b.fault(kind, "registry", 10.0, 20.0)
    for n, (start, outcome, value) in enumerate(rows):
        b.call(f"citizen-{n}", f, start, 0.1, outcome, value=value,  # type: ignore[arg-type]
               error="" if outcome == "ok" else "refused")
    return b.history()


def test_the_age_of_a_stale_answer() -> None:
    assert stale_age_s("stale:42.5") == 42.5
    assert stale_age_s("stale") is None
    assert stale_age_s("stale:") is None
    assert stale_age_s("stale:old") is None
    assert stale_age_s("stale:inf") is None
    assert stale_age_s("stale:nan") is None
    assert stale_age_s("stale:1:2") is None


def test_served_share_equal_to_the_minimum_passes() -> None:
    check = stale_reads(StaleReadsParams(min_served_share=0.5))
    h = reads((12.0, "ok", "stale:30"), (13.0, "fail", ""), (30.0, "fail", ""))
    assert check(h) == Verdict(
        "stale_reads", True,
        "1 of 2 reads during faults served (0.500); 1 stale reads all within 300s")
    h = reads((12.0, "ok", ""), (13.0, "fail", ""), (14.0, "fail", ""))
    assert check(h) == Verdict("stale_reads", False,
                               "1 of 3 reads during faults served (0.333) < 0.5")


def test_by_default_nineteen_of_twenty_reads_served_is_enough() -> None:
    check = stale_reads(StaleReadsParams())
    rows = [(10.0 + n * 0.5, "ok", "") for n in range(20)]
    assert check(reads(*rows[:19], (19.9, "fail", ""))).valid is True
    assert check(reads(*rows[:18], (19.8, "fail", ""), (19.9, "fail", ""))).detail == \
        "18 of 20 reads during faults served (0.900) < 0.95"


def test_a_stale_answer_exactly_as_old_as_allowed_passes_and_older_fails() -> None:
    check = stale_reads(StaleReadsParams.model_validate({"max_staleness_s": "5m"}))
    assert check(reads((12.0, "ok", "stale:300"))).valid is True
    assert check(reads((12.0, "ok", "stale:300"), (13.0, "ok", "stale:301.5"),
                       (14.0, "ok", "stale:400"))) == Verdict(
        "stale_reads", False, "3 of 3 reads during faults served (1.000); 2 of 3 stale reads "
                              "older than 300s (oldest 400s)")


def test_stale_answers_outside_faults_are_judged_too() -> None:
    check = stale_reads(StaleReadsParams(max_staleness_s=60))
    h = reads((12.0, "ok", ""), (30.0, "ok", "stale:90"))
    assert check(h).detail == ("1 of 1 reads during faults served (1.000); 1 of 1 stale "
                               "reads older than 60s (oldest 90s)")


def test_a_stale_answer_without_an_age_is_unknown_unless_another_is_too_old() -> None:
    check = stale_reads(StaleReadsParams())
    assert check(reads((12.0, "ok", "stale"), (13.0, "ok", "stale:5"))) == Verdict(
        "stale_reads", "unknown", "2 of 2 reads during faults served (1.000); 1 stale reads "
                                  "carry no age (value 'stale:<age_s>')")
    assert check(reads((12.0, "ok", "stale"), (13.0, "ok", "stale:500"))).valid is False


def test_fresh_answers_and_failed_stale_values_are_not_stale_answers() -> None:
    check = stale_reads(StaleReadsParams())
    h = reads((12.0, "ok", "fresh:9999"), (13.0, "ok", "stalemate"),
              (14.0, "fail", "stale:9999"))
    assert stale_reads(StaleReadsParams(min_served_share=0.5))(h).detail.endswith(
        "; 0 stale reads all within 300s")
    assert check(reads((12.0, "ok", "fresh:9999"), (13.0, "ok", "stalemate"))) == Verdict(
        "stale_reads", True,
        "2 of 2 reads during faults served (1.000); 0 stale reads all within 300s")


def test_only_completed_reads_of_the_chosen_operations_during_chosen_faults_count() -> None:
    h = reads((12.0, "ok", ""), f="read_payslip")
    assert stale_reads(StaleReadsParams())(h).valid is True
    assert stale_reads(StaleReadsParams(fs=("read_history",)))(h) == Verdict(
        "stale_reads", "unknown", "no completed read during a fault")
    assert stale_reads(StaleReadsParams(fault_kinds=("latency",)))(h).valid == "unknown"
    assert stale_reads(StaleReadsParams(fault_kinds=("upstream_outage",)))(h).valid is True
    assert stale_reads(StaleReadsParams())(reads((12.0, "ok", ""), f="submit_list")).valid \
        == "unknown"
    b = Builder(1)
    b.fault("upstream_outage", "registry", 10.0, 20.0)
    b.call("citizen-1", "read_history", 12.0, 0.1, None)  # the run ended before its answer
    b.call("citizen-2", "read_history", 25.0, 0.1, "fail", error="refused")
    assert stale_reads(StaleReadsParams())(b.history()).detail == \
        "no completed read during a fault"


def test_reads_at_either_end_of_a_fault_are_during_it() -> None:
    h = reads((10.0, "fail", ""), (20.0, "fail", ""), (9.9, "ok", ""), (20.1, "ok", ""))
    assert stale_reads(StaleReadsParams())(h).detail == \
        "0 of 2 reads during faults served (0.000) < 0.95"


def test_stale_reads_names_itself_by_default() -> None:
    assert stale_reads(StaleReadsParams())(History()).name == "stale_reads"


def test_a_stale_answer_with_a_garbled_age_is_still_stale() -> None:
    assert stale_reads(StaleReadsParams())(reads((12.0, "ok", "stale:1:2"))) == Verdict(
        "stale_reads", "unknown", "1 of 1 reads during faults served (1.000); 1 stale reads "
                                  "carry no age (value 'stale:<age_s>')")
