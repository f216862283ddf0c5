"""Mobile verification in the model, as the live portal does it (mock_services/portal/
verification.py): a login with a recent verification waits at most the policy's
`verification_deadline_s` for a slow Shahkar, then answers "cached"; the verification cache
is shared by the replicas (the live one is a column of the shared database); a recovery has
no fallback; and a login refused by the rate limit is no admission sample."""

from __future__ import annotations

import random
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
import simpy

from policies.decisions import ADMIT
from policies.presets import PolicySet, load_policy_set
from scenario.history import Op
from scenario.schema import load_scenario
from sim.portal import RATE_LIMITED, UNAUTHORIZED, _released
from sim.upstream import upstream_call
from sim.world import Job, World

SHAHKAR_S = 40.0  # a Shahkar slower than any timeout of the presets (baseline: 30 s)


def _world(small_scenario: Path, ps: PolicySet) -> World:
    world = World(load_scenario(small_scenario), ps, seed=1)

    def slow(_rng: random.Random) -> float:
        return SHAHKAR_S

    world.upstreams["shahkar"].latency = slow
    return world


def _call(world: World, replica: int, kind: str, account: str = "u1") -> tuple[str, float]:
    """Run one Shahkar call of a `kind` request at replica number `replica` to its end:
    the label the portal acts on, and how long it took."""
    rep = world.replicas[replica]
    job = Job(kind, f"{kind}-key", 1, "citizen-1", account, now=world.env.now, event=None)
    out: list[str] = []

    def proc() -> Generator[simpy.Event, Any, None]:
        out.append((yield from upstream_call(world, rep, "shahkar", job)))

    start = world.env.now
    world.env.process(proc())
    world.env.run()
    return out[0], world.env.now - start


def _shahkar_attempts(world: World) -> list[Op]:
    return [op for op in world.history.ops if op.process == "upstream:shahkar"]


def test_a_recently_verified_login_answers_cached_at_the_deadline(small_scenario: Path) -> None:
    ps = load_policy_set("resilient")
    assert ps.verification_deadline_s == 2.5
    world = _world(small_scenario, ps)
    world.policies.verified["u1"] = 0.0  # Shahkar confirmed u1 a moment ago
    world.env.run(until=60.0)
    label, took = _call(world, 0, "login")
    assert label == "cached" and took == pytest.approx(2.5)
    # the abandoned call is cut, as the live httpx attempt is: its attempts end by the
    # deadline, each recorded as a timeout (none left running in the background)
    attempts = _shahkar_attempts(world)
    assert attempts and all(op.value == "timeout" for op in attempts)
    assert max(op.time_s for op in attempts) <= 60.0 + 2.5 + 1e-9
    # without a usable verification (an account outside the population of returning users,
    # which all start verified) the login waits for the call as the policies allow
    label, took = _call(world, 0, "login", account="new-account")
    assert label == "timeout" and took > 2.5


def test_without_the_deadline_a_verified_login_waits_out_the_call(small_scenario: Path) -> None:
    ps = load_policy_set("resilient", {"verification_deadline_s": "off"})
    world = _world(small_scenario, ps)
    world.policies.verified["u1"] = 0.0
    label, took = _call(world, 0, "login")
    assert label == "cached" and took > 2.5  # the fallback still stands, later


def test_the_verification_cache_is_shared_by_the_replicas(small_scenario: Path) -> None:
    world = _world(small_scenario, load_policy_set("resilient"))
    world.upstreams["shahkar"].latency = lambda _rng: 0.1  # healthy: confirms u1 at portal-a
    label, took = _call(world, 0, "login")
    assert label == "" and took == pytest.approx(0.1)
    assert "u1" in world.policies.verified
    world.upstreams["shahkar"].latency = lambda _rng: SHAHKAR_S
    label, took = _call(world, 1, "login")  # portal-b knows the verification too
    assert label == "cached" and took == pytest.approx(2.5)


def test_recovery_has_no_cached_fallback(small_scenario: Path) -> None:
    world = _world(small_scenario, load_policy_set("resilient"))
    world.policies.verified["u1"] = 0.0
    label, took = _call(world, 0, "recover_password")
    assert label == "timeout" and took > 2.5  # a new mobile: no past answer stands for it


def test_baseline_has_no_deadline_and_no_fallback(small_scenario: Path) -> None:
    ps = load_policy_set("baseline")
    assert ps.verification_deadline_s is None
    world = _world(small_scenario, ps)
    world.policies.verified["u1"] = 0.0
    label, took = _call(world, 0, "login")
    assert label == "timeout" and took >= 90.0  # three 30 s attempts


def test_a_rate_limited_login_is_no_admission_sample(small_scenario: Path) -> None:
    world = _world(small_scenario, load_policy_set("resilient"))
    rep = world.replicas[0]
    admission = world.policies.guards[rep.spec.name].admission
    assert admission is not None
    admission.admit(0.0, 1)
    limit, in_flight = admission.limit, admission.in_flight
    assert _released(world, rep, RATE_LIMITED, 0.0) is RATE_LIMITED
    assert admission.limit == limit and admission.in_flight == in_flight - 1


def test_a_wrong_password_is_no_admission_sample(small_scenario: Path) -> None:
    # an attacker's 401s are the client's error: counted as failures they cut resilient's
    # AIMD limit (credential_stuffing at 1:1: from 29 to 7, a fifth of real users shed)
    world = _world(small_scenario, load_policy_set("resilient"))
    rep = world.replicas[0]
    admission = world.policies.guards[rep.spec.name].admission
    assert admission is not None
    limit = admission.limit
    for i in range(50):
        assert admission.admit(float(i), 1) is ADMIT
        assert _released(world, rep, UNAUTHORIZED, 0.01) is UNAUTHORIZED
    assert admission.limit == limit and admission.in_flight == 0
