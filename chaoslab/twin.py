"""`chaoslab twin SCENARIO`: run one experiment in both runners and say where they agree.

Phases: check everything first (scenario, policies, invariants, `--out`); resolve the policy
set once and write it to OUT/policies.json, the one file both runners are handed; run the
simulator on what the lab plays (`Scenario.live`: the file at 1:its `live_scale`, compressed
`--speed`-fold: exactly the live run's experiment) over `--seeds` seeds, each history kept,
and write its report to OUT/sim; run the lab (`chaoslab lab run`, same scenario, speed,
policy file and seed) into OUT/live; read every figure from every history
(`scenario.agreement`) and write OUT/twin.json and OUT/twin.html: per figure the simulator's
mean and seed range, the live value, the difference, and whether it is within tolerance. The
simulator runs first and the lab alone afterwards, so the live run does not share the CPU
with the simulator.

`--check` exits 1 when a goal figure differs (scenario/agreement.py: outside its tolerance and
outside the simulator's 95 % prediction interval), an invariant verdict differs between the
runners or is false in either, or the live run was not comparable (the lab itself was the
bottleneck); 2 on bad input; 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaoslab.cli import SCENARIO_DIR, main
from chaoslab.liveview import sim_view
from chaoslab.twin_html import render
from policies.resolve import POLICIES_FILE, policies_digest, write_policies
from scenario.agreement import VERDICT, Row, agreed, compare, counts, figures
from scenario.dists import upper_bound_s
from scenario.errors import BadInput, ChaoslabError
from scenario.history import History
from scenario.invariants import InvariantError, build_checkers
from scenario.report import atomic_write, pool_report, write_report
from scenario.report_model import RunMeta, ServedDemand, Workload, demand_note
from scenario.schema import Scenario, find_scenario, load_scenario
from scenario.summary import summarize
from sim.nemesis import timeline
from sim.policyset import policy_set
from sim.runner import Task, run_all

RUNS_DIR = Path("runs")
TWIN_JSON = "twin.json"
TWIN_HTML = "twin.html"


def default_out(scenario: Scenario) -> Path:
    """runs/<scenario>/<utc-stamp>-twin/."""
    return RUNS_DIR / scenario.name / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-twin")


def default_speed(scenario: Scenario) -> float:
    """The live runner's default speed for `scenario` (one place decides it)."""
    from chaoslab.live.plan import safe_speed

    return safe_speed(scenario)


def simulate(scenario: Scenario, policies_file: Path, seed: int, seeds: int,
             workers: int, *, label: str = "") -> tuple[list[History], float]:
    """Every seed's history of `scenario` (already compressed) and the wall time, under
    the live view."""
    tasks = [Task(scenario, str(policies_file), seed + i) for i in range(seeds)]
    names = list(scenario.invariants)
    faults = [(w.fault.kind, w.fault.target, w.start_s, w.end_s)
              for w in timeline(scenario, seed)]
    t0 = time.perf_counter()
    with sim_view(f"twin {scenario.name} [{label or policies_file.name}]: the simulator, "
                  f"x{scenario.time_scale:g}", start=scenario.start,
                  speed=scenario.time_scale, seeds=seeds, names=names,
                  faults=faults) as progress:
        results = run_all(tasks, workers, "local", keep_all=True, on_result=progress)
    histories = [r.history for r in results if r.history is not None]
    return histories, time.perf_counter() - t0


