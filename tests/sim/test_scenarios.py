"""Every shipped scenario runs under both presets, at a reduced arrival rate.

The rate is divided so that each run has about 1500 operations (the faults, the calendar and
the topology stay as shipped), which is enough to reach every code path a scenario switches
on without the minutes its full rate takes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scenario.history import FAULT_START, FAULT_STOP, NEMESIS
from scenario.schema import Scenario, load_scenario
from sim.model import simulate
from sim.policyset import policy_set

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))
TARGET_OPS = 1500


def reduced(scenario: Scenario) -> Scenario:
    """The scenario with its arrival rate scaled to about TARGET_OPS operations."""
    expected = scenario.workload.rate_per_s * scenario.duration  # at multiplier 1
    factor = min(1.0, TARGET_OPS / max(expected, 1.0))
    workload = scenario.workload.model_copy(
        update={"rate_per_s": scenario.workload.rate_per_s * factor})
    attack = scenario.attack
    if attack is not None:
        attack = attack.model_copy(update={"rate_per_s": attack.rate_per_s * factor * 10})
    return scenario.model_copy(update={"workload": workload, "attack": attack})


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
@pytest.mark.parametrize("preset", ["baseline", "resilient"])
def test_every_scenario_runs_and_heals(path: Path, preset: str) -> None:
    scenario = reduced(load_scenario(path))
    history = simulate(scenario, policy_set(preset, scenario), 1).history
    invokes = sum(1 for op in history.client_ops() if op.type == "invoke")
    assert invokes > 100
    starts = [op for op in history if op.process == NEMESIS and op.f == FAULT_START]
    stops = [op for op in history if op.process == NEMESIS and op.f == FAULT_STOP]
    assert len(starts) == len(stops) >= (1 if scenario.faults else 0)
    assert all(op.time_s <= scenario.duration + 1 for op in stops)  # every fault healed
    open_ops = sum(1 for _, done in history.pairs() if done is None)
    assert open_ops <= invokes // 500  # the drain completes (almost) every operation
