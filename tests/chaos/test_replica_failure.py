"""One experiment, two runners, for `replica_failure` (issue #20): `chaoslab twin` plays the
scenario file with each work rule in the simulator and on a real lab of its own (loopback,
x2, bounded), and both record the breakdown and judge the same invariants.

Agreement on the figures is not asserted: a run of a dozen live requests says little, and
that is the agreement table's job (benchmarks/twin_agreement.py); here the point is that the
live lab plays the fault at all, on the replica's real process, where before it refused it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(400)]
SCENARIO = Path(__file__).parent / "scenarios" / "replica_failure.toml"


def _scenario(tmp: Path, work: str) -> Path:
    """The scenario file with its breakdown's work rule set to `work`."""
    text = SCENARIO.read_text(encoding="utf-8")
    assert 'work = "resume"' in text
    path = tmp / f"replica_failure_{work}.toml"
    path.write_text(text.replace('work = "resume"', f'work = "{work}"'), encoding="utf-8")
    return path


def _report(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize("work", ["resume", "restart", "drop"])
def test_twin_plays_a_replica_failure_in_both_runners(tmp_path: Path, work: str) -> None:
    out = tmp_path / "twin"
    env = {k: v for k, v in os.environ.items() if k not in ("CHAOSLAB_LAB_DIR", "CHAOSLAB_LAB")}
    done = subprocess.run(  # from tmp_path: no lab another run left in ./runs is reused
        [sys.executable, "-m", "chaoslab", "twin", str(_scenario(tmp_path, work)),
         "--seeds", "2", "--speed", "2", "--seed", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=360, check=False, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fault applied: replica_failure on portal-a" in done.stdout + done.stderr
    sim, live = _report(out / "sim" / "report.json"), _report(out / "live" / "report.json")
    for report in (sim, live):
        assert [(f["kind"], f["target"]) for f in report["faults"]] == [
            ("replica_failure", "portal-a")]
        assert report["requests"]["total"] > 0
    # the live breakdown lasted its window: applied at 1.5 s, healed no earlier than 3.5 s
    (window,) = live["faults"]
    assert window["start_s"] >= 1.5 and window["end_s"] >= 3.5
    verdicts = {side: {v["name"]: v["valid"] for v in r["invariants"]}
                for side, r in (("sim", sim), ("live", live))}
    assert set(verdicts["sim"]) == set(verdicts["live"]) == {"no_lost_writes",
                                                              "no_duplicate_writes"}
    assert False not in verdicts["live"].values(), verdicts  # resilient loses no write
    twin = _report(out / "twin.json")
    judged = {r["figure"]: r["judgement"] for r in twin["rows"]}
    assert judged["invariant.no_lost_writes"] != "differ", judged
    assert not list((out / "live" / "lab" / "pids").glob("*"))  # the lab of its own is gone
