"""`chaoslab sim` on bad input found by the audit: exit 2 with one sentence, before any
simulation, and nothing written outside the place asked for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import chaoslab.simulate
import sim.nemesis
from chaoslab.cli import main
from faults.errors import InvalidFault
from scenario.schema import ScenarioError, load_scenario
from sim.nemesis import timeline


def _no_run(*args: object) -> object:
    raise AssertionError("the simulation ran on bad input")


def _one_sentence(capsys: pytest.CaptureFixture[str], *expected: str) -> None:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for part in expected:
        assert part in err, err


@pytest.mark.parametrize("where", ["file/sub", "/proc/chaoslab-audit/x", "/proc"])
def test_an_out_that_cannot_be_created_exits_2_before_simulating(
        small_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    (tmp_path / "file").write_text("not a directory", encoding="utf-8")
    out = tmp_path / where if not where.startswith("/") else Path(where)
    monkeypatch.setattr(chaoslab.simulate, "run_all", _no_run)
    assert main(["sim", str(small_scenario), "--seeds", "1", "--out", str(out)]) == 2
    _one_sentence(capsys, f"--out {out}: cannot create or write to it",
                  "expected a writable directory")


@pytest.mark.parametrize("interpreter", ["python", sys.executable])
def test_a_failed_write_is_one_sentence_and_leaves_no_directory(
        small_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, interpreter: str) -> None:
    # with another interpreter (this one's command) the worker has written the history
    # beside the report already: it goes too
    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chaoslab.simulate, "write_report", full_disk)
    out = tmp_path / "new" / "out"
    assert main(["sim", str(small_scenario), "--seeds", "1", "--workers", "1",
                 "--interpreter", interpreter, "--out", str(out)]) == 2
    _one_sentence(capsys, f"--out {out}: cannot write the report (No space left on device)")
    assert not (tmp_path / "new").exists()


def test_a_path_as_scenario_name_writes_nothing_outside_runs(
        small_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = small_scenario.read_text(encoding="utf-8")
    small_scenario.write_text('name = "../../evil"\n' + text, encoding="utf-8")
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(chaoslab.simulate, "run_all", _no_run)
    assert main(["sim", str(small_scenario), "--seeds", "1"]) == 2
    _one_sentence(capsys, "key name: expected a plain name", "got '../../evil'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "small.toml"]
    assert list(cwd.iterdir()) == []


def test_an_invalid_fault_while_building_the_timeline_is_a_scenario_error(
        small_scenario: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = small_scenario.read_text(encoding="utf-8")
    small_scenario.write_text(text + '[stochastic]\nmtbf = { switch-b = "1h" }\n'
                              'mttr = { switch-b = "1m" }\n', encoding="utf-8")
    scenario = load_scenario(small_scenario)

    def refuse(*args: object, **kwargs: object) -> None:
        raise InvalidFault("random schedule: mtbf_s 0.0 and mttr_s 60.0; expected both > 0")

    monkeypatch.setattr(sim.nemesis, "random_schedule", refuse)
    with pytest.raises(ScenarioError, match=r"^scenario small: random schedule: mtbf_s 0\.0 "
                                            r"and mttr_s 60\.0; expected both > 0$"):
        timeline(scenario, 1)


@pytest.mark.timeout(60)  # before the fix, the endless duration hung the fault timeline
@pytest.mark.parametrize(("edit", "expected"), [
    (('start = "1403-06-10T09:00"', 'start = "yesterday"'), "key start: expected a Solar Hijri"),
    (("rate_per_s = 4", 'rate_per_s = 4\nstep = "0s"'), "key workload.step: expected a duration"),
    (("rate_per_s = 4", "rate_per_s = inf"), "key workload.rate_per_s: expected a finite number"),
    (('duration = "10m"', 'duration = "99999999999999999999d"'), "at most 400d"),
    (("share = 0.3", "share = inf"), "key workload.kinds.login.share: expected a finite number"),
])
def test_a_scenario_the_workers_crashed_or_hung_on_exits_2_before_simulating(
        small_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, edit: tuple[str, str], expected: str) -> None:
    text = small_scenario.read_text(encoding="utf-8")
    assert edit[0] in text
    small_scenario.write_text(text.replace(*edit), encoding="utf-8")
    monkeypatch.setattr(chaoslab.simulate, "run_all", _no_run)
    out = tmp_path / "out"
    assert main(["sim", str(small_scenario), "--out", str(out)]) == 2
    _one_sentence(capsys, expected)
    assert not out.exists()
