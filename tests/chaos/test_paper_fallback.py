"""A scenario's pharmacy falls back to paper live, as in the simulator: both switches fail, so
the portal is out of reach; pharmacy-1's failed dispenses go on paper within its 20 % quota
(`resilient`) and are deferred beyond it, and each paper record is registered exactly once
once the switches are back, by its reconcile loop (waits compressed by the run's speed).
A real lab, real proxies, the live runner (`chaoslab.live.runner.execute`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from chaoslab.live.plan import build_plan
from chaoslab.live.runner import execute
from chaoslab.testing import LabFactory
from mock_services.lab.topology import default_topology
from scenario.history import FINAL
from scenario.invariants import build_checkers
from scenario.names import reconcile_key
from scenario.schema import load_scenario
from sim.policyset import policy_set
from tests.chaos.directed import needs_demand

# At x120 the 40 minutes play in 20 s: the switches are down from 4 s to 8 s, a reconcile
# loop first waits 300 s / 120 = 2.5 s, then 5 s after a failed try. Every arrival is a
# dispense at pharmacy-1, 3 a second; a user gives up after 2 s and never refreshes, so each
# dispense in the outage fails inside it. The ~12 electronic ones before it let about 3 go
# on paper (paper + 1 <= 0.2 (all + 1)); the rest of the ~12 failures are deferred.
SCENARIO = """
description = "both switches fail: pharmacy-1 dispenses on paper, then registers it"
duration = "40m"
[topology]
clinics = 1
pharmacies = 1
[topology.upstreams.shahkar]
latency = { dist = "lognormal", p50 = "100ms", p99 = "1s" }
rack = "rack-a"
[topology.upstreams.registry]
latency = { dist = "lognormal", p50 = "20ms", p99 = "200ms" }
rack = "rack-b"
[workload]
rate_per_s = 3
patience = { dist = "deterministic", value = "2s" }
refresh = { probability = 0.0, max_refreshes = 0 }
[workload.kinds.dispense]
share = 1
profile = "flat"
priority = 0
upstreams = ["registry"]
service = { dist = "exponential", mean = "20ms" }
[[faults]]
kind = "switch_failure"
switch = "switch-a"
start = "8m"
duration = "8m"
[[faults]]
kind = "switch_failure"
switch = "switch-b"
start = "8m"
duration = "8m"
[invariants]
no_lost_writes = {}
paper_share = { max_share = 0.2 }
paper_reconciled_once = {}
"""
SPEED = 120.0


@pytest.mark.chaos
def test_paper_within_the_quota_is_registered_once_after_recovery(
        chaos_labs: LabFactory, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    needs_demand(pytestconfig, "plays a scenario, whose service times the live runner sets")
    path = tmp_path / "paper_fallback.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    scenario = load_scenario(path)
    policies = policy_set("resilient", scenario)
    plan = build_plan(scenario, SPEED, default_topology())
    history = execute(chaos_labs(policies), plan, policies, seed=3)
    healed_s = max(w.end_s for w in plan.schedule.windows)

    papers = [op for op in history if op.f == "paper_record" and op.type != "invoke"]
    kept = [op.key for op in papers if op.type == "ok"]
    deferred = [op.key for op in papers if op.error == "deferred"]
    assert kept and deferred, [(op.key, op.type, op.error) for op in papers]
    assert {op.process.partition("/")[0] for op in papers} == {"pharmacy-1"}
    electronic = sum(op.type == "ok" and op.f == "dispense" for op in history)
    assert len(kept) <= 0.2 * (electronic + len(kept))
    # each paper record registered by exactly one ok "reconcile", after the switches healed
    registered = Counter(op.key for op in history if op.f == "reconcile" and op.type == "ok")
    assert registered == Counter(reconcile_key(k) for k in kept)
    assert all(op.time_s >= healed_s for op in history
               if op.f == "reconcile" and op.type == "ok")
    finals = {op.key: op.value for op in history if op.process == FINAL}
    assert {k: finals[k] for k in kept + deferred} == {**dict.fromkeys(kept, "1"),
                                                       **dict.fromkeys(deferred, "0")}
    assert {finals[reconcile_key(k)] for k in kept} == {"1"}
    verdicts = {name: check(history).valid for name, check in
                build_checkers(scenario.invariants)}
    assert verdicts == {"no_lost_writes": True, "paper_share": True,
                        "paper_reconciled_once": True}, verdicts
