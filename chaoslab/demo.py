"""`make demo`: the twin of one fault scenario, baseline against resilient.

switch_failure (switch A fails for 15 of 60 minutes) under `baseline` and under `resilient`,
each run both ways by `chaoslab twin`: the simulator over `SEEDS` seeds and the live lab, on
the same scenario compressed `SPEED`-fold, the same resolved policy file and the same seed.
Then one table: per policy set, the simulated value (seed mean), the live value and whether
they agree, for the headline figures and every invariant; and where the reports are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from chaoslab import __version__
from chaoslab.cli import SCENARIO_DIR, main
from policies.presets import PRESETS

DEMO_DIR = Path("runs/demo")
SCENARIO = "switch_failure"
SPEED = "60"  # the scenario's hour in a live minute per policy set: the demo fits 5 minutes
SEEDS = "3"  # simulated seeds per policy set, for the seed-to-seed range
POLICIES = tuple(PRESETS)  # baseline, then resilient
HEADLINE = ("availability", "goodput_per_s", "latency_p50_ms", "latency_p99_ms", "shed_share")


def _row(doc: dict[str, Any], figure: str) -> dict[str, Any] | None:
    return next((r for r in doc["rows"] if r["figure"] == figure), None)


def _mark(r: dict[str, Any]) -> str:
    return {"differ": " (!)", "inconclusive": " (?)"}.get(str(r.get("judgement")), "")


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    if "sim" in r:
        return f"{r['sim']} / {r['live']}{_mark(r)}"
    sim, live = r.get("sim_mean"), r.get("live")
    text = "-" if sim is None else f"{sim:.4g}"
    text += " / " + ("-" if live is None else f"{live:.4g}")
    return text + _mark(r)


def summary(docs: dict[str, dict[str, Any]]) -> str:
    """Sim / live per policy set for the headline figures and every invariant."""
    figures = list(HEADLINE)
    for doc in docs.values():
        figures += [r["figure"] for r in doc["rows"]
                    if r["figure"].startswith("invariant.") and r["figure"] not in figures]
    width = max(len(f) for f in figures)
    lines = [f"{'sim / live':<{width}}  " + "  ".join(f"{p:<26}" for p in docs)]
    for f in figures:
        lines.append(f"{f:<{width}}  " + "  ".join(f"{_cell(_row(d, f)):<26}"
                                                   for d in docs.values()))
    lines += [f"{p}: {d['verdict']['summary']}" for p, d in docs.items()]
    return "\n".join(lines) + ("\n(!) differ: outside the figure's tolerance and the seeds' 95 % "
                               "prediction interval; (?) inconclusive: outside the tolerance, "
                               "inside the interval (scenario/agreement.py)")


def run() -> int:
    """Run both twins; print the table; non-zero if a run failed outright."""
    print(f"chaoslab {__version__} demo: {SCENARIO}, baseline against resilient, "
          f"simulated and live")
    if not (SCENARIO_DIR / f"{SCENARIO}.toml").exists():
        print(f"\n== skipped: {SCENARIO}.toml is missing")
        return 1
    failures = 0
    docs: dict[str, dict[str, Any]] = {}
    for policies in POLICIES:
        out = DEMO_DIR / f"twin-{policies}"
        argv = ["twin", SCENARIO, "--policies", policies, "--speed", SPEED, "--seeds", SEEDS,
                "--out", str(out)]
        print(f"\n$ chaoslab {' '.join(argv)}", flush=True)
        if main(argv) != 0:
            failures += 1
            continue
        docs[policies] = json.loads((out / "twin.json").read_text(encoding="utf-8"))
    if docs:
        print("\n== side by side\n" + summary(docs))
        print("\nHTML (sim and live timelines on one plot, fault windows shaded):")
        for policies in docs:
            print(f"  {(DEMO_DIR / f'twin-{policies}' / 'twin.html').resolve()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run())
