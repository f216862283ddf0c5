"""`chaoslab twin` on two rows of DESIGN.md's fault table: the simulator and the live lab
agree on the same experiment, and the comparison fails when the runners diverge.

Each row runs the twin once (module fixture: the simulator over SEEDS seeds, then a real lab
on loopback at SPEED, the same resolved policy file and seed) and checks:

- agreement: availability and goodput agree within the issue's tolerance (2 points, 10 %),
  and no invariant verdict differs. p50 is reported, not asserted: the lab's request path
  (HTTP hops through the proxies, parsing, SQLite) adds 30-40 ms a request that the model's
  service times leave out (a finding, README), which is more than 10 % of a p50 of 300 ms.
- divergence: the same live history against a simulator whose service times are doubled
  (each kind's distribution scaled 2x) must be told apart: availability or goodput no longer
  agrees, or a goal figure (p50 included) differs. So the agreement above is not one that
  any simulator would pass.

"Differs" means outside the figure's tolerance and outside the 95 % prediction interval of
one more simulated replication (scenario/agreement.py): a one-minute run is a few hundred
requests, and its seeds alone can differ by more than the tolerance. The rows are ones the
agreement table (benchmarks/twin_agreement.py, README) found agreeing on availability and
goodput at these speeds, each run lasting a live minute.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaoslab.cli import SCENARIO_DIR, main
from scenario.agreement import compare, figures
from scenario.history import History
from scenario.invariants import build_checkers
from scenario.schema import Scenario, find_scenario, load_scenario
from sim.model import simulate
from sim.policyset import policy_set

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(420)]

SEEDS = 8  # simulated seeds are cheap (a compressed run is a second): t(0.975, 7) = 2.36
# switch_failure / baseline is not a row: its live leg sometimes loses 4-5 % of operations to
# users' timeouts after the switch heals, an open finding (README: "Post-heal timeouts"). As a
# non-strict expected failure it asserted nothing and cost 100 s of every `make test`; the
# README gives the command that reproduces it.
ROWS = (  # (scenario, policy preset, speed): each run lasts a live minute
    ("month_end_lists", "baseline", "600"),
    ("rolling_deploy", "baseline", "60"),
)


def _twin(tmp: Path, scenario: str, policies: str, speed: str) -> dict[str, Any]:
    out = tmp / f"{scenario}-{policies}"
    code = main(["twin", scenario, "--policies", policies, "--seeds", str(SEEDS), "--speed",
                 speed, "--out", str(out)])
    assert code == 0, f"chaoslab twin {scenario} exited {code}"
    doc: dict[str, Any] = json.loads((out / "twin.json").read_text(encoding="utf-8"))
    doc["out"] = str(out)
    return doc


@pytest.fixture(scope="module", params=ROWS,
                ids=["month_end_lists-baseline", "rolling_deploy-baseline"])
def twin(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    scenario, policies, speed = request.param
    return _twin(tmp_path_factory.mktemp("twin"), scenario, policies, speed)


MAIN = ("availability", "goodput_per_s")


def agreement(rows: list[dict[str, Any]]) -> list[str]:
    """What keeps `rows` from agreeing: availability or goodput not within its tolerance, or
    an invariant verdict that differs (empty: they agree)."""
    judged = {r["figure"]: r["judgement"] for r in rows}
    out = [f"{f}: {judged.get(f)}" for f in MAIN if judged.get(f) != "agree"]
    return out + [f"{r['figure']}: differ" for r in rows
                  if r["figure"].startswith("invariant.") and r["judgement"] == "differ"]


def test_sim_and_live_agree_on_availability_goodput_and_verdicts(twin: dict[str, Any]) -> None:
    assert agreement(twin["rows"]) == [], twin["verdict"]["summary"]
    cpu = twin["lab_cpu"]
    assert cpu is not None and cpu["comparable"], cpu


def _slower(scenario: Scenario, factor: float) -> Scenario:
    """`scenario` with every kind's service time distribution scaled by `factor`."""
    kinds = {}
    for name, kind in scenario.workload.kinds.items():
        dist = kind.service.model_dump()  # seconds; copied without re-validation below
        scaled = {k: [x * factor for x in v] if k == "values" else v * factor
                  for k, v in dist.items() if k in ("mean", "p50", "p99", "value", "low",
                                                    "high", "values")}
        kinds[name] = kind.model_copy(update={"service": kind.service.model_copy(
            update=scaled)})
    workload = scenario.workload.model_copy(update={"kinds": kinds})
    return scenario.model_copy(update={"workload": workload})


def test_a_simulator_with_service_times_off_by_2x_disagrees(twin: dict[str, Any]) -> None:
    scenario = load_scenario(find_scenario(twin["scenario"], SCENARIO_DIR))
    compressed = _slower(scenario.live(float(twin["speed"])), 2.0)  # what the lab played
    ps = policy_set(str(Path(twin["out"]) / "policies.json"), scenario)
    checkers = build_checkers(compressed.invariants)
    sims = [figures(simulate(compressed, ps, twin["seed"] + i).history, checkers,
                    compressed.duration) for i in range(SEEDS)]
    live = History.read_jsonl(Path(twin["out"]) / "live" / "history.jsonl")
    rows = [r.as_dict() for r in compare(sims, figures(live, checkers, compressed.duration))]
    told = agreement(rows) + [r["figure"] for r in rows
                              if r["goal"] and r["judgement"] == "differ"]
    assert told, "a simulator twice as slow should not agree with the lab"
