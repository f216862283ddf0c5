"""The live plan: the scenario's clock compressed by --speed, the lab's names checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoslab.errors import BadInput
from chaoslab.live.plan import MAX_BASE_RATE_PER_S, MIN_HEAL_S, build_plan
from mock_services.lab.topology import default_topology
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
service = {{ dist = "exponential", mean = "30ms" }}
[workload.kinds.prescribe]
share = 0.5
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
    switch, peak = plan.schedule.windows
    assert (switch.start_s, switch.end_s) == (2.0, 5.0)
    assert (peak.start_s, peak.end_s) == (6.0, 8.0)
    assert plan.horizon_s == 8.0 + MIN_HEAL_S  # the run's 10 s, stretched to see recovery
    assert [round(p.duration_s, 6) for p in plan.phases] == [6.0, 2.0, MIN_HEAL_S]
    assert [p.rate_per_s for p in plan.phases] == [4.0, 12.0, 4.0]
    assert plan.shares == {"read_history": 0.5}
    assert plan.skipped_kinds == ("prescribe",)


def test_rate_is_capped_and_a_fault_free_tail_kept(tmp_path: Path) -> None:
    plan = build_plan(_load(tmp_path, rate=500.0), 600.0, default_topology())  # type: ignore[arg-type]
    assert plan.phases[0].rate_per_s == MAX_BASE_RATE_PER_S
    last_end = max(w.end_s for w in plan.schedule.windows)
    assert plan.horizon_s >= last_end + MIN_HEAL_S


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
