"""`chaoslab lab run` end to end: bad input stops before anything starts; a run writes its
report and leaves no process and no proxy behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaoslab.cli import main

SCENARIOS = Path(__file__).parent / "scenarios"
UNKNOWN_SWITCH = """
description = "names a switch the lab does not have"
duration = "10s"
[topology]
switches = ["switch-a", "switch-b", "switch-c"]
[workload]
rate_per_s = 1
[workload.kinds.read_history]
share = 1
service = { dist = "exponential", mean = "30ms" }
[[faults]]
kind = "switch_failure"
switch = "switch-c"
start = "1s"
duration = "2s"
"""


def test_unknown_switch_fails_before_anything_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(UNKNOWN_SWITCH, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["lab", "run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "faults[0].switch names switch 'switch-c'" in err
    assert "switch-a, switch-b" in err
    assert not out.exists()


def test_unknown_scenario_is_bad_input(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "run", "no_such_scenario", "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.chaos
def test_lab_run_writes_the_report_and_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "chaoslab", "lab", "run", str(SCENARIOS / "switch_failure.toml"),
         "--speed", "2", "--out", str(out), "--check"],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "live"
    assert report["requests"]["total"] > 0
    assert [f["kind"] for f in report["faults"]] == ["switch_failure"]
    assert {v["name"] for v in report["invariants"]} == {
        "availability", "no_lost_writes", "no_duplicate_writes"}
    assert (out / "report.html").exists() and (out / "history.jsonl").exists()
    # every process the run started is gone: no pid file left, no pid alive
    assert not list((out / "lab" / "pids").glob("*"))
    assert not (out / "lab" / "lab.json").exists()
    mine = subprocess.run(["pgrep", "-f", str(out / "lab")], capture_output=True, text=True,
                          check=False)
    assert mine.stdout.strip() == "", f"left behind: {mine.stdout}"
    assert os.path.isdir(out / "lab" / "logs")
