"""The index and the time windows every checker reads, at their edges: how each kind of event
is sorted into the index, both ends of a fault belong to it, the final-state read is not the
run's end, and a repeated question about the same history reuses its index.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scenario.checkers.index import (
    Call,
    Index,
    Span,
    UpstreamAttempt,
    build_index,
    index,
    is_wrong_password,
)
from scenario.checkers.windows import (
    during,
    inside,
    merge,
    quantile,
    quantile_of,
    select_faults,
    targets,
)
from scenario.history import (
    FAULT_START,
    FAULT_STOP,
    FINAL,
    GAUGE,
    NEMESIS,
    POLICY,
    SHORT_CIRCUIT,
    WRONG_PASSWORD,
    History,
    Op,
)
from scenario.names import is_client


def test_a_fault_contains_both_its_ends() -> None:
    span = Span("outage", "shahkar", 10.0, 20.0)
    assert [span.contains(t) for t in (9.9, 10.0, 15.0, 20.0, 20.1)] == [
        False, True, True, True, False]


def test_a_calls_latency_and_certainty() -> None:
    done = Call("c", "login", "", -1, 1.0, 1.5, "ok", "", "", "")
    assert done.latency_s == 0.5 and done.ok
    assert Call("c", "login", "", -1, 1.0, None, None, "", "", "").latency_s is None
    assert not Call("c", "login", "", -1, 1.0, 2.0, "info", "", "", "").ok


def test_who_is_a_client_and_which_logins_carry_a_wrong_password() -> None:
    assert is_client("citizen-1") and is_client("pharmacy-3/2")
    for process in (NEMESIS, POLICY, FINAL, GAUGE, "upstream:shahkar", "attacker-1"):
        assert not is_client(process), process

    def login(process: str, f: str = "login", value: str = "") -> Call:
        return Call(process, f, "", -1, 0.0, 1.0, "fail", "", "", value)

    assert is_wrong_password(login("attacker-1"))
    assert is_wrong_password(login("citizen-1", value=WRONG_PASSWORD))
    assert not is_wrong_password(login("citizen-1"))
    assert not is_wrong_password(login("attacker-1", f="read_history"))
    assert not is_wrong_password(login("citizen-1", f="recover", value=WRONG_PASSWORD))


def test_client_calls_pair_invoke_and_completion() -> None:
    ops = [
        Op("invoke", "citizen-2", "read_history", 3.0, "k2", "", "", 2),
        Op("invoke", "citizen-1", "login", 1.0, "", WRONG_PASSWORD, "", 0),
        Op("fail", "citizen-1", "login", 1.5, "", "401", "unauthorized", 0),
        Op("ok", "citizen-2", "read_history", 3.2, "k2", "stale:4", "", 2),
        Op("ok", "citizen-3", "read_history", 3.3),  # a completion never invoked
        Op("invoke", "attacker-1", "login", 0.5),
        Op("invoke", "attacker-2", "login", 0.7),
        Op("ok", "attacker-2", "login", 0.8),  # the later attack completes first
        Op("fail", "attacker-1", "login", 0.9, error="unauthorized"),
        Op("invoke", "citizen-4", "save_draft", 0.2, "d1"),
        Op("invoke", "citizen-4", "save_draft", 4.0, "d2"),  # the first one never completed
    ]
    ix = build_index(History(ops))
    assert ix.calls == [
        Call("citizen-4", "save_draft", "d1", -1, 0.2, None, None, "", "", ""),
        Call("citizen-1", "login", "", 0, 1.0, 1.5, "fail", "401", "unauthorized",
             WRONG_PASSWORD),
        Call("citizen-2", "read_history", "k2", 2, 3.0, 3.2, "ok", "stale:4", "", ""),
        Call("citizen-4", "save_draft", "d2", -1, 4.0, None, None, "", "", ""),
    ]
    assert ix.attacks == [Call("attacker-1", "login", "", -1, 0.5, 0.9, "fail", "",
                               "unauthorized", ""),
                          Call("attacker-2", "login", "", -1, 0.7, 0.8, "ok", "", "", "")]


def test_faults_stop_in_the_order_they_started_and_stray_stops_are_ignored() -> None:
    ops = [
        Op("info", NEMESIS, FAULT_STOP, 1.0, "shahkar", "outage"),  # never started
        Op("info", NEMESIS, FAULT_START, 2.0, "shahkar", "outage"),
        Op("info", NEMESIS, FAULT_START, 3.0, "shahkar", "outage"),
        Op("info", NEMESIS, FAULT_START, 3.0, "sms", "outage"),
        Op("info", NEMESIS, "heal", 4.0, "sms", "outage"),
        Op("info", NEMESIS, FAULT_STOP, 5.0, "shahkar", "outage"),
        Op("info", NEMESIS, FAULT_STOP, 6.0, "shahkar", "latency"),
        Op("invoke", "citizen-1", "login", 9.0),
        Op("info", FINAL, "applied", 50.0, "k", "1"),
    ]
    ix = build_index(History(ops))
    assert ix.faults == [Span("outage", "shahkar", 2.0, 5.0), Span("outage", "shahkar", 3.0, 9.0),
                         Span("outage", "sms", 3.0, 9.0)]
    assert (ix.start_s, ix.end_s) == (1.0, 9.0)


def test_faults_sort_by_start_then_end_kind_and_target() -> None:
    ops = [Op("info", NEMESIS, FAULT_START, 1.0, t, k) for k, t in
           [("b", "y"), ("b", "x"), ("a", "z")]]
    ops += [Op("info", NEMESIS, FAULT_STOP, 2.0, "y", "b"), Op("info", NEMESIS, FAULT_STOP,
                                                               2.0, "x", "b")]
    ops += [Op("info", NEMESIS, FAULT_START, 0.5, "w", "c"),
            Op("info", NEMESIS, FAULT_STOP, 3.0, "w", "c")]
    assert [(s.kind, s.target) for s in build_index(History(ops)).faults] == [
        ("c", "w"), ("b", "x"), ("b", "y"), ("a", "z")]


def test_upstream_attempts_short_circuits_and_breaker_states() -> None:
    ops = [
        Op("info", "upstream:shahkar@portal-a", "call", 2.0, "c2", "timeout"),
        Op("info", "upstream:shahkar", "call", 1.0, "c1", "ok"),
        Op("info", "upstream:shahkar", SHORT_CIRCUIT, 1.5, "c3", "breaker_open"),
        Op("info", "upstream:sms", SHORT_CIRCUIT, 1.6, "c4", "breaker_open"),
        Op("info", "upstream:sms", SHORT_CIRCUIT, 1.7, "c5", "breaker_open"),
        Op("info", POLICY, "breaker", 3.0, "shahkar", "open -> half-open"),
        Op("info", POLICY, "breaker", 2.5, "shahkar", "closed->open"),
        Op("info", POLICY, "breaker", 2.6, "sms", "open"),  # no transition
        Op("info", POLICY, "throttle", 2.7, "sms", "a->b"),  # not a breaker
    ]
    ix = build_index(History(ops))
    assert ix.upstream == {"shahkar": [UpstreamAttempt(1.0, "ok", "c1", ""),
                                       UpstreamAttempt(2.0, "timeout", "c2", "portal-a")]}
    assert ix.short_circuits == {"shahkar": 1, "sms": 2}
    assert ix.breaker == {"shahkar": [(2.5, "open"), (3.0, "half_open")]}


def test_the_final_state_sums_repeated_keys_and_keeps_unreadable_counts() -> None:
    ops = [Op("info", FINAL, "applied", 9.0, "k1", "1"), Op("info", FINAL, "applied", 9.0,
                                                            "k1", "2"),
           Op("info", FINAL, "applied", 9.0, "k2", "0"), Op("info", FINAL, "applied", 9.0,
                                                            "k3", "many")]
    ix = build_index(History(ops))
    assert ix.finals == {"k1": 3, "k2": 0}
    assert ix.bad_finals == ["many"]
    assert ix.applied("k1") == 3 and ix.applied("k2") == 0 and ix.applied("absent") == 0
    assert ix.finals_problem() == "final state has 1 unreadable counts, e.g. 'many'"
    assert build_index(History(ops[:3])).finals_problem() is None
    # only final ops: the run's end falls back to them
    assert (ix.start_s, ix.end_s) == (9.0, 9.0)
    assert build_index(History()).finals is None
    assert Index().finals_problem() == ("the history has no final state (no 'final' ops read "
                                        "after healing)")


def test_gauges_keep_finite_numbers_in_time_order() -> None:
    ops = [Op("info", GAUGE, "queue_length", t, "portal-1", v) for t, v in
           [(3.0, "2"), (1.0, "9.5"), (2.0, "nan"), (2.5, "inf"), (2.7, "x"), (3.0, "1")]]
    ops.append(Op("info", GAUGE, "in_flight", 1.0, "portal-1", "2"))
    assert build_index(History(ops)).gauges == {  # samples at one time: in recorded order
        ("queue_length", "portal-1"): [(1.0, 9.5), (3.0, 2.0), (3.0, 1.0)],
        ("in_flight", "portal-1"): [(1.0, 2.0)]}


def test_simultaneous_breaker_transitions_keep_their_recorded_order() -> None:
    ops = [Op("info", POLICY, "breaker", 5.0, "shahkar", "closed->open"),
           Op("info", POLICY, "breaker", 5.0, "shahkar", "open->half_open"),
           Op("info", POLICY, "breaker", 1.0, "shahkar", "half_open->closed")]
    assert build_index(History(ops)).breaker == {
        "shahkar": [(1.0, "closed"), (5.0, "open"), (5.0, "half_open")]}


def test_a_time_that_is_not_finite_is_named_by_its_op() -> None:
    ops = [Op("invoke", "c", "login", 0.0), Op("ok", "c", "login", math.inf)]
    with pytest.raises(ValueError, match=r"^history op 2 has time_s inf; expected a finite "
                                         r"number of seconds$"):
        build_index(History(ops))


def test_an_empty_history_starts_and_ends_at_zero() -> None:
    ix = build_index(History())
    assert (ix.start_s, ix.end_s, ix.calls, ix.faults) == (0.0, 0.0, [], [])


def test_the_index_is_reused_until_the_history_grows() -> None:
    h = History([Op("invoke", "c", "login", 0.0)])
    first = index(h)
    assert index(h) is first
    assert index(History(list(h.ops))) is not first  # an equal history, another object
    h.append(Op("ok", "c", "login", 1.0))
    grown = index(h)
    assert grown is not first and grown.calls[0].outcome == "ok"
    assert index(h) is grown


# --- windows -------------------------------------------------------------------------------

def test_quantiles_are_nearest_rank() -> None:
    xs = [1.0, 2.0, 3.0, 4.0]
    assert [quantile(xs, q) for q in (0.01, 0.25, 0.26, 0.5, 0.75, 0.99, 1.0)] == [
        1.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0]


@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=300),
       st.floats(min_value=0.0, max_value=1.0, exclude_min=True))
def test_a_quantile_of_unsorted_values_is_the_sorted_ones(xs: list[float], q: float) -> None:
    # quantile_of takes the top ranks by heapq.nlargest for a high q (from 8 values up):
    # ties, -0.0 and 0.0, infinities and q's near 1 must give what sorting does
    assert quantile_of(list(xs), q) == quantile(sorted(xs), q)
    assert quantile_of(xs * 9, 0.99) == quantile(sorted(xs * 9), 0.99)


def test_intervals_merge_when_they_touch_and_reversed_ones_are_dropped() -> None:
    assert merge([(3.0, 4.0), (1.0, 2.0), (2.0, 3.0)]) == [(1.0, 4.0)]
    assert merge([(1.0, 10.0), (2.0, 3.0)]) == [(1.0, 10.0)]
    assert merge([(1.0, 2.0), (2.5, 3.0), (5.0, 4.0)]) == [(1.0, 2.0), (2.5, 3.0)]
    assert merge([(1.0, 1.0)]) == [(1.0, 1.0)]
    assert merge([(0.0, -1.0), (1.0, 2.0)]) == [(1.0, 2.0)]  # a reversed one first, too
    assert merge([]) == []


def test_inside_and_during_include_both_ends() -> None:
    merged = [(1.0, 2.0), (4.0, 5.0)]
    starts = [1.0, 4.0]
    assert [inside(merged, starts, t) for t in (0.9, 1.0, 2.0, 3.0, 4.0, 5.0, 5.1)] == [
        False, True, True, False, True, True, False]
    spans = during([Span("a", "x", 4.0, 5.0), (1.0, 2.0)])
    assert [spans(t) for t in (0.5, 1.0, 2.0, 3.0, 5.0, 6.0)] == [
        False, True, True, False, True, False]
    assert not during([])(1.0)


def test_faults_are_selected_by_kind_and_by_the_upstream_they_target() -> None:
    ix = Index(faults=[Span("outage", "portal-a-shahkar", 0, 1), Span("latency", "sms", 0, 1),
                       Span("outage", "proxy:sms", 0, 1), Span("outage", "lab/registry", 0, 1)])
    assert select_faults(ix, []) == ix.faults
    assert [s.target for s in select_faults(ix, ["outage"])] == [
        "portal-a-shahkar", "proxy:sms", "lab/registry"]
    assert [s.target for s in select_faults(ix, [], "sms")] == ["sms", "proxy:sms"]
    assert [s.target for s in select_faults(ix, ["outage"], "sms")] == ["proxy:sms"]
    assert [s.target for s in select_faults(ix, [], "registry")] == ["lab/registry"]
    assert targets("portal-a-shahkar", "shahkar") and not targets("shahkar-2", "shahkar")
    assert not targets("xshahkar", "shahkar")
