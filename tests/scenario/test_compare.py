"""`chaoslab report DIR [DIR ...]`: the side-by-side table, and one sentence + exit 2 for a
missing or bad report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoslab.cli import main
from scenario.compare import render, table
from scenario.invariants import build_checkers
from scenario.report import RunMeta, build_report, load_report, write_report
from tests.scenario import shapes

SPEC: dict[str, dict[str, object]] = {"no_lost_writes": {}, "availability": {}}


def _run_dir(tmp_path: Path, name: str, resilient: bool, mode: str) -> Path:
    h = shapes.switch_failure(resilient)
    meta = RunMeta.model_validate({"scenario": "switch", "mode": mode, "seed": 1,
                                   "policies": "resilient" if resilient else "baseline",
                                   "duration_s": 120.0, "wall_s": 0.5})
    out = tmp_path / name
    write_report(build_report([h], meta, build_checkers(SPEC)), [h], out)
    return out


def test_table_has_one_column_per_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run_dir(tmp_path, "a", False, "sim")
    b = _run_dir(tmp_path, "b", True, "live")
    assert main(["report", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    rows = table([load_report(a / "report.json"), load_report(b / "report.json")])
    assert out == render(rows) + "\n"
    assert rows[0] == ["", "sim/baseline/switch", "live/resilient/switch"]
    cells = {row[0]: row[1:] for row in rows[1:]}
    assert list(cells) == [
        "availability", "latency p50 (ms)", "latency p95 (ms)", "latency p99 (ms)",
        "requests ok", "requests failed", "requests shed", "writes lost", "writes duplicated",
        "paper share (max)", "invariant no_lost_writes", "invariant availability"]
    assert cells["invariant no_lost_writes"] == ["false", "true"]
    assert cells["invariant availability"] == ["false", "true"]
    assert cells["writes lost"][1] == "0" and int(cells["writes lost"][0]) > 0
    assert float(cells["availability"][0]) < 0.99 and cells["availability"][1] == "1"
    assert out.splitlines()[0].split() == ["sim/baseline/switch", "live/resilient/switch"]


def test_a_missing_report_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    good = _run_dir(tmp_path, "a", True, "sim")
    assert main(["report", str(good), str(tmp_path / "nowhere")]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1 and "nowhere/report.json: no such file" in out.err


@pytest.mark.parametrize(("text", "says"), [
    ("{not json", "cannot be read as JSON"),
    ('{"scenario": "x"}', "not a chaoslab report (mode: Field required); expected a chaoslab "
                          "report.json"),
    ("[1, 2]", "not a chaoslab report"),
])
def test_a_bad_report_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str,
) -> None:
    (tmp_path / "report.json").write_text(text, encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and err.count("\n") == 1
