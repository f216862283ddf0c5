"""What happens to the portal during a run: the fault timeline, a credential-stuffing attack,
and stochastic failures drawn from MTBF/MTTR."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from faults.catalog import Fault
from faults.records import fault_from_record
from scenario.schema.fields import STRICT, Duration, Factor, PositiveDuration
from scenario.schema.problems import Problem, invalid

MAX_FAILURES = 100_000  # expected stochastic failures per component and run
POPULATIONS = ("all", "citizens", "employers", "clinics", "pharmacies")  # peak_load's choices


class TimedFault(BaseModel):
    """One fault of the timeline: a fault of the catalog (faults/catalog.py), given as its
    record (`kind` plus the fault's fields), from `start` for `duration`."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False,
                              use_attribute_docstrings=True)  # the fault's fields beside
    kind: str
    """the fault's kind (the catalog's, below); its fields go beside it"""
    start: Duration
    """when it starts, from the run's start"""
    duration: Duration
    """how long it lasts"""

    @property
    def record(self) -> dict[str, Any]:
        """The catalog record: every key but start and duration."""
        return {"kind": self.kind, **(self.model_extra or {})}

    def fault(self, where: str) -> Fault:
        """The catalog's typed fault, or a `ValueError` naming `where`."""
        return fault_from_record(self.record, where)


class Attack(BaseModel):
    """Credential stuffing: logins with wrong passwords from a few sources (not a fault of the
    network: the load driver sends it)."""

    model_config = STRICT

    rate_per_s: Annotated[float, Field(gt=0)]
    """attack logins per second"""
    start: Duration
    """when it starts, from the run's start"""
    duration: Duration
    """how long it lasts"""
    sources: Annotated[int, Field(ge=1)] = 8
    """the distinct addresses it comes from"""


class Stochastic(BaseModel):
    """Failures drawn per component from MTBF/MTTR, power cuts by zone, and deployments.

    `mtbf`/`mttr` (means) are keyed by component: a switch, a rack, an upstream or a portal
    replica (a `replica_failure` whose work is `replica_work`: see faults/catalog.py);
    power cuts fall in the scheduled 09:00-17:00 blocks of DOMAIN.md, on a random rack.
    """

    mtbf: dict[str, PositiveDuration] = {}
    """mean time between failures, by component (a switch, rack, upstream or replica)"""

    model_config = STRICT
    mttr: dict[str, PositiveDuration] = {}
    """mean time to repair, by the same components as `mtbf`"""
    replica_work: Literal["drop", "resume", "restart"] = "drop"  # a replica's breakdowns
    """what a replica's breakdown does to its work (as `replica_failure`'s `work`)"""
    power_cuts_per_day: Factor = 0.0
    """scheduled power cuts per day, each on a random rack, 09:00-17:00"""
    power_cut: Duration = 7200.0
    """how long a power cut lasts"""
    deploys_per_week: Factor = 0.0
    """rolling deploys of the portal per week"""

    @model_validator(mode="after")
    def _paired(self) -> Stochastic:
        missing = sorted(set(self.mtbf) ^ set(self.mttr))
        if missing:
            raise invalid(Problem("mttr", f"both mtbf and mttr for {', '.join(missing)}"))
        return self
