"""The workload: request kinds and their shares, the Solar Hijri calendar's rate multipliers,
and the users' habits (patience, giving up, refreshing)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from scenario.schema.distributions import Deterministic, Dist, Uniform
from scenario.schema.fields import (
    STRICT,
    Factor,
    PositiveDuration,
    Share,
    TimeOfDay,
    time_of_day_text,
)
from scenario.schema.problems import Problem, invalid

Profile = Literal["flat", "office", "lists", "pharmacy"]
Kind = Literal["login", "recover_password", "read_history", "read_payslip",
               "register_workshop", "submit_list", "prescribe", "dispense", "save_draft"]


class RequestKind(BaseModel):
    """One kind of portal request: its share of arrivals, calendar profile and cost."""

    model_config = STRICT

    share: Annotated[float, Field(gt=0)]
    """its share of arrivals (shares are normalised: they need not sum to 1)"""
    profile: Profile = "office"
    """whose calendar it follows: "flat" (none), "office" (office hours, month end, Esfand),
    "lists" (employers' month-end lists), "pharmacy" (pharmacy hours)"""
    service: Dist
    """the portal's own work per request"""
    upstreams: list[str] = []
    """the upstreams each request calls (names of [topology.upstreams])"""
    priority: Annotated[int, Field(ge=0, le=2)] = 2
    """0 (highest, shed last) to 2 (lowest, shed first) under admission control"""
    accept_share: Share = 0.1
    """for submit_list under a policy set with `list_queue`: the share of a list's service
    time spent before it can be answered 202 (parse, check, durable record); the rest is
    processed in the background (unused by other kinds and other policy sets)"""


class Calendar(BaseModel):
    """Rate multipliers on the Solar Hijri calendar (DOMAIN.md, each a [guess] to tune)."""

    model_config = STRICT

    office_start: TimeOfDay = 8.0
    """when office hours start, "HH:MM\""""
    office_end: TimeOfDay = 14.0
    """when office hours end, "HH:MM\""""
    office_factor: Factor = 2.0
    """the rate in office hours (weekdays)"""
    evening_factor: Factor = 0.8
    """the rate from office end to 23:00"""
    night_factor: Factor = 0.15
    """the rate at night"""
    friday_factor: Factor = 0.35
    """the rate on Fridays (the weekend)"""
    pharmacy_start: TimeOfDay = 8.0
    """when pharmacies open, "HH:MM\""""
    pharmacy_end: TimeOfDay = 23.0
    """when pharmacies close, "HH:MM\""""
    month_end_days: Annotated[int, Field(ge=0, le=10)] = 5
    """the last days of a month that count as its end (lists are due)"""
    month_end_factor: Factor = 3.0
    """the rate in the month's end"""
    last_day_factor: Factor = 6.0
    """the rate on the month's last day"""
    last_evening_factor: Factor = 9.0
    """the rate on the last day's evening"""
    esfand_factor: Factor = 1.7
    """the rate in Esfand, the year's last month"""
    season_start_days: Annotated[int, Field(ge=0, le=15)] = 5
    """the first days of a season that count as its start"""
    season_start_factor: Factor = 1.5
    """the rate at a season's start"""

    @model_validator(mode="after")
    def _ordered(self) -> Calendar:
        found = []
        for what in ("office", "pharmacy"):
            start, end = getattr(self, f"{what}_start"), getattr(self, f"{what}_end")
            if not start < end:
                found.append(Problem("", f"{what}_start before {what}_end",
                                     f"{time_of_day_text(start)} and {time_of_day_text(end)}"))
        if found:
            raise invalid(*found)
        return self


class Backoff(BaseModel):
    """Exponential backoff between a user's re-submissions: the k-th (k = 0, 1, ...) waits
    min(max, base * multiplier^k); with jitter "full" a uniform draw in [0, that) (AWS's
    "full jitter", Brooker 2015), with "none" exactly that."""

    model_config = STRICT

    base: PositiveDuration
    """the first wait"""
    multiplier: Annotated[float, Field(ge=1.0)] = 2.0
    """the growth of each next wait"""
    max: PositiveDuration = 3600.0  # defaults are not validated: seconds here
    """the longest wait"""
    jitter: Literal["full", "none"] = "full"
    """"full": a uniform draw below the wait; "none": the wait itself"""

    @model_validator(mode="after")
    def _ordered(self) -> Backoff:
        if self.max < self.base:
            raise invalid(Problem("", "max at least base",
                                  f"max {self.max:g} s < base {self.base:g} s"))
        return self


class Refresh(BaseModel):
    """Users who re-submit after a slow or failed response (DOMAIN.md: 0.5-0.7 after 3-10 s).

    The pause before a re-submission is drawn from `delay`, or, when `backoff` is given,
    grows exponentially with each re-submission of the same operation (not both)."""

    model_config = STRICT

    probability: Share = 0.0
    """the chance a user re-submits after a slow or failed response"""
    delay: Dist = Uniform.model_validate({"dist": "uniform", "low": "3s", "high": "10s"})
    """the pause before a re-submission"""
    backoff: Backoff | None = None
    """exponential backoff instead of `delay` (not both)"""
    max_refreshes: Annotated[int, Field(ge=0)] = 2
    """re-submissions of one operation, at most"""

    @model_validator(mode="after")
    def _one_pause(self) -> Refresh:
        if self.backoff is not None and "delay" in self.model_fields_set:
            raise invalid(Problem("", "either delay or backoff, not both"))
        return self


GiveUp = Literal["request", "queue"]
"""How a user's patience ends an operation: "request", a client timeout over the whole
request (wait and service; the server may still work on it: `Server.orphans`); "queue",
abandonment while waiting (the request leaves the queue; once served, the user waits for it)."""


class Workload(BaseModel):
    """Who asks the portal for what, and how often: arrivals at `rate_per_s` times the
    calendar's multiplier, split between the request kinds by share."""

    model_config = STRICT

    rate_per_s: Annotated[float, Field(ge=0)]
    """arrivals per second at calendar multiplier 1"""
    population: Annotated[int, Field(ge=1)] = 100_000
    """distinct accounts (what the portal's caches can know)"""
    arrivals: Literal["exponential", "deterministic"] = "exponential"
    """the gaps between arrivals: "exponential" (Poisson) or "deterministic\""""
    kinds: dict[Kind, RequestKind]
    """the request kinds by name, at least one"""
    calendar: Calendar = Calendar()
    """rate multipliers on the Solar Hijri calendar"""
    patience: Dist = Deterministic.model_validate({"dist": "deterministic", "value": "60s"})
    """how long a user waits for an operation"""
    give_up: GiveUp = "request"  # how patience ends an operation (see `GiveUp`)
    """"request": patience is a client timeout over the whole operation; "queue": users
    abandon while waiting for a worker (Erlang-A)"""
    give_up_by: dict[Literal["citizens", "employers", "clinics", "pharmacies"], GiveUp] = {}
    """`give_up` per population"""
    refresh: Refresh = Refresh()
    """users who re-submit"""
    step: PositiveDuration = 900.0  # defaults are not validated: seconds here, units in files
    """how often the calendar's multiplier is read"""

    @model_validator(mode="after")
    def _shares(self) -> Workload:
        if not self.kinds:
            raise invalid(Problem("kinds", "at least one request kind, such as "
                                  "[workload.kinds.login]"))
        if not math.isfinite(sum(k.share for k in self.kinds.values())):
            raise invalid(Problem("kinds", "shares whose sum is a finite number"))
        return self
