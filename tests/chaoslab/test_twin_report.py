"""chaoslab.twin's pieces that need no lab: the compression caveat, twin.json, the table and
twin.html, from histories built in the test."""

from __future__ import annotations

import argparse
from pathlib import Path

from chaoslab.cli import SCENARIO_DIR
from chaoslab.twin import caveats, demand_caveats, table, twin_doc
from chaoslab.twin_html import render
from scenario.agreement import compare, figures
from scenario.history import History
from scenario.report_html import warnings
from scenario.report_model import Report, ServedDemand, demand_excesses
from scenario.schema import find_scenario, load_scenario
from sim.runner import Task, run_all


def _history(fail_every: int) -> History:
    h = History()
    h.fault(True, "switch_failure", "switch-a", 10.0)
    for i in range(60):
        op = h.invoke(f"citizen/{i}", "read_history", float(i))
        h.complete(op, "fail" if i % fail_every == 0 else "ok", i + 0.2)
    h.fault(False, "switch_failure", "switch-a", 20.0)
    return h


def test_a_fault_shorter_than_patience_is_named() -> None:
    scenario = load_scenario(find_scenario("switch_failure", SCENARIO_DIR))
    assert caveats(scenario) == []  # 15 minutes against at most 90 s of patience
    notes = caveats(scenario.compressed(60))
    assert len(notes) == 1 and "15 s" in notes[0] and "90 s" in notes[0]


def test_twin_json_table_and_html_say_what_agrees() -> None:
    scenario = load_scenario(find_scenario("switch_failure", SCENARIO_DIR))
    sims = [_history(10), _history(11), _history(9)]
    live = _history(3)  # a third of the requests fail live: availability differs
    rows = compare([figures(h, [], 60.0) for h in sims], figures(live, [], 60.0))
    args = argparse.Namespace(policies="baseline", seed=1, seeds=3)
    cpu = {"comparable": True, "busy_cores": 0.2, "peak_busy_cores": 0.3, "cores": 2}
    doc = twin_doc(scenario, args, 60.0, "ab" * 32, rows=rows, cpu=cpu, sim_wall_s=1.0)
    assert doc["verdict"]["differ"] >= 1 and not doc["verdict"]["agrees"]
    # the lab plays switch_failure at 1:8 (its live_scale): a live request stands for 480
    assert doc["speed"] == 60.0 and doc["scale_down"] == 8 and doc["scale"] == 480.0
    text = table(rows)
    assert "availability" in text and "differ (goal)" in text
    doc["caveats"] = caveats(scenario.compressed(60))
    doc["known_differences"] = ["a difference"]
    page = render(doc, sims, live, 60.0)
    assert "users&#x27; patience" in page and "<li>a difference</li>" in page
    assert page.count("<svg") == 1 and "twin: switch_failure under baseline" in page


def test_run_all_keeps_every_history_when_asked(tmp_path: Path) -> None:
    scenario = load_scenario(find_scenario("switch_failure", SCENARIO_DIR)).compressed(600)
    tasks = [Task(scenario, "baseline", seed) for seed in (1, 2, 3)]
    assert all(r.history is not None for r in run_all(tasks, 2, "local", keep_all=True))
    kept = [r.history is not None for r in run_all(tasks, 2, "local")]
    assert kept == [True, False, False]


def test_demand_beyond_the_draws_is_named_in_the_twin_and_the_report() -> None:
    """A kind whose slots were held 5 % or more over its draws is named, largest first, in
    the twin's caveats and the live report's warnings; one under 5 % is not."""
    served = {"login": {"requests": 175, "drawn_s": 10.3, "held_s": 12.85},
              "read_history": {"requests": 123, "drawn_s": 13.81, "held_s": 13.83},
              "recover_password": {"requests": 25, "drawn_s": 1.0, "held_s": 1.06}}
    demand = {k: ServedDemand.model_validate(v) for k, v in served.items()}
    assert [(k, round(x, 2)) for k, x in demand_excesses(demand)] == [
        ("login", 0.25), ("recover_password", 0.06)]
    (caveat,) = demand_caveats(served)
    assert "login +25%, recover_password +6%" in caveat and "read_history" not in caveat
    assert demand_caveats(None) == [] and demand_caveats({"login": {"requests": "x"}}) == []
    assert demand_caveats({"x": {"requests": 1, "drawn_s": 1.0, "held_s": 1.01}}) == []
    empty = {"requests": {"total": 0, "ok": 0, "failed": 0, "shed": 0, "by_kind": {}},
             "latency_ms": {"p50": None, "p95": None, "p99": None},
             "writes": {"acknowledged": 0, "lost": None, "duplicated": None},
             "prescriptions": {"electronic": 0, "paper": 0, "deferred": 0,
                               "paper_share_max": 0.0, "reconciled": 0, "unreconciled": 0}}
    report = Report.model_validate({
        "scenario": "s", "mode": "live", "policies": "baseline", "seed": 1, "replications": 1,
        "duration_s": 1.0, "wall_s": 1.0, "availability": None, "upstream_calls": {},
        "invariants": [], "faults": [], "service_demand": served, **empty})
    assert any("login +25%" in w for w in warnings(report))
    assert not any("more than the scenario's demand" in w
                   for w in warnings(report.model_copy(update={"service_demand": None})))
