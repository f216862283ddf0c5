"""The durability checkers at their edges: each one says false, true and "unknown" on the
smallest history that decides it, with the exact sentence a report shows.

Boundaries are the invariants' own words: a write applied exactly twice is a duplicate, an
acknowledged write applied exactly once is kept, a restore starting the instant its save
returned is a restore "later".
"""

from __future__ import annotations

from scenario.checkers.writes import (
    DraftsParams,
    DuplicateWritesParams,
    LostWritesParams,
    QueuedWritesParams,
    drafts_restorable,
    duplicate_writes,
    lost_writes,
    queued_writes_once,
)
from scenario.history import FINAL, History, Op
from scenario.verdict import Verdict
from tests.scenario.builder import Builder

NO_FINAL = "the history has no final state (no 'final' ops read after healing)"


def writes(*calls: tuple[str, str, str, int | None], final: bool = True,
           fault: tuple[float, float] | None = None, bad_final: str = "") -> History:
    """Calls (f, key, outcome, applied or None when absent from the final state), one
    process each, 10 s apart; an optional fault; the final state read at 1000 s.
    """
    b = Builder(1)
    if fault is not None:
        b.fault("upstream_outage", "payment", *fault)
    for n, (f, key, outcome, _) in enumerate(calls):
        b.call(f"employer-{n}", f, 10.0 * n, 0.5, outcome, key=key,  # type: ignore[arg-type]
               error="" if outcome == "ok" else "timeout")
    if final:
        b.final("sentinel", 1, 1000.0)  # the final state exists even when no key is listed
        for _, key, _, applied in calls:
            if applied is not None:
                b.final(key, applied, 1000.0)
    h = b.history()
    if bad_final:
        h.append(Op("info", FINAL, "applied", 1000.0, "garbled", bad_final))
    return h


# --- no_lost_writes ------------------------------------------------------------------------

def test_lost_writes_names_itself_by_default() -> None:
    h = writes(("submit_list", "k1", "ok", 1))
    assert lost_writes(LostWritesParams())(h).name == "no_lost_writes"
    assert lost_writes(LostWritesParams(), "mine")(h).name == "mine"


def test_an_acknowledged_write_applied_once_is_kept_and_absent_is_lost() -> None:
    check = lost_writes(LostWritesParams())
    kept = writes(("submit_list", "k1", "ok", 1), ("dispense", "k2", "ok", 2))
    assert check(kept) == Verdict("no_lost_writes", True,
                                  "all 2 acknowledged writes are in the final state")
    lost = writes(("submit_list", "k1", "ok", 1), ("save_draft", "k2", "ok", 0),
                  ("reconcile", "k3", "ok", None))
    assert check(lost) == Verdict(
        "no_lost_writes", False,
        "2 of 3 acknowledged writes lost (absent from the final state): 'k2', 'k3'")


def test_lost_keys_are_sampled_three_then_an_ellipsis() -> None:
    check = lost_writes(LostWritesParams())
    three = writes(*[("submit_list", f"k{n}", "ok", 0) for n in range(3)])
    assert check(three).detail.endswith(": 'k0', 'k1', 'k2'")
    four = writes(*[("submit_list", f"k{n}", "ok", 0) for n in range(4)])
    assert check(four).detail == ("4 of 4 acknowledged writes lost (absent from the final "
                                  "state): 'k0', 'k1', 'k2' ...")


def test_only_acknowledged_keyed_writes_of_the_chosen_operations_count() -> None:
    check = lost_writes(LostWritesParams(fs=("submit_list",)))
    h = writes(("submit_list", "k1", "ok", 1), ("submit_list", "k2", "info", 0),
               ("submit_list", "", "ok", None), ("dispense", "k4", "ok", 0),
               ("read_history", "k5", "ok", None))
    assert check(h) == Verdict("no_lost_writes", True,
                               "all 1 acknowledged writes are in the final state")
    # every write operation by default: the lost dispense counts
    assert lost_writes(LostWritesParams())(h).detail.startswith("1 of 2 acknowledged")


