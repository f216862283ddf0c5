"""The report's pydantic models: report.json has exactly the keys DESIGN.md promises
("The report"), each nested object a frozen model that forbids unknown keys.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from scenario.verdict import Validity


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunMeta(_Model):
    """What the runner knows about the run: scenario, mode, policy set, seeds, durations."""

    scenario: str
    mode: Literal["sim", "live"]
    policies: str
    seed: int
    duration_s: float
    wall_s: float


class KindCounts(_Model):
    """Client operations of one kind (`f`) by outcome."""

    total: int
    ok: int
    failed: int
    shed: int


class Requests(KindCounts):
    """All client operations by outcome, and by kind."""

    by_kind: dict[str, KindCounts]


class Latency(_Model):
    """Latency quantiles of ok client operations, in milliseconds (null without any)."""

    p50: float | None
    p95: float | None
    p99: float | None


class Writes(_Model):
    """Acknowledged writes, and those lost or applied twice per the final state."""

    acknowledged: int
    lost: int | None
    duplicated: int | None


class Prescriptions(_Model):
    """Electronic and paper prescriptions, deferrals, and paper's reconciliation."""

    electronic: int
    paper: int
    deferred: int
    paper_share_max: float
    reconciled: int
    unreconciled: int


class UpstreamCalls(_Model):
    """Attempts to one upstream, attempts per logical call, breaker openings."""

    calls: int
    amplification: float | None
    breaker_opens: int


class InvariantResult(_Model):
    """One invariant's pooled verdict."""

    name: str
    valid: Validity
    detail: str


class FaultSpan(_Model):
    """One fault of the run."""

    kind: str
    target: str
    start_s: float
    end_s: float


class Report(_Model):
    """report.json: exactly the keys DESIGN.md promises every consumer."""

    scenario: str
    mode: Literal["sim", "live"]
    policies: str
    seed: int
    replications: int
    duration_s: float
    wall_s: float
    requests: Requests
    availability: float | None
    latency_ms: Latency
    writes: Writes
    prescriptions: Prescriptions
    upstream_calls: dict[str, UpstreamCalls]
    invariants: list[InvariantResult]
    faults: list[FaultSpan]
