"""The whole scenario file, and the checks that span its sections.

Each check across sections (a fault names a switch of the topology, an invariant an
upstream...) is a function of the sections it reads, listed in `CHECKS`; `cross_problems`
runs those whose sections are valid, so a file with a bad section still hears about the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import jdatetime
from pydantic import AfterValidator, BaseModel, Field, model_validator

from faults.catalog import FAULT_TYPES, PeakLoad, RefreshStorm
from scenario.schema.fields import STRICT, PositiveDuration, check_name, check_start, parse_start
from scenario.schema.policy import Policies
from scenario.schema.problems import Problem, invalid, nonfinite
from scenario.schema.timeline import MAX_FAILURES, POPULATIONS, Attack, Stochastic, TimedFault
from scenario.schema.topology import Server, Topology, topology_names
from scenario.schema.workload import Workload

MAX_STEPS = 200_000  # calendar steps per run (a year at 3-minute steps)


class Scenario(BaseModel):
    """A whole scenario file."""

    model_config = STRICT

    name: Annotated[str, AfterValidator(check_name)]
    """the run directory's name (default: the file's name without .toml)"""
    description: Annotated[str, Field(min_length=1)]
    """one line: what the scenario shows (`chaoslab scenarios` lists it)"""
    start: Annotated[str, AfterValidator(check_start)] = "1403-01-15T00:00"
    """when the run starts on the Solar Hijri calendar, "YYYY-MM-DDTHH:MM" (Tehran time)"""
    duration: PositiveDuration
    """how long the run lasts"""
    topology: Topology = Topology()
    """switches, racks, replicas, upstreams: the lab's by default"""
    workload: Workload
    """request kinds, their rates and the users' habits"""
    faults: list[TimedFault] = []
    """the fault timeline, as [[faults]] tables"""
    attack: Attack | None = None
    """a credential-stuffing attack (default: none)"""
    stochastic: Stochastic = Stochastic()
    """failures drawn from MTBF/MTTR, power cuts, deploys"""
    server: Server = Server()
    """what replicas do with work whose client has gone"""
    policies: Policies = Policies()
    """the policy set: a preset plus overrides"""
    invariants: dict[str, dict[str, Any]] = {}
    """the invariants to check, by name, each with its thresholds (below)"""
    live_scale: Annotated[int, Field(ge=1)] = 1
    """the live lab plays this file at 1:K (`lab run`, `twin`: rates, workers, accounts
    divided by K, `Scenario.scaled`); the simulator at 1:1 unless told (`sim --scale`)"""
    # calendar seconds per run second: 1 in a file (which may not set it), K once compressed
    time_scale: Annotated[float, Field(gt=0)] = 1.0
    """calendar seconds per run second: set by --speed, never in a file"""

    def compressed(self, speed: float) -> Scenario:
        """This scenario with its scenario time compressed `speed`-fold (`--speed K`).

        Run-level times are divided by `speed`: the duration, every fault's start and
        duration, the attack's start and duration, the stochastic MTBF, MTTR and power-cut
        length, and the calendar step; `time_scale` is multiplied by it, so run second t reads
        the calendar at scenario second t * time_scale. Rates stay per second (one request
        stands for `speed` scenario requests), the population (distinct accounts) is divided
        by `speed`, rounded up, so that each account makes as many requests in the compressed
        run as in the scenario; request-level times (service times,
        latencies, patience, refresh delays) stay real. Compressing twice composes; speed 1
        returns this scenario.
        """
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed {speed!r}: expected a finite number greater than 0")
        if speed == 1:
            return self
        k = speed
        faults = [f.model_copy(update={"start": f.start / k, "duration": f.duration / k})
                  for f in self.faults]
        attack = None if self.attack is None else self.attack.model_copy(
            update={"start": self.attack.start / k, "duration": self.attack.duration / k})
        given = self.stochastic
        stochastic = given.model_copy(update={
            "mtbf": {n: v / k for n, v in given.mtbf.items()},
            "mttr": {n: v / k for n, v in given.mttr.items()},
            "power_cut": given.power_cut / k})
        # one request stands for k: the accounts shrink with it, so each account makes as
        # many requests in the compressed run as in the scenario (cache hits keep their rate)
        workload = self.workload.model_copy(update={
            "step": self.workload.step / k,
            "population": max(1, math.ceil(self.workload.population / k))})
        return self.model_copy(update={
            "duration": self.duration / k, "faults": faults, "attack": attack,
            "stochastic": stochastic, "workload": workload, "time_scale": self.time_scale * k})

    def live(self, speed: float) -> Scenario:
        """What the live lab plays of this scenario at `--speed speed`: the scenario at
        1:`live_scale` (`scaled`), compressed `speed`-fold (`compressed`). `lab run` plays it
        and `twin` simulates it, so both runners run this one experiment; its `live_scale`
        is 1 (it is already played at that scale)."""
        played = self.scaled(self.live_scale).compressed(speed)
        return played.model_copy(update={"live_scale": 1})

    def scaled(self, k: int) -> Scenario:
        """This scenario at 1:k: one simulated request stands for k real ones.

        Divided by k, so that each of them asks as often as at 1:1: the arrival rate, the
        attack's rate and its sources, the distinct accounts, the clinics and pharmacies
        (each rounded down, at least 1). Divided by k, so that the portal is as loaded and a
        queue as long in service times: every replica's workers and accept queue (rounded
        down, at least 1; a queue of 0, a loss system, stays 0). The invariants' absolute
        thresholds follow: `goodput_near_capacity`'s `capacity_per_s` divided,
        `deploy_no_failures`'s `max_failed` divided and rounded up. Kept: every time, every
        fault (their fields are relative: multipliers, speeds, latencies), and the policies
        (their absolute limits, a bulkhead's or admission's, are the lab's; k cannot reach
        them).

        Not the same experiment: at the same utilisation k-fold fewer workers queue more
        (M/M/c's economies of scale; scenarios/README.md, "Scale"), so a search at 1:k
        (`chaoslab explore --scale`, `tune --scale`) confirms what it finds at 1:1.
        """
        if k < 1:
            raise ValueError(f"scale {k!r}: expected an integer 1 or more")
        if k == 1:
            return self

        def fewer(n: int) -> int:
            return max(1, n // k)

        topo = self.topology
        replicas = [r.model_copy(update={
            "workers": fewer(r.workers), "max_queue": fewer(r.max_queue) if r.max_queue else 0})
            for r in topo.replicas]
        workload = self.workload.model_copy(update={
            "rate_per_s": self.workload.rate_per_s / k,
            "population": fewer(self.workload.population)})
        attack = None if self.attack is None else self.attack.model_copy(update={
            "rate_per_s": self.attack.rate_per_s / k, "sources": fewer(self.attack.sources)})
        invariants = {name: _scaled_params(name, params, k)
                      for name, params in self.invariants.items()}
        return self.model_copy(update={
            "topology": topo.model_copy(update={
                "replicas": replicas, "clinics": fewer(topo.clinics),
                "pharmacies": fewer(topo.pharmacies)}),
            "workload": workload, "attack": attack, "invariants": invariants})

    @model_validator(mode="after")
    def _check_across_sections(self) -> Scenario:
        found = cross_problems({name: getattr(self, name) for name in type(self).model_fields})
        if found:
            raise invalid(*found)
        return self


def _scaled_params(name: str, params: dict[str, Any], k: int) -> dict[str, Any]:
    """An invariant's thresholds at 1:k (see `Scenario.scaled`): a rate divided, a count of
    user operations divided and rounded up; the rest (shares, latencies, per-breaker counts,
    counts of intervals) kept."""
    out = dict(params)
    if name == "goodput_near_capacity" and isinstance(out.get("capacity_per_s"), int | float):
        out["capacity_per_s"] = out["capacity_per_s"] / k
    if name == "deploy_no_failures" and isinstance(out.get("max_failed"), int):
        out["max_failed"] = math.ceil(out["max_failed"] / k)
    return out


def _ends_on_calendar(start: str, duration: float, time_scale: float) -> list[Problem]:
    """The start plus the duration stays on the calendar."""
    try:
        parse_start(start) + jdatetime.timedelta(seconds=duration * time_scale)
    except (ValueError, OverflowError):
        return [Problem("start", "a start whose run ends on the calendar", repr(start))]
    return []


def _steps(duration: float, workload: Workload) -> list[Problem]:
    """A bounded number of calendar steps."""
    step = workload.step
    if duration / step > MAX_STEPS:
        return [Problem("workload.step", f"a step of at least {duration / MAX_STEPS:g} s "
                        f"(at most {MAX_STEPS} calendar steps in the duration)", f"{step:g} s")]
    return []


def _faults(topology: Topology, faults: list[TimedFault]) -> list[Problem]:
    """Each fault is one of the catalog's and targets a name of the topology."""
    found: list[Problem] = []
    for i, timed in enumerate(faults):
        found += _fault(topology, timed, f"faults[{i}]")
    return found


def _fault(topology: Topology, timed: TimedFault, key: str) -> list[Problem]:
    bad = nonfinite(timed.model_extra or {}, key)
    if bad:
        return bad
    try:
        fault = timed.fault(key)
    except ValueError as exc:
        said = str(exc)
        if said.startswith(f"{key}: "):  # the fault catalog's own sentence
            return [Problem(key, said=said.removeprefix(f"{key}: "))]
        return [Problem(key, said)]
    if isinstance(fault, PeakLoad | RefreshStorm) and fault.population not in POPULATIONS:
        return [Problem(f"{key}.population", f"one of {list(POPULATIONS)}",
                        repr(fault.population))]
    target = getattr(fault, "link", None) or getattr(fault, "switch", None) or \
        getattr(fault, "rack", None) or getattr(fault, "service", None) or \
        getattr(fault, "replica", None)
    for attr, names in topology_names(topology).items():
        if getattr(fault, attr, None) is not None and target not in names:
            return [Problem(f"{key}.{attr}", f"one of {sorted(names)}",
                            f"{target!r}{_why(topology, attr)}")]
    return []


def _why(topology: Topology, attr: str) -> str:
    """Why no link reaches an upstream, when that is the reason a link is unknown."""
    if attr == "link" and not topology.upstreams:
        return " (no portal-upstream links: [topology.upstreams] is empty)"
    return ""


def _mtbf(topology: Topology, stochastic: Stochastic, duration: float) -> list[Problem]:
    """Stochastic failures strike components of the topology, a bounded number of times."""
    found: list[Problem] = []
    components = {*topology.switches, *topology.racks, *topology.upstreams,
                  *(r.name for r in topology.replicas)}
    least = duration / MAX_FAILURES
    for name, mtbf in stochastic.mtbf.items():
        if name not in components:
            found.append(Problem(f"stochastic.mtbf.{name}", f"a switch, rack, upstream or "
                                 f"replica: one of {sorted(components)}"))
        elif mtbf + stochastic.mttr.get(name, least) < least:
            found.append(Problem(f"stochastic.mtbf.{name}", f"mtbf + mttr of at least "
                                 f"{least:g} s (at most {MAX_FAILURES} failures in the run's "
                                 f"duration)"))
    return found


def _attack(attack: Attack | None, workload: Workload) -> list[Problem]:
    """An attack needs logins to attack."""
    if attack is not None and "login" not in workload.kinds:
        return [Problem("attack", "a workload with a login kind to attack")]
    return []


def _kind_upstreams(topology: Topology, workload: Workload) -> list[Problem]:
    """Request kinds call upstreams the topology has."""
    return [Problem(f"workload.kinds.{name}.upstreams", "names declared in "
                    "[topology.upstreams]", repr(up))
            for name, kind in workload.kinds.items() for up in kind.upstreams
            if up not in topology.upstreams]


def _invariants(topology: Topology, invariants: dict[str, dict[str, Any]]) -> list[Problem]:
    """Invariant thresholds that name an upstream or fault kinds name known ones: an
    unknown name would make the verdict "unknown", which passes `--check`."""
    ups = sorted(topology.upstreams)
    kinds = sorted(FAULT_TYPES)
    found: list[Problem] = []
    for name, params in invariants.items():
        bad = nonfinite(params, f"invariants.{name}")
        if bad:
            found += bad
            continue
        up = params.get("upstream")
        if isinstance(up, str) and up not in ups:
            found.append(Problem(f"invariants.{name}.upstream", f"an upstream declared in "
                                 f"[topology.upstreams], one of {ups}", repr(up)))
        fault_kinds = params.get("fault_kinds")
        if isinstance(fault_kinds, list):
            found += [Problem(f"invariants.{name}.fault_kinds", f"fault kinds among {kinds}",
                              repr(kind))
                      for kind in fault_kinds if isinstance(kind, str) and kind not in kinds]
    return found


Check = Callable[..., list[Problem]]
# each check with the sections it reads, in the order their problems are told
CHECKS: tuple[tuple[Check, tuple[str, ...]], ...] = (
    (_ends_on_calendar, ("start", "duration", "time_scale")),
    (_steps, ("duration", "workload")),
    (_faults, ("topology", "faults")),
    (_mtbf, ("topology", "stochastic", "duration")),
    (_attack, ("attack", "workload")),
    (_kind_upstreams, ("topology", "workload")),
    (_invariants, ("topology", "invariants")),
)


def cross_problems(sections: Mapping[str, Any]) -> list[Problem]:
    """Every problem across sections, from the checks whose sections are all in `sections`
    (the valid ones)."""
    return [p for check, needs in CHECKS if all(n in sections for n in needs)
            for p in check(*(sections[n] for n in needs))]