def test_lost_writes_is_unknown_without_a_readable_final_state() -> None:
    check = lost_writes(LostWritesParams())
    assert check(writes(("submit_list", "k1", "info", 0))) == Verdict(
        "no_lost_writes", "unknown", "no acknowledged write in the history")
    assert check(writes(("submit_list", "k1", "ok", 1), final=False)) == Verdict(
        "no_lost_writes", "unknown", NO_FINAL)
    assert check(writes(("submit_list", "k1", "ok", 1), bad_final="x")) == Verdict(
        "no_lost_writes", "unknown", "final state has 1 unreadable counts, e.g. 'x'")
    # no acknowledged write is said first, even when the final state is missing too
    assert check(writes(("submit_list", "k1", "fail", 0), final=False)).detail == \
        "no acknowledged write in the history"


# --- no_duplicate_writes -------------------------------------------------------------------

def test_a_write_applied_exactly_twice_is_a_duplicate() -> None:
    check = duplicate_writes(DuplicateWritesParams())
    h = writes(("submit_list", "k1", "ok", 1), ("submit_list", "k2", "ok", 2))
    assert check(h) == Verdict("no_duplicate_writes", False,
                               "1 of 3 writes applied more than once: 'k2'")


def test_writes_applied_at_most_once_pass() -> None:
    check = duplicate_writes(DuplicateWritesParams())
    h = writes(("submit_list", "k1", "ok", 1), ("submit_list", "k2", "info", 0))
    assert check(h) == Verdict("no_duplicate_writes", True,
                               "each of 3 writes applied at most once")
    assert duplicate_writes(DuplicateWritesParams())(h).name == "no_duplicate_writes"


def test_duplicates_are_sampled_three_then_an_ellipsis() -> None:
    check = duplicate_writes(DuplicateWritesParams())
    h = writes(*[("submit_list", f"k{n}", "ok", 3) for n in range(4)])
    assert check(h).detail == ("4 of 5 writes applied more than once: 'k0', 'k1', 'k2' ...")


def test_duplicates_are_unknown_without_a_readable_final_state() -> None:
    check = duplicate_writes(DuplicateWritesParams())
    assert check(writes(("submit_list", "k1", "ok", 2), final=False)) == Verdict(
        "no_duplicate_writes", "unknown", NO_FINAL)
    assert check(writes(("submit_list", "k1", "ok", 2), bad_final="2x")).detail == \
        "final state has 1 unreadable counts, e.g. '2x'"


# --- queued_writes_once --------------------------------------------------------------------

def queued(*calls: tuple[str, str, str, int | None], value: str = "200") -> History:
    """Writes during an outage 0..100 s (the calls are 10 s apart), final state at 1000 s."""
    h = writes(*calls, fault=(0.0, 100.0))
    if value != "200":
        h = History([op._replace(value=value) if op.type == "ok" and op.process != FINAL
                     else op for op in h.ops])
    return h


def test_an_acknowledged_write_during_a_fault_must_be_applied_exactly_once() -> None:
    check = queued_writes_once(QueuedWritesParams())
    assert check(queued(("submit_list", "k1", "ok", 1))) == Verdict(
        "queued_writes_once", True, "all 1 writes made during faults or queued are applied "
                                    "once (acknowledged) or at most once (unknown)")
    assert check(queued(("submit_list", "k1", "ok", 0), ("submit_list", "k2", "ok", 2),
                        ("submit_list", "k3", "ok", 1))) == Verdict(
        "queued_writes_once", False, "2 of 3 writes made during faults or queued were not "
                                     "applied exactly once: 'k1' applied 0x, 'k2' applied 2x")


def test_an_unacknowledged_write_during_a_fault_may_apply_at_most_once() -> None:
    check = queued_writes_once(QueuedWritesParams())
    h = queued(("submit_list", "k1", "info", 0), ("submit_list", "k2", "info", 1))
    assert check(h).valid is True
    h = queued(("submit_list", "k1", "info", 1), ("submit_list", "k2", "fail", 2))
    assert check(h) == Verdict("queued_writes_once", False,
                               "1 of 2 writes made during faults or queued were not applied "
                               "exactly once: 'k2' applied 2x")


def test_a_key_acknowledged_once_stays_acknowledged_whatever_its_other_attempts() -> None:
    """An ok then a timed-out resubmission of the same key: the ok promised it applied."""
    check = queued_writes_once(QueuedWritesParams())
    h = queued(("submit_list", "k1", "ok", 0), ("submit_list", "k1", "info", 0))
    assert check(h).valid is False and "'k1' applied 0x" in check(h).detail
    h = queued(("submit_list", "k1", "info", 0), ("submit_list", "k1", "ok", 0))
    assert check(h).valid is False


