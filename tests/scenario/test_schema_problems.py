"""Problems as data: every problem of a file at once, keyed from the top of the file, and the
one sentence a run command shows (the first, saying how many more there are)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenario.schema import Problem, ScenarioError, check_file, load_scenario

MANY = """
description = "five problems in four sections"
duration = "1h"
time_scale = 2
[topology]
switches = ["switch-a", "switch-b", "switch-a"]
racks = ["rack-a", "rack-b", "switch-b"]
[workload]
rate_per_s = -1
rate = 3
[workload.kinds.login]
share = 1
service = { dist = "exponential", mean = "50ms" }
"""

CROSS = """
description = "a bad section, and checks across the others"
duration = "1h"
[workload]
rate_per_s = "fast"
[workload.kinds.login]
share = 1
service = { dist = "exponential", mean = "50ms" }
[[faults]]
kind = "switch_failure"
switch = "switch-z"
start = "1m"
duration = "1m"
[[faults]]
kind = "power_loss"
rack = "rack-z"
start = "5m"
duration = "1m"
[stochastic]
mtbf = { nowhere = "1h" }
mttr = { nowhere = "1m" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "case.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_of_a_file_is_found_at_once(tmp_path: Path) -> None:
    found = check_file(write(tmp_path, MANY))
    assert [p.key for p in found] == [
        "time_scale", "topology.switches", "topology.racks", "workload.rate_per_s",
        "workload.rate"]
    assert found[1] == Problem("topology.switches", "each name once", "'switch-a' twice")
    assert found[2].expected == "names distinct from the switches'"
    assert found[4].what == "is not allowed"


def test_checks_across_sections_still_run_on_the_valid_sections(tmp_path: Path) -> None:
    found = check_file(write(tmp_path, CROSS))
    assert [p.key for p in found] == ["workload.rate_per_s", "faults[0].switch",
                                      "faults[1].rack", "stochastic.mtbf.nowhere"]
    assert found[1].got == "'switch-z'" and found[2].got == "'rack-z'"


def test_a_run_shows_the_first_problem_and_how_many_more(tmp_path: Path) -> None:
    path = write(tmp_path, MANY)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message == (f"{path}: key time_scale is not allowed; expected --speed to compress "
                       f"a scenario's time (and 4 more: `chaoslab validate {path}` lists "
                       f"every one)")
    assert len(err.value.problems) == 5 and err.value.exit_code == 2


def test_a_single_problem_is_one_sentence_without_a_count(tmp_path: Path) -> None:
    path = write(tmp_path, CROSS.replace('"fast"', "5").split("[[faults]]")[0])
    assert check_file(path) == []
    path = write(tmp_path, CROSS.replace('"fast"', "5").replace('"switch-z"', '"switch-a"')
                 .replace('"rack-z"', '"rack-a"').replace("nowhere", "switch-b"))
    assert check_file(path) == []
    path.write_text(path.read_text().replace('"switch-a"', '"switch-z"'))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == (f"{path}: key faults[0].switch: expected one of ['switch-a', "
                              f"'switch-b'], got 'switch-z'")


@pytest.mark.parametrize(("problem", "sentence"), [
    (Problem("a.b", "x", "'y'"), "key a.b: expected x, got 'y'"),
    (Problem("a", "it to be given", what="is missing"), "key a is missing; expected it to be "
     "given"),
    (Problem("faults[0]", said="kind 'meteor' is unknown"), "key faults[0]: kind 'meteor' is "
     "unknown"),
])
def test_a_problem_reads_as_one_sentence(problem: Problem, sentence: str) -> None:
    assert problem.sentence() == sentence


def test_a_problem_found_below_takes_the_key_of_its_model() -> None:
    assert Problem("replicas[0]", "x").under("topology").key == "topology.replicas[0]"
    assert Problem("[1]", "x").under("faults").key == "faults[1]"
    assert Problem("", "x").under("workload.refresh").key == "workload.refresh"
    assert Problem("", "x").under("(top level)").key == "(top level)"
