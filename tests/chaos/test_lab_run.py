"""`chaoslab lab run` end to end: bad input stops before anything starts; a run writes its
report and leaves no process and no proxy behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chaoslab.cli import main
from mock_services.lab.state import NoLab
from mock_services.lab.state import load as load_map

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


# every other request kind of the scenario schema, so the live history must show them all
EVERY_KIND = "".join(
    f'[workload.kinds.{k}]\nshare = {share}\nprofile = "flat"\n'
    f'service = {{ dist = "exponential", mean = "30ms" }}\n'
    for k, share in (("prescribe", 0.6), ("dispense", 0.2), ("login", 0.1),
                     ("recover_password", 0.1), ("read_payslip", 0.1), ("submit_list", 0.1)))


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
    # one invariant that cannot hold (no request answers in a microsecond): --check exits 1
    scenario = tmp_path / "switch_failure.toml"
    scenario.write_text((SCENARIOS / "switch_failure.toml").read_text(encoding="utf-8")
                        + "admitted_p99 = { slo_ms = 0.001 }\n" + EVERY_KIND, encoding="utf-8")
    done = subprocess.run(
        # seed 2 draws every kind of the scenario at least once in its 7 s at x2
        [sys.executable, "-m", "chaoslab", "lab", "run", str(scenario), "--speed", "2",
         "--seed", "2", "--out", str(out), "--check", "--new-lab"],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert "invariants false: " in done.stdout and "admitted_p99" in done.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "live"
    assert report["requests"]["total"] > 0
    assert {f["kind"] for f in report["faults"]} == {"switch_failure", "toxic"}
    verdicts = {v["name"]: v["valid"] for v in report["invariants"]}
    assert set(verdicts) == {"availability", "no_lost_writes", "no_duplicate_writes",
                             "admitted_p99"}
    assert verdicts["admitted_p99"] is False
    assert (out / "report.html").exists() and (out / "history.jsonl").exists()
    played = {json.loads(line)["f"] for line in
              (out / "history.jsonl").read_text(encoding="utf-8").splitlines()}
    kinds = {"read_history", "register_workshop", "save_draft", "prescribe", "dispense",
             "login", "recover_password", "read_payslip", "submit_list"}
    workload = report["workload"]
    assert set(workload["arrivals"]) == kinds  # drawn: else the seed is to blame, not the run
    assert kinds <= played, kinds - played
    # every drawn arrival was played (one that could not be is recorded as failed)
    assert (workload["speed"], workload["scale"]) == (2.0, 2.0)
    assert workload["played"] == workload["arrivals"]
    # what the replicas served of the demand, per kind: each kind the portal emulates, its
    # slots held at least as long as drawn (longer where the real work outran the draw)
    demand = report["service_demand"]
    assert {"read_history", "login", "prescribe", "dispense"} <= set(demand), demand
    for kind, served in demand.items():
        assert served["requests"] > 0 and served["held_s"] >= served["drawn_s"] > 0, kind
    # every process the run started is gone: no pid file left, no pid alive
    assert not list((out / "lab" / "pids").glob("*"))
    assert not (out / "lab" / "lab.json").exists()
    mine = subprocess.run(["pgrep", "-f", str(out / "lab")], capture_output=True, text=True,
                          check=False)
    assert mine.stdout.strip() == "", f"left behind: {mine.stdout}"
    assert os.path.isdir(out / "lab" / "logs")


@pytest.mark.chaos
def test_ctrl_c_heals_and_stops_everything(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaoslab", "lab", "run", str(SCENARIOS / "switch_failure.toml"),
         "--out", str(out), "--new-lab"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60.0
        # interrupt once the run is under way: the lab is up and the nemesis has acted
        while time.monotonic() < deadline and proc.poll() is None:
            pids = list((out / "lab" / "pids").glob("*")) if (out / "lab").exists() else []
            if len(pids) >= 7 and _faults_started(out):
                break
            time.sleep(0.1)  # a poll with a deadline
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert not list((out / "lab" / "pids").glob("*"))
    mine = subprocess.run(["pgrep", "-f", str(out / "lab")], capture_output=True, text=True,
                          check=False)
    assert mine.stdout.strip() == "", f"left behind: {mine.stdout}"


def _faults_started(out: Path) -> bool:
    """True once the nemesis has put its first toxic on a client link (read from the lab's
    Toxiproxy, whose address the lab map names)."""
    try:
        lab = load_map(out / "lab")
        name = lab.proxy_name("client-portal-a")  # the lab's proxies carry its id
        proxy = httpx.get(f"{lab.toxiproxy_url}/proxies/{name}", timeout=2.0).json()
    except (NoLab, ValueError, httpx.HTTPError):
        return False
    return bool(proxy.get("toxics"))
