"""Every invariant's checker fails on a baseline-shaped history under its fault and passes
on a resilient-shaped one (DESIGN.md: a checker that cannot fail is a defect).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scenario.history import History
from scenario.invariants import REGISTRY, build_checker
from tests.scenario import shapes, shapes_load

Shape = Callable[[bool, int], History]

# invariant -> (the fault's history shape, thresholds from its scenario)
CASES: dict[str, tuple[Shape, dict[str, object]]] = {
    "no_lost_writes": (shapes.switch_failure, {}),
    "no_duplicate_writes": (shapes.switch_failure, {}),
    "availability": (shapes.switch_failure, {"target": 0.99}),
    "login_p99": (shapes.slow_upstream, {"slo_ms": 3000}),
    "breaker_opens_in_time": (shapes.slow_upstream, {"open_within_s": "30s"}),
    "open_breaker_calls": (shapes.slow_upstream, {"max_probes": 2, "grace_s": 5}),
    "stale_reads": (shapes.upstream_outage, {"max_staleness_s": "5m"}),
    "queued_writes_once": (shapes.upstream_outage, {"fs": ["submit_list"]}),
    "upstream_amplification": (shapes.upstream_outage, {"max_amplification": 1.1}),
    "drafts_restorable": (shapes.power_loss, {}),
    "paper_share": (shapes.pharmacy_network, {"max_share": 0.2}),
    "paper_reconciled_once": (shapes.pharmacy_network, {}),
    "deploy_no_failures": (shapes.deploy, {}),
    "goodput_near_capacity": (shapes_load.peak, {"capacity_per_s": shapes_load.CAPACITY_PER_S,
                                                 "slo_ms": 2000}),
    "admitted_p99": (shapes_load.peak, {"slo_ms": 2000}),
    "priority_shedding": (shapes_load.peak, {}),
    "metastable_recovery": (shapes_load.refresh_storm, {"recover_within_s": "30s"}),
    "login_under_attack": (shapes_load.credential_stuffing, {"slo_ms": 3000}),
}


def test_every_registered_invariant_has_a_case() -> None:
    assert set(CASES) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [1, 2])
def test_fails_under_baseline_and_passes_under_resilient(name: str, seed: int) -> None:
    shape, params = CASES[name]
    check = build_checker(name, params)
    bad, good = check(shape(False, seed)), check(shape(True, seed))
    assert bad.valid is False, bad.detail
    assert good.valid is True, good.detail
    assert bad.name == good.name == name
    assert bad.detail and good.detail


def test_a_wrong_password_accepted_fails_even_with_fast_logins() -> None:
    check = build_checker("login_under_attack", {"slo_ms": 3000})
    verdict = check(shapes_load.credential_stuffing(True, breach=True))
    assert verdict.valid is False
    assert "1 of" in verdict.detail and "attacker-0" in verdict.detail


def test_login_checks_ignore_attack_traffic() -> None:
    """The attackers' slow failures under baseline are not the citizens' latency."""
    h = shapes_load.credential_stuffing(False)
    only_attackers = History([op for op in h.ops if not op.process.startswith("citizen-")])
    assert build_checker("login_p99", {})(only_attackers).valid == "unknown"
    assert build_checker("availability", {})(only_attackers).valid == "unknown"
