"""The scenario's arrival process, shared by the simulator and the live lab: pure and seeded.

Rates are piecewise constant per calendar step (`scenario.calendar.table`); within a step,
gaps are exponential (a Poisson process, exact for piecewise-constant rates because the
exponential is memoryless: a gap that crosses a step boundary is redrawn from the boundary)
or deterministic. Each arrival picks its kind in proportion to the kinds' current rates:
a kind's share times its profile's calendar multiplier times the peak multipliers of its
population ("all" and "citizens", "employers", "clinics" or "pharmacies"). Prescriptions
come from clinics and dispensing from pharmacies (sources "clinic-k", "pharmacy-k",
`scenario.names.site_source`, sites numbered from 1 to the topology's counts), lists and
workshops from employers, the rest from citizens. The attacker's wrong-password logins come
from `attack.sources` sources ("attacker-n").

The peak multipliers are read through a callback `factors(t) -> (version, multipliers)`,
called once per draw: the simulator answers from its world (a peak_load fault's nemesis
sets them), the live runner from its fault windows (`window_factors`); the version lets the
generator recompute the kinds' rates only when they changed. Nothing here knows SimPy.
"""

from __future__ import annotations

import random
from bisect import bisect, bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from faults.catalog import Fault, PeakLoad, RefreshStorm
from scenario.calendar import table
from scenario.names import attacker_source, site_source
from scenario.schema import Attack, Profile, Scenario

POPULATION = {"citizen": "citizens", "employer": "employers", "clinic": "clinics",
              "pharmacy": "pharmacies"}  # the populations a peak_load fault may name
SOURCE = {"prescribe": "clinic", "dispense": "pharmacy", "submit_list": "employer",
          "register_workshop": "employer"}  # who does a kind; citizens do the others
WAKE = ""  # the kind of a wake-up: no arrival, the rates may change here
Factors = Callable[[float], tuple[int, Mapping[str, float]]]
_NO_PEAKS: tuple[int, Mapping[str, float]] = (0, {})


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request arriving at `time_s` (run seconds): its scenario kind and its source."""

    time_s: float
    kind: str
    source: str


def source_of(kind: str) -> str:
    """Who does `kind`: "citizen", "employer", "clinic" or "pharmacy"."""
    return SOURCE.get(kind, "citizen")


def arrival_rng(seed: int) -> random.Random:
    """The arrival process's own stream of `seed` (both runners draw from it)."""
    return random.Random(f"arrivals-{seed}")


def attack_rng(seed: int) -> random.Random:
    """The attacker's own stream of `seed`."""
    return random.Random(f"attack-{seed}")


def no_peaks(_t: float) -> tuple[int, Mapping[str, float]]:
    """Peak multipliers of a run without peaks."""
    return _NO_PEAKS


def stream(scenario: Scenario, rng: random.Random,
           factors: Factors = no_peaks) -> Iterator[tuple[float, str, str]]:
    """(time_s, kind, source) of every arrival in time order, with wake-ups (kind `WAKE`) at
    each step boundary a gap crossed, where a consumer that changes the factors as time
    passes (the simulator) should let its clock catch up before the next draw."""
    workload = scenario.workload
    names = list(workload.kinds)
    profiles: list[Profile] = [workload.kinds[k].profile for k in names]
    shares = [workload.kinds[k].share for k in names]
    step_s, end_s = workload.step, scenario.duration
    steps = table(workload.calendar, profiles, scenario.start, end_s, step_s,
                  time_scale=scenario.time_scale)
    pops = [POPULATION[source_of(k)] for k in names]
    base = workload.rate_per_s / sum(shares)
    deterministic = workload.arrivals == "deterministic"
    topo = scenario.topology
    sources = [source_of(k) for k in names]
    sites = {"clinic": topo.clinics, "pharmacy": topo.pharmacies}
    # the hot loop: locals only, and rates recomputed only when a step or a peak changes
    expovariate, random_, randrange = rng.expovariate, rng.random, rng.randrange
    site = site_source
    version = -1
    cum: list[float] = []
    now = rate = boundary = 0.0
    single = len(names) == 1
    while now < end_s:
        current, f = factors(now)
        if now >= boundary or version != current:
            step, version = int(now // step_s), current
            if (step + 1) * step_s <= now:  # `now` is a boundary that // rounded down
                step += 1
            every = f.get("all", 1.0)
            cum = list(accumulate(s * m * every * f.get(p, 1.0)
                                  for s, m, p in zip(shares, steps[step], pops, strict=True)))
            rate = base * cum[-1]
            boundary = min((step + 1) * step_s, end_s)
        if rate <= 0.0:
            now = boundary
            yield now, WAKE, ""
            continue
        gap = 1.0 / rate if deterministic else expovariate(rate)
        if now + gap >= boundary:  # memoryless: redraw from the boundary at the new rate
            now = boundary
            yield now, WAKE, ""
            continue
        now += gap
        k = 0 if single else bisect(cum, random_() * cum[-1])
        source = sources[k]
        if source in sites:
            source = site(source, randrange(sites[source]) + 1)
        yield now, names[k], source


def attack_stream(attack: Attack, rng: random.Random) -> Iterator[tuple[float, str]]:
    """(time_s, source) of the attacker's wrong-password logins, from `attack.sources`
    sources in turn, a Poisson process from the attack's start to its end."""
    until = attack.start + attack.duration
    t, n = attack.start, 0
    while True:
        t += rng.expovariate(attack.rate_per_s)
        if t >= until:
            return
        n += 1
        yield t, attacker_source(n % attack.sources)


def window_factors(windows: Sequence[tuple[float, float, Fault]]) -> Factors:
    """The peak multipliers in effect at time t from fault windows (start_s, end_s, fault):
    peak_load and refresh_storm multiply their population's rate, overlaps multiply."""
    peaks = [(s, e, f) for s, e, f in windows if isinstance(f, PeakLoad | RefreshStorm)]
    edges = sorted({t for s, e, _ in peaks for t in (s, e)})
    segments: list[dict[str, float]] = []
    for i in range(len(edges) + 1):
        at = edges[i - 1] if i else -1.0
        out: dict[str, float] = {}
        for s, e, f in peaks:
            if s <= at < e:
                assert isinstance(f, PeakLoad | RefreshStorm)
                out[f.population] = out.get(f.population, 1.0) * f.rate_multiplier
        segments.append(out)

    def factors(t: float) -> tuple[int, Mapping[str, float]]:
        i = bisect_right(edges, t)
        return i, segments[i]

    return factors


def arrivals(scenario: Scenario, seed: int, factors: Factors = no_peaks) -> list[Arrival]:
    """Every arrival of the run, the attacker's logins merged in, in time order."""
    out = [Arrival(t, k, s) for t, k, s in stream(scenario, arrival_rng(seed), factors) if k]
    if scenario.attack is not None:
        out.extend(Arrival(t, "login", s)
                   for t, s in attack_stream(scenario.attack, attack_rng(seed)))
        out.sort(key=lambda a: a.time_s)
    return out
