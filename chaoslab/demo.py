"""`make demo`: the main job, on the embedded defaults, with whatever has landed.

year_end_peak under `baseline` and `resilient`, simulated and live (compressed), then the
side-by-side table. A step whose subsystem has not landed is named and skipped, never faked.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from chaoslab import __version__
from chaoslab.cli import HANDLERS, SCENARIO_DIR, main

DEMO_DIR = Path("runs/demo")
SCENARIO = "year_end_peak"
LIVE_SPEED = "1440"  # one scenario day in a minute: the whole live part fits the 5-minute budget


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


def run() -> int:
    """Run every landed step of the demo; return non-zero if a landed step failed."""
    print(f"chaoslab {__version__} demo")
    failures = 0
    failures += step("scenarios", ["scenarios"]) != 0
    has_scenario = (SCENARIO_DIR / f"{SCENARIO}.toml").exists()
    outs: list[str] = []
    for mode, command in (("sim", "sim"), ("live", "lab run")):
        if not (landed(command) and has_scenario):
            print(f"\n== {mode}: skipped, 'chaoslab {command}' or {SCENARIO}.toml has not landed")
            continue
        for policies in ("baseline", "resilient"):
            out = str(DEMO_DIR / f"{mode}-{policies}")
            argv = (["sim", SCENARIO, "--seeds", "1"] if mode == "sim"
                    else ["lab", "run", SCENARIO, "--speed", LIVE_SPEED])
            argv += ["--policies", policies, "--out", out]
            failures += step(f"{mode} {SCENARIO} under {policies}", argv) != 0
            outs.append(out)
    if outs and landed("report"):
        failures += step("side by side", ["report", *outs]) != 0
        print(f"\nHTML reports: {', '.join(o + '/report.html' for o in outs)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run())
