"""The invariant registry: each invariant name of a scenario's `[invariants]` table, mapped
to its thresholds model (with defaults) and its checker factory.

    [invariants]
    availability = { target = 0.995 }
    login_p99 = { slo_ms = 2500 }
    no_lost_writes = {}

`build_checkers` turns such a table into named checkers; an unknown name or a bad threshold
raises `InvariantError` (a ValueError) whose message is one sentence naming the invariant,
the key and what was expected. docs/scenarios.md lists every invariant, its `summary`, its
thresholds model's docstring and each threshold's type and default, generated from
`REGISTRY` (`python -m scenario.docs`): a new invariant is documented by registering it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError

from scenario.checkers import breaker, load, paper, reads, service, writes
from scenario.checkers.params import Params
from scenario.verdict import Checker

P = TypeVar("P", bound=Params)


class InvariantError(ValueError):
    """An `[invariants]` entry that names no invariant or carries a bad threshold."""


@dataclass(frozen=True, slots=True)
class Invariant:
    """One registered invariant: its thresholds model and how to build its checker."""

    params: type[Params]
    build: Callable[[Mapping[str, object], str], Checker]
    summary: str


def _entry(params: type[P], factory: Callable[[P, str], Checker], summary: str) -> Invariant:
    def build(raw: Mapping[str, object], name: str) -> Checker:
        return factory(params.model_validate(dict(raw)), name)

    return Invariant(params, build, summary)


REGISTRY: dict[str, Invariant] = {
    "no_lost_writes": _entry(writes.LostWritesParams, writes.lost_writes,
                             "no acknowledged write lost"),
    "no_duplicate_writes": _entry(writes.DuplicateWritesParams, writes.duplicate_writes,
                                  "no write applied twice"),
    "availability": _entry(service.AvailabilityParams, service.availability,
                           "ok / completed client operations >= target"),
    "login_p99": _entry(service.LatencyParams, service.login_p99, "login p99 under its SLO"),
    "breaker_opens_in_time": _entry(breaker.BreakerWindowParams, breaker.breaker_opens_in_time,
                                    "breaker opens within its window of an upstream fault"),
    "open_breaker_calls": _entry(breaker.OpenCallsParams, breaker.open_breaker_calls,
                                 "calls reaching an open upstream <= half-open probes"),
    "stale_reads": _entry(reads.StaleReadsParams, reads.stale_reads,
                          "reads served (stale) within max staleness"),
    "queued_writes_once": _entry(writes.QueuedWritesParams, writes.queued_writes_once,
                                 "queued writes complete after recovery, once each"),
    "drafts_restorable": _entry(writes.DraftsParams, writes.drafts_restorable,
                                "every saved draft restorable"),
    "paper_share": _entry(paper.PaperShareParams, paper.paper_share,
                          "paper share <= 20 % per pharmacy and claim period"),
    "paper_reconciled_once": _entry(paper.PaperReconciledParams, paper.paper_reconciled_once,
                                    "every paper prescription registered exactly once"),
    "deploy_no_failures": _entry(service.DeployParams, service.deploy_no_failures,
                                 "zero failed user operations during a deploy"),
    "goodput_near_capacity": _entry(load.GoodputParams, load.goodput_near_capacity,
                                    "goodput stays near capacity during peaks"),
    "admitted_p99": _entry(service.AdmittedLatencyParams, service.admitted_p99,
                           "p99 of admitted requests under SLO"),
    "priority_shedding": _entry(load.PriorityParams, load.priority_shedding,
                                "higher priority never shed before lower"),
    "metastable_recovery": _entry(load.MetastableParams, load.metastable_recovery,
                                  "goodput recovers within T after the trigger ends"),
    "upstream_amplification": _entry(breaker.AmplificationParams,
                                     breaker.upstream_amplification,
                                     "upstream attempts per logical call <= 1.1x"),
    "login_under_attack": _entry(service.LatencyParams, service.login_under_attack,
                                 "legitimate logins keep their SLO; no wrong password succeeds"),
}


def _explain(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(thresholds)"
    if first["type"] == "extra_forbidden":
        return f"unknown threshold {where!r}"
    return f"{where}: {first['msg']} (got {first.get('input')!r})"


def build_checker(name: str, raw: Mapping[str, object]) -> Checker:
    """The checker of one invariant with its thresholds; InvariantError when either is bad."""
    entry = REGISTRY.get(name)
    if entry is None:
        raise InvariantError(f"invariant {name!r} is unknown; expected one of: "
                             f"{', '.join(sorted(REGISTRY))}")
    if not isinstance(raw, Mapping):
        raise InvariantError(f"invariant {name!r}: expected a table of thresholds, "
                             f"got {raw!r}")
    try:
        return entry.build(raw, name)
    except ValidationError as exc:
        raise InvariantError(f"invariant {name!r}: {_explain(exc)}; expected "
                             f"{_expected(entry.params)}") from None


def _expected(params: type[Params]) -> str:
    fields = params.model_fields
    if not fields:
        return "no thresholds"
    return "thresholds among " + ", ".join(
        f"{k} (default {f.default!r})" for k, f in fields.items())


def build_checkers(spec: Mapping[str, Mapping[str, object]]) -> list[tuple[str, Checker]]:
    """The named checkers of a scenario's `[invariants]` table, in its order."""
    return [(name, build_checker(name, raw)) for name, raw in spec.items()]


def default_spec() -> dict[str, dict[str, object]]:
    """Every registered invariant with its default thresholds (for a report of all)."""
    return {name: {} for name in REGISTRY}
