"""A blackhole's heal in the simulator means what it means on the proxy: removing a timeout
toxic closes the connections it holds (Toxiproxy's `TimeoutToxic.Cleanup`; ours:
`closes_on_removal`, tests/faults/toxiserver/test_toxics.py), so every attempt it hung ends
with a reset at the heal instead of waiting out its own timeout. Live, that reset sends every
hung user back at once, which is what overloads portal-a after clinic_network_loss's heal."""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
import simpy

from faults.toxics import ToxicSpec
from scenario.history import Op
from scenario.schema import load_scenario
from sim.client import operation
from sim.policyset import policy_set
from sim.ports import SimProxies, sim_topology
from sim.world import World

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "clinic_network_loss.toml"
HEAL_S = 2.0  # the toxic is removed this long after the user's first attempt
ATTEMPT_TIMEOUT_S = 10.0  # baseline's user attempt timeout (policies/presets.py)


def _world() -> tuple[World, SimProxies]:
    scenario = load_scenario(SCENARIO)
    world = World(scenario, policy_set("baseline", scenario), 1)  # no arrivals but ours
    assert world.policies.user.attempt_timeout_s == ATTEMPT_TIMEOUT_S
    return world, SimProxies(world, sim_topology(scenario))


def _blackhole(proxies: SimProxies, proxy: str, stream: str) -> str:
    return proxies.add_toxic(proxy, ToxicSpec.of("timeout", stream=stream, timeout=0)).name


def _after(world: World, delay_s: float, action: Callable[[], None]
           ) -> Generator[simpy.Event, Any, None]:
    yield world.env.timeout(delay_s)
    action()


def _user_op(world: World) -> Op:
    """Run one read_history of user 2 (homed on portal-a) and return its completion."""
    world.env.process(operation(world, "read_history", 2, "citizen"))
    world.env.run(until=120.0)
    done = [op for op in world.history.ops if op.process == "citizen/2" and op.type != "invoke"]
    assert len(done) == 1, done
    return done[0]


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
def test_removing_a_timeout_toxic_resets_the_attempts_it_hung(stream: str) -> None:
    """The first attempt hangs on the toxic; the heal resets it at HEAL_S, the user retries
    after baseline's 3-10 s backoff and is served: done well before the attempt timeout
    would have ended the first attempt. Kept on (the control), the first attempt waits out
    its 10 s, so the operation cannot end before it."""
    world, proxies = _world()
    toxic = _blackhole(proxies, "client-portal-a", stream)
    world.env.process(_after(world, HEAL_S, lambda: proxies.remove_toxic("client-portal-a",
                                                                         toxic)))
    healed = _user_op(world)
    assert healed.type == "ok"
    assert healed.time_s < HEAL_S + 10.0 + 1.0  # the heal, a backoff of at most 10 s, service
    assert healed.time_s < ATTEMPT_TIMEOUT_S + 3.0  # before the control's earliest end

    world, proxies = _world()
    _blackhole(proxies, "client-portal-a", stream)
    held = _user_op(world)
    assert held.time_s >= ATTEMPT_TIMEOUT_S + 3.0  # timed out, backed off 3-10 s, retried


def test_removing_another_toxic_leaves_the_hung_attempt_hanging() -> None:
    world, proxies = _world()
    _blackhole(proxies, "client-portal-a", "upstream")
    other = proxies.add_toxic("client-portal-a", ToxicSpec.of("latency", stream="downstream",
                                                              latency=1)).name
    world.env.process(_after(world, HEAL_S, lambda: proxies.remove_toxic("client-portal-a",
                                                                         other)))
    assert _user_op(world).time_s >= ATTEMPT_TIMEOUT_S + 3.0


def test_disabling_the_proxy_closes_the_attempts_a_blackhole_hung() -> None:
    world, proxies = _world()
    _blackhole(proxies, "client-portal-a", "upstream")

    def cut_and_restore() -> None:
        proxies.set_enabled("client-portal-a", False)
        proxies.set_enabled("client-portal-a", True)

    world.env.process(_after(world, HEAL_S, cut_and_restore))
    world.env.process(operation(world, "read_history", 2, "citizen"))
    world.env.run(until=HEAL_S + 0.5)
    assert not world.hung["client-portal-a"]  # the wait ended at the cut, not at 10 s


def test_an_upstream_call_a_blackhole_hung_is_reset_at_the_heal() -> None:
    """The portal's call to the registry hangs on portal-a-registry's timeout toxic; at the
    heal the call's attempt ends with a reset (recorded at the heal's instant), not with
    its own timeout."""
    world, proxies = _world()
    toxic = _blackhole(proxies, "portal-a-registry", "upstream")
    world.env.process(_after(world, HEAL_S, lambda: proxies.remove_toxic("portal-a-registry",
                                                                         toxic)))
    world.env.process(operation(world, "read_history", 2, "citizen"))
    world.env.run(until=HEAL_S + 0.001)
    calls = [op for op in world.history.ops if op.process.startswith("upstream:registry")
             or op.f == "call"]
    assert [(op.type, op.error, op.time_s) for op in calls] == [("info", "reset", HEAL_S)], calls
