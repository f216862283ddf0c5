"""Validation of the model before anything else is trusted.

- M/M/c: the model reduced to exponential arrivals and service (sim.validation) has the mean
  wait of Erlang C. CI runs 30 000 requests per case (2 seeds); `benchmarks/bench_sim.py
  --validate` runs 10^6 and holds 2 %. Tolerances here: the relative standard deviation of
  the mean wait, measured over 5 seeds of 20 000 requests on this model, was 2.4 % (c=1,
  load 0.5) and 5.1 % (c=4, load 0.7); with 2 seeds of 30 000 it is 1.4 % and 2.9 %; the
  tolerance is four of those (6 % and 12 %), so a correct model fails about once in 15 000
  runs while a model whose wait is off by a fifth (a wrong service rate or queue discipline)
  fails every time.
- Every family of `sim.validation` (Erlang B, Erlang C's P(wait), Erlang-A, the M/M/1
  retrial queue, M/M/1 with breakdowns, retry amplification with and without a budget)
  against its closed form, 2 seeds of 20 000 arrivals each; `bench_sim.py --validate`
  holds each within 2 % at a 95 % interval over 10 seeds of 100 000. Tolerances: the
  relative standard deviation of one seed's figure, measured on these families (8 seeds
  of 50 000, 3 of 20 000), is at most 3.5 % at 20 000 arrivals for the queueing families
  and 0.7 % for amplification (4 000 calls); the mean of 2 seeds has 2.5 % and 0.5 %, and
  the tolerances are four of those (10 % and 2 %). The budgeted amplification is set by
  the budget, not by chance: 0.5 %. A model off by a rule (a retry that is not retried, a
  breakdown that drops instead of resuming, a loss system that refuses every request) is
  off by a quarter or more.
- Metastability (Bronson et al., HotOS 2021), scenarios/metastable_retry.toml: with retries
  once at once the server does not recover after a 10 s surge; with jittered backoff and a
  2 % retry budget it does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scenario.checkers.load import MetastableParams, metastable_recovery
from scenario.history import History
from scenario.schema import load_scenario
from sim.model import simulate
from sim.policyset import policy_set
from sim.validation import (
    MMC_SERVICE_S,
    amplification,
    breakdown_sojourn_s,
    erlang_a,
    erlang_b,
    erlang_c,
    erlang_c_wait_s,
    families,
    retrial_sojourn_s,
    simulated_wait_s,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize(("servers", "load", "tolerance"), [(1, 0.5, 0.06), (4, 0.7, 0.12)])
def test_the_model_reduced_to_mmc_waits_as_erlang_c(servers: int, load: float,
                                                     tolerance: float) -> None:
    # four seeds: two leave the M/M/4 mean wait 14 % under theory by chance alone
    waits = [simulated_wait_s(servers, load, 30_000, seed) for seed in (1, 2, 3, 4)]
    mean_wait = sum(w for w, _ in waits) / len(waits)
    theory = erlang_c_wait_s(load * servers / MMC_SERVICE_S, MMC_SERVICE_S, servers)
    assert mean_wait == pytest.approx(theory, rel=tolerance)
    assert all(28_000 < n < 32_000 for _, n in waits)  # 30 000 Poisson arrivals, +-6 sd


def test_erlang_c_matches_known_values() -> None:
    # M/M/1: W_q = rho / (mu - lambda); M/M/2 at a = 1: C = 1/3, W_q = C / (2 mu - lambda)
    assert erlang_c_wait_s(5.0, 0.1, 1) == pytest.approx(0.5 / (10 - 5))
    assert erlang_c_wait_s(10.0, 0.1, 2) == pytest.approx((1 / 3) / (20 - 10))
    with pytest.raises(ValueError, match="unstable"):
        erlang_c_wait_s(30.0, 0.1, 2)


FAMILIES = {f.name: f for f in families(20_000)}
TOLERANCE = {"Erlang B": 0.10, "Erlang C": 0.10, "Erlang-A": 0.10, "retrial": 0.10,
             "M/M/1 breakdowns": 0.10, "retry amplification": 0.02, "  with a retry budget": 0.005}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_rule_of_the_model_meets_its_closed_form(name: str) -> None:
    family = FAMILIES[name]
    tolerance = next(t for prefix, t in TOLERANCE.items() if name.startswith(prefix))
    values = [family.one_seed(seed) for seed in (1, 2)]
    assert sum(values) / len(values) == pytest.approx(family.theory, rel=tolerance)


def test_the_closed_forms_match_known_values() -> None:
    # Erlang B(1, a) = a / (1 + a); B(2, 1) = 1/5; C from B: C(2, 1) = 1/3 (above)
    assert erlang_b(1, 3.0) == pytest.approx(0.75)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # Erlang-A with patience as long as... forever tends to Erlang C's P(wait), no abandons
    abandon, waits = erlang_a(2, 10.0, 0.1, 1e6)
    assert abandon == pytest.approx(0.0, abs=1e-6) and waits == pytest.approx(1 / 3, rel=1e-4)
    # retrials at once: the M/M/1 sojourn 1 / (mu - lambda)
    assert retrial_sojourn_s(5.0, 0.1, 1e-9) == pytest.approx(1 / (10 - 5))
    # a server that never breaks: M/M/1 again; one that is up 5/6 of the time at rate 10
    # serves like... more slowly than an M/M/1 at rate 10 x 5/6 (repairs bunch the work)
    assert breakdown_sojourn_s(5.0, 0.1, 1e12, 1.0) == pytest.approx(1 / (10 - 5))
    assert breakdown_sojourn_s(5.0, 0.1, 1.0, 0.2) > 1 / (10 * 5 / 6 - 5)
    assert amplification(0.5, 3) == pytest.approx(1.75) and amplification(1.0, 3) == 3
    assert amplification(0.5, 3, budget=0.1) == pytest.approx(1.1)


def _goodput(history: History, start_s: float, end_s: float) -> float:
    ok = sum(1 for op in history.client_ops()
             if op.type == "ok" and start_s <= op.time_s < end_s)
    return ok / (end_s - start_s)


@pytest.mark.slow
def test_retries_keep_an_overloaded_server_down_and_a_budget_brings_it_back() -> None:
    scenario = load_scenario(SCENARIOS / "metastable_retry.toml")
    # The published numbers divided by 5 (60 of 56 req/s, 1 s timeout, queue 200 = 3.3 s of
    # work): the same utilisation and the same queue in seconds, five times fewer events.
    workload = scenario.workload.model_copy(update={"rate_per_s": 56.0})
    kind = workload.kinds["read_history"]
    service = kind.service.model_copy(update={"value": 1 / 60})
    kinds = {"read_history": kind.model_copy(update={"service": service})}
    workload = workload.model_copy(update={"kinds": kinds})
    replica = scenario.topology.replicas[0].model_copy(update={"max_queue": 200})
    topology = scenario.topology.model_copy(update={"replicas": [replica]})
    scenario = scenario.model_copy(update={"workload": workload, "topology": topology})
    check = metastable_recovery(MetastableParams.model_validate(
        scenario.invariants["metastable_recovery"]))
    retry_once = simulate(scenario, policy_set("baseline", scenario), 1).history
    budgeted = simulate(scenario, policy_set("resilient", scenario), 1).history
    # before the trigger both serve the offered 56 req/s
    assert _goodput(retry_once, 10, 60) > 50 and _goodput(budgeted, 10, 60) > 50
    # long after it ended, retry-once serves almost nothing; the budgeted client is back
    assert _goodput(retry_once, 200, 300) < 5
    assert _goodput(budgeted, 200, 300) > 50
    assert check(retry_once).valid is False
    assert check(budgeted).valid is True
