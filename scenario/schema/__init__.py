"""The scenario file schema: one TOML file per scenario, validated before anything runs.

A scenario names its topology (the lab's names: switches, racks, portal replicas, upstreams,
client links), its workload on the Solar Hijri calendar, a timeline of faults, the policy set
(a preset name plus overrides) and the invariants with their parameters. Durations carry
units ("300ms", "90s", "20m", "2h", "1d") and are at most 400 days; no number may be inf or
nan. Everything the simulation relies on is checked here (the start parses on the calendar,
names are unique and known, ranges are ordered), so a run never starts on a bad scenario.
`load_scenario(path)` returns a frozen `Scenario` or raises `ScenarioError` whose message is
one sentence: file, key, what was expected; `check_file(path)` returns every `Problem`.

One module per concern: `fields` (durations, clocks, the start, names), `distributions`,
`topology`, `workload`, `timeline` (faults, attack, stochastic failures), `policy`, `root`
(the `Scenario` and the checks across its sections), `problems` (errors as data) and
`loading`. Everything is imported from here; docs/scenarios.md is generated from these
models (`python -m scenario.docs`).
"""

from __future__ import annotations

from scenario.schema.distributions import (
    Deterministic,
    Dist,
    Empirical,
    Exponential,
    Lognormal,
    Uniform,
)
from scenario.schema.fields import (
    MAX_DAYS,
    MAX_DURATION_S,
    Duration,
    Factor,
    PositiveDuration,
    Share,
    Strict,
    TimeOfDay,
    parse_duration,
    parse_positive_duration,
    parse_start,
    parse_time_of_day,
)
from scenario.schema.loading import check_file, check_table, find_scenario, load_scenario
from scenario.schema.policy import Policies
from scenario.schema.problems import Problem, ScenarioError
from scenario.schema.root import MAX_STEPS, Scenario
from scenario.schema.timeline import MAX_FAILURES, POPULATIONS, Attack, Stochastic, TimedFault
from scenario.schema.topology import LAB_UPSTREAMS, Orphans, Replica, Server, Topology, Upstream
from scenario.schema.workload import (
    Backoff,
    Calendar,
    GiveUp,
    Kind,
    Profile,
    Refresh,
    RequestKind,
    Workload,
)

__all__ = [
    "LAB_UPSTREAMS", "MAX_DAYS", "MAX_DURATION_S", "MAX_FAILURES", "MAX_STEPS", "POPULATIONS",
    "Attack", "Backoff", "Calendar", "Deterministic", "Dist", "Duration", "Empirical",
    "Exponential", "Factor", "GiveUp", "Kind", "Lognormal", "Orphans", "Policies",
    "PositiveDuration", "Problem", "Profile", "Refresh", "Replica", "RequestKind", "Scenario",
    "ScenarioError", "Server", "Share", "Stochastic", "Strict", "TimeOfDay", "TimedFault",
    "Topology", "Uniform", "Upstream", "Workload", "check_file", "check_table", "find_scenario",
    "load_scenario", "parse_duration", "parse_positive_duration", "parse_start",
    "parse_time_of_day",
]
