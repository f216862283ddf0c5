"""The scenario's demand handed to a real lab: built, written, reloaded, kept over a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_services.common.demand import load_demand
from mock_services.lab.config import LabError
from mock_services.lab.demand import (
    apply_demand,
    clear_demand,
    demand_from_scenario,
    demand_path,
    for_lab,
)
from mock_services.lab.supervisor import Lab, service_argv
from scenario.schema import load_scenario

SCENARIO = Path(__file__).parents[3] / "scenarios" / "switch_failure.toml"


def _demand_of(lab: Lab, name: str) -> dict[str, object]:
    r = lab.admin().get(name, "/admin/demand")
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_demand_from_scenario_reads_replicas_kinds_and_upstreams() -> None:
    demand = demand_from_scenario(load_scenario(SCENARIO).live(1.0), seed=5, time_factor=0.5)
    assert demand.seed == 5 and demand.time_factor == 0.5
    assert {n: (r.workers, r.max_queue) for n, r in demand.replicas.items()} == {
        "portal-a": (2, 400), "portal-b": (2, 400)}
    assert set(demand.upstreams) == {"shahkar", "sms", "registry", "payment"}
    assert demand.kinds["login"].dist == "exponential"


def test_lab_applies_its_demand_and_a_restarted_replica_keeps_it(healthy_lab: Lab) -> None:
    lab = healthy_lab
    portal = lab.state.topology.portals()[0]
    assert "--demand" in service_argv(lab.state, portal)
    demand = demand_from_scenario(load_scenario(SCENARIO).live(1.0), seed=1)
    with pytest.raises(LabError, match="not a portal of this lab"):
        for_lab(lab.state, demand.model_copy(update={"replicas": {
            "portal-z": demand.replicas["portal-a"]}}))
    try:
        states = apply_demand(lab, demand)
        assert set(states.values()) == {"reloaded"}
        written = load_demand(demand_path(lab.state.run_dir))
        assert written is not None and set(written.replicas) == {
            s.replica_id or s.name for s in lab.state.topology.portals()}
        assert _demand_of(lab, portal.name)["workers"] == 2
        assert _demand_of(lab, "shahkar")["demand"] is not None
        lab.kill([portal.name])  # a power loss: the restarted replica reads the file
        lab.start([portal.name])
        lab.wait_ready([portal.name])
        assert _demand_of(lab, portal.name)["max_queue"] == 400
    finally:
        clear_demand(lab)
    assert all(_demand_of(lab, s.name)["demand"] is None for s in lab.state.topology.services)
