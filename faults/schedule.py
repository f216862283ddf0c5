"""Fault schedules: timelines of faults as pure seeded data, in Jepsen's generator style.

A `Schedule` is a sorted tuple of `Window`s (a fault in effect from `start_s` to
`end_s`) within a run of `horizon_s` seconds, and always ends with a healing phase of
`heal_s` seconds in which no fault is in effect. Two windows with one target never overlap.
Fixed schedules come from a scenario's timeline; random ones from a seed, each target
alternating exponential up-times (mean `mtbf_s`) and fault durations (mean `mttr_s`).
No I/O and no global randomness: the simulator and the lab replay the same schedule.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from faults.catalog import Fault
from faults.errors import InvalidFault

_RESOLUTION_S = 0.001  # random times are rounded to the millisecond: stable when printed


@dataclass(frozen=True, slots=True)
class Window:
    """One fault in effect from `start_s` until `end_s` (use `Window.lasting` for durations)."""

    start_s: float
    end_s: float
    fault: Fault

    @classmethod
    def lasting(cls, start_s: float, duration_s: float, fault: Fault) -> Window:
        """The window of `fault` from `start_s` for `duration_s` seconds."""
        return cls(start_s, start_s + duration_s, fault)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def report_record(self) -> dict[str, str | float]:
        """The window as the report lists it: `{kind, target, start_s, end_s}`."""
        return {"kind": self.fault.kind, "target": self.fault.target,
                "start_s": self.start_s, "end_s": self.end_s}


@dataclass(frozen=True, slots=True)
class Event:
    """A window starting (`start` True) or stopping at `time_s`."""

    time_s: float
    start: bool
    window: Window


@dataclass(frozen=True, slots=True)
class Schedule:
    """Fault windows within `horizon_s`, the last `heal_s` seconds kept fault-free."""

    windows: tuple[Window, ...]
    horizon_s: float
    heal_s: float

    def __post_init__(self) -> None:
        if self.heal_s <= 0 or self.horizon_s <= self.heal_s:
            raise InvalidFault(f"schedule: heal_s {self.heal_s} and horizon_s "
                               f"{self.horizon_s} are invalid; expected 0 < heal_s < horizon_s")
        ordered = tuple(sorted(self.windows, key=lambda w: (w.start_s, w.fault.target)))
        object.__setattr__(self, "windows", ordered)
        last_end: dict[str, float] = {}
        for n, window in enumerate(ordered, 1):
            where = f"schedule window {n} ({window.fault.kind} on {window.fault.target!r})"
            if window.start_s < 0 or window.end_s <= window.start_s:
                raise InvalidFault(f"{where}: start_s {window.start_s} and end_s "
                                   f"{window.end_s}; expected 0 <= start_s < end_s")
            if window.end_s > self.heal_at_s:
                raise InvalidFault(f"{where}: ends at {window.end_s} s, inside the healing "
                                   f"phase; expected it to end by {self.heal_at_s} s")
            target = window.fault.target
            if window.start_s < last_end.get(target, 0.0):
                raise InvalidFault(f"{where}: starts at {window.start_s} s while the previous "
                                   f"fault on that target lasts until {last_end[target]} s")
            last_end[target] = window.end_s

    @property
    def heal_at_s(self) -> float:
        """When the final healing phase begins: every fault has ended by then."""
        return self.horizon_s - self.heal_s

    def events(self) -> tuple[Event, ...]:
        """Starts and stops in time order; at equal times, stops come first."""
        events = [Event(w.start_s, True, w) for w in self.windows]
        events += [Event(w.end_s, False, w) for w in self.windows]
        return tuple(sorted(events, key=lambda e: (e.time_s, e.start)))

    def active_at(self, time_s: float) -> tuple[Window, ...]:
        """The windows in effect at `time_s` (start inclusive, end exclusive)."""
        return tuple(w for w in self.windows if w.start_s <= time_s < w.end_s)


def fixed_schedule(windows: Iterable[Window], horizon_s: float, heal_s: float) -> Schedule:
    """A schedule from a scenario's timeline, validated."""
    return Schedule(tuple(windows), horizon_s, heal_s)


def random_schedule(
    seed: int,
    faults: Sequence[Fault],
    *,
    horizon_s: float,
    heal_s: float,
    mtbf_s: float,
    mttr_s: float,
) -> Schedule:
    """A random schedule: per target, up-times ~ Exp(mean mtbf_s), faults ~ Exp(mean mttr_s).

    Each window picks one of the `faults` of its target uniformly. Same seed, same schedule.
    """
    if mtbf_s <= 0 or mttr_s <= 0:
        raise InvalidFault(f"random schedule: mtbf_s {mtbf_s} and mttr_s {mttr_s}; "
                           f"expected both > 0")
    if not faults:
        raise InvalidFault("random schedule: no faults to choose from; expected at least one")
    rng = random.Random(seed)
    by_target: dict[str, list[Fault]] = {}
    for fault in faults:
        by_target.setdefault(fault.target, []).append(fault)
    limit_s = horizon_s - heal_s
    windows: list[Window] = []
    for target in sorted(by_target):  # a fixed order keeps the draws reproducible
        choices = by_target[target]
        time_s = rng.expovariate(1.0 / mtbf_s)
        while time_s < limit_s:
            start_s = round(time_s, 3)
            end_s = min(round(start_s + rng.expovariate(1.0 / mttr_s), 3), limit_s)
            fault = choices[rng.randrange(len(choices))]
            if end_s - start_s >= _RESOLUTION_S:
                windows.append(Window(start_s, end_s, fault))
            time_s = end_s + rng.expovariate(1.0 / mtbf_s)
    return Schedule(tuple(windows), horizon_s, heal_s)
