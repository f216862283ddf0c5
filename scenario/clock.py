"""The scenario's clock: a run's seconds shown as the Solar Hijri local time they stand for.

A scenario starts at `start` ("1403-12-29T08:00"); run second t of a run compressed K-fold
(`--speed K`, `Workload.speed`) is scenario second t * K, so a live minute at x60 reads as
an hour of the scenario's day. The live view and report.html label time this way, so a
reader sees "18:30" on the scenario's month-end evening rather than "t = 37 s".
"""

from __future__ import annotations

import jdatetime

from scenario.schema import parse_start

__all__ = ["DEFAULT_START", "at", "label", "scenario_s"]

DEFAULT_START = "1403-01-15T00:00"  # the schema's default start


def scenario_s(t_run_s: float, speed: float = 1.0) -> float:
    """Scenario seconds since the start for run second `t_run_s` at `speed`."""
    return t_run_s * speed


def at(start: str, t_run_s: float, speed: float = 1.0) -> jdatetime.datetime:
    """The scenario's local time at run second `t_run_s`."""
    return parse_start(start or DEFAULT_START) + jdatetime.timedelta(
        seconds=scenario_s(t_run_s, speed))


def label(start: str, t_run_s: float, speed: float = 1.0, *, date: bool = True,
          seconds: bool = False) -> str:
    """"1403-12-29 18:30" (with `date`), "18:30" without; ":05" appended with `seconds`."""
    when = at(start, t_run_s, speed)
    text = f"{when.hour:02d}:{when.minute:02d}"
    if seconds:
        text += f":{when.second:02d}"
    if date:
        text = f"{when.year:04d}-{when.month:02d}-{when.day:02d} {text}"
    return text
