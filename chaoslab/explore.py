"""`chaoslab explore SCENARIO`: search fault schedules that break a policy set, in the simulator.

The scenario gives the world (topology, workload, invariants); its scripted faults are set
aside. For each invariant, Hypothesis's engine searches schedules of up to K overlapping
catalog faults (kind, target, start, duration, severity) and load surges for one under which
the invariant is false, then shrinks it: fewest faults first (an empty schedule when the load
alone breaks it), then the first kind of `KINDS` (the mildest), shortest, least severe. The
search is guided, not only random: every simulated history reports what the policies did —
the share of operations failed and shed, the p99, breaker opens, upstream amplification — as
`hypothesis.target` observations, and Hypothesis climbs them.

The load alone comes first, once for every invariant: the empty schedule on the confirming
seeds. An invariant it breaks on a majority of them is a finding without a search (its minimal
schedule is no fault at all), and the other searches start with those runs in their memo.

With `scale` k > 1 every run of the search is the scenario at 1:k (`Scenario.scaled`: about
k times fewer requests, so k times faster), and each minimal schedule found is then replayed
at 1:1 on the confirming seeds: the finding says on how many it fails there, and only a
majority there counts as broken, since 1:k is not the same experiment (fewer workers queue
more). An invariant the load alone breaks at 1:k but not at 1:1 cannot be searched at that
k: explore says so.

A schedule counts as failing only when it fails on a majority of `confirm` seeds (so noise of
one seed is not a finding). Each finding is written as a scenario file that `sim`, `lab run`
and `twin` replay, and ranked by how robustly (seeds failing) and how badly (operations lost)
it fails. Searches of different invariants are independent processes (or Dask tasks), each
derandomised from the seed, so the same seed and budget give the same findings on any executor.

Why Hypothesis: its engine already does targeted search and, above all, shrinking of
structured examples, which is the hard part of "minimal schedule"; the project uses it for
its properties. Hand-written here: only the schedule space and the scoring.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import random
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import tomli_w
from hypothesis import HealthCheck, Phase, find, settings, target
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from chaoslab.liveview import Tally, View, make_view, showing
from policies.presets import DEFAULT_PRESET
from scenario.errors import BadInput
from scenario.schema import Scenario, find_scenario, load_scenario
from scenario.summary import Summary
from scenario.verdict import Verdict
from sim.interpreter import search_python
from sim.policyset import policy_set
from sim.runner import Task, dask_map, summary_of

# The kinds explored, mildest first (Hypothesis shrinks toward the first). A raw toxic is
# left out: the named kinds already cover what the toxics do to the portal.
KINDS = ("slow_upstream", "degraded_replica", "peak_load", "refresh_storm", "upstream_outage",
         "network_loss", "replica_failure", "switch_failure", "power_loss", "deployment_window")
UNITS_PER_RUN = 60  # start and duration are drawn in 1/60 of the scenario's duration
MAX_UNITS = 30  # a fault lasts at most half the scenario


@dataclass(frozen=True, slots=True)
class Options:
    """One exploration: the policies, the budget of simulated runs per invariant, at most K
    faults at once, the seeds a failure must hold on (a majority), the search's seed, and the
    scale the search runs at."""

    policies: str = DEFAULT_PRESET
    budget: int = 60
    max_faults: int = 2
    confirm: int = 3
    seed: int = 1
    scale: int = 1  # search at 1:scale, confirm the findings at 1:1 (`Scenario.scaled`)
    python: tuple[str, ...] = ()  # the interpreter runs are simulated in (`sim.interpreter`);
    # () this one. A local process's runs go to one resident worker of it (`summary_of`).

    @property
    def confirming_seeds(self) -> list[int]:
        """The seeds a failure must hold on (a majority of them)."""
        return [self.seed + i for i in range(self.confirm)]


@dataclass(frozen=True, slots=True)
class Finding:
    """A minimal schedule under which `invariant` is false on `failing` of `seeds` seeds."""

    invariant: str
    faults: list[dict[str, Any]]  # scenario records: kind, fields, start, duration (text)
    failing: int
    seeds: int
    lost_share: float  # operations failed or shed, mean over the confirming seeds
    detail: str  # the checker's own words on the first failing seed
    runs: int  # simulated runs this search spent
    file: str = ""  # the replayable scenario, once written
    live: str = ""  # "fails the same way" / "holds live" / "" (not confirmed live)
    full_failing: int | None = None  # searched at 1:k: seeds failing at 1:1 (of `seeds`)

    @property
    def full_scale(self) -> str:
        """The replay at 1:1 in words ("" when searched at 1:1)."""
        if self.full_failing is None:
            return ""
        return f"{self.full_failing}/{self.seeds} seeds fail at 1:1"

    @property
    def failing_at_1_1(self) -> int:
        """Seeds failing where it counts: at 1:1 (replayed there when searched at 1:k)."""
        return self.failing if self.full_failing is None else self.full_failing

    @property
    def broken(self) -> bool:
        """Whether it breaks the invariant on a majority of the seeds at 1:1."""
        return self.failing_at_1_1 * 2 > self.seeds

    @property
    def rank_key(self) -> tuple[float, float, float, int]:
        return (-self.failing_at_1_1 / self.seeds, -self.failing / self.seeds,
                -self.lost_share, len(self.faults))


@dataclass(slots=True)
class Outcome:
    """What one invariant's search found: a finding, or how many runs found none."""

    invariant: str
    finding: Finding | None
    runs: int
    note: str = ""


