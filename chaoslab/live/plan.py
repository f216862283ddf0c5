"""The live plan of a scenario: its fault timeline and load compressed to the lab's clock.

`--speed K` divides every scenario time (fault starts and durations, the run's length) by K;
request service times stay real, so the history's clock is real seconds. The lab is small:
the scenario's arrival rate is capped at `MAX_BASE_RATE_PER_S` (peaks multiply the capped
rate), and the run always ends with `MIN_HEAL_S` fault-free seconds to watch the recovery.
Every scenario target is checked against the lab's topology here, before anything starts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

from chaoslab.errors import BadInput
from chaoslab.live.load import LIVE_KINDS, LoadPhase
from faults.catalog import PeakLoad
from faults.errors import FaultError
from faults.schedule import Schedule, Window, fixed_schedule
from mock_services.lab.topology import CLIENT, Topology
from scenario.schema import Scenario

MAX_BASE_RATE_PER_S = 8.0  # two portal replicas on two shared cores: tens of requests a second
MIN_FAULT_S = 0.05  # real seconds a fault must last: applying and healing are API calls
MIN_HEAL_S = 3.0  # real seconds without faults at the end: recovery must be seen


@dataclass(frozen=True, slots=True)
class LivePlan:
    """What the live runner plays: the schedule (real seconds), the load phases, the kinds."""

    scenario: Scenario
    speed: float
    schedule: Schedule
    phases: tuple[LoadPhase, ...]
    shares: Mapping[str, float]
    skipped_kinds: tuple[str, ...]

    @property
    def horizon_s(self) -> float:
        """The run's length in real seconds."""
        return self.schedule.horizon_s


def lab_names(topology: Topology) -> dict[str, set[str]]:
    """The lab's names a scenario may use, by what they name."""
    return {
        "replica": {s.name for s in topology.portals()},
        "switch": set(topology.switches),
        "rack": set(topology.racks),
        "upstream": {s.kind for s in topology.upstreams()},
        "link": {x.name for x in topology.links},
    }


def check_targets(scenario: Scenario, topology: Topology) -> None:
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


def build_plan(scenario: Scenario, speed: float, topology: Topology) -> LivePlan:
    """The live plan of `scenario` at `speed`; `BadInput` (one sentence) when it cannot run."""
    check_targets(scenario, topology)
    windows = [Window.lasting(tf.start / speed, tf.duration / speed, tf.fault(f"faults[{i}]"))
               for i, tf in enumerate(scenario.faults)]
    shortest = min((tf.duration for tf in scenario.faults if tf.duration > 0), default=None)
    if shortest is not None and shortest / speed < MIN_FAULT_S:
        raise BadInput(f"--speed {speed:g}: scenario {scenario.name}'s shortest fault "
                       f"({shortest:g} s) would last {shortest / speed * 1000:.3g} ms live, too "
                       f"short to apply and heal; expected --speed at most "
                       f"{shortest / MIN_FAULT_S:g}")
    last_end = max((w.end_s for w in windows), default=0.0)
    horizon_s = max(scenario.duration / speed, last_end + MIN_HEAL_S)
    heal_s = horizon_s - last_end if windows else min(MIN_HEAL_S, horizon_s / 2)
    while horizon_s - heal_s < last_end:  # float rounding must not put a fault in the tail
        heal_s = math.nextafter(heal_s, 0.0)
    try:
        schedule = fixed_schedule(windows, horizon_s, heal_s)
    except FaultError as exc:
        raise BadInput(f"scenario {scenario.name}: [[faults]]: {exc}") from None
    kinds = scenario.workload.kinds
    shares: dict[str, float] = {k: v.share for k, v in kinds.items() if k in LIVE_KINDS}
    skipped = tuple(sorted(k for k in kinds if k not in LIVE_KINDS))
    if not shares and scenario.workload.rate_per_s > 0:
        raise BadInput(f"scenario {scenario.name}: workload.kinds has none the live driver "
                       f"plays; expected some of {', '.join(sorted(LIVE_KINDS))}")
    base = min(scenario.workload.rate_per_s, MAX_BASE_RATE_PER_S)
    return LivePlan(scenario, speed, schedule, _phases(schedule, base), shares, skipped)


def _phases(schedule: Schedule, base_per_s: float) -> tuple[LoadPhase, ...]:
    """Constant-rate stretches between the peak-load windows' edges."""
    edges = sorted({0.0, schedule.horizon_s, *(
        t for w in schedule.windows if isinstance(w.fault, PeakLoad)
        for t in (w.start_s, w.end_s))})
    phases = []
    for start, end in itertools.pairwise(edges):
        factor = 1.0
        for w in schedule.active_at(start):
            if isinstance(w.fault, PeakLoad):
                factor *= w.fault.rate_multiplier
        phases.append(LoadPhase(end - start, base_per_s * factor))
    return tuple(phases)
