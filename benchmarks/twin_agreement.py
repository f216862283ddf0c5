"""Sim-to-live agreement for every row of DESIGN.md's fault table, under both presets.

Runs `chaoslab twin ROW_SCENARIO --policies P --seeds N` for each row and preset (each at the
live runner's safe default speed unless `--speed`), then prints one markdown table: per row
and preset, availability, goodput and p50 (sim seed mean / live, and whether each agrees
within its tolerance: 2 points, 10 %, 10 %), whether every invariant verdict is identical,
and whether the live run was comparable (the lab not its own bottleneck).

    .venv/bin/python benchmarks/twin_agreement.py --seeds 3 --out runs/twin-table
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from policies.presets import PRESETS

# DESIGN.md's fault table, row by row, and the shipped scenario that plays it
ROWS = (
    ("server switch fails", "switch_failure"),
    ("slow upstream (Shahkar)", "shahkar_slow"),
    ("upstream outage (Shahkar)", "shahkar_outage"),
    ("power loss (a rack)", "power_loss"),
    ("network loss at clinics", "clinic_network_loss"),
    ("deployment, no window", "rolling_deploy"),
    ("peak load (month end)", "month_end_lists"),
    ("refresh storm", "refresh_storm"),
    ("credential stuffing", "credential_stuffing"),
)


def _fig(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next((r for r in doc["rows"] if r["figure"] == name), {})


def _pair(row: dict[str, Any], digits: int = 3) -> str:
    sim, live = row.get("sim_mean"), row.get("live")
    if sim is None or live is None:
        return "n/a"
    mark = {"agree": "", "differ": " **differ**", "inconclusive": " (inconcl.)"}.get(
        str(row.get("judgement")), "")
    return f"{sim:.{digits}g} / {live:.{digits}g}{mark}"


def line(label: str, preset: str, doc: dict[str, Any]) -> str:
    """One markdown row of the table."""
    verdicts = [r for r in doc["rows"] if r["figure"].startswith("invariant.")]
    differ = [f"{r['figure'].removeprefix('invariant.')} ({r['sim']}/{r['live']})"
              for r in verdicts if r["agree"] is False]
    same = "yes" if not differ else "no: " + ", ".join(differ)
    cpu = doc.get("lab_cpu") or {}
    comparable = "n/a" if not cpu else ("yes" if cpu.get("comparable") else
                                        f"no ({cpu.get('busy_cores')} cores)")
    return (f"| {label} | {preset} | x{doc['speed']:g} | {_pair(_fig(doc, 'availability'), 4)} "
            f"| {_pair(_fig(doc, 'goodput_per_s'))} | {_pair(_fig(doc, 'latency_p50_ms'))} "
            f"| {same} | {comparable} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--speed", default=None, help="one speed for every row (default: each "
                        "row's safe speed)")
    parser.add_argument("--out", type=Path, default=Path("runs/twin-table"))
    parser.add_argument("--only", nargs="*", default=None, help="scenario names to run")
    parser.add_argument("--presets", nargs="*", default=list(PRESETS), choices=list(PRESETS),
                        help="the presets to run (default: both)")
    args = parser.parse_args()
    lines = ["| row | policies | speed | availability sim / live | goodput (ok/s) sim / live "
             "| p50 ms sim / live | same verdicts | comparable |",
             "|---|---|---|---|---|---|---|---|"]
    for label, scenario in ROWS:
        if args.only and scenario not in args.only:
            continue
        for preset in args.presets:
            out = args.out / f"{scenario}-{preset}"
            argv = [sys.executable, "-m", "chaoslab", "twin", scenario, "--policies", preset,
                    "--seeds", str(args.seeds), "--out", str(out)]
            if args.speed:
                argv += ["--speed", args.speed]
            print("$", " ".join(argv[2:]), flush=True)
            subprocess.run(argv, check=False)
            twin = out / "twin.json"
            if not twin.exists():
                lines.append(f"| {label} | {preset} | - | run failed | | | | |")
                continue
            lines.append(line(label, preset, json.loads(twin.read_text(encoding="utf-8"))))
    table = "\n".join(lines)
    print(table)
    (args.out / "agreement.md").write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