# -- the space --------------------------------------------------------------------------

def targets(scenario: Scenario) -> dict[str, list[str]]:
    """Every target each kind can take in this scenario's topology."""
    topo = scenario.topology
    replicas = [r.name for r in topo.replicas]
    upstream_links = sorted(f"{r}-{u}" for r in replicas for u in topo.upstreams)
    return {
        "slow_upstream": upstream_links, "upstream_outage": upstream_links,
        "network_loss": [f"client-{r}" for r in replicas],
        "degraded_replica": replicas, "replica_failure": replicas,
        "switch_failure": list(topo.switches), "power_loss": list(topo.racks),
        "deployment_window": ["portal"],
        "peak_load": ["all", "citizens", "employers", "clinics", "pharmacies"],
        "refresh_storm": ["all"],
    }


def _fields(kind: str, target: str) -> st.SearchStrategy[dict[str, Any]]:
    """The fault's own fields, least severe first wherever Hypothesis shrinks."""
    one = st.just
    match kind:
        case "slow_upstream":
            return st.builds(lambda ms: {"link": target, "latency_ms": ms},
                             st.sampled_from([1000, 2000, 3000, 5000, 10000, 20000, 30000]))
        case "upstream_outage":
            return st.builds(lambda mode: {"link": target, "mode": mode},
                             st.sampled_from(["http_503", "disabled", "reset_peer"]))
        case "network_loss":
            return one({"link": target, "mode": "blackhole"})
        case "degraded_replica":
            return st.builds(lambda s: {"replica": target, "speed": s},
                             st.sampled_from([0.8, 0.6, 0.5, 0.4, 0.25, 0.1]))
        case "replica_failure":
            return st.builds(lambda w: {"replica": target, "work": w},
                             st.sampled_from(["resume", "restart", "drop"]))
        case "switch_failure":
            return one({"switch": target})
        case "power_loss":
            return one({"rack": target})
        case "deployment_window":
            return st.builds(lambda rolling: {"service": target, "rolling": rolling},
                             st.booleans().map(lambda b: not b))  # rolling first
        case "peak_load":
            return st.builds(lambda x: {"population": target, "rate_multiplier": x},
                             st.sampled_from([1.5, 2.0, 3.0, 4.0, 6.0]))
        case "refresh_storm":
            return st.builds(lambda n: {"max_retries": n, "retry_delay_s": 0.0},
                             st.integers(1, 8))
    raise AssertionError(f"explore: no space for fault kind {kind!r}")