def test_a_202_accepted_write_is_queued_even_outside_a_fault() -> None:
    check = queued_writes_once(QueuedWritesParams())
    b = Builder(1)
    b.call("employer-1", "submit_list", 5.0, 0.1, key="k1", value="accepted")
    b.call("employer-2", "submit_list", 6.0, 0.1, key="k2", value="200")
    b.final("k2", 1, 100.0)
    assert check(b.history()) == Verdict(
        "queued_writes_once", False, "1 of 1 writes made during faults or queued were not "
                                     "applied exactly once: 'k1' applied 0x")


def test_writes_outside_faults_or_unkeyed_or_of_other_operations_are_not_judged() -> None:
    check = queued_writes_once(QueuedWritesParams(fs=("submit_list",)))
    b = Builder(1)
    b.fault("upstream_outage", "payment", 10.0, 20.0)
    b.call("e1", "submit_list", 5.0, 0.1, key="before")
    b.call("e2", "submit_list", 20.5, 0.1, key="after")
    b.call("e3", "submit_list", 12.0, 0.1, key="")
    b.call("e4", "dispense", 12.0, 0.1, key="other")
    b.final("x", 1, 100.0)
    assert check(b.history()) == Verdict("queued_writes_once", "unknown",
                                         "no write was made during a fault or queued")


def test_writes_at_either_end_of_a_fault_are_made_during_it() -> None:
    check = queued_writes_once(QueuedWritesParams())
    b = Builder(1)
    b.fault("upstream_outage", "payment", 10.0, 20.0)
    b.call("e1", "submit_list", 10.0, 0.1, key="first")
    b.call("e2", "submit_list", 20.0, 0.1, key="last")
    b.final("first", 0, 100.0)
    assert check(b.history()).detail.startswith("2 of 2 writes made during faults")


def test_only_the_chosen_fault_kinds_make_a_write_queued() -> None:
    b = Builder(1)
    b.fault("latency", "payment", 0.0, 100.0)
    b.call("e1", "submit_list", 10.0, 0.1, key="k1")
    b.final("k1", 0, 200.0)
    h = b.history()
    assert queued_writes_once(QueuedWritesParams(fault_kinds=("upstream_outage",)))(h).valid \
        == "unknown"
    assert queued_writes_once(QueuedWritesParams(fault_kinds=("latency",)))(h).valid is False


def test_queued_writes_are_unknown_without_a_readable_final_state() -> None:
    check = queued_writes_once(QueuedWritesParams())
    assert check(writes(("submit_list", "k1", "ok", 1), fault=(0.0, 50.0), final=False)) == \
        Verdict("queued_writes_once", "unknown", NO_FINAL)


def test_queued_keys_are_described_three_then_an_ellipsis() -> None:
    check = queued_writes_once(QueuedWritesParams())
    h = queued(*[("submit_list", f"k{n}", "ok", 0) for n in range(4)])
    assert check(h).detail.endswith(": 'k0' applied 0x, 'k1' applied 0x, 'k2' applied 0x ...")


# --- drafts_restorable ---------------------------------------------------------------------

def drafts(restores: list[tuple[float, str, str]], final: int | None = None,
           bad_final: bool = False) -> History:
    """Draft "d1" saved 0..0.5 s; restores (start, outcome, error) by another process;
    a login and a repeated autosave around them; the final state at 1000 s when given.
    """
    b = Builder(1)
    b.call("citizen-1", "save_draft", 0.0, 0.5, key="d1", priority=2)
    b.call("citizen-1", "save_draft", 30.0, 0.5, key="d1", priority=2)  # the next autosave
    b.call("citizen-9", "login", 1.0, 0.2)
    for n, (start, outcome, error) in enumerate(restores):
        b.call(f"citizen-{n + 2}", "restore_draft", start, 0.05, outcome,  # type: ignore[arg-type]
               key="d1", error=error, priority=2)
    if final is not None:
        b.final("d1", final, 1000.0)
    h = b.history()
    if bad_final:
        h.append(Op("info", FINAL, "applied", 1000.0, "other", "?"))
    return h


def test_a_draft_the_final_state_lost_is_not_restorable() -> None:
    check = drafts_restorable(DraftsParams())
    assert check(drafts([], final=0)) == Verdict(
        "drafts_restorable", False, "1 of 1 saved drafts not restorable: 'd1'")
    assert check(drafts([], final=1)) == Verdict("drafts_restorable", True,
                                                 "all 1 saved drafts restorable")


