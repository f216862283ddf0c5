"""`chaoslab tune SCENARIO...`: search policy values and capacity for a set that passes every
invariant of every scenario across seeds, at the least cost.

Each trial is a policy set (a base set with some keys changed, `--space`) and a capacity
(replicas, workers per replica), simulated on every scenario, as written (its faults and
all), and seed. It is feasible when no
invariant is false on any of those runs; its costs, all minimised, are the capacity (replicas x
workers), the added latency (mean p50 of successful operations, seconds) and the upstream
amplification (calls per operation, the worst upstream). Optuna does the search: TPE with the
constraint (the count of false verdicts, <= 0 feasible), multi-objective, seeded; trials are
asked in fixed-size batches and simulated in parallel (processes or a Dask cluster), so a seed
and a budget give the same trials on any executor. A trial stops at its first false verdict (the
hopeless are pruned: one run instead of all of them). `--storage sqlite:///F.db` resumes.

With `--scale K` every trial runs at 1:K (`Scenario.scaled`: about K times fewer requests, so
about K times faster); capacity stays in real worker threads, as costed (each replica gets
`workers // K` at 1:K, so the resolution there is K threads). The distinct sets that passed
are then replayed at 1:1 on the same seeds, cheapest first, two at a time, until one passes
(at most six: full-scale.json), and only a set that passes there is chosen; the capacity
search likewise says whether its answer holds at 1:1. 1:K is not the same experiment (fewer
workers queue more, and the policies' absolute limits are not scaled), which is why nothing
is chosen on its word alone.

Out: tune.json (every trial), pareto.html (Optuna's interactive Pareto-front plot, Plotly), the
chosen set as `chosen-policies.json` (what `--policies FILE` takes) and its capacity. When no
trial is feasible, tune says so and searches the capacity alone, with the base policies, for
the least that passes ("how many replicas does Esfand's last evening need").
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna

from chaoslab.explore import Base, read
from policies.errors import PolicyConfigError
from policies.presets import DEFAULT_PRESET, PolicySet, with_overrides
from policies.resolve import dump_policies, resolve_policies
from scenario.errors import BadInput
from scenario.schema import Scenario
from scenario.summary import Summary
from sim.interpreter import search_python
from sim.runner import Task, summary_of

DEFAULT_SPACE = Path(__file__).with_name("tune_space.toml")
BATCH = 4  # trials asked at once: fixed, so results do not depend on the worker count


@dataclass(frozen=True, slots=True)
class Param:
    """One searched value: a policy key (dotted) or a capacity knob, and its range."""

    key: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.choices:
            return self.choices[trial.suggest_categorical(
                self.key, list(range(len(self.choices))))]
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)


@dataclass(frozen=True, slots=True)
class Space:
    """The policy keys searched and the capacity knobs (`replicas`, `workers`)."""

    policies: tuple[Param, ...]
    capacity: tuple[Param, ...]


def load_space(path: Path, base: PolicySet) -> Space:
    """The space of a TOML file (see chaoslab/tune_space.toml); one sentence on bad input."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"--space {path}: cannot read it ({exc}); expected a TOML file") from None
    unknown = sorted(set(data) - {"policies", "capacity"})
    if unknown:
        raise BadInput(f"--space {path}: unknown table [{unknown[0]}]; expected [policies] "
                       f"and [capacity]")
    known = _keys(json.loads(dump_policies(base)))
    params = [_param(path, "policies", k, v) for k, v in data.get("policies", {}).items()]
    for p in params:
        if p.key not in known:
            raise BadInput(f"--space {path}: [policies] {p.key!r} is not a key of the policy "
                           f"set; expected a dotted key such as 'client.retry.max_attempts'")
        if p.key == "paper_quota_share":
            raise BadInput(f"--space {path}: paper_quota_share is the law (20 %), not a "
                           f"parameter; remove it")
    capacity = [_param(path, "capacity", k, v) for k, v in data.get("capacity", {}).items()]
    for c in capacity:
        if c.key not in {"replicas", "workers"} or c.choices or c.low < 1:
            raise BadInput(f"--space {path}: [capacity] {c.key!r}: expected 'replicas' or "
                           f"'workers' with integer low >= 1 and high")
    return Space(tuple(params), tuple(capacity))


