"""A report.json with impossible numbers (NaN, Infinity, negative counts, ratios outside
[0, 1]) or of another shape is one sentence naming the file and the field, and exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaoslab.cli import main
from scenario.invariants import build_checkers
from scenario.report import ReportError, RunMeta, build_report, load_report, report_json
from tests.scenario import shapes

EXPECTED = "expected a chaoslab report.json"


def _good() -> dict[str, Any]:
    h = shapes.switch_failure(True)
    meta = RunMeta(scenario="switch", mode="sim", policies="resilient", seed=1,
                   duration_s=120.0, wall_s=0.5)
    data: dict[str, Any] = json.loads(report_json(build_report(
        [h], meta, build_checkers({"availability": {}}))))
    return data


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = _good()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


# report.json text (json.dumps writes NaN and Infinity, as a hand-edited file might)
BAD = [
    (_with(("availability",), float("inf")), "availability", "finite number"),
    (_with(("availability",), float("nan")), "availability", "finite number"),
    (_with(("latency_ms", "p50"), float("inf")), "latency_ms.p50", "finite number"),
    (_with(("availability",), -3), "availability", "greater than or equal to 0"),
    (_with(("availability",), 1.5), "availability", "less than or equal to 1"),
    (_with(("prescriptions", "paper_share_max"), 2.0), "prescriptions.paper_share_max",
     "less than or equal to 1"),
    (_with(("requests", "ok"), -1), "requests.ok", "greater than or equal to 0"),
    (_with(("writes", "lost"), -2), "writes.lost", "greater than or equal to 0"),
    ({"foo": 1}, "scenario", "Field required"),
]


@pytest.mark.parametrize(("data", "field", "says"), BAD)
def test_load_report_refuses_it_naming_file_and_field(
    tmp_path: Path, data: dict[str, Any], field: str, says: str,
) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReportError) as info:
        load_report(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a chaoslab report ({field}: ")
    assert says in message and message.endswith(EXPECTED) and "\n" not in message


@pytest.mark.parametrize(("data", "field", "says"), BAD[:3])
def test_report_command_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: dict[str, Any], field: str,
    says: str,
) -> None:
    (tmp_path / "report.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and "Traceback" not in out.err
    assert f"({field}: " in out.err and says in out.err and EXPECTED in out.err


def test_a_good_report_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_good()), encoding="utf-8")
    assert load_report(path).availability is not None
