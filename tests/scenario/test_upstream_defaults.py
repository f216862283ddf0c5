"""`[topology.upstreams]` left out means the lab's four upstreams; `upstreams = {}` none."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_services.lab.topology import UPSTREAM_KINDS, default_topology
from scenario.schema import LAB_UPSTREAMS, ScenarioError, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

NO_UPSTREAMS = """
description = "SMS outage during password recovery at month end"
start = "1403-06-27T09:00"
duration = "1h"
{topology}
[workload]
rate_per_s = 3
[workload.kinds.recover_password]
share = 1
service = {{ dist = "exponential", mean = "20ms" }}
upstreams = {calls}
[[faults]]
kind = "upstream_outage"
link = "{link}"
start = "10m"
duration = "20m"
"""


def write(tmp_path: Path, topology: str = "", calls: str = '["sms"]',
          link: str = "portal-a-sms") -> Path:
    path = tmp_path / "sms_outage.toml"
    path.write_text(NO_UPSTREAMS.format(topology=topology, calls=calls, link=link),
                    encoding="utf-8")
    return path


def test_the_defaults_are_the_labs_upstreams_on_the_labs_racks() -> None:
    lab = default_topology()
    assert set(LAB_UPSTREAMS) == set(UPSTREAM_KINDS)
    assert {n: u.rack for n, u in LAB_UPSTREAMS.items()} == {
        s.name: s.rack for s in lab.upstreams()}


def test_the_defaults_are_what_every_shipped_scenario_with_upstreams_declares() -> None:
    declared = [load_scenario(p).topology.upstreams for p in sorted(SCENARIOS.glob("*.toml"))]
    assert all(ups in ({}, LAB_UPSTREAMS) for ups in declared)
    assert declared.count(LAB_UPSTREAMS) >= len(declared) - 1


def test_a_scenario_without_upstreams_gets_the_labs(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path))
    assert scenario.topology.upstreams == LAB_UPSTREAMS
    assert list(scenario.topology.upstreams) == ["shahkar", "sms", "registry", "payment"]
    assert "portal-b-payment" in scenario.topology.link_names()


def test_an_empty_table_means_no_upstream(tmp_path: Path) -> None:
    path = write(tmp_path, topology="[topology]\nupstreams = {}", calls="[]",
                 link="client-portal-a")
    assert load_scenario(path).topology.upstreams == {}
    path = write(tmp_path, topology="[topology]\nupstreams = {}")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "key faults[0].link: expected one of ['client-portal-a', 'client-portal-b'], got " \
        "'portal-a-sms' (no portal-upstream links: [topology.upstreams] is empty)" in \
        str(err.value)
    assert [p.key for p in err.value.problems] == [
        "faults[0].link", "workload.kinds.recover_password.upstreams"]


def test_racks_without_the_labs_ask_for_upstreams_in_one_sentence(tmp_path: Path) -> None:
    topology = ('[topology]\nswitches = ["switch-a"]\nracks = ["rack-a"]\nreplicas = '
                '[{ name = "portal-a", switch = "switch-a", rack = "rack-a" }]')
    path = write(tmp_path, topology=topology)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value).startswith(
        f"{path}: key topology.upstreams is left out, which means the lab's four upstreams, "
        f"but the lab has payment and registry on rack-b; expected [topology.upstreams] on "
        f"the racks ['rack-a'], or upstreams = {{}} for none")
    assert load_scenario(write(tmp_path, topology=topology + "\nupstreams = {}", calls="[]",
                               link="client-portal-a")).topology.upstreams == {}
