"""`make demo`: the main job, on the embedded defaults, with whatever has landed.

year_end_peak under `baseline` and `resilient`, simulated (one seed each, both at once: one
core each) and live (a day compressed to 30 s each: `LIVE_SPEED`), then the side-by-side table
and where the HTML reports are. A step whose subsystem has not landed is named and skipped,
never faked.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from chaoslab import __version__
from chaoslab.cli import HANDLERS, SCENARIO_DIR, main

DEMO_DIR = Path("runs/demo")
SCENARIO = "year_end_peak"
LIVE_SPEED = "2880"  # one scenario day in 30 s: the whole demo fits its 5-minute budget
POLICIES = ("baseline", "resilient")


def landed(command: str) -> bool:
    """True when the package behind `command` is importable."""
    module, _, _ = HANDLERS[command]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        return False
    return True


def step(title: str, argv: list[str]) -> int:
    """Print and run one CLI call."""
    print(f"\n== {title}\n$ chaoslab {' '.join(argv)}", flush=True)
    return main(argv)


def simulate(outs: list[str]) -> int:
    """Both policy sets in the simulator at once (one process each); the failures."""
    argvs = [["sim", SCENARIO, "--seeds", "1", "--workers", "1", "--policies", p,
              "--out", str(DEMO_DIR / f"sim-{p}")] for p in POLICIES]
    print(f"\n== sim {SCENARIO} under {' and '.join(POLICIES)}, side by side", flush=True)
    for argv in argvs:
        print(f"$ chaoslab {' '.join(argv)}", flush=True)
    procs = [subprocess.Popen([sys.executable, "-m", "chaoslab", *argv]) for argv in argvs]
    failures = 0
    try:
        for proc, argv in zip(procs, argvs, strict=True):
            failures += proc.wait() != 0
            outs.append(argv[-1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return failures


def run() -> int:
    """Run every landed step of the demo; return non-zero if a landed step failed."""
    print(f"chaoslab {__version__} demo")
    failures = int(step("scenarios", ["scenarios"]) != 0)
    if not (SCENARIO_DIR / f"{SCENARIO}.toml").exists():
        print(f"\n== skipped: {SCENARIO}.toml has not landed")
        return 1 if failures else 0
    outs: list[str] = []
    if landed("sim"):
        failures += simulate(outs)
    else:
        print("\n== sim: skipped, 'chaoslab sim' has not landed")
    if landed("lab run"):
        for policies in POLICIES:
            out = str(DEMO_DIR / f"live-{policies}")
            failures += step(f"live {SCENARIO} under {policies} (x{LIVE_SPEED})",
                             ["lab", "run", SCENARIO, "--speed", LIVE_SPEED,
                              "--policies", policies, "--out", out]) != 0
            outs.append(out)
    else:
        print("\n== live: skipped, 'chaoslab lab run' has not landed")
    if outs and landed("report"):
        failures += step("side by side", ["report", *outs]) != 0
        print("\nHTML reports (with timelines):")
        for out in outs:
            print(f"  {Path(out).resolve() / 'report.html'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run())