def schedules(scenario: Scenario, max_faults: int,
              kinds: Sequence[str] = KINDS) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Schedules of at most `max_faults` faults, as scenario records."""
    unit = scenario.duration / UNITS_PER_RUN
    space = targets(scenario)

    def timed(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        names = space[kind]
        if not names:
            return st.nothing()
        return st.sampled_from(names).flatmap(lambda t: st.builds(
            lambda fields, start, length: {"kind": kind, **fields,
                                           "start": _seconds(start * unit),
                                           # every fault heals before the run ends
                                           "duration": _seconds(
                                               min(length, UNITS_PER_RUN - start) * unit)},
            _fields(kind, t), st.integers(0, UNITS_PER_RUN - 1), st.integers(1, MAX_UNITS)))

    one = st.one_of([timed(k) for k in kinds if space.get(k)])
    return st.lists(one, max_size=max_faults).map(_apart)


def _seconds(s: float) -> str:
    """Seconds as a scenario file writes them: "3420s", "0.5s", never "1.0512e+06s" (a
    year's schedules), which the file's duration syntax refuses."""
    return f"{round(s, 3):.3f}".rstrip("0").rstrip(".") + "s"


def _start(record: dict[str, Any]) -> float:
    return float(str(record["start"]).removesuffix("s"))


def _end(record: dict[str, Any]) -> float:
    return _start(record) + float(str(record["duration"]).removesuffix("s"))


def _apart(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The schedule with faults on one target never overlapping (the timeline's rule): a
    later fault on a busy target is dropped."""
    kept: list[dict[str, Any]] = []
    for f in sorted(faults, key=_start):
        key = _target_key(f)
        if all(_target_key(k) != key or _end(k) <= _start(f) for k in kept):
            kept.append(f)
    return kept


def _target_key(record: dict[str, Any]) -> str:
    for attr in ("link", "switch", "rack", "service", "replica"):
        if attr in record:
            return f"{attr}:{record[attr]}"
    if record["kind"] == "peak_load":
        return f"load:{record['population']}"
    return "retries:all"


Base = dict[str, Any]  # a scenario file as parsed TOML, without its faults
T = TypeVar("T")


def with_faults(base: Base, faults: list[dict[str, Any]], scale: int = 1) -> Scenario:
    """The scenario of `base` with `faults` as its whole timeline, validated as a file is, at
    1:`scale`."""
    return Scenario.model_validate({**base, "faults": faults}).scaled(scale)


def _key(faults: list[dict[str, Any]], seed: int) -> str:
    """A run's memo key: its schedule and seed."""
    return json.dumps([faults, seed], sort_keys=True)


Memo = dict[str, Summary]  # a run's key -> its summary (runs made before a search)


def read(name_or_path: str, directory: Path) -> tuple[Scenario, Base]:
    """The scenario and its file as written, faults included (the world tune keeps)."""
    path = find_scenario(name_or_path, directory)
    scenario = load_scenario(path)  # bad input: one sentence, exit 2
    with open(path, "rb") as fh:
        base = tomllib.load(fh)
    base["name"] = scenario.name  # a file may leave it to its own name
    return scenario, base


def load(name_or_path: str, directory: Path) -> tuple[Scenario, Base]:
    """The scenario and its file without faults (the world explore keeps)."""
    scenario, base = read(name_or_path, directory)
    base.pop("faults", None)
    return scenario, base


# -- one search ---------------------------------------------------------------------------

@dataclass(slots=True)
class _Search:
    """One invariant's search: its evaluations (memoised) and its budget."""

    base: Base
    invariant: str
    options: Options
    runs: int = 0
    seen: dict[str, tuple[bool, Summary]] = field(default_factory=dict)  # + the verdict
    best: tuple[tuple[int, float, float], list[dict[str, Any]]] | None = None
    guiding: bool = True  # inside Hypothesis's engine: report targets

    def run_one(self, faults: list[dict[str, Any]], seed: int) -> Summary:
        key = _key(faults, seed)
        if key not in self.seen:
            # the budget buys the search; a failure found buys its shrinking as much again
            if self.runs >= self.options.budget * (1 if self.best is None else 2):
                raise _BudgetSpent
            self.runs += 1
            summary = _simulate(self.base, faults, self.options, seed, self.options.scale)
            self.seen[key] = (_false(summary, self.invariant), summary)
        return self.seen[key][1]

    def fails(self, faults: list[dict[str, Any]]) -> bool:
        """Whether the invariant is false on a majority of the confirming seeds; reports what
        the policies did on the first seed as Hypothesis targets."""
        first = self.run_one(faults, self.options.seed)
        if self.guiding:
            for label, value in guidance(first).items():
                target(value, label=label)
        if not _false(first, self.invariant):
            return False
        need = self.options.confirm // 2 + 1
        failing = 1
        for i in range(1, self.options.confirm):
            failing += _false(self.run_one(faults, self.options.seed + i), self.invariant)
            if failing >= need or failing + self.options.confirm - 1 - i < need:
                break
        if failing < need:
            return False
        size = (len(faults), sum(_end(f) - _start(f) for f in faults), _severity(faults))
        if self.best is None or size < self.best[0]:
            self.best = (size, faults)
        return True

    def finding(self, faults: list[dict[str, Any]]) -> Finding:
        seeds = self.options.confirming_seeds
        summaries = []
        for s in seeds:
            key = _key(faults, s)
            if key in self.seen:
                summaries.append(self.seen[key][1])
            else:  # the confirmation of the minimal schedule on every seed, beyond the budget
                summaries.append(_simulate(self.base, faults, self.options, s,
                                           self.options.scale))
                self.runs += 1
        return _finding(self.invariant, faults, summaries, self.runs)


def _simulate(base: Base, faults: list[dict[str, Any]], options: Options, seed: int,
              scale: int) -> Summary:
    """One simulated run of `base` under `faults` at 1:`scale`, under `options`' policies, in
    its interpreter: its summary."""
    return summary_of(Task(with_faults(base, faults, scale), options.policies, seed),
                      options.python)


def _finding(invariant: str, faults: list[dict[str, Any]], summaries: Sequence[Summary],
             runs: int) -> Finding:
    """`faults` as a finding of `invariant`, judged on the confirming seeds' summaries."""
    failing = [x for x in summaries if _false(x, invariant)]
    detail = next((v.detail for v in failing[0].verdicts if v.name == invariant),
                  "") if failing else ""
    return Finding(invariant, faults, len(failing), len(summaries),
                   sum(_lost(x) for x in summaries) / len(summaries), detail, runs)


class _BudgetSpent(Exception):
    """The search's budget of simulated runs is spent."""


def _false(summary: Summary, invariant: str) -> bool:
    return any(v.name == invariant and v.valid is False for v in summary.verdicts)


def _severity(faults: list[dict[str, Any]]) -> float:
    """A tie-break toward milder faults: later kinds of KINDS and stronger fields weigh more."""
    total = 0.0
    for f in faults:
        total += KINDS.index(f["kind"]) if f["kind"] in KINDS else len(KINDS)
        total += f.get("latency_ms", 0) / 30000 + (1 - f.get("speed", 1.0))
        total += f.get("rate_multiplier", 1.0) / 6 + f.get("max_retries", 0) / 8
    return total


def _lost(summary: Summary) -> float:
    counts = [c for c in summary.by_kind.values()]
    total = sum(sum(c.values()) for c in counts)
    lost = sum(c.get("failed", 0) + c.get("shed", 0) for c in counts)
    return lost / total if total else 0.0


def guidance(summary: Summary) -> dict[str, float]:
    """What the policies did, as quantities to climb: operations failed and shed (overall and
    by request kind: which class admission sheds), the p99 of the successful ones, breaker
    opens, the worst upstream amplification (retries and budgets at work)."""
    counts = list(summary.by_kind.values())
    total = sum(sum(c.values()) for c in counts) or 1
    lat = sorted(summary.latencies_s)
    p99 = lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)] if lat else 0.0
    amps = [u.amplification for u in summary.upstreams.values() if u.amplification is not None]
    shed_by_kind = {f"shed:{kind}": c.get("shed", 0) / max(1, sum(c.values()))
                    for kind, c in sorted(summary.by_kind.items())}  # shedding by class
    return {
        "failed": sum(c.get("failed", 0) for c in counts) / total,
        "shed": sum(c.get("shed", 0) for c in counts) / total,
        "p99_s": p99,
        "breaker_opens": float(sum(u.breaker_opens for u in summary.upstreams.values())),
        "amplification": max(amps, default=1.0),
        **shed_by_kind,
    }


