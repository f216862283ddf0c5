"""The report's pydantic models: report.json has exactly the keys DESIGN.md promises
("The report"), each nested object a frozen model that forbids unknown keys.

Every number is finite (no NaN or Infinity), counts are >= 0, and ratios and shares lie in
[0, 1], so a report.json read back is one a run could have written.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from scenario.verdict import Validity

Count = Annotated[int, Field(ge=0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


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

    total: Count
    ok: Count
    failed: Count
    shed: Count


class Requests(KindCounts):
    """All client operations by outcome, and by kind."""

    by_kind: dict[str, KindCounts]


class Latency(_Model):
    """Latency quantiles of ok client operations, in milliseconds (null without any)."""

    # Not bounded below: a report is built from any history, even one whose clock stepped
    # back between an invocation and its completion.
    p50: float | None
    p95: float | None
    p99: float | None


class Writes(_Model):
    """Acknowledged writes, and those lost or applied twice per the final state."""

    acknowledged: Count
    lost: Count | None
    duplicated: Count | None


class Prescriptions(_Model):
    """Electronic and paper prescriptions, deferrals, and paper's reconciliation."""

    electronic: Count
    paper: Count
    deferred: Count
    paper_share_max: Ratio
    reconciled: Count
    unreconciled: Count


class UpstreamCalls(_Model):
    """Attempts to one upstream, attempts per logical call, breaker openings."""

    calls: Count
    amplification: NonNegative | None
    breaker_opens: Count


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
    replications: Count
    duration_s: float
    wall_s: float
    requests: Requests
    availability: Ratio | None
    latency_ms: Latency
    writes: Writes
    prescriptions: Prescriptions
    upstream_calls: dict[str, UpstreamCalls]
    invariants: list[InvariantResult]
    faults: list[FaultSpan]
