"""The index and the timelines: pairing agrees with History.pairs, faults become spans,
and the report's series come out bucketed, with breaker steps and gauges.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from scenario.checkers.breaker import AmplificationParams, amplification, upstream_amplification
from scenario.checkers.index import build_index
from scenario.checkers.windows import during, merge, quantile
from scenario.history import SHORT_CIRCUIT, History, Op
from scenario.names import is_client
from scenario.timelines import bucket_size_s, timelines
from tests.scenario.builder import Builder

client_ops = st.builds(
    Op,
    type=st.sampled_from(["invoke", "ok", "fail", "info"]),
    process=st.sampled_from(["c1", "c2", "c3", "attacker-1", "gauge", "policy"]),
    f=st.sampled_from(["login", "read_history"]),
    time_s=st.floats(0, 100, allow_nan=False),
)


def _order(row: tuple[str, float, str | None, float | None]) -> tuple[object, ...]:
    # an open call has no outcome and no end: sort it after the completed ones
    process, start, outcome, end = row
    return (process, start, outcome is None, outcome or "", end is None, end or 0.0)


@given(st.lists(client_ops, max_size=40))
def test_calls_are_the_histories_pairs_of_client_processes(ops: list[Op]) -> None:
    h = History(ops)
    expected = sorted(
        (i.process, i.time_s, c.type if c else "", c.time_s if c else -1.0)
        for i, c in h.pairs() if is_client(i.process) and i.type == "invoke")
    ix = build_index(h)
    got = sorted((c.process, c.start_s, c.outcome or "", -1.0 if c.end_s is None else c.end_s)
                 for c in ix.calls)
    assert got == expected
    assert all(c.process.startswith("attacker-") for c in ix.attacks)


def test_faults_pair_start_and_stop_and_an_unhealed_fault_ends_with_the_run() -> None:
    b = Builder(1)
    b.fault("outage", "payment", 10.0, 20.0)
    b.fault("outage", "payment", 30.0, None)
    b.fault("latency", "shahkar", 15.0, 25.0)
    b.call("c1", "login", 40.0, 1.0)
    ix = build_index(b.history())
    assert [(s.kind, s.target, s.start_s, s.end_s) for s in ix.faults] == [
        ("outage", "payment", 10.0, 20.0), ("latency", "shahkar", 15.0, 25.0),
        ("outage", "payment", 30.0, 41.0)]


def test_windows_helpers() -> None:
    assert merge([(5, 6), (1, 3), (2, 4), (7, 6)]) == [(1, 4), (5, 6)]
    inside = during([(1.0, 4.0), (5.0, 6.0)])
    assert [inside(t) for t in (0.5, 1.0, 4.0, 4.5, 5.5, 7.0)] == [
        False, True, True, False, True, False]
    xs = [float(x) for x in range(1, 101)]
    assert (quantile(xs, 0.5), quantile(xs, 0.99), quantile(xs, 1.0)) == (50.0, 99.0, 100.0)
    assert quantile([3.0], 0.01) == 3.0


def test_timelines_bucket_goodput_latency_breaker_and_gauges() -> None:
    b = Builder(1)
    b.fault("outage", "shahkar", 20.0, 40.0)
    for n in range(100):
        b.call(f"c{n % 7}", "login", n * 0.6, 0.25 if n < 50 else 0.5)
    b.call("c9", "login", 1.0, 9.0, "fail", error="timeout")
    b.breaker("shahkar", 22.0, "closed->open")
    b.breaker("shahkar", 32.0, "open->half_open")
    b.gauge("queue_length", "portal-1", 10.0, 4)
    b.gauge("queue_length", "portal-1", 11.0, 7)
    t = timelines(build_index(b.history()))
    assert t.bucket_s == 1.0 and t.starts_s[0] == 0.0
    assert sum(g * t.bucket_s for g in t.goodput_per_s) == 100  # failures are not goodput
    assert {round(v, 6) for v in t.p99_ms if not math.isnan(v)} == {250.0, 500.0}
    assert t.breaker["shahkar"][1:3] == [(22.0, 1.0), (32.0, 0.5)]
    assert t.gauges["queue_length portal-1"] == [(10.0, 4.0), (11.0, 7.0)]
    assert [(s.start_s, s.end_s) for s in t.faults] == [(20.0, 40.0)]


def test_bucket_sizes_stay_round_and_bounded() -> None:
    assert bucket_size_s(100) == 1.0
    assert bucket_size_s(3600) == 15.0
    assert bucket_size_s(30 * 86400) == 21600.0
    assert 10**9 / bucket_size_s(10**9) <= 240


def test_the_final_state_read_does_not_extend_the_run() -> None:
    """A trigger ending 10 s before the last request cannot be judged for a 60 s recovery,
    however late the final state is read.
    """
    b = Builder(2)
    b.fault("refresh_storm", "portal", 60.0, 90.0)
    for n in range(100):
        b.call(f"c{n % 5}", "read_history", n * 1.0, 0.1 if n < 60 else 5.0,
               "ok" if n < 60 else "info")  # still collapsed when the requests stop
    b.final("k", 1, 5000.0)
    h = b.history()
    assert build_index(h).end_s < 200  # the last request, not the final read at 5000 s
    from scenario.invariants import build_checker

    verdict = build_checker("metastable_recovery", {"recover_within_s": "60s"})(h)
    assert verdict.valid == "unknown" and "the run ended" in verdict.detail


def test_short_circuited_calls_count_as_calls_without_attempts() -> None:
    # two calls attempted (one retried), two kept off the upstream by an open breaker:
    # 3 attempts for 4 logical calls, not 3 for the 2 calls that reached it
    b = Builder(1)
    b.upstream("registry", 1.0, "fail", "c1")
    b.upstream("registry", 1.2, "fail", "c1")
    b.upstream("registry", 1.5, "fail", "c2")
    b.short_circuit("registry", 2.0, "c3", "breaker_open")
    b.short_circuit("registry", 2.1, "c4", "breaker_open")
    h = b.history()
    ix = build_index(h)
    assert len(ix.upstream["registry"]) == 3 and ix.short_circuits == {"registry": 2}
    verdict = upstream_amplification(AmplificationParams(max_amplification=1.1))(h)
    assert verdict.valid is True and "0.750x" in verdict.detail
    # the same attempts without the short circuits: 1.5x, over the bound
    bare = History([op for op in h.ops if op.f != SHORT_CIRCUIT])
    assert upstream_amplification(AmplificationParams(max_amplification=1.1))(bare).valid \
        is False
    assert amplification([], 0) is None and amplification([], 3) == 0.0
