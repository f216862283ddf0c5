"""The live plan: the scenario's clock compressed by --speed, the lab's names checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoslab.live.plan import MIN_HEAL_S, MIN_SAFE_FAULT_S, build_plan, safe_speed
from mock_services.lab.topology import default_topology
from scenario.errors import BadInput
from scenario.schema import load_scenario

BASE = """
description = "plan test"
duration = "10m"
[topology.upstreams.registry]
latency = {{ dist = "exponential", mean = "50ms" }}
rack = "rack-b"
[workload]
rate_per_s = {rate}
[workload.kinds.read_history]
share = 0.5
profile = "flat"
service = {{ dist = "exponential", mean = "30ms" }}
[workload.kinds.prescribe]
share = 0.5
profile = "flat"
service = {{ dist = "exponential", mean = "30ms" }}
{extra}
"""
FAULTS = """
[[faults]]
kind = "switch_failure"
switch = "switch-a"
start = "2m"
duration = "3m"
[[faults]]
kind = "peak_load"
rate_multiplier = 3.0
start = "6m"
duration = "2m"
"""


def _load(tmp_path: Path, rate: float = 4.0, extra: str = FAULTS) -> object:
    path = tmp_path / "s.toml"
    path.write_text(BASE.format(rate=rate, extra=extra), encoding="utf-8")
    return load_scenario(path)


def test_speed_divides_every_scenario_time(tmp_path: Path) -> None:
    plan = build_plan(_load(tmp_path), 60.0, default_topology())  # type: ignore[arg-type]
    by_kind = {w.fault.kind: w for w in plan.schedule.windows}  # the simulator's timeline
    switch, peak = by_kind["switch_failure"], by_kind["peak_load"]
    assert (switch.start_s, switch.end_s) == (2.0, 5.0)
    assert (peak.start_s, peak.end_s) == (6.0, 8.0)
    assert plan.horizon_s == 8.0 + MIN_HEAL_S  # the run's 10 s, stretched to see recovery
    assert plan.compressed.time_scale == 60.0
    # every kind is played, at the scenario's own rate; the peak triples it
    assert set(plan.drawn()) == {"read_history", "prescribe"}
    before = sum(a.time_s < 6.0 for a in plan.arrivals)
    during = sum(6.0 <= a.time_s < 8.0 for a in plan.arrivals)
    assert 24 - 3 * 24**0.5 < before < 24 + 3 * 24**0.5
    assert 24 - 3 * 24**0.5 < during < 24 + 3 * 24**0.5
    assert max(a.time_s for a in plan.arrivals) < 10.0


def test_rate_is_not_capped_and_a_fault_free_tail_kept(tmp_path: Path) -> None:
    plan = build_plan(_load(tmp_path, rate=50.0), 600.0, default_topology())  # type: ignore[arg-type]
    assert sum(a.time_s < 0.2 for a in plan.arrivals) > 3  # 50/s, not 8/s
    last_end = max(w.end_s for w in plan.schedule.windows)
    assert plan.horizon_s >= last_end + MIN_HEAL_S


def test_the_same_seed_draws_the_same_arrivals(tmp_path: Path) -> None:
    scenario = _load(tmp_path)
    one = build_plan(scenario, 60.0, default_topology(), 3)  # type: ignore[arg-type]
    two = build_plan(scenario, 60.0, default_topology(), 3)  # type: ignore[arg-type]
    other = build_plan(scenario, 60.0, default_topology(), 4)  # type: ignore[arg-type]
    assert one.arrivals == two.arrivals != other.arrivals


def test_an_upstream_the_lab_lacks_is_bad_input(tmp_path: Path) -> None:
    extra = '[topology.upstreams.tax]\nlatency = { dist = "exponential", mean = "5ms" }\n'
    with pytest.raises(BadInput, match="upstream 'tax'"):
        build_plan(_load(tmp_path, extra=extra), 1.0, default_topology())  # type: ignore[arg-type]


def test_a_replica_on_the_wrong_switch_is_bad_input(tmp_path: Path) -> None:
    extra = ('[topology]\nreplicas = [{ name = "portal-a", switch = "switch-b", '
             'rack = "rack-a" }]\n')
    with pytest.raises(BadInput, match="the lab has it on 'switch-a'"):
        build_plan(_load(tmp_path, extra=extra), 1.0, default_topology())  # type: ignore[arg-type]


def test_a_speed_that_squeezes_a_fault_to_nothing_is_bad_input(tmp_path: Path) -> None:
    scenario = _load(tmp_path)
    # the shortest fault lasts 120 s: 50 ms live at speed 2400, less beyond
    assert build_plan(scenario, 2400.0, default_topology())  # type: ignore[arg-type]
    with pytest.raises(BadInput, match=r"--speed 1e\+09: .* expected --speed at most 2400$"):
        build_plan(scenario, 1e9, default_topology())  # type: ignore[arg-type]


def test_the_safe_speed_plays_about_a_minute_and_keeps_faults_long_enough(
        tmp_path: Path) -> None:
    # 10 minutes, no faults: x10, a one-minute run
    assert safe_speed(_load(tmp_path, extra="")) == 10.0  # type: ignore[arg-type]
    # with faults: the shortest (the 2-minute peak) would allow up to x24; x10 is below
    assert safe_speed(_load(tmp_path)) == 10.0  # type: ignore[arg-type]
    long = tmp_path / "long.toml"
    text = BASE.format(rate=4.0, extra=FAULTS).replace('duration = "10m"', 'duration = "10h"', 1)
    long.write_text(text, encoding="utf-8")
    scenario = load_scenario(long)
    speed = safe_speed(scenario)
    assert speed == 24.0 == 120 / MIN_SAFE_FAULT_S  # 600 by the run's length, cut by the peak
    plan = build_plan(scenario, speed, default_topology())
    assert min(w.end_s - w.start_s for w in plan.schedule.windows) >= MIN_SAFE_FAULT_S
    # a whole number, and never slower than the scenario itself
    odd = tmp_path / "odd.toml"
    odd.write_text(BASE.format(rate=4.0, extra="").replace('duration = "10m"',
                                                           'duration = "95s"', 1))
    assert safe_speed(load_scenario(odd)) == 1.0
    short = tmp_path / "short.toml"
    short.write_text(BASE.format(rate=4.0, extra=FAULTS.replace('"3m"', '"3s"'))
                     .replace('duration = "10m"', 'duration = "1h"', 1), encoding="utf-8")
    assert safe_speed(load_scenario(short)) == 1.0  # a 3 s fault: played as written


def test_a_live_scale_plays_the_file_at_one_in_k_and_the_thresholds_follow(
        tmp_path: Path) -> None:
    extra = FAULTS + """
