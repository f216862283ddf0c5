"""`chaoslab tune`: recovers a capacity that theory computes, writes a set `--policies` takes,
refuses a bad space in one sentence, and is deterministic for a seed and a budget.

tests/chaoslab/data/erlang_loss.toml is an Erlang loss system (one replica, no waiting room,
no retry): at a = 4 Erlangs, blocking B(c, 4) is 0.0304 at c = 8 and 0.0133 at c = 9, so the
least number of workers with availability >= 0.98 is 9. Over 5 simulated minutes (12,000
arrivals) the availability's seed-to-seed deviation is ~0.001, against margins of 0.010 (c = 8)
and 0.007 (c = 9): the answer is not a coin toss.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoslab.cli import main
from chaoslab.explore import load
from chaoslab.tune import (
    DEFAULT_SPACE,
    Options,
    Param,
    Space,
    capacity_needed,
    load_space,
    local_mapper,
    pareto,
    tune,
)
from policies.resolve import resolve_policies
from scenario.errors import BadInput

DATA = Path(__file__).resolve().parents[1] / "chaoslab" / "data"
ERLANG = DATA / "erlang_loss.toml"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
WORKERS = Space((), (Param("workers", 1, 16, integer=True),))
OPTIONS = Options("baseline", budget=20, seeds=2, seed=1)


def _erlang_b(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def test_the_computed_answer_is_nine_workers() -> None:
    least = min(c for c in range(1, 30) if 1 - _erlang_b(c, 4.0) >= 0.98)
    assert least == 9


def test_tune_recovers_the_least_capacity_erlang_gives() -> None:
    bases = [load(str(ERLANG), SCENARIOS)[1]]
    study = tune(bases, WORKERS, OPTIONS, local_mapper(1, "local"))
    front = pareto(study)
    assert front, "no trial passed"
    assert front[0].params["workers"] == 9
    failing = {t.params["workers"] for t in study.trials
               if t.user_attrs["result"]["false"] > 0}
    assert failing and max(failing) < 9  # every trial below 9 was found failing


def test_capacity_search_alone_gives_the_same_answer() -> None:
    bases = [load(str(ERLANG), SCENARIOS)[1]]
    assert capacity_needed(bases, OPTIONS, WORKERS, local_mapper(1, "local")) == (0, 9)


def test_same_seed_same_trials_on_one_process_or_two() -> None:
    bases = [load(str(ERLANG), SCENARIOS)[1]]
    options = Options("baseline", budget=6, seeds=1, seed=3)
    one = tune(bases, WORKERS, options, local_mapper(1, "local"))
    two = tune(bases, WORKERS, options, local_mapper(2, "local"))
    assert [(t.params, t.values) for t in one.trials] == \
        [(t.params, t.values) for t in two.trials]


def test_the_command_writes_a_set_policies_takes(tmp_path: Path) -> None:
    space = tmp_path / "space.toml"
    space.write_text('[policies]\n"client.retry.max_attempts" = { low = 1, high = 3 }\n'
                     "[capacity]\nworkers = { low = 1, high = 16 }\n")
    out = tmp_path / "out"
    code = main(["tune", str(ERLANG), "--space", str(space), "--budget", "20", "--seeds", "2",
                 "--policies", "baseline", "--workers", "1", "--out", str(out)])
    assert code == 0
    chosen = resolve_policies(out / "chosen-policies.json")
    assert 1 <= chosen.client.retry.max_attempts <= 3
    doc = json.loads((out / "tune.json").read_text())
    assert len(doc["trials"]) == 20 and doc["pareto"]
    assert "plotly" in (out / "pareto.html").read_text()[:200_000].lower()


@pytest.mark.parametrize(("text", "message"), [
    ('[policies]\n"client.retry.nope" = { low = 1, high = 3 }\n', "is not a key of the policy"),
    ('[policies]\n"paper_quota_share" = { low = 0.1, high = 0.3 }\n', "is the law"),
    ('[policies]\n"client.budget.ratio" = { low = 0.5, high = 0.1 }\n', "low <= high"),
    ('[capacity]\ncpus = { low = 1, high = 3 }\n', "expected 'replicas' or 'workers'"),
    ("[policy]\n", "unknown table [policy]"),
    ("not toml = = \n", "cannot read it"),
])
def test_a_bad_space_is_one_sentence(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_space(path, resolve_policies("resilient"))


def test_the_default_space_loads() -> None:
    space = load_space(DEFAULT_SPACE, resolve_policies("resilient"))
    assert {p.key for p in space.capacity} == {"replicas", "workers"}
    assert "paper_quota_share" not in {p.key for p in space.policies}
