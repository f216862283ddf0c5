"""Properties of the checkers over generated histories: the lost-writes checker against a
ten-line model, verdicts unmoved by unrelated events, and no checker ever raising.
"""

from __future__ import annotations

from functools import cache

from hypothesis import given
from hypothesis import strategies as st

from scenario.checkers.writes import LostWritesParams, lost_writes
from scenario.history import History, Op
from scenario.invariants import REGISTRY, build_checker, default_spec
from scenario.report import RunMeta, build_report, report_json
from scenario.report_model import Report
from scenario.verdict import Verdict, compose
from tests.scenario import shapes, shapes_load

# (process, key, outcome, applied in the final state or None when absent from it)
writes = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 9), st.sampled_from(["ok", "fail", "info"]),
              st.one_of(st.none(), st.integers(0, 2))),
    min_size=1, max_size=25,
)


def _write_history(ops: list[tuple[int, int, str, int | None]], reads: int = 0) -> History:
    h = History()
    t = 0.0
    finals: dict[str, int | None] = {}
    for proc, k, outcome, applied in ops:
        key = f"k{k}"
        op = h.invoke(f"employer-{proc}", "submit_list", t, key=key)
        h.complete(op, outcome, t + 0.5)  # type: ignore[arg-type]
        finals[key] = applied
        t += 1.0
    for n in range(reads):
        op = h.invoke(f"citizen-{n}", "read_history", n * 0.3)
        h.complete(op, "ok" if n % 2 else "fail", n * 0.3 + 0.1, error="" if n % 2 else "shed")
    h.append(Op("info", "final", "applied", t + 10, "sentinel", "1"))  # the final state exists
    for key, applied in finals.items():
        if applied is not None:
            h.append(Op("info", "final", "applied", t + 10, key, str(applied)))
    return h


@given(writes)
def test_an_acknowledged_write_absent_from_the_final_state_is_always_reported(
    ops: list[tuple[int, int, str, int | None]],
) -> None:
    applied = {f"k{k}": a for _, k, _, a in ops}  # the last final per key wins
    acked = {f"k{k}" for _, k, outcome, _ in ops if outcome == "ok"}
    lost = {k for k in acked if not applied[k]}
    verdict = lost_writes(LostWritesParams())(_write_history(ops))
    if not acked:
        assert verdict.valid == "unknown"
    else:
        assert verdict.valid is (not lost), verdict.detail
        assert verdict.valid or f"{len(lost)} of {len(acked)}" in verdict.detail


@given(writes, st.integers(0, 30))
def test_reads_never_change_the_lost_writes_verdict(
    ops: list[tuple[int, int, str, int | None]], reads: int,
) -> None:
    check = lost_writes(LostWritesParams())
    assert check(_write_history(ops)) == check(_write_history(ops, reads))


SHAPES = [shapes.switch_failure, shapes.slow_upstream, shapes.upstream_outage,
          shapes.power_loss, shapes.deploy, shapes_load.peak, shapes_load.credential_stuffing]
CHECKERS = [(name, build_checker(name, {"capacity_per_s": 20} if name.startswith("goodput")
                                 else {})) for name in sorted(REGISTRY)]

unrelated = st.lists(
    st.tuples(st.sampled_from(["gauge", "policy"]), st.floats(0, 400),
              st.integers(0, 500)),
    max_size=40,
)


@cache
def _shaped(i: int, resilient: bool) -> tuple[History, list[object]]:
    h = SHAPES[i](resilient, 3)  # type: ignore[operator]
    return h, [check(h).valid for _, check in CHECKERS]


@given(st.integers(0, len(SHAPES) - 1), st.booleans(), unrelated)
def test_unrelated_events_never_flip_a_verdict(i: int, resilient: bool,
                                               extra: list[tuple[str, float, int]]) -> None:
    """Gauge samples and non-breaker policy events are read by no checker."""
    h, before = _shaped(i, resilient)
    ops = list(h.ops)
    for process, t, n in extra:
        f = "queue_length" if process == "gauge" else "throttle"
        ops.insert(n % (len(ops) + 1), Op("info", process, f, t, "portal-1", f"limit={n}"
                                          if process == "policy" else str(n)))
    extended = History(ops)
    after = [check(extended).valid for _, check in CHECKERS]
    assert after == before


vocabulary_ops = st.builds(
    Op,
    type=st.sampled_from(["invoke", "ok", "fail", "info"]),
    process=st.sampled_from(["citizen-1", "citizen-2", "pharmacy-1/0", "attacker-1", "nemesis",
                             "final", "policy", "gauge", "upstream:shahkar", "upstream:"]),
    f=st.sampled_from(["login", "read_history", "submit_list", "paper_record", "dispense",
                       "save_draft", "restore_draft", "reconcile", "fault:start",
                       "fault:stop", "breaker", "applied", "call", "queue_length", ""]),
    time_s=st.floats(-1e3, 1e7, allow_nan=False, allow_infinity=False),
    key=st.sampled_from(["", "k1", "k2", "shahkar", "reconcile:k1", "switch-a"]),
    value=st.sampled_from(["", "1", "2", "x", "nan", "inf", "stale", "stale:12", "stale:x",
                           "accepted", "closed->open", "open->half_open", "->", "latency",
                           "wrong_password", "-3"]),
    error=st.sampled_from(["", "timeout", "shed", "deferred", "not_found", "refused"]),
    priority=st.integers(-1, 3),
)


@given(st.lists(vocabulary_ops, max_size=60))
def test_checkers_never_raise_on_arbitrary_histories(ops: list[Op]) -> None:
    h = History(ops)
    for name, check in [(n, build_checker(n, p)) for n, p in default_spec().items()]:
        verdict = check(h)
        assert isinstance(verdict, Verdict) and verdict.name == name
        assert verdict.valid in (True, False, "unknown")
        assert verdict.detail


def test_a_history_with_a_time_that_is_not_a_number_is_unknown_not_a_crash() -> None:
    h = History()
    op = h.invoke("citizen-1", "login", 0.0)
    h.complete(op, "ok", float("nan"))
    verdicts = compose(CHECKERS, h)
    assert {v.valid for v in verdicts} == {"unknown"}
    assert all("op 2 has time_s nan" in v.detail for v in verdicts)


@given(st.lists(vocabulary_ops, max_size=60), st.lists(vocabulary_ops, max_size=20))
def test_a_report_is_built_from_any_histories(a: list[Op], b: list[Op]) -> None:
    meta = RunMeta(scenario="any", mode="sim", policies="baseline", seed=1, duration_s=1.0,
                   wall_s=0.0)
    report = build_report([History(a), History(b)], meta, CHECKERS)
    assert Report.model_validate_json(report_json(report)) == report
    assert len(report.invariants) == len(CHECKERS)
