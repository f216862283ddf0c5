"""The report: DESIGN.md's keys exactly, the counts, pooling, determinism, round-trip,
atomic writes, and a self-contained HTML page with inline SVG timelines.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from scenario.history import History
from scenario.invariants import build_checkers
from scenario.report import (
    RunMeta,
    build_report,
    load_report,
    report_json,
    write_report,
)
from scenario.report_model import Report
from tests.scenario import shapes, shapes_load
from tests.scenario.builder import Builder

DESIGN_KEYS = {"scenario", "mode", "policies", "seed", "replications", "duration_s", "wall_s",
               "requests", "availability", "latency_ms", "writes", "prescriptions",
               "upstream_calls", "invariants", "faults"}
META = RunMeta(scenario="outage", mode="sim", policies="resilient", seed=1, duration_s=240.0,
               wall_s=1.5)
SPEC: dict[str, dict[str, object]] = {"no_lost_writes": {}, "availability": {"target": 0.99},
                                      "stale_reads": {}, "upstream_amplification": {}}


def _report(histories: list[History], wall_s: float = 1.5) -> Report:
    return build_report(histories, META.model_copy(update={"wall_s": wall_s}),
                        build_checkers(SPEC))


def test_json_keys_are_exactly_those_of_design() -> None:
    data = json.loads(report_json(_report([shapes.upstream_outage(True)])))
    # beyond DESIGN's keys: the resolved set's sha256, the workload as played (compression,
    # arrivals), live, the lab's own CPU use and the demand it served, and the scenario's
    # description and clock start
    assert set(data) == DESIGN_KEYS | {"policies_digest", "workload", "lab_cpu", "service_demand",
                                       "description", "start"}
    assert set(data["requests"]) == {"total", "ok", "failed", "shed", "by_kind"}
    assert set(data["latency_ms"]) == {"p50", "p95", "p99"}
    assert set(data["writes"]) == {"acknowledged", "lost", "duplicated"}
    assert set(data["prescriptions"]) == {"electronic", "paper", "deferred", "paper_share_max",
                                          "reconciled", "unreconciled"}
    assert set(data["upstream_calls"]) == {"payment", "registry"}
    for calls in data["upstream_calls"].values():
        assert set(calls) == {"calls", "amplification", "breaker_opens"}
    assert [set(i) for i in data["invariants"]] == [{"name", "valid", "detail"}] * len(SPEC)
    assert [set(f) for f in data["faults"]] == [{"kind", "target", "start_s", "end_s"}] * 2
    assert data["mode"] == "sim" and data["replications"] == 1


def test_counts_of_a_small_history() -> None:
    b = Builder(1)
    b.fault("outage", "payment", 10.0, 20.0)
    b.call("c1", "submit_list", 1.0, 0.1, key="a")  # ok, kept
    b.call("c2", "submit_list", 1.0, 0.2, key="b")  # ok, lost
    b.call("c3", "submit_list", 1.0, 0.3, key="c")  # ok, applied twice
    b.call("c1", "read_history", 12.0, 0.05, "fail", error="shed")
    b.call("c2", "read_history", 12.0, 0.4, "info", error="timeout")
    b.call("p/1", "dispense", 2.0, 0.1, key="rx1")
    b.call("p/1", "paper_record", 12.0, 0.01, key="C1")
    b.call("p/1", "paper_record", 13.0, 0.0, "fail", key="C2", error="deferred")
    for t, value in ((1.05, "ok"), (11.0, "fail"), (11.1, "fail")):
        b.upstream("payment", t, value, "a" if t < 2 else "b")
    b.breaker("payment", 11.2, "closed->open")
    for key, n in (("a", 1), ("b", 0), ("c", 2), ("rx1", 1), ("C1", 1), ("reconcile:C1", 1)):
        b.final(key, n, 30.0)
    r = _report([b.history()])
    assert (r.requests.total, r.requests.ok, r.requests.failed, r.requests.shed) == (7, 5, 1, 1)
    assert r.requests.by_kind["read_history"].shed == 1
    assert r.availability == round(5 / 7, 6)
    assert r.latency_ms.p50 == 100.0 and r.latency_ms.p99 == 300.0
    assert (r.writes.acknowledged, r.writes.lost, r.writes.duplicated) == (5, 1, 1)
    p = r.prescriptions
    assert (p.electronic, p.paper, p.deferred, p.reconciled, p.unreconciled) == (1, 1, 1, 1, 0)
    assert p.paper_share_max == 0.5
    assert r.upstream_calls["payment"].calls == 3
    assert r.upstream_calls["payment"].amplification == 1.5
    assert r.upstream_calls["payment"].breaker_opens == 1


def test_replications_pool_counts_and_verdicts() -> None:
    bad, good = shapes.switch_failure(False), shapes.switch_failure(True)
    one, both = _report([good]), _report([good, bad])
    assert both.replications == 2
    assert both.requests.total == one.requests.total + _report([bad]).requests.total
    lost = next(i for i in both.invariants if i.name == "no_lost_writes")
    assert lost.valid is False
    assert lost.detail.startswith("false in 1 of 2 replications; replication 2:")


def test_same_histories_same_bytes_except_wall_time() -> None:
    a = report_json(_report([shapes_load.peak(True, 4), shapes_load.peak(False, 5)], 1.0))
    b = report_json(_report([shapes_load.peak(True, 4), shapes_load.peak(False, 5)], 99.0))
    assert a != b
    assert a.replace('"wall_s": 1.0', "W") == b.replace('"wall_s": 99.0', "W")


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    histories = [shapes.upstream_outage(False), shapes.upstream_outage(True)]
    report = _report(histories)
    write_report(report, histories, tmp_path / "run")
    assert load_report(tmp_path / "run" / "report.json") == report
    assert History.read_jsonl(tmp_path / "run" / "history.jsonl").ops == histories[0].ops
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "history.jsonl", "report.html", "report.json"]


def test_html_is_self_contained_with_an_svg_timeline(tmp_path: Path) -> None:
    h = shapes.slow_upstream(True)
    write_report(_report([h]), [h], tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "</svg>" in page
    assert "<script" not in page and "<link" not in page and " src=" not in page
    assert all(ref.startswith("#") for ref in re.findall(r'href="([^"]*)"', page))
    for name in SPEC:
        assert f"<td>{name}</td>" in page
    assert "replication 1 of 1" in page and "latency" in page


def test_a_failed_write_leaves_the_previous_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = shapes.deploy(True)
    write_report(_report([h]), [h], tmp_path)
    before = (tmp_path / "report.json").read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_report(_report([h], wall_s=7.0), [h], tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "report.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "history.jsonl", "report.html", "report.json"]
