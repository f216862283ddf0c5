"""Rate profiles: how many users of each kind arrive per second, phase by phase.

Arrivals are open-loop: they are drawn from the profile (a Poisson process per user kind and
phase) before the run, whatever the portal answers, so an overloaded portal faces the same
arrivals as a healthy one — overload is real, not hidden by clients waiting their turn.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from scenario.names import process_name, site_source

USER_KINDS: tuple[str, ...] = ("citizen", "employer", "doctor", "pharmacy")


class ProfileError(ValueError):
    """A malformed rate profile; the message names the phase and the value."""


@dataclass(frozen=True, slots=True)
class Phase:
    """A stretch of time with constant arrival rates (users per second, by kind)."""

    duration_s: float
    rates_per_s: Mapping[str, float] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ProfileError(f"phase {self.name!r}: duration_s {self.duration_s} must be > 0")
        for kind, rate in self.rates_per_s.items():
            if kind not in USER_KINDS:
                raise ProfileError(f"phase {self.name!r}: unknown user kind {kind!r}; "
                                   f"expected one of {', '.join(USER_KINDS)}")
            if rate < 0:
                raise ProfileError(f"phase {self.name!r}: rate of {kind} is {rate}; "
                                   "expected >= 0")
        object.__setattr__(self, "rates_per_s", MappingProxyType(dict(self.rates_per_s)))


@dataclass(frozen=True, slots=True)
class Arrival:
    """One user arriving: when (seconds from the start), what kind, and its number."""

    time_s: float
    kind: str
    index: int
    source: str = ""  # a scenario arrival's source ("citizen", "clinic-3", "attacker-2")

    @property
    def process(self) -> str:
        """The history process of this user: "citizen-17" for a user kind, "<source>/<n>"
        ("pharmacy-12/7", as the simulator names them) for a scenario arrival."""
        return (process_name(self.source, self.index) if self.source
                else site_source(self.kind, self.index))


@dataclass(frozen=True, slots=True)
class RateProfile:
    """Phases played one after the other."""

    phases: tuple[Phase, ...]

    @property
    def duration_s(self) -> float:
        """The whole profile's length."""
        return sum(p.duration_s for p in self.phases)

    def arrivals(self, rng: random.Random) -> list[Arrival]:
        """Every arrival of the profile, in time order (exponential gaps per kind and phase)."""
        out: list[tuple[float, str]] = []
        start = 0.0
        for phase in self.phases:
            for kind in USER_KINDS:
                rate = phase.rates_per_s.get(kind, 0.0)
                if rate <= 0:
                    continue
                t = start + rng.expovariate(rate)
                while t < start + phase.duration_s:
                    out.append((t, kind))
                    t += rng.expovariate(rate)
            start += phase.duration_s
        out.sort()
        counters = dict.fromkeys(USER_KINDS, 0)
        arrivals = []
        for t, kind in out:
            counters[kind] += 1
            arrivals.append(Arrival(t, kind, counters[kind]))
        return arrivals


def steady(duration_s: float, rates_per_s: Mapping[str, float]) -> RateProfile:
    """One phase of constant rates."""
    return RateProfile((Phase(duration_s, rates_per_s, "steady"),))


def month_end_rush(normal_s: float, rush_s: float, base_per_s: Mapping[str, float],
                   list_factor: float = 9.0) -> RateProfile:
    """A normal stretch, then the last evening of the month: list submissions ×8–10.

    DOMAIN.md: 25 % of a month's lists arrive on its last day, peaking ×8–10 in the evening;
    only employers surge, the other kinds keep their rate.
    """
    rush = dict(base_per_s)
    rush["employer"] = base_per_s.get("employer", 0.0) * list_factor
    return RateProfile((Phase(normal_s, base_per_s, "normal"), Phase(rush_s, rush, "rush")))
