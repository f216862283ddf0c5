"""The simulated users' failover is the user policy's field, as the live clients read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from faults.toxics import ToxicSpec
from mock_services.lab.clients.replicas import HEALTH_TIMEOUT_S
from policies.resolve import resolve_policies
from scenario.schema import load_scenario
from sim.links import HEALTHY, POLL_TIMEOUT_S, LinkState
from sim.model import build
from sim.policyset import policy_set
from sim.world import World

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


def _resilient_world() -> World:
    scenario = load_scenario(SCENARIO)
    return build(scenario, policy_set("resilient", scenario), 1)


def _both_picks(world: World) -> set[str]:
    """The replica each first attempt of a user homed on either replica goes to."""
    return {world.pick(home, 0).spec.name for home in range(len(world.replicas))}


def test_failover_users_go_to_the_replicas_their_health_polls_find_ready() -> None:
    world = _resilient_world()
    a, b = world.replicas
    assert _both_picks(world) == {"portal-a", "portal-b"}  # each user's home, both ready
    checks: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
        ("paused (its /readyz hangs)",
         lambda: setattr(a, "stopped", world.env.event()), lambda: setattr(a, "stopped", None)),
        ("draining", lambda: setattr(a, "draining", True), lambda: setattr(a, "draining", False)),
        ("crashed", lambda: setattr(a, "down", True), lambda: setattr(a, "down", False)),
        ("its rack without power", lambda: world.toggle("rack-a", True),
         lambda: world.toggle("rack-a", False)),
        ("its clients' proxy disabled (a failed switch)",
         lambda: world.set_link("client-portal-a", LinkState(enabled=False)),
         lambda: world.set_link("client-portal-a", HEALTHY)),
        ("its clients' link blackholed",
         lambda: world.set_link("client-portal-a", LinkState(toxics=(
             ToxicSpec.of("timeout", timeout=0),))),
         lambda: world.set_link("client-portal-a", HEALTHY)),
        ("its clients' link slower than a poll waits",
         lambda: world.set_link("client-portal-a", LinkState(toxics=(
             ToxicSpec.of("latency", latency=int(POLL_TIMEOUT_S * 1000) + 100),))),
         lambda: world.set_link("client-portal-a", HEALTHY)),
    ]
    for what, break_it, heal_it in checks:
        break_it()
        assert _both_picks(world) == {"portal-b"}, what  # out of rotation while so
        assert world.pick(0, 1) is b, what  # a retry goes to portal-b as well
        heal_it()
        assert _both_picks(world) == {"portal-a", "portal-b"}, what  # back at once


def test_a_link_a_poll_still_crosses_keeps_the_replica_in_rotation() -> None:
    # a client whose attempt timed out behind such a link cannot tell it from a slow
    # replica: the live clients keep it in rotation, and so does the model
    world = _resilient_world()
    for toxics in [(ToxicSpec.of("latency", latency=200, jitter=100),),
                   (ToxicSpec("timeout", (("timeout", 0),), toxicity=0.3),),
                   (ToxicSpec.of("limit_data", bytes=10_000),)]:
        world.set_link("client-portal-a", LinkState(toxics=toxics))
        assert _both_picks(world) == {"portal-a", "portal-b"}, toxics


def test_the_model_polls_with_the_live_clients_timeout() -> None:
    assert POLL_TIMEOUT_S == HEALTH_TIMEOUT_S
