"""One replication: build the world, start arrivals and faults, run, heal, read the final state.

`simulate(scenario, policy_set, seed)` is a pure function of its arguments: the same
scenario, policy set and seed give the same history. After the run every fault has healed,
the durable payment queue has drained, and one `final` op per write key says how many times
it was applied.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from faults.schedule import Window
from policies.presets import PolicySet
from scenario.history import FINAL, GAUGE, History, Op
from scenario.names import upstream_process
from scenario.schema import Scenario
from sim.nemesis import nemesis, timeline
from sim.portal import LISTS, list_worker
from sim.workload import arrivals, attacker
from sim.world import Counters, World

PAYMENT_RETRY_S = 30.0  # the durable payment queue retries its backlog this often
PAYMENT = upstream_process("payment")  # the process of the queue's payment attempts
DRAIN_S = 600.0  # after the last arrival: in-flight requests and queues finish
GAUGE_SAMPLES = 2000  # gauge samples per replica over a run, at least every GAUGE_MIN_S
GAUGE_MIN_S = 10.0


@dataclass(frozen=True, slots=True)
class Replication:
    """What one seed produced: the history, the faults injected, and running counters."""

    seed: int
    history: History
    faults: tuple[Window, ...]
    counters: Counters
    sim_end_s: float


def build(scenario: Scenario, policy_set: PolicySet, seed: int,
          history: History | None = None) -> World:
    """A world ready to run: policies built, arrivals scheduled; recording into `history`
    (an empty one) or a new `History`."""
    world = World(scenario, policy_set, seed, horizon_s=scenario.duration + DRAIN_S,
                  history=history)
    world.env.process(arrivals(world, seed))
    return world


def simulate(scenario: Scenario, policy_set: PolicySet, seed: int,
             history: History | None = None) -> Replication:
    """Run one replication to the end of the scenario and its drain, recording into
    `history` (an empty one: a `scenario.streamed.StreamedHistory` keeps none of its ops)
    or a new `History`."""
    world = build(scenario, policy_set, seed, history)
    faults = tuple(timeline(scenario, seed))
    for window in faults:
        world.env.process(nemesis(world, window))
    if scenario.attack is not None:
        world.env.process(attacker(world, scenario.attack, seed))
    if policy_set.payment_queue and "payment" in world.upstreams:
        world.env.process(payment_queue(world))
    if policy_set.list_queue is not None and LISTS in world.kinds:
        for rep in world.replicas:
            for _ in range(policy_set.list_queue.loops(rep.spec.workers)):
                world.env.process(list_worker(world, rep))
    world.env.process(gauges(world, max(GAUGE_MIN_S, scenario.duration / GAUGE_SAMPLES)))
    world.env.run(until=world.horizon_s)
    world.policies.drain(world.history)
    final(world)
    return Replication(seed, world.history, faults, world.counters, world.env.now)


def payment_queue(world: World) -> Generator[simpy.Event, Any, None]:
    """The durable async queue: retry each accepted payment until the upstream takes it."""
    env = world.env
    pending = world.policies.pending_payments
    rack = world.upstreams["payment"].rack
    while True:
        yield env.timeout(PAYMENT_RETRY_S)
        while pending and not world.down.get(rack, 0) and any(
                world.reachable(r) and world.link(f"{r.spec.name}-payment").mode in ("ok", "slow")
                for r in world.replicas):
            key = pending.pop(0)
            world.applied[f"payment:{key}"] = world.applied.get(f"payment:{key}", 0) + 1
            world.history.append(Op("info", PAYMENT, "call", env.now, key, "ok"))


def final(world: World) -> None:
    """One `final` op per write key: how many times the portal applied it."""
    now = world.env.now
    keys = world.keys | world.applied.keys()  # every invoked key (`World.keys`), every write
    append = world.history.append
    for key in sorted(keys):
        append(Op("info", FINAL, "applied", now, key, str(world.applied.get(key, 0))))


def gauges(world: World, every_s: float) -> Generator[simpy.Event, Any, None]:
    """Queue length and requests in flight per replica, sampled for the report's timelines."""
    env, append = world.env, world.history.append
    while True:
        yield env.timeout(every_s)
        for rep in world.replicas:
            append(Op("info", GAUGE, "queue_length", env.now, rep.spec.name,
                      str(len(rep.workers.queue))))
            append(Op("info", GAUGE, "in_flight", env.now, rep.spec.name,
                      str(rep.workers.count)))
