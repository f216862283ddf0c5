"""`chaoslab lab run SCENARIO`: run a scenario live on the lab and write its report.

Phases: validate everything (scenario, policies, invariants, every target against the lab's
topology, the output directory) before anything starts, so bad input exits 2 with nothing
started; choose the lab (`choose_lab`: `--lab DIR`; else $CHAOSLAB_LAB_DIR; else the lab
`chaoslab lab up` started in runs/lab when it runs, found as `lab status` finds it; else a
lab of its own in OUT/lab, also with `--new-lab`) and say which; play the plan under the
live view (`chaoslab.liveview`: the scenario clock, the faults as applied and healed, the
counts, the invariants so far); heal; write policies.json (the resolved set), report.json,
report.html and history.jsonl. The lab runs the policy set this run resolves, the
scenario's overrides included: a lab it starts is handed that set's file; a lab named with
`--lab` or $CHAOSLAB_LAB_DIR running another set (by digest) is refused, and the lab of
runs/lab running another set is left alone (the run starts its own, and says why). A lab
this command started is stopped however the run ends (an error, Ctrl-C, SIGTERM): no
process and no proxy is left behind.
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
from chaoslab.cli import LAB_DIR, SCENARIO_DIR
from chaoslab.live.cpu import PEAK_MIN_S, CpuMeter
from chaoslab.live.plan import MIN_SAFE_FAULT_S, TARGET_LIVE_S, LivePlan, build_plan, safe_speed
from chaoslab.live.runner import LiveRun, play
from chaoslab.liveview import LiveWatch, View, make_view, showing
from faults.errors import FaultError, InvalidFault, UnknownTarget
from mock_services.lab.procs import read_pids
from mock_services.lab.state import LabState
from mock_services.lab.supervisor import Lab, LabConfig, LabError, up
from mock_services.lab.topology import default_topology
from policies.errors import PolicyConfigError
from policies.presets import PolicySet
from policies.resolve import (
    POLICIES_FILE,
    describe_differences,
    policies_digest,
    resolve_policies,
    short_digest,
    write_policies,
)
from scenario.errors import BadInput
from scenario.invariants import InvariantError, build_checkers
from scenario.report import build_report, write_report
from scenario.report_model import LabCpu, RunMeta, Workload, demand_note
from scenario.schema import Scenario, find_scenario, load_scenario
from scenario.verdict import Checker
from sim.policyset import policy_set

RUNS_DIR = Path("runs")
LAB_DIR_ENV = "CHAOSLAB_LAB_DIR"  # attach to this running lab instead of starting one
READY_TIMEOUT_S = 30.0


def default_out(scenario: Scenario) -> Path:
    """runs/<scenario>/<utc-stamp>-live/, the stamp to the second."""
    return RUNS_DIR / scenario.name / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-live")


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same clean-up path as Ctrl-C


def policy_mismatch(lab_state: LabState, policies: PolicySet, label: str, out: Path,
                    where: str) -> str | None:
    """None when the attached lab runs `policies` (the same digest); else the one sentence
    that says what differs and the command that starts the right lab. When the run's set is
    not a plain preset, it is written to OUT/policies.json for that command to use."""
    want = policies_digest(policies)
    try:
        have_set = lab_state.policy_set()
        have = lab_state.digest()
    except PolicyConfigError as exc:
        differs = f"its policy set cannot be read ({exc})"
        have = ""
    else:
        if have == want:
            return None
        differs = describe_differences(have_set, policies) or "they differ in name only"
    try:
        plain = policies_digest(resolve_policies(label)) == want
    except PolicyConfigError:
        plain = False
    suggest = label
    if not plain:
        try:
            write_policies(policies, out / POLICIES_FILE)
            suggest = str(out / POLICIES_FILE)
        except OSError:  # then the label, with the scenario's overrides to add by hand
            suggest = f"{label} (plus the scenario's [policies] overrides)"
    held = f" ({short_digest(have)})" if have else ""
    return (f"the lab in {where} runs policies {lab_state.policies!r}{held}, not the set this "
            f"run resolves from {label!r} ({short_digest(want)}): {differs}; start the right "
            f"lab with 'chaoslab lab up --detach --dir DIR --policies {suggest}' and pass "
            f"--lab DIR, or --new-lab for a lab of this run's own")


def running_lab(run_dir: Path) -> Lab | None:
    """The lab running in `run_dir`, found as `lab status` finds it (its map, and at least
    one of its processes alive); None when there is none."""
    try:
        lab = compose_lab.attach(run_dir)
    except LabError:
        return None
    if lab.state.docker_project:
        return lab  # a compose lab's containers are not ours to count: its map says it runs
    try:
        alive = any(lab.running().values())
    except OSError:
        return None
    return lab if alive else None


def choose_lab(args: argparse.Namespace, policies: PolicySet, out: Path,
               default_dir: Path = LAB_DIR) -> tuple[Lab | None, str]:
    """The running lab this run uses (None: start one in OUT/lab) and the sentence that
    says which and why. `BadInput` when the lab named by --lab or $CHAOSLAB_LAB_DIR is not
    running or runs another policy set."""
    if getattr(args, "new_lab", False):
        return None, f"lab: starting a lab of its own in {out / 'lab'} (--new-lab)"
    named: Path | None = getattr(args, "lab", None)
    flag = "--lab"
    if named is None and os.environ.get(LAB_DIR_ENV):
        named, flag = Path(os.environ[LAB_DIR_ENV]), f"${LAB_DIR_ENV}"
    if named is not None:
        lab = running_lab(named)
        if lab is None:
            raise BadInput(f"{flag} {named}: no lab runs there; expected the directory of a "
                           f"running 'chaoslab lab up --detach --dir DIR' (or its lab.json)")
        mismatch = policy_mismatch(lab.state, policies, args.policies, out, str(named))
        if mismatch is not None:
            raise BadInput(mismatch)
        return lab, f"lab: using the running lab in {named} ({flag})"
    lab = running_lab(default_dir)
    if lab is None:
        return None, (f"lab: none running in {default_dir} ('chaoslab lab up --detach' starts "
                      f"one to reuse); starting a lab of its own in {out / 'lab'}")
    mismatch = policy_mismatch(lab.state, policies, args.policies, out, str(default_dir))
    if mismatch is not None:
        return None, (f"lab: the lab running in {default_dir} runs policies "
                      f"{lab.state.policies!r}, not this run's set; leaving it alone and "
                      f"starting a lab of its own in {out / 'lab'} (--lab {default_dir} to "
                      f"be told what differs)")
    return lab, f"lab: using the running lab in {default_dir} (started by 'chaoslab lab up')"


@contextmanager
def lab_for(policies: PolicySet, label: str, out: Path,
            running: Lab | None = None) -> Iterator[Lab]:
    """The lab of the run, running `policies` (resolved from `label`, overrides included):
    `running` (left running) or one started in OUT/lab (always stopped)."""
    if running is not None:
        yield running
        return
    lab = up(LabConfig(out / "lab", default_topology(), label, policy_set=policies,
                       ready_timeout_s=READY_TIMEOUT_S))
    try:
        yield lab
    finally:
        lab.down()


def prepare(args: argparse.Namespace) -> tuple[Scenario, PolicySet, LivePlan, Path]:
    """Everything checked before anything starts; `BadInput` (exit 2) otherwise."""
    scenario = load_scenario(find_scenario(args.scenario, SCENARIO_DIR))
    policies = policy_set(args.policies, scenario)
    speed = args.speed
    if speed is None:
        speed = safe_speed(scenario)
        print(f"speed x{speed:g} (the default for this scenario: a run of about "
              f"{TARGET_LIVE_S:g} s whose shortest fault lasts at least {MIN_SAFE_FAULT_S:g} s; "
              f"--speed to choose)")
    plan = build_plan(scenario, speed, default_topology(), args.seed)
    out: Path = args.out if args.out is not None else default_out(scenario)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out}: exists and is not a directory; expected a directory")
    return scenario, policies, plan, out


def begin_view(view: View, scenario: Scenario, plan: LivePlan, label: str) -> None:
    """Open the live view on the scenario's clock with the plan's fault windows."""
    planned = [(w.fault.kind, w.fault.target, w.start_s, w.end_s)
               for w in plan.schedule.windows]
    view.begin(f"{scenario.name} [{label}] live x{plan.speed:g}", start=scenario.start,
               speed=plan.speed, horizon_s=plan.horizon_s, faults=planned)


def _play(view: View, checkers: list[tuple[str, Checker]], policies: PolicySet, *,
          args: argparse.Namespace, plan: LivePlan, out: Path,
          running: Lab | None) -> tuple[LiveRun, CpuMeter]:
    """The run proper on the chosen lab, watched by the view; the view ends however it
    ends (the heal and the lab's stop still run: `play` and `lab_for`)."""
    ended = "stopped before its end: every fault healed, the lab it started stopped"
    try:
        if running is None:
            view.phase(f"starting the lab in {out / 'lab'}")
        with lab_for(policies, args.policies, out, running) as lab:
            # the run proper only: the lab's start and the driver's warm-up are not measured
            meter = CpuMeter(pids=lambda: read_pids(lab.state.run_dir))
            live = play(lab, plan, policies, args.seed, meter=meter,
                        progress=LiveWatch(view, checkers))
        ended = "run over: healed; writing the report"
    finally:
        view.end(ended)
    return live, meter


def run(args: argparse.Namespace) -> int:
    """Run `chaoslab lab run` with parsed arguments; return the exit code."""
    scenario, policies, plan, out = prepare(args)
    try:  # the thresholds as played (an absolute one follows the live scale)
        checkers = build_checkers(plan.compressed.invariants)
    except InvariantError as exc:
        raise BadInput(f"scenario {scenario.name}: [invariants]: {exc}") from None
    running, which = choose_lab(args, policies, out)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    t0 = time.perf_counter()
    view = make_view()
    try:
        with showing(view):
            begin_view(view, scenario, plan, args.policies)
            view.phase(which)
            live, meter = _play(view, checkers, policies, args=args, plan=plan, out=out,
                                running=running)
    except LabError as exc:
        print(f"chaoslab: {exc}", file=sys.stderr)
        return 2 if exc.bad_input else 1
    except FaultError as exc:  # a fault the lab could not apply or heal: one sentence
        print(f"chaoslab: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InvalidFault | UnknownTarget) else 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    wall_s = time.perf_counter() - t0
    warm = live.warm_up
    print(f"warm-up (before the run's clock): {warm.sessions} of {warm.people} sessions, "
          f"{warm.prescriptions} of {warm.dispenses} prescriptions to dispense, "
          f"{warm.seconds:.1f} s; users drawn from {live.population} people")
    meta = RunMeta(scenario=scenario.name, mode="live", policies=args.policies, seed=args.seed,
                   duration_s=plan.horizon_s, wall_s=wall_s,
                   description=scenario.description, start=scenario.start,
                   policies_digest=write_policies(policies, out / POLICIES_FILE),
                   lab_cpu=LabCpu.model_validate(meter.use.as_dict()) if meter.use else None,
                   service_demand=live.served,
                   workload=Workload.played_at(plan.speed, plan.scale_down,
                                               arrivals=plan.drawn(), played=live.played,
                                               population=live.population))
    report = build_report([live.history], meta, checkers)
    write_report(report, [live.history], out)
    availability = "n/a" if report.availability is None else f"{report.availability:.5f}"
    false = [v.name for v in report.invariants if v.valid is False]
    print(f"{scenario.name} [{args.policies}] live x{plan.speed:g}: "
          f"{report.requests.total} requests, availability {availability}, invariants false: "
          f"{', '.join(false) or 'none'}, wall {wall_s:.1f} s -> {out}")
    note = demand_note(report.service_demand)
    if note:
        print(f"chaoslab: {note}", file=sys.stderr)
    cpu = meter.use
    if cpu is not None and not cpu.comparable:
        print(f"chaoslab: not comparable: the lab itself used {cpu.busy_cores:.2f} of "
              f"{cpu.cores} cores on average (busiest {PEAK_MIN_S:g} s: "
              f"{cpu.peak_busy_cores:.2f}); the whole machine {cpu.machine_busy_cores:.2f} "
              f"(busiest {cpu.machine_peak_busy_cores:.2f}). Its latencies measure this "
              f"machine, not the model: run it on a quiet machine, or on more cores; the "
              f"scenario's own rate sets the lab's load (speed only shortens the run)",
              file=sys.stderr)
    return 1 if args.check and (false or (cpu is not None and not cpu.comparable)) else 0