def test_a_later_restore_that_finds_no_draft_fails_the_invariant_without_a_final_state() -> None:
    check = drafts_restorable(DraftsParams())
    assert check(drafts([(5.0, "fail", "not_found")])) == Verdict(
        "drafts_restorable", False, "1 of 1 saved drafts not restorable: 'd1'")
    assert check(drafts([(5.0, "fail", "http_404")])).valid is False
    assert check(drafts([(5.0, "ok", "")])) == Verdict("drafts_restorable", True,
                                                       "all 1 saved drafts restorable")


def test_a_restore_starting_the_instant_the_save_returned_is_later() -> None:
    check = drafts_restorable(DraftsParams())
    assert check(drafts([(0.5, "fail", "not_found")])).valid is False


def test_restores_that_fail_for_availability_do_not_lose_a_draft() -> None:
    check = drafts_restorable(DraftsParams())
    for outcome, error in [("fail", "refused"), ("info", "not_found"), ("info", "timeout")]:
        assert check(drafts([(5.0, outcome, error)])).valid is True, (outcome, error)
    # which errors mean "gone" is the scenario's choice
    assert drafts_restorable(DraftsParams(missing_errors=("refused",)))(
        drafts([(5.0, "fail", "refused")])).valid is False


def test_a_restore_before_the_save_returned_judges_nothing() -> None:
    check = drafts_restorable(DraftsParams())
    unknown = Verdict("drafts_restorable", "unknown",
                      "1 drafts saved, but none restored later and no final state")
    assert check(drafts([(0.1, "fail", "not_found")])) == unknown
    assert check(drafts([])) == unknown  # the repeated autosave is not a restore


def test_restores_and_the_final_state_judge_together() -> None:
    check = drafts_restorable(DraftsParams())
    assert check(drafts([(5.0, "ok", "")], final=1)).valid is True
    assert check(drafts([(5.0, "ok", "")], final=0)).valid is False
    assert check(drafts([(5.0, "fail", "not_found")], final=1)).valid is False


def test_an_unreadable_final_state_leaves_drafts_to_the_restores() -> None:
    check = drafts_restorable(DraftsParams())
    assert check(drafts([], final=0, bad_final=True)).valid == "unknown"
    assert check(drafts([(5.0, "ok", "")], final=0, bad_final=True)).valid is True


def test_only_acknowledged_keyed_saves_are_drafts() -> None:
    check = drafts_restorable(DraftsParams())
    b = Builder(1)
    b.call("citizen-1", "save_draft", 0.0, 0.5, "fail", key="d1", error="refused")
    b.call("citizen-2", "save_draft", 0.0, 0.5, key="")
    b.call("citizen-3", "save_draft", 0.0, 0.5, None, key="d3")
    b.call("employer-1", "submit_list", 0.0, 0.5, key="k1")
    b.call("citizen-4", "restore_draft", 5.0, 0.1, "fail", key="d1", error="not_found")
    b.final("k1", 1, 100.0)
    assert check(b.history()) == Verdict("drafts_restorable", "unknown", "no draft was saved")
    assert drafts_restorable(DraftsParams())(b.history()).name == "drafts_restorable"


def test_lost_drafts_are_sampled_three_then_an_ellipsis() -> None:
    b = Builder(1)
    for n in range(4):
        b.call(f"citizen-{n}", "save_draft", 0.0, 0.5, key=f"d{n}")
    b.call("citizen-9", "restore_draft", 5.0, 0.1, "fail", key="d3", error="not_found")
    b.final("d0", 0, 100.0)
    b.final("d1", 1, 100.0)
    b.final("d2", 0, 100.0)
    b.final("d3", 1, 100.0)
    assert drafts_restorable(DraftsParams())(b.history()).detail == \
        "3 of 4 saved drafts not restorable: 'd0', 'd2', 'd3'"
    b.call("citizen-8", "save_draft", 0.0, 0.5, key="d4")
    assert drafts_restorable(DraftsParams())(b.history()).detail == \
        "4 of 5 saved drafts not restorable: 'd0', 'd2', 'd3' ..."


def test_exactly_three_queued_keys_need_no_ellipsis() -> None:
    check = queued_writes_once(QueuedWritesParams())
    h = queued(*[("submit_list", f"k{n}", "ok", 0) for n in range(3)])
    assert check(h).detail.endswith(": 'k0' applied 0x, 'k1' applied 0x, 'k2' applied 0x")
