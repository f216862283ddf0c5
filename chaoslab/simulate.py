"""`chaoslab sim SCENARIO`: run a scenario over seeds in parallel and write its report.

Phases: validate everything (scenario, policies, invariants, output directory) before any
work, so bad input exits 2 with nothing written; run the replications (each summarised
where it ran) and pool their summaries; write policies.json (the resolved set, whose digest
report.json carries), then report.json, report.html and history.jsonl through
`scenario.report` (report.json is byte-identical for the same scenario, policies and seeds
apart from `wall_s`); exit 1 under `--check` when an invariant is false.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from chaoslab.cli import SCENARIO_DIR
from chaoslab.liveview import sim_view
from policies.resolve import POLICIES_FILE, policies_digest, write_policies
from scenario.errors import BadInput
from scenario.invariants import InvariantError, build_checkers
from scenario.report import pool_report, write_report
from scenario.report_model import RunMeta, Workload
from scenario.schema import Scenario, find_scenario, load_scenario
from sim.interpreter import describe, worker_python
from sim.nemesis import timeline
from sim.policyset import policy_set
from sim.runner import Task, WorkerFailed, run_all

RUNS_DIR = Path("runs")


def default_out(scenario: Scenario) -> Path:
    """runs/<scenario>/<utc-stamp>/, the stamp to the second."""
    return RUNS_DIR / scenario.name / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def run(args: argparse.Namespace) -> int:
    """Run `chaoslab sim` with parsed arguments; return the exit code."""
    scenario = load_scenario(find_scenario(args.scenario, SCENARIO_DIR))
    speed: float = getattr(args, "speed", 1.0)
    given = getattr(args, "scale", 1)
    scale_down = scenario.live_scale if given == "live" else int(given)
    # --speed K --scale live: the experiment `lab run --speed K` plays (`Scenario.live`)
    scenario = scenario.scaled(scale_down).compressed(speed)
    policies = policy_set(args.policies, scenario)  # bad policies: exit 2 before any run
    timeline(scenario, args.seed)  # a timeline that overlaps itself: exit 2 as well
    try:
        checkers = build_checkers(scenario.invariants)
    except InvariantError as exc:
        raise BadInput(f"scenario {scenario.name}: [invariants]: {exc}") from None
    out: Path = args.out if args.out is not None else default_out(scenario)
    flag = "--out" if args.out is not None else "the default output directory"
    if out.exists() and not out.is_dir():
        raise BadInput(f"{flag} {out}: exists and is not a directory; expected a directory")
    python = None if args.executor != "local" else worker_python(
        getattr(args, "interpreter", "auto"), scenario)
    created = _make_out(out, flag)  # before the simulation: a bad --out costs no run
    seeds = [args.seed + i for i in range(args.seeds)]
    tasks = [Task(scenario, args.policies, s) for s in seeds]
    # a worker of another interpreter writes the kept history here, moved into place last
    written_to = None if python is None else out / f".history.jsonl.{os.getpid()}.worker"
    done = False
    try:
        t0 = time.perf_counter()
        with sim_view(f"{scenario.name} [{args.policies}] simulated", start=scenario.start,
                      speed=scenario.time_scale, seeds=len(tasks),
                      names=[n for n, _ in checkers],
                      faults=[(w.fault.kind, w.fault.target, w.start_s, w.end_s)
                              for w in timeline(scenario, args.seed)]) as progress:
            try:
                results = run_all(tasks, args.workers or os.cpu_count() or 1, args.executor,
                                  on_result=progress,  # the live view's hook
                                  python=python, write_to=written_to)
            except WorkerFailed as exc:
                raise BadInput(f"{exc}; --interpreter python simulates in this "
                               "process instead") from None
        wall_s = time.perf_counter() - t0
        meta = RunMeta(scenario=scenario.name, mode="sim", policies=args.policies,
                       seed=args.seed, duration_s=scenario.duration, wall_s=wall_s,
                       description=scenario.description, start=scenario.start,
                       policies_digest=policies_digest(policies),
                       workload=Workload.played_at(scenario.time_scale, scale_down,
                                                   population=scenario.workload.population))
        report = pool_report([r.summary for r in results], meta,
                             [name for name, _ in checkers])
        first = results[0].history if results else None
        try:
            write_policies(policies, out / POLICIES_FILE)  # the set the report judged
            write_report(report, [first] if first is not None else [], out,
                         written=results[0].written if results else None)
        except OSError as exc:
            raise BadInput(f"{flag} {out}: cannot write the report ({exc.strerror or exc}); "
                           f"expected a writable directory") from None
        done = True
    finally:
        if written_to is not None:
            written_to.unlink(missing_ok=True)  # moved into place, or left by a failed run
        if not done:
            (out / POLICIES_FILE).unlink(missing_ok=True)  # no policies without their report
            _remove_empty(created)  # a failed or interrupted run leaves no empty directory
    availability = "n/a" if report.availability is None else f"{report.availability:.5f}"
    false = [v.name for v in report.invariants if v.valid is False]
    at = "" if speed == 1 else f" x{speed:g}"
    print(f"{scenario.name} [{args.policies}]{at}: {len(seeds)} seed(s), availability "
          f"{availability}, invariants false: {', '.join(false) or 'none'}, "
          f"wall {wall_s:.1f} s on {describe(python)} -> {out}")
    return 1 if args.check and false else 0


def _make_out(out: Path, flag: str) -> list[Path]:
    """Create `out` and its missing parents; the directories created, deepest first. An
    output directory that cannot be created is bad input (exit 2), found before any work."""
    missing = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".chaoslab-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        _remove_empty(missing)
        raise BadInput(f"{flag} {out}: cannot create or write to it "
                       f"({exc.strerror or exc}); expected a writable directory") from None
    return missing


def _remove_empty(dirs: list[Path]) -> None:
    for d in dirs:  # deepest first: each is removed only when nothing was written in it
        try:
            d.rmdir()
        except OSError:
            return