[invariants]
goodput_near_capacity = { capacity_per_s = 40.0, min_ratio = 0.5 }
"""
    text = BASE.format(rate=40.0, extra=extra).replace(
        'duration = "10m"', 'duration = "10m"\nlive_scale = 4', 1).replace(
        '[workload]', '[topology]\nreplicas = [\n  { name = "portal-a", switch = "switch-a", '
        'rack = "rack-a", workers = 16, max_queue = 400 },\n  { name = "portal-b", '
        'switch = "switch-b", rack = "rack-b", workers = 16, max_queue = 400 },\n]\n'
        '[workload]', 1)
    path = tmp_path / "scaled.toml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)
    plan = build_plan(scenario, 60.0, default_topology())
    played = plan.compressed
    # what the lab plays is what `twin` simulates: the file at 1:4, then compressed
    assert played == scenario.live(60.0) == scenario.scaled(4).compressed(60.0).model_copy(
        update={"live_scale": 1})
    assert plan.scale_down == 4 and played.live_scale == 1
    assert played.workload.rate_per_s == 10.0
    assert [(r.workers, r.max_queue) for r in played.topology.replicas] == [(4, 100)] * 2
    assert played.invariants["goodput_near_capacity"]["capacity_per_s"] == 10.0
    # a quarter of the arrivals: 10/s for the 10 live seconds, the 2-second peak x3
    assert 10 * 12 - 4 * 120**0.5 < len(plan.arrivals) < 10 * 14 + 4 * 140**0.5
    # the simulator alone reads the file at 1:1
    assert scenario.workload.rate_per_s == 40.0 and scenario.topology.replicas[0].workers == 16


def test_every_shipped_day_scenario_is_at_one_to_one_and_played_live_at_one_in_eight() -> None:
    shipped = Path(__file__).resolve().parents[2] / "scenarios"
    for name in ("switch_failure", "power_loss", "credential_stuffing", "month_end_lists",
                 "year_end_peak"):
        scenario = load_scenario(shipped / f"{name}.toml")
        played = build_plan(scenario, safe_speed(scenario), default_topology()).compressed
        assert scenario.live_scale == 8, name
        assert {r.workers for r in scenario.topology.replicas} == {16}, name  # the portal's
        assert {r.workers for r in played.topology.replicas} == {2}, name  # the lab's
        assert played.workload.rate_per_s == scenario.workload.rate_per_s / 8, name