def search(base: Base, invariant: str, options: Options, memo: Memo | None = None) -> Outcome:
    """Search, shrink and confirm a failing schedule of `invariant`; `memo` holds runs made
    already (the load alone's), which cost the search nothing."""
    scenario = with_faults(base, [])
    s = _Search(base, invariant, options)
    for key, summary in (memo or {}).items():
        s.seen[key] = (_false(summary, invariant), summary)
    conf = settings(max_examples=max(1, options.budget), database=None, deadline=None,
                    phases=[Phase.generate, Phase.target, Phase.shrink],
                    suppress_health_check=list(HealthCheck))
    faults: list[dict[str, Any]] | None
    try:
        faults = find(schedules(scenario, options.max_faults), s.fails, settings=conf,
                      random=random.Random(f"{options.seed}:{invariant}"))
    except (NoSuchExample, Unsatisfiable):
        faults = None
    except _BudgetSpent:
        faults = None if s.best is None else s.best[1]  # the smallest failure seen so far
    if faults is None:
        return Outcome(invariant, None, s.runs,
                       f"no schedule found in {s.runs} simulated runs")
    return Outcome(invariant, s.finding(_fewest(s, faults)), s.runs)


def _fewest(s: _Search, faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop every fault the failure does not need, one at a time (Hypothesis's shrinker may
    have run out of budget before trying): the schedule is then 1-minimal in its faults."""
    s.guiding = False
    s.options = Options(**{**asdict(s.options), "budget": 10**9})  # the last pass is bounded
    i = 0
    while i < len(faults):
        fewer = faults[:i] + faults[i + 1:]
        if s.fails(fewer):
            faults = fewer
        else:
            i += 1
    return faults


# -- the command --------------------------------------------------------------------------

def explore(base: Base, options: Options, workers: int = 1, executor: str = "local",
            invariants: Sequence[str] | None = None, *,
            view: View | None = None) -> list[Outcome]:
    """Every invariant's search (`invariants`, default all of the scenario's), in order: the
    load alone first, once for all of them (an invariant it breaks needs no search), then a
    search per invariant it left standing; at 1:`options.scale` > 1, each finding replayed
    at 1:1 (`Finding.full_scale`). `view`, when given, shows each step as it ends."""
    scenario = with_faults(base, [])
    names = list(invariants or scenario.invariants)
    unknown = sorted(set(names) - set(scenario.invariants))
    if unknown:
        raise BadInput(f"--invariant {unknown[0]}: not an invariant of scenario "
                       f"{scenario.name}; expected one of {sorted(scenario.invariants)}")
    shown = _Shown(view, names)
    seeds = options.confirming_seeds
    shown.step("the load alone", len(seeds))
    alone = _map(_run_job, [(base, [], options, s, options.scale) for s in seeds],
                 workers, executor, lambda i, _: shown.done(f"the load alone, seed {seeds[i]}"))
    memo: Memo = {_key([], s): summary for s, summary in zip(seeds, alone, strict=True)}
    found = {n: _finding(n, [], alone, 0) for n in names}  # the pre-pass is no search's
    broken = {n for n, f in found.items() if f.broken}
    for n in broken:
        shown.outcome(Outcome(n, found[n], 0, "the load alone breaks it"))
    jobs = [(base, n, options, memo) for n in names if n not in broken]
    shown.step("searches (one per invariant)", len(jobs))
    searched = iter(_map(_search_job, jobs, workers, executor,
                         lambda _, o: shown.outcome(o, done=True)))
    outcomes = [Outcome(n, found[n], 0, "the load alone breaks it") if n in broken
                else next(searched) for n in names]
    if options.scale > 1:
        outcomes = at_full_scale(base, outcomes, options, workers, executor, shown=shown)
        outcomes = [replace(o, note=f"the load alone breaks it at 1:{options.scale} only: "
                                    "search at a smaller --scale")
                    if o.finding is not None and not o.finding.faults and not o.finding.broken
                    else o for o in outcomes]
    return outcomes


def at_full_scale(base: Base, outcomes: list[Outcome], options: Options, workers: int,
                  executor: str, *, shown: _Shown | None = None) -> list[Outcome]:
    """Each finding's schedule replayed at 1:1 on the confirming seeds (all runs at once; a
    schedule several findings share, such as the load alone, once)."""
    seeds = options.confirming_seeds
    kept = [o.finding for o in outcomes if o.finding is not None]
    runs: dict[str, _Run] = {}
    for f in kept:
        for s in seeds:
            runs.setdefault(_key(f.faults, s), (base, f.faults, options, s, 1))
    shown = shown or _Shown(None, [])
    shown.step("replays at 1:1", len(runs))
    summary = dict(zip(runs, _map(_run_job, list(runs.values()), workers, executor,
                                  lambda i, _: shown.done(f"replay {i + 1} at 1:1")),
                       strict=True))
    full = {f.invariant: sum(_false(summary[_key(f.faults, s)], f.invariant) for s in seeds)
            for f in kept}
    out = [replace(o, finding=replace(o.finding, full_failing=full[o.invariant]))
           if o.finding is not None else o for o in outcomes]
    for o in out:
        shown.outcome(o)
    return out


class _Shown:
    """What a `View` shows of an exploration: the step under way and how far it is, and each
    invariant's state (unknown while searched, false with its schedule, true when it held)."""

    def __init__(self, view: View | None, names: Sequence[str]) -> None:
        self.view = view
        self.state = {n: Verdict(n, "unknown", "not searched yet") for n in names}
        self.what, self.total, self.count = "", 0, 0

    def step(self, what: str, total: int) -> None:
        self.what, self.total, self.count = what, total, 0
        if self.view is not None:
            self.view.phase(f"{what}: {total} to run")
            self._update()

    def done(self, note: str) -> None:
        self.count += 1
        if self.view is not None:
            self.view.phase(f"{note} done")
            self._update()

    def outcome(self, o: Outcome, *, done: bool = False) -> None:
        f = o.finding
        if f is None:
            verdict = Verdict(o.invariant, True, f"held: {o.note}")
        else:
            full = f"; {f.full_scale}" if f.full_scale else ""
            verdict = Verdict(o.invariant, False if f.broken else "unknown",
                              f"{describe(f.faults)} ({f.failing}/{f.seeds} seeds{full})")
        self.state[o.invariant] = verdict
        if done:
            self.count += 1
        if self.view is not None:
            if done:
                self.view.phase(f"{o.invariant}: {verdict.detail}")
            self._update()

    def _update(self) -> None:
        assert self.view is not None
        self.view.update(None, Tally(), list(self.state.values()),
                         progress=f"{self.what}: {self.count} of {self.total} done")


