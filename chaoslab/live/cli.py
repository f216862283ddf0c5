"""`chaoslab lab run SCENARIO`: run a scenario live on the lab and write its report.

Phases: validate everything (scenario, policies, invariants, every target against the lab's
topology, the output directory) before anything starts, so bad input exits 2 with nothing
started; start the lab in OUT/lab (or attach to the one in $CHAOSLAB_LAB_DIR, started by
`chaoslab lab up --detach`, or the compose lab's deploy/lab.json); play the plan; heal;
write report.json, report.html and history.jsonl. A lab this command started is stopped
however the run ends (an error, Ctrl-C, SIGTERM): no process and no proxy is left behind.
`--check`: exit 1 when an invariant is false.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from chaoslab import compose_lab
from chaoslab.cli import SCENARIO_DIR
from chaoslab.errors import BadInput
from chaoslab.live.plan import LivePlan, build_plan
from chaoslab.live.runner import execute
from mock_services.lab.supervisor import Lab, LabConfig, LabError, up
from mock_services.lab.topology import default_topology
from policies.presets import PolicySet
from scenario.invariants import InvariantError, build_checkers
from scenario.report import build_report, write_report
from scenario.report_model import RunMeta
from scenario.schema import Scenario, find_scenario, load_scenario
from sim.policyset import policy_set

RUNS_DIR = Path("runs")
LAB_DIR_ENV = "CHAOSLAB_LAB_DIR"  # attach to this running lab instead of starting one
READY_TIMEOUT_S = 30.0


def default_out(scenario: Scenario) -> Path:
    """runs/<scenario>/<utc-stamp>-live/, the stamp to the second."""
    return RUNS_DIR / scenario.name / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-live")


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same clean-up path as Ctrl-C


@contextmanager
def lab_for(policies: str, out: Path) -> Iterator[Lab]:
    """The lab of the run: attached (left running) or started in OUT/lab (always stopped)."""
    attach_dir = os.environ.get(LAB_DIR_ENV)
    if attach_dir:
        lab = compose_lab.attach(Path(attach_dir))  # embedded, or the compose lab's map
        if lab.state.policies != policies:
            raise BadInput(f"the lab in {attach_dir} runs policies {lab.state.policies!r}, "
                           f"not {policies!r}; start one with --policies {policies} or unset "
                           f"{LAB_DIR_ENV}")
        yield lab
        return
    lab = up(LabConfig(out / "lab", default_topology(), policies,
                       ready_timeout_s=READY_TIMEOUT_S))
    try:
        yield lab
    finally:
        lab.down()


def prepare(args: argparse.Namespace) -> tuple[Scenario, PolicySet, LivePlan, Path]:
    """Everything checked before anything starts; `BadInput` (exit 2) otherwise."""
    scenario = load_scenario(find_scenario(args.scenario, SCENARIO_DIR))
    policies = policy_set(args.policies, scenario)
    plan = build_plan(scenario, args.speed, default_topology())
    out: Path = args.out if args.out is not None else default_out(scenario)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out}: exists and is not a directory; expected a directory")
    return scenario, policies, plan, out


def run(args: argparse.Namespace) -> int:
    """Run `chaoslab lab run` with parsed arguments; return the exit code."""
    scenario, policies, plan, out = prepare(args)
    try:
        checkers = build_checkers(scenario.invariants)
    except InvariantError as exc:
        raise BadInput(f"scenario {scenario.name}: [invariants]: {exc}") from None
    if plan.skipped_kinds:
        print(f"note: the live driver does not play {', '.join(plan.skipped_kinds)}; "
              "they are left out of the live load", file=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    t0 = time.perf_counter()
    try:
        with lab_for(args.policies, out) as lab:
            history = execute(lab, plan, policies, args.seed)
    except LabError as exc:
        print(f"chaoslab: {exc}", file=sys.stderr)
        return 2 if exc.bad_input else 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    wall_s = time.perf_counter() - t0
    meta = RunMeta(scenario=scenario.name, mode="live", policies=args.policies, seed=args.seed,
                   duration_s=plan.horizon_s, wall_s=wall_s)
    report = build_report([history], meta, checkers)
    write_report(report, [history], out)
    availability = "n/a" if report.availability is None else f"{report.availability:.5f}"
    false = [v.name for v in report.invariants if v.valid is False]
    print(f"{scenario.name} [{args.policies}] live x{args.speed:g}: "
          f"{report.requests.total} requests, availability {availability}, invariants false: "
          f"{', '.join(false) or 'none'}, wall {wall_s:.1f} s -> {out}")
    return 1 if args.check and false else 0
