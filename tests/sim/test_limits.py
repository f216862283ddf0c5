"""The login and recovery rate limits in the model are the replicas' shared ones, as the live
portal keeps them (one SQLite file of buckets for every replica, mock_services/portal/
limits.py): a source spread over both replicas gets one burst and one refill rate, not one
per replica."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.presets import load_policy_set
from scenario.schema import load_scenario
from sim.model import simulate
from sim.policyset import policy_set
from sim.portal import RATE_LIMITED, gate
from sim.world import World

ATTACK = """
description = "one attacker source at 10 logins a second for two minutes, over two replicas"
duration = "4m"
start = "1403-07-15T09:00"
[topology]
switches = ["switch-a", "switch-b"]
racks = ["rack-a", "rack-b"]
replicas = [
  { name = "portal-a", switch = "switch-a", rack = "rack-a", workers = 4, max_queue = 400 },
  { name = "portal-b", switch = "switch-b", rack = "rack-b", workers = 4, max_queue = 400 },
]
[topology.upstreams.shahkar]
latency = { dist = "lognormal", p50 = "300ms", p99 = "2s" }
rack = "rack-a"
[workload]
rate_per_s = 2
[workload.kinds.login]
share = 0.5
service = { dist = "exponential", mean = "50ms" }
upstreams = ["shahkar"]
priority = 1
[workload.kinds.read_history]
share = 0.5
service = { dist = "exponential", mean = "30ms" }
[attack]
rate_per_s = 10
start = "1m"
duration = "2m"
sources = 1
[invariants]
availability = { target = 0.9 }
"""


def test_one_attacker_source_gets_one_burst_over_both_replicas(tmp_path: Path) -> None:
    path = tmp_path / "attack.toml"
    path.write_text(ATTACK, encoding="utf-8")
    scenario = load_scenario(path)
    ps = policy_set("resilient", scenario)
    assert ps.login_limit is not None and scenario.attack is not None
    history = simulate(scenario, ps, 1).history
    ends = [op for op in history.ops
            if op.process.startswith("attacker-") and op.type != "invoke"]
    assert len(ends) > 1000  # ~10 a second for 120 s
    # a wrong password that got past the limits is answered 401 ("unauthorized")
    admitted = sum(op.error == "unauthorized" for op in ends)
    limit = ps.login_limit
    bound = limit.per_source_burst + limit.per_source_rate_per_s * scenario.attack.duration
    # one bucket: at most burst + rate x duration get past it (per-replica buckets, the old
    # model, let about twice as many through: each replica saw 5 a second and gave 2)
    assert admitted <= bound
    assert admitted > 0.8 * bound  # the attack is limited by the bucket, not by anything else


def test_the_limits_are_one_set_of_buckets_for_every_replica(small_scenario: Path) -> None:
    ps = load_policy_set("resilient")
    assert ps.login_limit is not None
    world = World(load_scenario(small_scenario), ps, seed=1)
    burst = int(ps.login_limit.per_source_burst)
    answers = [gate(world, world.replicas[i % 2], "login", 1, source="attacker-0",
                    account=f"u{i}") for i in range(2 * burst)]
    # at one instant, alternating replicas: the shared bucket gives `burst` tokens in all
    assert sum(a is None for a in answers) == burst
    # each refusal says when to come back, as the live portal's Retry-After does (a token
    # every 1 / rate seconds, at least 1 s), so that the client policy can honour it
    wait = max(1.0, 1 / ps.login_limit.per_source_rate_per_s)
    assert all(a is not None and a[1] == RATE_LIMITED[1] and a[0].status == 429
               and a[0].retry_after_s == pytest.approx(wait) for a in answers[burst:])


def test_a_recovery_is_refused_once_its_account_had_its_codes(small_scenario: Path) -> None:
    ps = load_policy_set("resilient")
    world = World(load_scenario(small_scenario), ps, seed=1)
    limits = world.policies.limits
    assert limits is not None and ps.login_limit is not None
    for _ in range(int(ps.login_limit.per_account_burst)):  # codes sent, via either replica
        assert gate(world, world.replicas[0], "recover_password", 1, source="citizen-1/1",
                    account="u7") is None
        limits.code_sent("u7", world.env.now)
    # the account's recovery bucket is empty for both replicas; its login bucket is not
    refused = gate(world, world.replicas[1], "recover_password", 1, source="citizen-1/2",
                   account="u7")
    assert refused is not None and refused[1] == RATE_LIMITED[1]
    assert refused[0].retry_after_s == pytest.approx(1 / ps.login_limit.per_account_rate_per_s)
    assert gate(world, world.replicas[1], "login", 1, source="citizen-1/3",
                account="u7") is None
