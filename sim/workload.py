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
    sources = [SOURCE.get(k, "citizen") for k in names]
    sites = {"clinic": topo.clinics, "pharmacy": topo.pharmacies}
    # the hot loop: locals only, and rates recomputed only when a step or a peak changes
    timeout, process, expovariate, random_ = env.timeout, env.process, rng.expovariate, rng.random
    step, version = -1, -1
    cum: list[float] = []
    rate = boundary = 0.0
    single = len(names) == 1
    while env.now < end_s:
        now = env.now
        if now >= boundary or version != world.rate_version:
            step, version = int(now // step_s), world.rate_version
            f = world.rate_factors
            every = f.get("all", 1.0)
            cum = list(accumulate(s * m * every * f.get(p, 1.0)
                                  for s, m, p in zip(shares, steps[step], pops, strict=True)))
            rate = base * cum[-1]
            boundary = min((step + 1) * step_s, end_s)
        if rate <= 0.0:
            yield timeout(boundary - now)
            continue
        gap = 1.0 / rate if deterministic else expovariate(rate)
        if now + gap >= boundary:  # memoryless: redraw from the boundary at the new rate
            yield timeout(boundary - now)
            continue
        yield timeout(gap)
        n = world.next_id()
        k = 0 if single else bisect(cum, random_() * cum[-1])
        source = sources[k]
        if source in sites:
            source = f"{source}-{rng.randrange(sites[source]) + 1}"
        process(operation(world, names[k], n, source))


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
