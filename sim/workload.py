"""Arrivals: the scenario's arrival process (`scenario.arrivals`) played as SimPy processes.

The process draws lazily from the shared, seeded generator, so the live lab plays the same
arrivals from the same scenario and seed; the peak multipliers are the world's
(`world.rate_factors`, changed by the peak_load and refresh_storm faults' nemesis), read at
each draw. Each arrival starts one `client.operation` (a pharmacy's dispense, with its paper
fallback: `pharmacy.dispense`); wake-ups (a gap that crossed a
calendar step) only let the clock catch up, so a peak that started meanwhile is seen.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import simpy

from scenario.arrivals import arrival_rng, attack_rng, attack_stream, stream
from scenario.schema import Attack
from sim.client import operation
from sim.pharmacy import DISPENSE, dispense
from sim.world import World


def arrivals(world: World, seed: int) -> Generator[simpy.Event, Any, None]:
    """Start every operation of the run; stops at the scenario's end."""
    env = world.env

    def factors(_t: float) -> tuple[int, Mapping[str, float]]:
        return world.rate_version, world.rate_factors

    timeout, process, next_id = env.timeout, env.process, world.next_id
    for t, kind, source in stream(world.scenario, arrival_rng(seed), factors):
        yield timeout(t - env.now)
        if kind == DISPENSE:
            process(dispense(world, next_id(), source))
        elif kind:
            process(operation(world, kind, next_id(), source))


def attacker(world: World, attack: Attack, seed: int) -> Generator[simpy.Event, Any, None]:
    """Credential stuffing: logins with wrong passwords from a few sources."""
    env = world.env
    for t, source in attack_stream(attack, attack_rng(seed)):
        yield env.timeout(t - env.now)
        env.process(operation(world, "login", world.next_id(), source))
