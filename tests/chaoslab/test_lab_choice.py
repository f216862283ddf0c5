"""One lab: `lab run` uses the lab `lab up` started (found as `lab status` finds it) or the
one `--lab` names, starts its own only when none runs, and says which it used."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoslab.live.cli import LAB_DIR_ENV, choose_lab
from policies.resolve import resolve_policies
from scenario.errors import BadInput

SCENARIOS = Path(__file__).parent.parent / "chaos" / "scenarios"


def _args(policies: str = "resilient", lab: Path | None = None,
          new_lab: bool = False) -> argparse.Namespace:
    return argparse.Namespace(policies=policies, lab=lab, new_lab=new_lab)


@pytest.fixture(autouse=True)
def _no_lab_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LAB_DIR_ENV, raising=False)


def test_without_a_running_lab_it_starts_its_own_and_says_so(tmp_path: Path) -> None:
    lab, which = choose_lab(_args(), resolve_policies("resilient"), tmp_path / "out",
                            default_dir=tmp_path / "runs" / "lab")
    assert lab is None
    assert "none running in" in which and str(tmp_path / "out" / "lab") in which


def test_a_named_lab_that_does_not_run_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"--lab .*: no lab runs there"):
        choose_lab(_args(lab=tmp_path / "nolab"), resolve_policies("resilient"),
                   tmp_path / "out", default_dir=tmp_path / "runs" / "lab")


def test_new_lab_always_starts_its_own(tmp_path: Path) -> None:
    lab, which = choose_lab(_args(new_lab=True), resolve_policies("resilient"),
                            tmp_path / "out", default_dir=tmp_path)
    assert lab is None and "--new-lab" in which


@pytest.fixture(scope="module")
def lab_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A lab started as the README says: `lab up --detach`; stopped with `lab down`."""
    run_dir = tmp_path_factory.mktemp("up") / "lab"
    chaoslab = [sys.executable, "-m", "chaoslab", "lab"]
    done = subprocess.run([*chaoslab, "up", "--detach", "--dir", str(run_dir), "--policies",
                           "resilient"], capture_output=True, text=True, timeout=120,
                          check=False)
    try:
        assert done.returncode == 0, done.stderr
        yield run_dir
    finally:
        subprocess.run([*chaoslab, "down", "--dir", str(run_dir)], capture_output=True,
                       timeout=120, check=False)


@pytest.mark.chaos
def test_the_lab_lab_up_started_is_found_and_another_set_left_alone(
        lab_up: Path, tmp_path: Path) -> None:
    lab, which = choose_lab(_args(), resolve_policies("resilient"), tmp_path / "out",
                            default_dir=lab_up)
    assert lab is not None and lab.state.run_dir == lab_up
    assert f"using the running lab in {lab_up}" in which
    lab, which = choose_lab(_args("baseline"), resolve_policies("baseline"),
                            tmp_path / "out", default_dir=lab_up)
    assert lab is None and "leaving it alone" in which
    with pytest.raises(BadInput, match="runs policies 'resilient'"):  # named: refused
        choose_lab(_args("baseline", lab=lab_up), resolve_policies("baseline"),
                   tmp_path / "out", default_dir=lab_up)


@pytest.mark.chaos
def test_lab_run_uses_the_running_lab_and_logs_its_events(lab_up: Path, tmp_path: Path) -> None:
    """Off a terminal the live view is a line-per-event log: the lab it used, the faults
    applied and healed on the scenario's clock, the counts; no second lab is started."""
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "chaoslab", "lab", "run", str(SCENARIOS / "switch_failure.toml"),
         "--lab", str(lab_up), "--speed", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    log = done.stdout
    assert f"lab: using the running lab in {lab_up} (--lab)" in log
    assert "fault applied: switch_failure on switch-a" in log
    assert "fault healed: switch_failure on switch-a" in log
    assert "warming up" in log and ", p99 " in log
    assert not (out / "lab").exists()  # no second lab
    assert (out / "report.json").exists()
    status = subprocess.run([sys.executable, "-m", "chaoslab", "lab", "status", "--dir",
                             str(lab_up)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert status.returncode == 0, status.stdout  # the lab it used is still up
