"""Arrivals: one process draws every user operation of the run on the calendar's rates.

Rates are piecewise constant per calendar step; within a step, gaps are exponential (a
Poisson process, exact for piecewise-constant rates because the exponential is memoryless:
a gap that crosses a step boundary is redrawn from the boundary) or deterministic. Each
arrival picks its kind in proportion to the kinds' current rates and starts one
`client.operation`. Prescriptions come from clinics, dispensing from pharmacies.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Generator
from itertools import accumulate
from typing import Any

import simpy

from scenario.schema import Attack, Profile
from sim.calendar import table
from sim.client import operation
from sim.world import World

POPULATION = {"citizen": "citizens", "employer": "employers", "clinic": "clinics",
              "pharmacy": "pharmacies"}  # the populations a peak_load fault may name
SOURCE = {"prescribe": "clinic", "dispense": "pharmacy", "submit_list": "employer",
          "register_workshop": "employer"}


def arrivals(world: World) -> Generator[simpy.Event, Any, None]:
    """Start every operation of the run; stops at the scenario's end."""
    env, rng = world.env, world.rng
    wl = world.scenario.workload
    names = list(wl.kinds)
    profiles: list[Profile] = [wl.kinds[k].profile for k in names]
    shares = [wl.kinds[k].share for k in names]
    total_share = sum(shares)
    steps = table(wl.calendar, profiles, world.scenario.start, world.scenario.duration, wl.step)
    pops = [POPULATION.get(SOURCE.get(k, "citizen"), "citizens") for k in names]
    step_s, end_s = wl.step, world.scenario.duration
    base = wl.rate_per_s / total_share
    deterministic = wl.arrivals == "deterministic"
    topo = world.scenario.topology
    key = (-1, -1)
    cum: list[float] = []
    while env.now < end_s:
        i = int(env.now // step_s)
        if key != (i, world.rate_version):  # a new calendar step, or a peak began or ended
            key = (i, world.rate_version)
            f = world.rate_factors
            every = f.get("all", 1.0)
            cum = list(accumulate(s * m * every * f.get(p, 1.0)
                                  for s, m, p in zip(shares, steps[i], pops, strict=True)))
        rate = base * cum[-1]
        boundary = min((i + 1) * step_s, end_s)
        if rate <= 0.0:
            yield env.timeout(boundary - env.now)
            continue
        gap = 1.0 / rate if deterministic else rng.expovariate(rate)
        if env.now + gap >= boundary:
            yield env.timeout(boundary - env.now)
            continue
        yield env.timeout(gap)
        n = world.next_id()
        kind = names[bisect(cum, rng.random() * cum[-1])] if len(names) > 1 else names[0]
        source = SOURCE.get(kind, "citizen")
        if source == "clinic" and topo.clinics:
            source = f"clinic-{rng.randrange(topo.clinics) + 1}"
        elif source == "pharmacy" and topo.pharmacies:
            source = f"pharmacy-{rng.randrange(topo.pharmacies) + 1}"
        env.process(operation(world, kind, n, source))


def attacker(world: World, attack: Attack) -> Generator[simpy.Event, Any, None]:
    """Credential stuffing: logins with wrong passwords from a few sources."""
    env, rng = world.env, world.rng
    yield env.timeout(attack.start)
    until = attack.start + attack.duration
    while True:
        yield env.timeout(rng.expovariate(attack.rate_per_s))
        if env.now >= until:
            return
        n = world.next_id()
        env.process(operation(world, "login", n, f"attacker-{n % attack.sources}"))
