"""A scenario's policy set: a policy file naming an upstream that no scenario has is refused,
in one sentence that names the file once."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenario.schema import ScenarioError, load_scenario
from sim.policyset import policy_set

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_a_policy_for_an_unknown_upstream_is_refused(tmp_path: Path) -> None:
    policies = tmp_path / "typo.toml"
    policies.write_text('preset = "resilient"\n'
                        "upstreams = { shahkr = { retry = { max_attempts = 2 } } }\n")
    with pytest.raises(ScenarioError) as caught:
        policy_set(str(policies), load_scenario(SCENARIOS / "switch_failure.toml"))
    message = str(caught.value)
    assert "policies.upstreams.shahkr names no upstream of the scenario; expected one of" in message
    assert message.count(str(policies)) == 1


def test_the_presets_upstreams_serve_scenarios_without_them(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "metastable_retry.toml")  # declares no shahkar
    assert "shahkar" not in scenario.topology.upstreams
    policies = tmp_path / "mine.toml"
    policies.write_text('preset = "resilient"\n')
    assert "shahkar" in policy_set(str(policies), scenario).upstreams
    assert policy_set("resilient", scenario) is not None
