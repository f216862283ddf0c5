"""Arrival-rate multipliers on the Solar Hijri calendar, one value per profile per step.

t = 0 is the scenario's `start` (a Solar Hijri local time). The day is split into office
hours, evening and night; Friday is the weekend; list submissions rush in the last days of
each month and peak on the last evening; Esfand and early Farvardin, and the first days of
each season, add load (DOMAIN.md). Multipliers are precomputed per step (15 min by default)
so the arrival process reads a list instead of a calendar. A compressed scenario
(`Scenario.compressed`) reads the calendar `time_scale` times faster than it runs.
"""

from __future__ import annotations

import jdatetime

from scenario.schema import Calendar, Profile, parse_start

__all__ = ["month_days", "multiplier", "parse_start", "table"]

FRIDAY = 6  # jdatetime weekdays start on Saturday = 0
SEASON_MONTHS = (1, 4, 7, 10)


def month_days(year: int, month: int) -> int:
    """Days in a Solar Hijri month: 31 for 1-6, 30 for 7-11, Esfand 29 or 30 in leap years."""
    if month <= 6:
        return 31
    if month <= 11:
        return 30
    return 30 if jdatetime.date(year, 1, 1).isleap() else 29


def multiplier(cal: Calendar, profile: Profile, when: jdatetime.datetime) -> float:
    """The rate multiplier of `profile` at local time `when`."""
    if profile == "flat":
        return 1.0
    hour = when.hour + when.minute / 60
    friday = cal.friday_factor if when.weekday() == FRIDAY else 1.0
    if profile == "pharmacy":
        open_ = cal.pharmacy_start <= hour < cal.pharmacy_end
        return (1.0 if open_ else cal.night_factor) * friday
    if cal.office_start <= hour < cal.office_end:
        daily = cal.office_factor
    elif cal.office_end <= hour < 24 and hour >= 7:
        daily = cal.evening_factor
    else:
        daily = cal.night_factor
    season = 1.0
    if when.month == 12 or (when.month == 1 and when.day <= 15):
        season *= cal.esfand_factor
    if when.month in SEASON_MONTHS and when.day <= cal.season_start_days:
        season *= cal.season_start_factor
    if profile == "lists":
        left = month_days(when.year, when.month) - when.day
        if left == 0 and daily != cal.night_factor:  # the rush runs from morning to midnight
            daily = cal.last_evening_factor if hour >= cal.office_end else cal.last_day_factor
        elif left < cal.month_end_days:
            daily *= cal.month_end_factor
    return daily * friday * season


def table(cal: Calendar, profiles: list[Profile], start: str, duration_s: float,
          step_s: float, *, time_scale: float = 1.0) -> list[list[float]]:
    """Multipliers per step: `table[i][k]` for step i and profiles[k].

    `duration_s` and `step_s` are run seconds; run second t reads the calendar at
    `t * time_scale` seconds after `start` (a compressed scenario's `time_scale`).
    """
    t0 = parse_start(start)
    rows: list[list[float]] = []
    steps = int(duration_s // step_s) + 1
    for i in range(steps):
        mid = t0 + jdatetime.timedelta(seconds=(i + 0.5) * step_s * time_scale)
        rows.append([multiplier(cal, p, mid) for p in profiles])
    return rows
