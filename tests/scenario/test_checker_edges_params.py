"""Checker thresholds at their edges: durations with every unit, the bounds of shares and
quantiles, the defaults a scenario gets from `name = {}`, and the name each checker factory
gives its verdicts when called directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from scenario.checkers import breaker, load, paper, reads, service, writes
from scenario.checkers.params import Params, Quantile, Seconds, Share, parse_duration_s
from scenario.history import History
from scenario.invariants import REGISTRY
from scenario.verdict import Checker

_ALL_WRITES = ("dispense", "paper_record", "prescribe", "reconcile", "register_workshop",
               "save_draft", "submit_list")

# The thresholds a scenario gets when it writes `invariant = {}` (docs/scenarios.md).
DEFAULTS: dict[str, dict[str, object]] = {
    "admitted_p99": {"slo_ms": 2000.0, "quantile": 0.99,
                     "rejected_errors": ("shed", "rate_limited")},
    "availability": {"target": 0.99, "during_faults": False, "fault_kinds": ()},
    "breaker_opens_in_time": {"upstream": None, "open_within_s": 30.0, "fault_kinds": ()},
    "deploy_no_failures": {"fault_kinds": ("deployment_window", "deploy", "rolling_deploy"),
                           "max_failed": 0},
    "drafts_restorable": {"missing_errors": ("not_found", "http_404")},
    "goodput_near_capacity": {"capacity_per_s": None, "min_ratio": 0.8,
                              "fault_kinds": ("peak_load", "surge"), "warmup_s": 0.0,
                              "slo_ms": None},
    "login_p99": {"slo_ms": 3000.0, "quantile": 0.99},
    "login_under_attack": {"slo_ms": 3000.0, "quantile": 0.99},
    "metastable_recovery": {"fault_kinds": (), "recover_within_s": 60.0, "recover_ratio": 0.9,
                            "bucket_s": 5.0, "reference_s": 60.0},
    "no_duplicate_writes": {},
    "no_lost_writes": {"fs": _ALL_WRITES},
    "open_breaker_calls": {"upstream": None, "open_within_s": 30.0, "grace_s": 5.0,
                           "max_probes": 3, "fault_kinds": ()},
    "paper_reconciled_once": {},
    "paper_share": {"max_share": 0.2, "period_s": 30 * 86400.0},
    "priority_shedding": {"interval_s": 1.0,
                          "drop_errors": ("shed", "refused", "timeout", "http_503"),
                          "max_inverted": 0},
    "queued_writes_once": {"fs": _ALL_WRITES, "fault_kinds": ()},
    "stale_reads": {"max_staleness_s": 300.0, "min_served_share": 0.95, "fault_kinds": (),
                    "fs": ("read_history", "read_payslip")},
    "upstream_amplification": {"max_amplification": 1.1, "upstream": None},
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_invariants_default_thresholds(name: str) -> None:
    assert REGISTRY[name].params().model_dump() == DEFAULTS[name]


FACTORIES: dict[str, Callable[..., Checker]] = {
    "no_lost_writes": writes.lost_writes, "no_duplicate_writes": writes.duplicate_writes,
    "queued_writes_once": writes.queued_writes_once,
    "drafts_restorable": writes.drafts_restorable, "paper_share": paper.paper_share,
    "paper_reconciled_once": paper.paper_reconciled_once, "stale_reads": reads.stale_reads,
    "availability": service.availability, "deploy_no_failures": service.deploy_no_failures,
    "login_p99": service.login_p99, "admitted_p99": service.admitted_p99,
    "login_under_attack": service.login_under_attack,
    "breaker_opens_in_time": breaker.breaker_opens_in_time,
    "open_breaker_calls": breaker.open_breaker_calls,
    "upstream_amplification": breaker.upstream_amplification,
    "goodput_near_capacity": load.goodput_near_capacity,
    "priority_shedding": load.priority_shedding,
    "metastable_recovery": load.metastable_recovery,
}


def test_every_invariant_has_a_factory_here() -> None:
    assert set(FACTORIES) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_factory_names_its_verdicts_after_its_invariant(name: str) -> None:
    check = FACTORIES[name](REGISTRY[name].params())
    assert check(History()).name == name


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90.0), ("250ms", 0.25), ("20m", 1200.0), ("2h", 7200.0), ("1d", 86400.0),
    (" 1.5 s ", 1.5), ("3", None), (45, 45), (0.5, 0.5),
])
def test_durations_take_every_unit(text: object, seconds: float | None) -> None:
    if seconds is None:
        with pytest.raises(ValueError, match=re.escape(
                "expected a duration like '90s', '250ms' or '20m', got '3'") + "$"):
            parse_duration_s(text)
    else:
        assert parse_duration_s(text) == seconds


INF = float("inf")


class Bounds(Params):
    """A model with each shared field type."""

    seconds: Seconds = 1.0
    share: Share = 0.5
    q: Quantile = 0.5


@pytest.mark.parametrize(("field", "value"), [
    ("seconds", 0), ("seconds", -1), ("seconds", "0s"), ("seconds", INF),
    ("share", -0.01), ("share", 1.01), ("share", float("nan")),
    ("q", 0), ("q", 1.01), ("q", INF),
])
def test_out_of_range_thresholds_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Bounds.model_validate({field: value})


def test_the_bounds_themselves_are_accepted() -> None:
    assert Bounds(share=0, q=1).model_dump() == {"seconds": 1.0, "share": 0.0, "q": 1.0}
    edge = Bounds.model_validate({"share": 1, "seconds": "1ms"})
    assert edge.model_dump() == {"seconds": 0.001, "share": 1.0, "q": 0.5}


def test_thresholds_are_frozen_and_unknown_keys_refused() -> None:
    bounds = Bounds()
    with pytest.raises(ValidationError):
        bounds.share = 0.1
    with pytest.raises(ValidationError, match="shre"):
        Bounds.model_validate({"shre": 0.1})


GE0 = "Input should be greater than or equal to 0"
GT0 = "Input should be greater than 0"


@pytest.mark.parametrize(("invariant", "raw", "says"), [
    ("open_breaker_calls", {"grace_s": -1}, f"grace_s: {GE0}"),
    ("open_breaker_calls", {"max_probes": -1}, f"max_probes: {GE0}"),
    ("upstream_amplification", {"max_amplification": 0}, f"max_amplification: {GT0}"),
    ("goodput_near_capacity", {"capacity_per_s": -5}, f"capacity_per_s: {GT0}"),
    ("goodput_near_capacity", {"warmup_s": "-1s"}, "warmup_s: Value error"),
    ("goodput_near_capacity", {"slo_ms": float("nan")}, "slo_ms: Input should be a finite number"),
    ("priority_shedding", {"max_inverted": -1}, f"max_inverted: {GE0}"),
    ("deploy_no_failures", {"max_failed": -2}, f"max_failed: {GE0}"),
])
def test_a_threshold_that_cannot_mean_anything_is_refused_in_one_sentence(
        invariant: str, raw: dict[str, object], says: str) -> None:
    """A negative grace, probe count or failure allowance, a capacity or SLO of zero or NaN:
    refused when the scenario is read, naming the invariant and the key, never judged."""
    from scenario.invariants import InvariantError, build_checker

    with pytest.raises(InvariantError) as caught:
        build_checker(invariant, raw)
    message = str(caught.value)
    assert message.startswith(f"invariant {invariant!r}: {says}")
    assert "\n" not in message


def test_zero_grace_and_zero_warmup_are_thresholds_too() -> None:
    """0 s of grace (open at the deadline itself) and no warm-up are meaningful and accepted;
    durations with units work as elsewhere in the file."""
    from scenario.invariants import build_checker

    build_checker("open_breaker_calls", {"grace_s": 0, "max_probes": 0})
    build_checker("open_breaker_calls", {"grace_s": "1500ms"})
    build_checker("goodput_near_capacity", {"warmup_s": "2m", "capacity_per_s": 10})