def _search_job(job: tuple[Base, str, Options, Memo]) -> Outcome:
    return search(*job)


_Run = tuple[Base, list[dict[str, Any]], Options, int, int]  # _simulate's arguments


def _run_job(job: _Run) -> Summary:
    return _simulate(*job)


def _map(fn: Callable[[Any], T], jobs: list[Any], workers: int, executor: str,
         on_done: Callable[[int, T], None] | None = None) -> list[T]:
    """`fn` over `jobs` in job order, here, on local processes or on a Dask cluster;
    `on_done(i, result)` as each job finishes (in the order they finish)."""
    tell = on_done or (lambda _i, _r: None)
    if executor.startswith("dask://"):
        return dask_map(fn, jobs, address=executor.removeprefix("dask://"), on_done=tell)
    if workers <= 1 or len(jobs) <= 1:
        out = []
        for i, job in enumerate(jobs):
            out.append(fn(job))
            tell(i, out[-1])
        return out
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
        done: dict[int, T] = {}
        for future in as_completed(futures):
            i = futures[future]
            done[i] = future.result()
            tell(i, done[i])
        return [done[i] for i in range(len(jobs))]


def write_findings(base: Base, outcomes: list[Outcome], out: Path,
                   options: Options) -> list[Finding]:
    """Each finding's scenario file, explore.json and explore.html under `out`; the findings,
    ranked."""
    out.mkdir(parents=True, exist_ok=True)
    findings = sorted((o.finding for o in outcomes if o.finding is not None),
                      key=lambda f: f.rank_key)
    scenario, source = with_faults(base, []), base
    ranked: list[Finding] = []
    for f in findings:
        name = f"{scenario.name}-explore-{f.invariant}"
        data = {**source, "name": name, "faults": f.faults,
                "description": f"chaoslab explore: a minimal schedule under which "
                               f"{f.invariant} fails for {options.policies} "
                               f"({f.failing}/{f.seeds} seeds{_at(options, f)}). "
                               f"{source['description']}"}
        path = out / f"{name}.toml"
        _atomic(path, tomli_w.dumps(data))
        load_scenario(path)  # the file replays: it validates as written
        ranked.append(Finding(**{**asdict(f), "file": str(path)}))
    doc = {"scenario": scenario.name, "options": asdict(options),
           "findings": [asdict(f) for f in ranked],
           "searched": [{"invariant": o.invariant, "runs": o.runs, "found": o.finding is not None,
                         "note": o.note} for o in outcomes]}
    _atomic(out / "explore.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    _atomic(out / "explore.html", render_html(scenario.name, options, ranked, outcomes))
    return ranked


def _at(options: Options, f: Finding) -> str:
    return f" at 1:{options.scale}, {f.full_scale}" if options.scale > 1 else ""


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def describe(faults: list[dict[str, Any]]) -> str:
    """One line: the schedule in words."""
    if not faults:
        return "no fault at all: the load alone"
    parts = []
    for f in faults:
        fields = ", ".join(f"{k}={v}" for k, v in f.items()
                           if k not in {"kind", "start", "duration"})
        parts.append(f"{f['kind']}({fields}) at {f['start']} for {f['duration']}")
    return "; ".join(parts)


def render_html(name: str, options: Options, findings: list[Finding],
                outcomes: list[Outcome]) -> str:
    """One page: the ranked findings, and the invariants no schedule broke."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{i}</td><td>{e(f.invariant)}</td><td>{e(describe(f.faults))}</td>"
        f"<td>{f.failing}/{f.seeds}</td><td>{f.lost_share:.1%}</td><td>{e(f.detail)}</td>"
        f"<td>{e(f.full_scale or '-')}</td>"
        f"<td>{e(f.live or 'not confirmed')}</td><td><code>{e(Path(f.file).name)}</code></td></tr>"
        for i, f in enumerate(findings, 1))
    held = "".join(f"<li>{e(o.invariant)}: {e(o.note)}</li>" for o in outcomes
                   if o.finding is None)
    return (f"<!doctype html><meta charset=utf-8><title>explore {e(name)}</title>"
            "<style>body{font:14px system-ui;margin:2em}td,th{border:1px solid #ccc;"
            "padding:4px 8px;vertical-align:top}table{border-collapse:collapse}</style>"
            f"<h1>chaoslab explore: {e(name)} under {e(options.policies)}</h1>"
            f"<p>budget {options.budget} simulated runs per invariant, at most "
            f"{options.max_faults} faults, a failure must hold on a majority of "
            f"{options.confirm} seeds from seed {options.seed}"
            + (f"; searched at 1:{options.scale}, each finding replayed at 1:1"
               if options.scale > 1 else "") + ".</p>"
            "<table><tr><th>#</th><th>invariant</th><th>minimal schedule</th>"
            "<th>seeds failing</th><th>operations lost</th><th>checker</th><th>at 1:1</th>"
            "<th>live</th>"
            f"<th>scenario file</th></tr>{rows}</table>"
            f"<h2>Held within the budget</h2><ul>{held or '<li>none</li>'}</ul>")



# -- the command line -----------------------------------------------------------------------

def confirm_live(findings: Sequence[Finding], options: Options, out: Path) -> list[Finding]:
    """`findings`, each with its `live` verdict: every distinct schedule replayed once in the
    lab (`replay_live`; the load alone often breaks several invariants) and judged for each
    finding it stands for (`live_verdict`)."""
    replayed: dict[str, tuple[dict[str, Any] | str, list[Summary]]] = {}
    confirmed = []
    for f in findings:
        key = _key(f.faults, 0)
        if key not in replayed:
            replayed[key] = replay_live(f, options, out)
        doc, same = replayed[key]
        confirmed.append(replace(f, live=doc if isinstance(doc, str)
                                 else live_verdict(f, doc, same)))
    return confirmed


def replay_live(finding: Finding, options: Options,
                out: Path) -> tuple[dict[str, Any] | str, list[Summary]]:
    """Replay the finding's scenario file in the lab (`chaoslab lab run`) and simulate the
    experiment the lab played (the file at its live scale and the lab's speed:
    `Scenario.live`) on the confirming seeds: the lab's report and those summaries, or why
    the live run failed."""
    run_dir = out / f"live-{Path(finding.file).stem}"
    cmd = [sys.executable, "-m", "chaoslab", "lab", "run", finding.file, "--policies",
           options.policies, "--out", str(run_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    report = run_dir / "report.json"
    if not report.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"live run failed (exit {proc.returncode}): {last}", []
    doc = json.loads(report.read_text())
    speed = float(doc.get("workload", {}).get("speed", 1))
    played = load_scenario(Path(finding.file)).live(speed)
    return doc, [summary_of(Task(played, options.policies, s), options.python)
                 for s in options.confirming_seeds]


def live_verdict(finding: Finding, doc: dict[str, Any],
                 same: Sequence[Summary] | None = None) -> str:
    """What the lab's report (`doc`) says of `finding`: the same failure, or a hold. A hold is
    weighed against `same`, the simulator's runs of the experiment the lab played (its speed
    and scale): they fail too (the runners disagree), or they hold too (the lab's speed and
    scale hide the failure). Without them, a hold is weighed by its power: too short to tell
    when the simulator's loss rate predicts fewer than LIVE_POWER lost operations in as many
    as the live run made."""
    verdicts = {v["name"]: v["valid"] for v in doc["invariants"]}
    valid = verdicts.get(finding.invariant)
    if valid is False:
        return "fails the same way live"
    if valid is not True:
        return f"live verdict {valid!r}"
    if same:
        workload = doc.get("workload", {})
        played = f"x{workload.get('speed', 1):g} at 1:{workload.get('scale_down', 1)}"
        failing = sum(_false(x, finding.invariant) for x in same)
        if failing * 2 > len(same):
            return (f"holds live, but the simulator fails the lab's own experiment ({played}) "
                    f"on {failing}/{len(same)} seeds: the runners disagree")
        return (f"holds live, as the simulator does on the lab's own experiment ({played}; "
                f"{failing}/{len(same)} seeds fail): the lab's speed and scale hide it, replay "
                "it slower (lab run FILE --speed K)")
    total = int(doc.get("requests", {}).get("total", 0))
    expected = finding.lost_share * total
    if expected < LIVE_POWER:  # P(no loss | Poisson 3) = 5 %: a hold below it says little
        return (f"holds live, but the live run is too short to tell: {total} operations, "
                f"where the simulator's rate ({finding.lost_share:.2%} lost) predicts "
                f"{expected:.1f} lost")
    return "holds live"


LIVE_POWER = 3.0  # lost operations the simulator's rate must predict live for a hold to count


def run(args: argparse.Namespace) -> int:
    """`chaoslab explore`: search, write the findings, print them ranked; exit 1 when an
    invariant was broken (like `sim --check`), 0 when every invariant held."""
    from chaoslab.cli import SCENARIO_DIR  # the CLI's own constant; imported late (no cycle)

    _, base = load(args.scenario, SCENARIO_DIR)
    world = with_faults(base, [], args.scale)
    # the findings' 1:1 replays go to the same interpreter
    python = search_python(args.interpreter, [world], args.executor)
    options = Options(policies=args.policies, budget=args.budget, max_faults=args.max_faults,
                      confirm=args.seeds, seed=args.seed, scale=args.scale, python=python)
    policy_set(args.policies, with_faults(base, []))  # bad policies: exit 2 before any run
    out: Path = args.out or Path("runs") / base["name"] / (
        "explore-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    t0 = time.perf_counter()
    at = f" at 1:{options.scale}" if options.scale > 1 else ""
    view = make_view()
    with showing(view):
        view.begin(f"explore {base['name']} [{args.policies}]{at}: budget {options.budget} "
                   f"runs per invariant, {options.confirm} seeds", tag="explore",
                   run_figures=False)
        try:
            outcomes = explore(base, options, args.workers or os.cpu_count() or 1,
                               args.executor, args.invariant or None, view=view)
        finally:
            view.end()
    findings = write_findings(base, outcomes, out, options)
    if args.confirm == "live":
        findings = confirm_live(findings, options, out)
        findings = write_findings(base, [
            Outcome(o.invariant, next((f for f in findings if f.invariant == o.invariant),
                                      None), o.runs, o.note) for o in outcomes], out, options)
    runs = options.confirm + sum(o.runs for o in outcomes)  # the load alone's, the searches'
    full = ", then each finding replayed at 1:1" if at and findings else ""
    broken = [f for f in findings if f.broken]
    print(f"explore {base['name']} [{args.policies}]: {runs} simulated runs{at}{full} in "
          f"{time.perf_counter() - t0:.1f} s; {len(broken)} of {len(outcomes)} invariants "
          f"broken -> {out}")
    for i, f in enumerate(findings, 1):
        more = "".join(f"; {x}" for x in (f.full_scale, f.live) if x)
        only = "" if f.broken else f" [at 1:{options.scale} only: it holds at 1:1]"
        print(f"  {i}. {f.invariant}{only}: {describe(f.faults)} — fails on "
              f"{f.failing}/{f.seeds} seeds{at}, {f.lost_share:.1%} of operations lost{more}"
              f"\n     {f.file}")
    for o in outcomes:
        if o.finding is None or not o.finding.broken:
            print(f"  held: {o.invariant} ({o.note})")
    return 1 if broken else 0
