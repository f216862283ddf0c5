"""The live plan of a scenario: its compressed fault timeline and arrivals on the lab's clock.

`--speed K` compresses scenario time K-fold (`Scenario.compressed`): fault starts and
durations, the stochastic timeline, the run's length and the calendar (live second t reads
the calendar at scenario second t * K); rates stay per second, so one live request stands
for K scenario requests, and request-level times (service times, patience, refresh delays)
stay real. The fault windows are the simulator's (`sim.nemesis.timeline`: fixed plus
stochastic, drawn from the seed) and the arrivals the shared generator's
(`scenario.arrivals`), with the peak windows' multipliers, so `chaoslab sim --speed K` runs
the same experiment. A scenario with `live_scale` K is played at 1:K (`Scenario.live`:
rates, workers, accounts and the invariants' absolute thresholds divided by K), the
experiment `twin` also simulates. The run always ends with `MIN_HEAL_S` fault-free seconds
to watch the recovery. Every scenario target is checked against the lab's topology here,
before anything starts. `safe_speed` is the default speed: a run of about a minute whose
faults still last long enough for the resilience windows (a breaker's open wait) to play
inside them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from faults.errors import FaultError
from faults.schedule import Schedule, fixed_schedule
from mock_services.lab.topology import CLIENT, LabTopology
from scenario.arrivals import Arrival, arrivals, window_factors
from scenario.errors import BadInput
from scenario.schema import Scenario
from sim.nemesis import timeline

MIN_FAULT_S = 0.05  # real seconds a fault must last: applying and healing are API calls
MIN_HEAL_S = 3.0  # real seconds without faults at the end: recovery must be seen
TARGET_LIVE_S = 60.0  # the default speed's run length, real seconds
# the shortest fault at the default speed, real seconds: resilience windows (a breaker's 5 s
# open wait, a retry's backoff) must fit inside a fault for the run to show them
MIN_SAFE_FAULT_S = 5.0


@dataclass(frozen=True, slots=True)
class LivePlan:
    """What the live runner plays: the scenario as played (`compressed`: `Scenario.live`,
    at 1:live_scale and compressed), its schedule (real seconds) and its arrivals (the
    attacker's included)."""

    scenario: Scenario
    speed: float
    compressed: Scenario
    schedule: Schedule
    arrivals: tuple[Arrival, ...]

    @property
    def horizon_s(self) -> float:
        """The run's length in real seconds."""
        return self.schedule.horizon_s

    @property
    def scale_down(self) -> int:
        """The file is played at 1:scale_down (its `live_scale`)."""
        return self.scenario.live_scale

    def drawn(self) -> dict[str, int]:
        """Arrivals per request kind."""
        return dict(sorted(Counter(a.kind for a in self.arrivals).items()))


def safe_speed(scenario: Scenario) -> float:
    """The default `--speed` of `scenario`: its run lasts about `TARGET_LIVE_S` (duration /
    60), lowered so that its shortest fault lasts at least `MIN_SAFE_FAULT_S` live, and a
    whole number, at least 1 (a scenario whose faults are already shorter plays as written)."""
    speed = scenario.duration / TARGET_LIVE_S
    shortest = min((tf.duration for tf in scenario.faults if tf.duration > 0), default=None)
    if shortest is not None:
        speed = min(speed, shortest / MIN_SAFE_FAULT_S)
    return float(max(math.floor(speed), 1))


def lab_names(topology: LabTopology) -> dict[str, set[str]]:
    """The lab's names a scenario may use, by what they name."""
    return {
        "replica": {s.name for s in topology.portals()},
        "switch": set(topology.switches),
        "rack": set(topology.racks),
        "upstream": {s.kind for s in topology.upstreams()},
        "link": {x.name for x in topology.links},
    }


def check_targets(scenario: Scenario, topology: LabTopology) -> None:
    """Every replica, switch, rack, upstream and fault target of `scenario` exists in the lab."""
    names = lab_names(topology)
    where = f"scenario {scenario.name}"
    t = scenario.topology

    def need(kind: str, name: str, key: str) -> None:
        if name not in names[kind]:
            raise BadInput(f"{where}: {key} names {kind} {name!r}, which the lab does not "
                           f"have; expected one of {', '.join(sorted(names[kind]))}")

    for i, r in enumerate(t.replicas):
        need("replica", r.name, f"topology.replicas[{i}]")
        link = f"{CLIENT}-{r.name}"
        on = next(x.switch for x in topology.links if x.name == link)
        if on != r.switch:
            raise BadInput(f"{where}: topology.replicas[{i}] puts {r.name!r} on {r.switch!r}; "
                           f"the lab has it on {on!r}")
    for name in t.upstreams:
        need("upstream", name, f"topology.upstreams.{name}")
    for i, timed in enumerate(scenario.faults):
        fault = timed.fault(f"faults[{i}]")
        for attr, kind in (("link", "link"), ("switch", "switch"), ("rack", "rack")):
            value = getattr(fault, attr, None)
            if value is not None:
                need(kind, value, f"faults[{i}].{attr}")


def build_plan(scenario: Scenario, speed: float, topology: LabTopology, seed: int = 1) -> LivePlan:
    """The live plan of `scenario` at `speed` with `seed`; `BadInput` (one sentence) when it
    cannot run."""
    check_targets(scenario, topology)
    shortest = min((tf.duration for tf in scenario.faults if tf.duration > 0), default=None)
    if shortest is not None and shortest / speed < MIN_FAULT_S:
        raise BadInput(f"--speed {speed:g}: scenario {scenario.name}'s shortest fault "
                       f"({shortest:g} s) would last {shortest / speed * 1000:.3g} ms live, too "
                       f"short to apply and heal; expected --speed at most "
                       f"{shortest / MIN_FAULT_S:g}")
    compressed = scenario.live(speed)  # at 1:live_scale, compressed
    windows = timeline(compressed, seed)
    last_end = max((w.end_s for w in windows), default=0.0)
    horizon_s = max(compressed.duration, last_end + MIN_HEAL_S)
    heal_s = horizon_s - last_end if windows else min(MIN_HEAL_S, horizon_s / 2)
    while horizon_s - heal_s < last_end:  # float rounding must not put a fault in the tail
        heal_s = math.nextafter(heal_s, 0.0)
    try:
        schedule = fixed_schedule(windows, horizon_s, heal_s)
    except FaultError as exc:
        raise BadInput(f"scenario {scenario.name}: [[faults]]: {exc}") from None
    factors = window_factors([(w.start_s, w.end_s, w.fault) for w in windows])
    drawn = tuple(arrivals(compressed, seed, factors))
    return LivePlan(scenario, speed, compressed, schedule, drawn)
