"""The fault timeline: each fault of the catalog starts, lasts and heals, as nemesis ops.

One short process per fault window, after Jepsen's nemesis: the live lab's own
`faults.injector.Injector` applies the fault to the simulated lab (`sim.ports`), recording
`fault:start` on the simulated clock; the window waits; the injector heals it and records
`fault:stop`. A fault whose steps the simulated lab cannot take is refused by `timeline`,
before the run, in one sentence. Windows are
`faults.schedule.Window`s: the scenario's fixed timeline (validated by `fixed_schedule`) plus
the stochastic ones drawn with `random_schedule` from the seed, so the timeline is pure data
and every fault heals before the run's final healing phase.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Iterator
from typing import Any

import simpy

from faults.actions import AddToxic, Deploy
from faults.catalog import (
    DeploymentWindow,
    Fault,
    PowerLoss,
    ReplicaFailure,
    SwitchFailure,
    UpstreamOutage,
)
from faults.schedule import Window, fixed_schedule, random_schedule
from scenario.schema import Scenario, ScenarioError
from sim.links import toxic_type
from sim.ports import DEPLOY_PER_REPLICA_S, SimSupervisor, sim_injector, sim_topology
from sim.world import World

DAY_S = 86_400.0
CUTS_START_S, CUTS_SPAN_S = 9 * 3600.0, 8 * 3600.0  # scheduled power cuts fall 09:00-17:00
HEAL_S = 1.0  # the schedule's final fault-free phase (the model's drain follows anyway)


def timeline(scenario: Scenario, seed: int) -> list[Window]:
    """The scenario's fixed windows plus its stochastic ones, sorted by start and target."""
    horizon = scenario.duration + HEAL_S
    try:  # faults.errors.InvalidFault is a ValueError: one sentence, exit 2, not a traceback
        fixed = [Window.lasting(f.start, f.duration, f.fault(f"faults[{i}]"))
                 for i, f in enumerate(scenario.faults)]
        windows = list(fixed_schedule(fixed, horizon, HEAL_S).windows)
        windows.extend(_stochastic(scenario, seed, horizon))
        check_simulable(scenario, windows)
    except (ValueError, LookupError) as exc:  # LookupError: UnknownTarget, a target the
        raise ScenarioError(f"scenario {scenario.name}: {exc}") from None  # sim lacks
    # the order `faults.schedule.Schedule` plays them in, so both runners name toxics alike
    return sorted(windows, key=lambda w: (w.start_s, w.fault.target))


def _component_faults(scenario: Scenario, name: str) -> list[Fault]:
    topo = scenario.topology
    if name in topo.switches:
        return [SwitchFailure(switch=name)]
    if name in topo.racks:
        return [PowerLoss(rack=name)]
    if any(r.name == name for r in topo.replicas):
        return [ReplicaFailure(replica=name, work=scenario.stochastic.replica_work)]
    return [UpstreamOutage(link=f"{topo.replicas[0].name}-{name}")]


def _stochastic(scenario: Scenario, seed: int, horizon: float) -> Iterator[Window]:
    stochastic = scenario.stochastic
    for n, (name, mtbf) in enumerate(sorted(stochastic.mtbf.items())):
        faults = _component_faults(scenario, name)
        if scenario.topology.upstreams.get(name) is not None:
            # an upstream process fails for every replica at once: one window per link
            links = [f"{r.name}-{name}" for r in scenario.topology.replicas]
            sched = random_schedule(seed * 1009 + n, faults, horizon_s=horizon, heal_s=HEAL_S,
                                    mtbf_s=mtbf, mttr_s=stochastic.mttr[name])
            for w in sched.windows:
                for link in links:
                    yield Window(w.start_s, w.end_s, UpstreamOutage(link=link))
            continue
        yield from random_schedule(seed * 1009 + n, faults, horizon_s=horizon, heal_s=HEAL_S,
                                   mtbf_s=mtbf, mttr_s=stochastic.mttr[name]).windows
    rng = random.Random(seed * 7919 + 1)
    racks = scenario.topology.racks
    end = scenario.duration
    for day in range(int(end // DAY_S) + 1):
        if racks and rng.random() < stochastic.power_cuts_per_day:
            start = day * DAY_S + CUTS_START_S + rng.random() * CUTS_SPAN_S
            if start + stochastic.power_cut < end:
                yield Window.lasting(round(start, 3), stochastic.power_cut,
                                     PowerLoss(rack=rng.choice(racks)))
        if rng.random() < stochastic.deploys_per_week / 7:
            start = day * DAY_S + rng.random() * DAY_S
            span = DEPLOY_PER_REPLICA_S * len(scenario.topology.replicas)
            if start + span < end:
                yield Window.lasting(round(start, 3), span, DeploymentWindow(service="portal"))


def nemesis(world: World, window: Window) -> Generator[simpy.Event, Any, None]:
    """Inject one fault at its start through the world's injector, heal it at its end."""
    env, injector = world.env, sim_injector(world)
    supervisor = injector.supervisor
    assert isinstance(supervisor, SimSupervisor)  # sim_injector builds it
    yield env.timeout(window.start_s - env.now)
    supervisor.until_s = window.end_s  # a deploy in this window restarts over the window
    applied = injector.apply(window.fault)
    yield env.timeout(window.end_s - env.now)
    for step in applied.steps:
        if isinstance(step.apply, Deploy):
            yield from supervisor.finished(step.apply.service)
    injector.heal(applied)


def check_simulable(scenario: Scenario, windows: list[Window]) -> None:
    """Refuse, in one sentence, a fault whose steps the simulated lab cannot take."""
    topology = sim_topology(scenario)
    for window in windows:
        fault = window.fault
        for step in fault.plan(topology, "check"):
            for action in (step.apply, step.heal):
                if isinstance(action, AddToxic):
                    try:
                        toxic_type(action.toxic)
                    except ValueError as exc:
                        raise ValueError(f"{fault.kind} on {fault.target!r}: {exc}") from None
