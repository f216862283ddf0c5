"""The fault timeline: each fault of the catalog starts, lasts and heals, as nemesis ops.

One short process per fault window, after Jepsen's nemesis: record `fault:start`, change the
world as the live injector would change the lab, wait, heal, record `fault:stop`. Windows are
`faults.schedule.Window`s: the scenario's fixed timeline (validated by `fixed_schedule`) plus
the stochastic ones drawn with `random_schedule` from the seed, so the timeline is pure data
and every fault heals before the run's final healing phase.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Iterator
from typing import Any

import simpy

from faults.catalog import (
    DeploymentWindow,
    Fault,
    NetworkLoss,
    PeakLoad,
    PowerLoss,
    RefreshStorm,
    SlowUpstream,
    SwitchFailure,
    UpstreamOutage,
)
from faults.schedule import Window, fixed_schedule, random_schedule
from policies.outcome import Outcome
from scenario.schema import Scenario, ScenarioError
from sim.world import LinkState, ReplicaState, World

RESET = (Outcome(False, error="reset"), "refused")
DAY_S = 86_400.0
CUTS_START_S, CUTS_SPAN_S = 9 * 3600.0, 8 * 3600.0  # scheduled power cuts fall 09:00-17:00
HEAL_S = 1.0  # the schedule's final fault-free phase (the model's drain follows anyway)
DRAIN_POLL_S = 0.5  # how often a draining replica looks at its in-flight requests


def timeline(scenario: Scenario, seed: int) -> list[Window]:
    """The scenario's fixed windows plus its stochastic ones, sorted by start."""
    horizon = scenario.duration + HEAL_S
    try:  # faults.errors.InvalidFault is a ValueError: one sentence, exit 2, not a traceback
        fixed = [Window.lasting(f.start, f.duration, f.fault(f"faults[{i}]"))
                 for i, f in enumerate(scenario.faults)]
        windows = list(fixed_schedule(fixed, horizon, HEAL_S).windows)
        windows.extend(_stochastic(scenario, seed, horizon))
    except ValueError as exc:
        raise ScenarioError(f"scenario {scenario.name}: {exc}") from None
    return sorted(windows, key=lambda w: (w.start_s, w.fault.kind, w.fault.target))


def _component_faults(scenario: Scenario, name: str) -> list[Fault]:
    topo = scenario.topology
    if name in topo.switches:
        return [SwitchFailure(switch=name)]
    if name in topo.racks:
        return [PowerLoss(rack=name)]
    return [UpstreamOutage(link=f"{topo.replicas[0].name}-{name}")]


def _stochastic(scenario: Scenario, seed: int, horizon: float) -> Iterator[Window]:
    st = scenario.stochastic
    for n, (name, mtbf) in enumerate(sorted(st.mtbf.items())):
        faults = _component_faults(scenario, name)
        if scenario.topology.upstreams.get(name) is not None:
            # an upstream process fails for every replica at once: one window per link
            links = [f"{r.name}-{name}" for r in scenario.topology.replicas]
            sched = random_schedule(seed * 1009 + n, faults, horizon_s=horizon, heal_s=HEAL_S,
                                    mtbf_s=mtbf, mttr_s=st.mttr[name])
            for w in sched.windows:
                for link in links:
                    yield Window(w.start_s, w.end_s, UpstreamOutage(link=link))
            continue
        yield from random_schedule(seed * 1009 + n, faults, horizon_s=horizon, heal_s=HEAL_S,
                                   mtbf_s=mtbf, mttr_s=st.mttr[name]).windows
    rng = random.Random(seed * 7919 + 1)
    racks = scenario.topology.racks
    end = scenario.duration
    for day in range(int(end // DAY_S) + 1):
        if racks and rng.random() < st.power_cuts_per_day:
            start = day * DAY_S + CUTS_START_S + rng.random() * CUTS_SPAN_S
            if start + st.power_cut < end:
                yield Window.lasting(round(start, 3), st.power_cut,
                                     PowerLoss(rack=rng.choice(racks)))
        if rng.random() < st.deploys_per_week / 7:
            start = day * DAY_S + rng.random() * DAY_S
            span = DEPLOY_PER_REPLICA_S * len(scenario.topology.replicas)
            if start + span < end:
                yield Window.lasting(round(start, 3), span, DeploymentWindow(service="portal"))


DEPLOY_PER_REPLICA_S = 120.0  # a stochastic deploy restarts each replica in about two minutes


def nemesis(world: World, window: Window) -> Generator[simpy.Event, Any, None]:
    """Inject one fault at its start, heal it at its end."""
    env, fault = world.env, window.fault
    yield env.timeout(window.start_s - env.now)
    world.history.fault(True, fault.kind, fault.target, env.now)
    if isinstance(fault, DeploymentWindow):
        yield from _deploy(world, fault, window.end_s)
    else:
        _set(world, fault, True)
        yield env.timeout(window.end_s - env.now)
        _set(world, fault, False)
    world.history.fault(False, fault.kind, fault.target, env.now)


def _set(world: World, fault: Fault, on: bool) -> None:
    if isinstance(fault, SwitchFailure):
        world.toggle(fault.switch, on)
        for rep in world.replicas:
            if on and rep.spec.switch == fault.switch:
                for job in list(rep.inflight):
                    job.reply(RESET)  # connections through the switch are dropped
    elif isinstance(fault, PowerLoss):
        world.toggle(fault.rack, on)
        for rep in world.replicas:
            if on and rep.spec.rack == fault.rack:
                rep.crash(world.env, RESET)
    elif isinstance(fault, NetworkLoss):
        world.links[fault.link] = LinkState(fault.mode) if on else LinkState()
    elif isinstance(fault, SlowUpstream):
        world.links[fault.link] = LinkState(
            "slow", latency_s=fault.latency_ms / 1000, jitter_s=fault.jitter_ms / 1000,
        ) if on else LinkState()
    elif isinstance(fault, UpstreamOutage):
        world.links[fault.link] = LinkState(fault.mode, retry_after_s=fault.retry_after_s) \
            if on else LinkState()
    elif isinstance(fault, PeakLoad):
        world.set_rate(fault.population, fault.rate_multiplier, on)
    elif isinstance(fault, RefreshStorm):
        world.set_rate(fault.population, fault.rate_multiplier, on)
        world.storm = fault if on else None


def _deploy(world: World, fault: DeploymentWindow,
            end_s: float) -> Generator[simpy.Event, Any, None]:
    """Restart the replicas, one at a time when rolling: drain, stop, start again."""
    env = world.env
    span = (end_s - env.now) / (len(world.replicas) if fault.rolling else 1)
    batches = [[r] for r in world.replicas] if fault.rolling else [list(world.replicas)]
    for batch in batches:
        until = env.now + span
        for rep in batch:
            rep.draining = True
        yield from _drain(world, batch, min(fault.drain_s, span / 2))
        for rep in batch:
            rep.crash(env, RESET)  # SIGTERM after the drain: whatever is left is cut
            rep.down = True
        yield env.timeout(max(until - env.now, 0.0))
        for rep in batch:
            rep.down = rep.draining = False


def _drain(world: World, batch: list[ReplicaState],
           max_s: float) -> Generator[simpy.Event, Any, None]:
    deadline = world.env.now + max_s
    while any(rep.inflight for rep in batch) and world.env.now < deadline:
        yield world.env.timeout(DRAIN_POLL_S)
