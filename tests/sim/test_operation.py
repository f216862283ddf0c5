"""A user operation's state (`client.Operation`) and the pharmacies' paper fallback, which
wraps the operation (`pharmacy.dispense`) instead of being called by it: run on a real world
(real engine, real policies) whose replicas are unreachable, then reachable again."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy

from policies.quota import reconcile_until_s
from scenario.history import Op
from scenario.schema import load_scenario
from sim.client import begin, operation
from sim.model import DRAIN_S
from sim.pharmacy import RECONCILE_EVERY_S, dispense
from sim.policyset import policy_set
from sim.world import World

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "switch_failure.toml"


def _world(preset: str = "baseline", speed: float = 1.0) -> World:
    scenario = load_scenario(SCENARIO)
    if speed != 1.0:
        scenario = scenario.compressed(speed)
    return World(scenario, policy_set(preset, scenario), seed=1)


def _cut(world: World, on: bool) -> None:
    """Every replica unreachable (`on`), as a power loss of each, or reachable again."""
    for rep in world.replicas:
        world.toggle(rep.spec.name, on)


def _completed(world: World, kind: str) -> list[Op]:
    return [op for op in world.history.ops if op.f == kind and op.type != "invoke"]


def _run(world: World, process: Generator[simpy.Event, Any, bool]) -> list[bool]:
    """Run `process` to its end (not the world: a pharmacy's reconciliation runs on)."""
    out: list[bool] = []

    def proc() -> Generator[simpy.Event, Any, None]:
        out.append((yield from process))

    world.env.run(until=world.env.process(proc()))
    return out


def test_begin_invokes_once_and_says_who_asks_what() -> None:
    world = _world()
    op, invoked = begin(world, "submit_list", 7, "employer-3")
    assert (invoked.process, invoked.f, invoked.key) == ("employer-3/7", "submit_list",
                                                        "submit_list:7")
    assert world.keys == {"submit_list:7"} and len(world.history.ops) == 1
    assert op.peer == "employer-3/7" and op.home == 7 % len(world.replicas)
    assert op.tries == 0 and op.last == "" and op.deadline_s > world.env.now
    attacker, _ = begin(world, "login", 8, "attacker-0")
    assert attacker.key == "" and attacker.peer == "attacker-0"  # one source for the limiter


def test_a_write_every_attempt_of_which_was_refused_ends_indeterminate() -> None:
    world = _world()
    _cut(world, True)
    assert _run(world, operation(world, "submit_list", 1, "employer-1")) == [False]
    [done] = _completed(world, "submit_list")
    # the last attempt's label is the error, and a write refused may have been applied
    assert (done.type, done.error) == ("info", "refused")


def test_a_read_every_attempt_of_which_was_refused_fails() -> None:
    world = _world()
    _cut(world, True)
    assert _run(world, operation(world, "read_history", 1, "citizen-1")) == [False]
    [done] = _completed(world, "read_history")
    assert (done.type, done.error) == ("fail", "refused")


def test_a_failed_dispense_goes_on_paper_and_is_reconciled_once_the_portal_is_back() -> None:
    world = _world()
    _cut(world, True)
    assert _run(world, dispense(world, 1, "pharmacy-1")) == [False]
    [paper] = _completed(world, "paper_record")
    assert (paper.type, paper.key) == ("ok", "C-pharmacy-1-1")
    assert world.pharmacies.backlog == {"pharmacy-1": ["C-pharmacy-1-1"]}
    _cut(world, False)
    world.env.run(until=world.env.now + 2 * RECONCILE_EVERY_S)
    [reconciled] = _completed(world, "reconcile")
    assert (reconciled.type, reconciled.key) == ("ok", "reconcile:C-pharmacy-1-1")
    assert world.pharmacies.backlog == {"pharmacy-1": []}


def test_a_compressed_run_shortens_the_reconcile_wait_as_it_does_the_calendar() -> None:
    """At --speed 60 the first retry of the backlog comes 300 / 60 = 5 s after the paper
    record, as the live pharmacies' does (a wait in scenario seconds, like a fault's)."""
    world = _world(speed=60.0)
    _cut(world, True)
    assert _run(world, dispense(world, 1, "pharmacy-1")) == [False]
    [paper] = _completed(world, "paper_record")
    _cut(world, False)
    world.env.run(until=paper.time_s + 2 * RECONCILE_EVERY_S / 60)
    [reconciled] = [op for op in world.history.ops if op.f == "reconcile"
                    and op.type == "invoke"]
    assert reconciled.time_s == paper.time_s + RECONCILE_EVERY_S / 60


def test_a_dispense_the_portal_takes_goes_on_no_paper() -> None:
    world = _world("resilient")
    assert _run(world, dispense(world, 1, "pharmacy-1")) == [True]
    assert _completed(world, "paper_record") == [] and world.pharmacies.backlog == {}


def test_a_compressed_run_stops_reconciling_when_its_drain_ends() -> None:
    """One drain rule in both runners (`policies.quota.reconcile_until_s`): at --speed 60 a
    pharmacy starts no try later than 600 / 60 = 10 s after the scenario's end, where the
    loop used to try on, once a (compressed) minute, to the simulator's 600 s horizon."""
    scenario = load_scenario(SCENARIO).compressed(60.0)
    world = World(scenario, policy_set("baseline", scenario), seed=1,
                  horizon_s=scenario.duration + DRAIN_S)
    _cut(world, True)  # down to the end: the backlog is never registered
    assert _run(world, dispense(world, 1, "pharmacy-1")) == [False]
    world.env.run(until=world.horizon_s)
    until = reconcile_until_s(scenario.duration, 60.0, DRAIN_S)
    tries = [op.time_s for op in world.history.ops if op.f == "reconcile" and op.type == "invoke"]
    assert tries and max(tries) <= until < world.horizon_s - 60.0
    assert world.pharmacies.backlog == {"pharmacy-1": ["C-pharmacy-1-1"]}