def run(args: argparse.Namespace) -> int:
    """Run `chaoslab twin` with parsed arguments; return the exit code."""
    path = find_scenario(args.scenario, SCENARIO_DIR)
    scenario = load_scenario(path)
    policies = policy_set(args.policies, scenario)
    speed = float(args.speed) if args.speed is not None else default_speed(scenario)
    compressed = scenario.live(speed)  # what the lab plays: at 1:live_scale, compressed
    try:  # the thresholds as played (an absolute one follows the live scale)
        checkers = build_checkers(compressed.invariants)
    except InvariantError as exc:
        raise BadInput(f"scenario {scenario.name}: [invariants]: {exc}") from None
    out: Path = args.out if args.out is not None else default_out(scenario)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out}: exists and is not a directory; expected a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot create it ({exc.strerror or exc}); expected a "
                       f"writable directory") from None
    policies_file = out / POLICIES_FILE
    write_policies(policies, policies_file)
    label = f"{args.policies} ({policies_digest(policies)[:12]})"
    at = f"x{speed:g}" + (f", 1:{scenario.live_scale}" if scenario.live_scale > 1 else "")
    print(f"== twin {scenario.name} [{label}] at {at}: {args.seeds} simulated seed(s), "
          f"then the lab", flush=True)

    notes = caveats(compressed)
    for note in notes:
        print(f"note: {note}", flush=True)
    histories, sim_wall = simulate(compressed, policies_file, args.seed, args.seeds,
                                   args.workers or os.cpu_count() or 1, label=args.policies)
    if len(histories) != args.seeds:
        raise ChaoslabError(f"the simulator returned {len(histories)} of {args.seeds} seeds' "
                            f"histories")
    meta = RunMeta(scenario=scenario.name, mode="sim", policies=args.policies, seed=args.seed,
                   duration_s=compressed.duration, wall_s=sim_wall,
                   description=scenario.description, start=scenario.start,
                   policies_digest=policies_digest(policies),
                   workload=Workload.played_at(speed, scenario.live_scale,
                                               population=compressed.workload.population))

    sim_report = pool_report([summarize(h, checkers) for h in histories], meta,
                             [name for name, _ in checkers])
    (out / "sim").mkdir(parents=True, exist_ok=True)
    write_policies(policies, out / "sim" / POLICIES_FILE)  # first: the report reads it
    write_report(sim_report, histories[:1], out / "sim")

    live_dir = out / "live"
    code = main(["lab", "run", str(path), "--speed", f"{speed:g}", "--policies",
                 str(policies_file), "--seed", str(args.seed), "--out", str(live_dir)])
    if code not in (0, 1):
        return code
    live = History.read_jsonl(live_dir / "history.jsonl")
    live_report = json.loads((live_dir / "report.json").read_text(encoding="utf-8"))

    sims = [figures(h, checkers, compressed.duration) for h in histories]
    rows = compare(sims, figures(live, checkers, compressed.duration))
    cpu = live_report.get("lab_cpu")
    doc = twin_doc(scenario, args, speed, policies_digest(policies), rows=rows, cpu=cpu,
                   sim_wall_s=sim_wall)
    doc["caveats"] = notes + demand_caveats(live_report.get("service_demand"))
    doc["known_differences"] = list(KNOWN_DIFFERENCES)
    atomic_write(out / TWIN_JSON, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    atomic_write(out / TWIN_HTML, render(doc, histories, live, compressed.duration))
    print(table(rows))
    verdict = doc["verdict"]
    print(f"{scenario.name} [{args.policies}] x{speed:g}: {verdict['summary']} -> {out}")
    return 1 if args.check and not verdict["ok"] else 0


# What is known to differ between the runners after this far (README, "Agreement,
# measured"): each names which side lacks what, so a reader of one twin.json need not guess.
KNOWN_DIFFERENCES = (
    "the lab's request path (HTTP hops through the proxies, parsing, SQLite) adds 30-40 ms a "
    "request outside the worker slot that the model's service times leave out: live p50 runs "
    "higher, most under overload",
    "the live portal refuses a second dispense of a prescription (409); the model applies it "
    "again as a duplicate write",
    "a Shahkar failure without a fallback answers 503 + Retry-After live, 502 in the model",
)


def caveats(compressed: Scenario) -> list[str]:
    """What the compression changes in the experiment's meaning, in sentences: a fault
    shorter than the users' patience is one that refreshing users can ride out, which the
    uncompressed scenario's users could not (both runners run this compressed experiment,
    so they still compare like with like)."""
    patience = upper_bound_s(compressed.workload.patience)
    out = []
    for f in compressed.faults:
        if 0 < f.duration < patience and f.kind not in ("peak_load", "refresh_storm"):
            out.append(f"at x{compressed.time_scale:g} the {f.kind} fault lasts "
                       f"{f.duration:.3g} s, less than the users' patience (up to "
                       f"{patience:.3g} s): users who refresh ride it out, so the compressed "
                       f"experiment is milder than the scenario; lower --speed to keep it")
    return out


def demand_caveats(served: Any) -> list[str]:
    """The kinds whose live demand exceeded the scenario's (the live report's
    `service_demand`: slots held longer than drawn), in one sentence, or none."""
    try:
        demand = {k: ServedDemand.model_validate(v) for k, v in (served or {}).items()}
    except (ValidationError, AttributeError):
        return []
    note = demand_note(demand)
    return [note] if note else []


def twin_doc(scenario: Scenario, args: argparse.Namespace, speed: float, digest: str, *,
             rows: Sequence[Row], cpu: Any, sim_wall_s: float) -> dict[str, Any]:
    """twin.json: what ran, every row, and the headline verdict."""
    tally = counts(rows)
    judged = sum(r.goal and r.judgement != "n/a" for r in rows)
    false = sorted({r.figure.removeprefix(VERDICT) for r in rows if r.figure.startswith(VERDICT)
                    and (r.live == 0.0 or r.sim_low == 0.0)})
    comparable = None if not isinstance(cpu, dict) else bool(cpu.get("comparable"))
    ok = agreed(rows) and not false and comparable is not False
    summary = (f"of {judged} goal figures {tally['agree']} agree, {tally['differ']} differ, "
               f"{tally['inconclusive']} inconclusive")
    if comparable is False:
        summary += "; the live run is NOT comparable (the lab was the bottleneck)"
    if false:
        summary += f"; invariants false: {', '.join(false)}"
    return {
        "scenario": scenario.name, "description": scenario.description,
        "policies": args.policies, "policies_digest": digest, "seed": args.seed,
        "seeds": args.seeds, "speed": speed, "scale": speed * scenario.live_scale,
        "scale_down": scenario.live_scale,
        "time_compression": ("scenario time (faults, run length, calendar) divided by the "
                             "speed, and the file played at 1:`scale_down` (its live_scale: "
                             "rates, workers, accounts divided) by both runners; one live "
                             "request stands for `scale` requests of the file, so rates and "
                             "request-level times (service, latency, timeouts, patience) are "
                             "the scenario's own at that scale"),
        "sim_wall_s": round(sim_wall_s, 3), "lab_cpu": cpu,
        "verdict": {"ok": ok, "agrees": agreed(rows) and comparable is not False,
                    "goals": judged, **tally, "summary": summary,
                    "invariants_false": false, "comparable": comparable},
        "rows": [r.as_dict() for r in rows],
    }


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(rows: Sequence[Row]) -> str:
    """The rows as a plain-text table: figure, sim mean [range], live, diff, agree."""
    lines = [f"{'figure':<36} {'sim mean [seed range]':<30} {'live':>10} {'diff':>10}  "
             "judgement (tolerance; differ = outside it and the seeds' 95 % prediction "
             "interval)"]
    for r in rows:
        d = r.as_dict()
        if r.figure.startswith(VERDICT):
            sim = str(d["sim"])
        else:
            sim = f"{_fmt(r.sim_mean)} [{_fmt(r.sim_low)}, {_fmt(r.sim_high)}]"
        live = d["live"] if r.figure.startswith(VERDICT) else _fmt(r.live)
        mark = ("-" if r.judgement == "n/a" else r.judgement) + (" (goal)" if r.goal else "")
        lines.append(f"{r.figure:<36} {sim:<30} {live!s:>10} {_fmt(r.diff):>10}  {mark}")
    return "\n".join(lines)
