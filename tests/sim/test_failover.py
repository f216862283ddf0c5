"""The simulated users' failover is the user policy's field, as the live clients read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.resolve import resolve_policies
from scenario.schema import load_scenario
from sim.model import build
from sim.policyset import policy_set

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "switch_failure.toml"


@pytest.mark.parametrize(("preset", "failover"), [("baseline", False), ("resilient", True)])
def test_the_world_fails_over_as_the_user_policy_says(preset: str, failover: bool) -> None:
    scenario = load_scenario(SCENARIO)
    ps = policy_set(preset, scenario)
    assert ps.user.failover is failover
    world = build(scenario, ps, 1)
    assert world.failover is failover
    if not failover:  # pinned: every attempt of user n goes to replica n % replicas
        n = len(world.replicas)
        assert all(world.pick(home, attempt) is world.replicas[home]
                   for home in range(n) for attempt in range(4))


def test_the_field_decides_not_the_name() -> None:
    scenario = load_scenario(SCENARIO)
    ps = resolve_policies("baseline", {"user": {"failover": True}})
    assert ps.name == "baseline" and build(scenario, ps, 1).failover is True