def _param(path: Path, table: str, key: str, spec: Any) -> Param:
    where = f"--space {path}: [{table}] {key!r}"
    if not isinstance(spec, dict):
        raise BadInput(f"{where}: expected a table like {{ low = 1, high = 5 }} or "
                       f"{{ choices = [...] }}")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise BadInput(f"{where}: choices must be a non-empty list")
        return Param(key, choices=tuple(choices))
    low, high = spec.get("low"), spec.get("high")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
               for x in (low, high)) or low > high:  # type: ignore[operator]
        raise BadInput(f"{where}: expected finite numbers low <= high, got {low!r}, {high!r}")
    log = bool(spec.get("log", False))
    if log and low <= 0:  # type: ignore[operator]
        raise BadInput(f"{where}: a log range needs low > 0, got {low!r}")
    integer = isinstance(low, int) and isinstance(high, int)
    return Param(key, float(low), float(high), log, integer)  # type: ignore[arg-type]


def _keys(tree: Mapping[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in tree.items():
        out |= _keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return out


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def with_capacity(base: Base, replicas: int | None, workers: int | None) -> Base:
    """`base` with `replicas` portal replicas (new ones on the switches and racks in turn)
    and `workers` worker threads each; None keeps the file's."""
    topo = dict(base.get("topology", {}))
    default = Scenario.model_validate({**base, "faults": []}).topology
    rows = [dict(r) for r in topo.get("replicas", [r.model_dump() for r in default.replicas])]
    switches = topo.get("switches", default.switches)
    racks = topo.get("racks", default.racks)
    while replicas is not None and len(rows) < replicas:
        i = len(rows)
        rows.append({**rows[-1], "name": f"portal-{chr(ord('a') + i)}",
                     "switch": switches[i % len(switches)], "rack": racks[i % len(racks)]})
    if workers is not None:
        rows = [{**r, "workers": workers} for r in rows]
    return {**base, "topology": {**topo, "replicas": rows}}


# -- one trial ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Result:
    """One trial's runs: false verdicts, the runs made, and the costs."""

    false: int
    runs: int
    capacity: int
    latency_s: float
    amplification: float
    failed: tuple[str, ...]  # "scenario:invariant@seed" of the first false verdicts
    details: tuple[str, ...] = ()  # the checkers' words on each of them

    def to_json(self) -> dict[str, Any]:
        """As tune.json and full-scale.json hold it (and Optuna's user attributes)."""
        return {**asdict(self), "failed": list(self.failed), "details": list(self.details)}


Job = tuple[list[Base], str, dict[str, Any], int | None, int | None, list[int], int]


def evaluate(job: Job, python: Sequence[str] = ()) -> Result:
    """Simulate every scenario on every seed, at 1:scale, in the interpreter `python` (() this
    one; `sim.runner.summary_of`); stop at the first false verdict."""
    bases, source, overrides, replicas, workers, seeds, scale = job
    # the trial's set is what chosen-policies.json will hold; each scenario then applies its
    # own overrides on top, as `chaoslab sim SCENARIO --policies chosen-policies.json` does
    trial_set = resolve_policies(source, _nested(overrides))
    p50s: list[float] = []
    amps: list[float] = []
    capacity = 0
    runs = 0
    for base in bases:
        real = Scenario.model_validate(with_capacity(base, replicas, workers))
        capacity = max(capacity, sum(r.workers for r in real.topology.replicas))  # real threads
        world = real.scaled(scale)
        policies = with_overrides(trial_set, world.policies.for_preset(source) or None)
        for seed in seeds:
            summary = summary_of(Task(world, policies, seed), python)
            runs += 1
            p50s.append(_p50(summary))
            amps.append(max((u.amplification for u in summary.upstreams.values()
                             if u.amplification is not None), default=1.0))
            false = [v for v in summary.verdicts if v.valid is False]
            if false:  # hopeless: its costs so far, and the verdicts that sank it
                return Result(len(false), runs, capacity, sum(p50s) / len(p50s),
                              sum(amps) / len(amps),
                              tuple(f"{world.name}:{v.name}@{seed}" for v in false),
                              tuple(v.detail for v in false))
    return Result(0, runs, capacity, sum(p50s) / len(p50s), sum(amps) / len(amps), ())


def _p50(summary: Summary) -> float:
    lat = sorted(summary.latencies_s)
    return lat[len(lat) // 2] if lat else NO_LATENCY_S


NO_LATENCY_S = 3600.0  # the p50 of a run with no successful operation: an hour, not infinity


# -- the search ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Options:
    """A tuning: the base policies, trials, seeds per scenario, the search's seed, and the
    scale the trials run at."""

    policies: str = DEFAULT_PRESET
    budget: int = 24
    seeds: int = 2
    seed: int = 1
    scale: int = 1  # trials at 1:scale; the chosen set confirmed at 1:1

    @property
    def seed_list(self) -> list[int]:
        """The seeds every set is simulated on."""
        return [self.seed + i for i in range(self.seeds)]


Mapper = Callable[[Callable[..., Result], list[Job]], list[Result]]  # fn: evaluate


def tune(bases: list[Base], space: Space, options: Options, mapper: Mapper, *,
         storage: str | None = None, study_name: str = "chaoslab-tune") -> optuna.Study:
    """Run `options.budget` trials (fewer when a resumed study has some) in batches."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(  # reads each trial's set_constraint
        seed=options.seed, multivariate=True,
        n_startup_trials=min(8, max(1, options.budget // 3)))
    study = optuna.create_study(
        directions=["minimize", "minimize", "minimize"], sampler=sampler, storage=storage,
        study_name=study_name, load_if_exists=storage is not None)
    seeds = options.seed_list
    while (left := options.budget - len(study.trials)) > 0:
        trials = [study.ask() for _ in range(min(BATCH, left))]
        jobs = [_job(bases, space, options, t, seeds) for t in trials]
        for trial, result in zip(trials, mapper(evaluate, jobs), strict=True):
            trial.set_constraint("false_verdicts", float(result.false))
            trial.set_user_attr("constraints", [float(result.false)])
            trial.set_user_attr("result", result.to_json())
            values = [float(result.capacity), result.latency_s, result.amplification]
            study.tell(trial, values)
    return study


def _constraints(trial: optuna.trial.FrozenTrial) -> Sequence[float]:
    return list(trial.user_attrs.get("constraints", [1.0]))


def _job(bases: list[Base], space: Space, options: Options, trial: optuna.Trial,
         seeds: list[int]) -> Job:
    overrides = {p.key: p.suggest(trial) for p in space.policies}
    capacity = {p.key: p.suggest(trial) for p in space.capacity}
    return (bases, options.policies, overrides, capacity.get("replicas"),
            capacity.get("workers"), seeds, options.scale)


def feasible(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Completed trials with no false verdict, cheapest first (capacity, latency, calls)."""
    done = [t for t in study.trials if t.values is not None
            and _constraints(t)[0] <= 0]
    return sorted(done, key=lambda t: (t.values[0], t.values[1], t.values[2], t.number))


def pareto(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The feasible trials no other feasible trial beats on every cost."""
    ok = feasible(study)
    return [t for t in ok if not any(
        all(a <= b for a, b in zip(o.values, t.values, strict=True)) and o.values != t.values
        for o in ok)]


def chosen_overrides(trial: optuna.trial.FrozenTrial, space: Space) -> dict[str, Any]:
    """The policy values of `trial` (choices by value, not index)."""
    out = {}
    for p in space.policies:
        v = trial.params[p.key]
        out[p.key] = p.choices[v] if p.choices else v
    return out


def capacity_needed(bases: list[Base], options: Options, space: Space, mapper: Mapper,
                    ) -> tuple[int, int] | None:
    """With the base policies, the least (replicas, workers) that passes, searching workers
    per replica up to 4x the space's high at each replica count; None when none does."""
    return capacity_search(bases, options, space, mapper)[0]


def capacity_search(bases: list[Base], options: Options, space: Space, mapper: Mapper,
                    ) -> tuple[tuple[int, int] | None, Result | None]:
    """`capacity_needed`'s answer, and the result at the most capacity tried when none
    passes (what still fails there: what capacity cannot buy)."""
    top_result: Result | None = None
    caps = {p.key: p for p in space.capacity}
    rep = caps.get("replicas")
    wk = caps.get("workers")
    replica_counts = range(int(rep.low), int(rep.high) + 1) if rep else [None]
    top = int(wk.high * 4) if wk else 64
    seeds = options.seed_list
    for replicas in replica_counts:
        grid = sorted({max(1, round(top * f)) for f in (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)})
        jobs: list[Job] = [(bases, options.policies, {}, replicas, w, seeds, options.scale)
                           for w in grid]
        results = mapper(evaluate, jobs)
        top_result = results[-1]
        passing = [w for w, r in zip(grid, results, strict=True) if r.false == 0]
        if passing:
            hi = min(passing)
            lo = max([w for w in grid if w < hi] or [0])
            while hi - lo > 1:  # bisect between the last failing and the first passing
                mid = (lo + hi) // 2
                [r] = mapper(evaluate, [(bases, options.policies, {}, replicas, mid, seeds,
                                         options.scale)])
                lo, hi = (lo, mid) if r.false == 0 else (mid, hi)
            return (replicas or 0, hi), None
    return None, top_result


def confirm_full_scale(bases: list[Base], options: Options, space: Space,
                       study: optuna.Study, mapper: Mapper,
                       ) -> list[tuple[optuna.trial.FrozenTrial, Result]]:
    """The distinct sets that passed at 1:scale, cheapest first, replayed at 1:1 on the same
    seeds, FULL_SCALE_BATCH at a time, until one passes or FULL_SCALE_MAX were tried: each
    replayed trial and its 1:1 result."""
    seeds = options.seed_list
    distinct: dict[str, optuna.trial.FrozenTrial] = {}
    for t in feasible(study):
        distinct.setdefault(json.dumps(t.params, sort_keys=True), t)
    candidates = list(distinct.values())[:FULL_SCALE_MAX]
    done: list[tuple[optuna.trial.FrozenTrial, Result]] = []
    for i in range(0, len(candidates), FULL_SCALE_BATCH):
        batch = candidates[i:i + FULL_SCALE_BATCH]
        jobs: list[Job] = []
        for t in batch:
            capacity = {p.key: t.params[p.key] for p in space.capacity}
            jobs.append((bases, options.policies, chosen_overrides(t, space),
                         capacity.get("replicas"), capacity.get("workers"), seeds, 1))
        done += list(zip(batch, mapper(evaluate, jobs), strict=True))
        if any(r.false == 0 for _, r in done):
            break
    return done


FULL_SCALE_BATCH = 2  # sets replayed at 1:1 at once (one per core here)
FULL_SCALE_MAX = 6  # at most this many distinct sets replayed at 1:1


# -- the command line -----------------------------------------------------------------------

def local_mapper(workers: int, executor: str, python: Sequence[str] = ()) -> Mapper:
    """Map jobs over local processes or a Dask cluster (order kept); `evaluate` simulates in
    the interpreter `python` (`sim.interpreter.search_python`)."""
    from chaoslab.explore import _map

    def mapper(fn: Callable[..., Result], jobs: list[Job]) -> list[Result]:
        if python:  # fn is `evaluate`
            fn = functools.partial(fn, python=tuple(python))
        return _map(fn, jobs, workers, executor)
    return mapper


def run(args: argparse.Namespace) -> int:
    """`chaoslab tune`: exit 0 with a chosen set, 1 when none in the space passes."""
    from chaoslab.cli import SCENARIO_DIR

    bases = [read(name, SCENARIO_DIR)[1] for name in args.scenarios]  # faults and all
    try:
        base_set = resolve_policies(args.policies)
    except PolicyConfigError as exc:
        raise BadInput(f"--policies {args.policies}: {exc}") from None
    space = load_space(args.space or DEFAULT_SPACE, base_set)
    options = Options(args.policies, args.budget, args.seeds, args.seed, args.scale)
    out: Path = args.out or Path("runs") / "tune" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    python = search_python(args.interpreter, [
        Scenario.model_validate(b).scaled(options.scale) for b in bases], args.executor)
    mapper = local_mapper(args.workers or os.cpu_count() or 1, args.executor, python)
    t0 = time.perf_counter()
    study = tune(bases, space, options, mapper, storage=args.storage)
    front = pareto(study)
    _write_trials(study, space, out)
    _write_plot(study, out)
    names = ", ".join(b["name"] for b in bases)
    print(f"tune {names} [{args.policies}]: {len(study.trials)} trials in "
          f"{time.perf_counter() - t0:.1f} s; {len(feasible(study))} pass every invariant "
          f"-> {out}")
    at = f" at 1:{options.scale}" if options.scale > 1 else ""
    if not front:
        return _capacity_alone(bases, options, space, mapper, at)
    print(f"  Pareto front{at} (capacity, latency p50, amplification):")
    for t in front:
        print(f"    #{t.number}: {t.values[0]:.0f} workers, {t.values[1] * 1000:.0f} ms, "
              f"{t.values[2]:.2f} calls/op  {_params(t)}")
    best = front[0]
    if options.scale > 1:
        replayed = confirm_full_scale(bases, options, space, study, mapper)
        _write_full_scale(replayed, out)
        for t, r in replayed:
            print(f"  at 1:1, trial #{t.number}: "
                  + ("passes every invariant on every seed" if r.false == 0
                     else f"fails {', '.join(r.failed)}"))
        passing = [t for t, r in replayed if r.false == 0]
        if not passing:
            print(f"  none of the {len(replayed)} cheapest distinct sets that pass at "
                  f"1:{options.scale} passes at 1:1: none chosen")
            return 1
        best = passing[0]
    chosen = resolve_policies(args.policies, _nested(chosen_overrides(best, space)))
    (out / "chosen-policies.json").write_text(dump_policies(chosen))
    print(f"  chosen: trial #{best.number} -> {out / 'chosen-policies.json'} "
          f"(capacity {best.values[0]:.0f} workers; {_params(best)})")
    return 0


def _capacity_alone(bases: list[Base], options: Options, space: Space, mapper: Mapper,
                    at: str) -> int:
    """No set passes: the least capacity that does with the base set (exit 1)."""
    need, top = capacity_search(bases, options, space, mapper)
    print(f"  no policy set within the space passes every invariant on every seed{at}")
    if need is None:
        print("  and no capacity up to 4x the space's workers passes with the base set; at "
              "the most capacity tried, still false:")
        for name, detail in zip(top.failed if top else (), top.details if top else (),
                                strict=True):
            print(f"    {name}: {detail}")
        return 1
    print(f"  with {options.policies}, the least capacity that passes{at}: {need[0] or 'the'} "
          f"replicas x {need[1]} workers each")
    if options.scale > 1:
        seeds = options.seed_list
        [r] = mapper(evaluate, [(bases, options.policies, {}, need[0] or None, need[1], seeds,
                                 1)])
        print("  at 1:1 it " + ("passes every invariant on every seed" if r.false == 0
                                else f"does not: {', '.join(r.failed)}"))
    return 1


def _params(t: optuna.trial.FrozenTrial) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in t.params.items())


def _write_full_scale(replayed: list[tuple[optuna.trial.FrozenTrial, Result]],
                     out: Path) -> None:
    """full-scale.json: each set replayed at 1:1, by trial number, and its result."""
    doc = [{"number": t.number, "params": t.params,
            "result": r.to_json()} for t, r in replayed]
    (out / "full-scale.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")


def _write_trials(study: optuna.Study, space: Space, out: Path) -> None:
    rows = [{"number": t.number, "params": t.params, "values": t.values,
             "feasible": _constraints(t)[0] <= 0, "result": t.user_attrs.get("result")}
            for t in study.trials]
    doc = {"space": [asdict(p) for p in (*space.policies, *space.capacity)],
           "pareto": [t.number for t in pareto(study)], "trials": rows}
    (out / "tune.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")


def _write_plot(study: optuna.Study, out: Path) -> None:
    """pareto.html: Optuna's interactive Pareto-front plot (infeasible trials greyed, from their
    `set_constraint`), Plotly's script inlined so the page works offline."""
    try:
        fig = optuna.visualization.plot_pareto_front(
            study, target_names=["capacity", "latency p50 (s)", "amplification"])
    except (ValueError, ImportError) as exc:  # e.g. no completed trial
        (out / "pareto.html").write_text(f"<p>no plot: {exc}</p>\n")
        return
    fig.write_html(str(out / "pareto.html"), include_plotlyjs=True)
