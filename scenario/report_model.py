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
    policies_digest: str = ""  # sha256 of the resolved set (OUT/policies.json); "": unknown
    workload: Workload | None = None
    lab_cpu: LabCpu | None = None
    service_demand: dict[str, ServedDemand] | None = None
    description: str = ""  # the scenario's own words, for the report's reader
    start: str = ""  # the scenario's clock at t = 0 (Solar Hijri "1403-12-29T08:00")


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


class Workload(_Model):
    """The workload as played: the time compression, and the arrivals per request kind.

    speed: scenario seconds per run second (`--speed`); scale_down: the file played at
    1:scale_down (`Scenario.scaled`: rates, workers, accounts divided; the live lab plays a
    file at its `live_scale`, the simulator at 1:1 unless `--scale`); scale: file requests
    per run request (speed x scale_down: rates and request-level times are the scenario's
    own at 1:scale_down); arrivals: drawn per kind (live); played: recorded per kind (live; every
    arrival is, one that could not be played as a failed operation naming why: only an
    interrupted run plays fewer); population: the distinct accounts the users are drawn
    from (the scenario's in the simulator, the lab's demo population live, when smaller)."""

    speed: float = 1.0
    scale: float = 1.0
    scale_down: int = 1
    arrivals: dict[str, Count] | None = None
    played: dict[str, Count] | None = None
    population: Count | None = None

    @classmethod
    def played_at(cls, speed: float, scale_down: int, *,
                  arrivals: dict[str, int] | None = None, played: dict[str, int] | None = None,
                  population: int | None = None) -> Workload:
        """The workload of a run at `--speed speed` of the file at 1:`scale_down`: `scale`,
        the file's requests per run request, is their product (one place derives it)."""
        return cls(speed=speed, scale=speed * scale_down, scale_down=scale_down,
                   arrivals=arrivals, played=played, population=population)


class LabCpu(_Model):
    """The lab's own cost over a live run (`chaoslab.live.cpu`); comparable: not the bottleneck."""

    wall_s: NonNegative
    cores: Count
    cpu_s: NonNegative
    busy_cores: NonNegative
    peak_busy_cores: NonNegative
    machine_busy_cores: NonNegative = 0.0  # the whole machine, other work included
    machine_peak_busy_cores: NonNegative = 0.0
    busy_share_limit: Ratio
    peak_share_limit: Ratio
    comparable: bool
    cpu_s_by_process: dict[str, NonNegative]


class ServedDemand(_Model):
    """Live only: what the portal replicas served of one request kind's scenario demand. A
    worker slot is held for the kind's drawn service time, or longer when the handler's real
    work (an scrypt hash, SQLite, the hops through the proxies) outran the draw: `held_s` over
    `drawn_s` is how far the lab's demand exceeded the scenario's (`excess`)."""

    requests: Count
    drawn_s: NonNegative
    held_s: NonNegative

    @property
    def excess(self) -> float:
        """held / drawn - 1: 0.25 when the slots were held a quarter longer than drawn."""
        return self.held_s / self.drawn_s - 1 if self.drawn_s > 0 else 0.0

    def plus(self, other: ServedDemand) -> ServedDemand:
        """Both replicas' service of one kind together."""
        return ServedDemand(requests=self.requests + other.requests,
                            drawn_s=self.drawn_s + other.drawn_s,
                            held_s=self.held_s + other.held_s)


EXCESS_NOTED = 0.05  # a kind whose slots were held this much longer than drawn is named


def demand_excesses(served: dict[str, ServedDemand] | None) -> list[tuple[str, float]]:
    """The kinds whose live demand exceeded the scenario's by `EXCESS_NOTED` or more, with
    the excess, largest first."""
    out = [(kind, d.excess) for kind, d in (served or {}).items() if d.excess >= EXCESS_NOTED]
    return sorted(out, key=lambda kv: -kv[1])


def demand_note(served: dict[str, ServedDemand] | None) -> str:
    """One sentence naming the kinds of `demand_excesses` ("" when none): what `lab run`,
    report.html and `twin` say of a lab that served more than the scenario's demand."""
    excess = demand_excesses(served)
    if not excess:
        return ""
    return ("the lab served more than the scenario's demand: its worker slots were held "
            "longer than the drawn service times (the handlers' real work outran short "
            "draws; the model serves the draws): "
            + ", ".join(f"{kind} {x:+.0%}" for kind, x in excess))


class Report(_Model):
    """report.json: exactly the keys DESIGN.md promises every consumer."""

    scenario: str
    mode: Literal["sim", "live"]
    policies: str  # the human label: a preset name or the policy file given
    policies_digest: str = ""  # sha256 of the resolved set written to OUT/policies.json
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
    workload: Workload | None = None  # what was played: compression, arrivals per kind
    lab_cpu: LabCpu | None = None  # live only: what the lab itself cost
    service_demand: dict[str, ServedDemand] | None = None  # live only: the demand served
    description: str = ""  # the scenario's description ("": not given by the runner)
    start: str = ""  # the scenario's clock at t = 0, Solar Hijri ("": not given)


RunMeta.model_rebuild()  # its Workload, LabCpu and ServedDemand are defined below it
