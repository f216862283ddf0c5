"""`chaoslab sim`: reports written where asked, determinism, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoslab.cli import main


def _report(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return data


def test_same_scenario_and_seed_give_the_same_report(small_scenario: Path,
                                                     tmp_path: Path) -> None:
    """Two runs (one in a process pool, one in-process) agree byte for byte but wall_s."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["sim", str(small_scenario), "--seeds", "2", "--workers", "2",
                 "--policies", "baseline", "--out", str(a)]) == 0
    assert main(["sim", str(small_scenario), "--seeds", "2", "--workers", "1",
                 "--policies", "baseline", "--out", str(b)]) == 0
    ra, rb = _report(a), _report(b)
    ra.pop("wall_s")
    rb.pop("wall_s")
    assert ra == rb
    assert ra["replications"] == 2 and ra["mode"] == "sim"
    assert (a / "history.jsonl").read_bytes() == (b / "history.jsonl").read_bytes()
    total = ra["requests"]["total"]  # type: ignore[index]
    assert 8800 < total < 10400  # 4 req/s x office factor 2 x 600 s x 2 seeds: 9600 +- 4 sd


def test_a_different_seed_gives_a_different_history(small_scenario: Path,
                                                    tmp_path: Path) -> None:
    for seed in (1, 2):
        assert main(["sim", str(small_scenario), "--seeds", "1", "--seed", str(seed),
                     "--out", str(tmp_path / str(seed))]) == 0
    one = (tmp_path / "1" / "history.jsonl").read_bytes()
    two = (tmp_path / "2" / "history.jsonl").read_bytes()
    assert one != two


def test_check_exits_1_when_an_invariant_is_false(small_scenario: Path,
                                                  tmp_path: Path) -> None:
    """The baseline's users stay pinned to the replica behind the failed switch."""
    out = tmp_path / "out"
    code = main(["sim", str(small_scenario), "--seeds", "1", "--policies", "baseline",
                 "--out", str(out), "--check"])
    availability = next(v for v in _report(out)["invariants"]  # type: ignore[attr-defined]
                        if v["name"] == "availability")
    assert availability["valid"] is False
    assert code == 1
    assert main(["sim", str(small_scenario), "--seeds", "1", "--policies", "resilient",
                 "--out", str(tmp_path / "r"), "--check"]) == 0


@pytest.mark.parametrize(("edit", "expected"), [
    (("rate_per_s = 4", "rate_per_s = \"fast\""), "key workload.rate_per_s"),
    (("no_lost_writes = {}", "no_such_invariant = {}"), "invariant 'no_such_invariant'"),
    (("switch = \"switch-a\"", "switch = \"switch-q\""), "key faults[0].switch"),
])
def test_bad_input_exits_2_and_writes_nothing(small_scenario: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              edit: tuple[str, str], expected: str) -> None:
    text = small_scenario.read_text(encoding="utf-8")
    assert edit[0] in text
    small_scenario.write_text(text.replace(*edit), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sim", str(small_scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_policies_and_unknown_scenarios_exit_2(small_scenario: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", str(small_scenario), "--policies", str(tmp_path / "none.toml"),
                 "--out", str(tmp_path / "o")]) == 2
    assert main(["sim", "no_such_scenario", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
    assert "not found" in capsys.readouterr().err


def test_the_report_says_how_the_workload_was_compressed(small_scenario: Path,
                                                         tmp_path: Path) -> None:
    assert main(["sim", str(small_scenario), "--seeds", "1", "--workers", "1", "--speed", "10",
                 "--out", str(tmp_path / "x10")]) == 0
    workload = _report(tmp_path / "x10")["workload"]
    # speed and scale are the compressed scenario's time_scale; arrivals are drawn per run
    # in the simulator, so none are listed; the population is the scenario's divided by the
    # speed (one request stands for ten: each account makes as many requests as unhurried)
    assert workload == {"speed": 10.0, "scale": 10.0, "scale_down": 1, "arrivals": None,
                        "played": None, "population": 10_000}
    # at 1:4 (`--scale 4`) the file's accounts are divided by 4 too, and a request stands
    # for 4 x 10 of the file's
    assert main(["sim", str(small_scenario), "--seeds", "1", "--workers", "1", "--speed", "10",
                 "--scale", "4", "--out", str(tmp_path / "q")]) == 0
    assert _report(tmp_path / "q")["workload"] == {
        "speed": 10.0, "scale": 40.0, "scale_down": 4, "arrivals": None, "played": None,
        "population": 2_500}
    assert main(["sim", str(small_scenario), "--seeds", "1", "--workers", "1",
                 "--out", str(tmp_path / "x1")]) == 0
    assert _report(tmp_path / "x1")["workload"]["speed"] == 1.0  # type: ignore[index]
