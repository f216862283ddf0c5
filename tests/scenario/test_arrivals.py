"""Time compression (`Scenario.compressed`) and the shared arrival generator (`scenario.arrivals`):
the same seed draws the same arrivals, and counts follow the calendar's rates."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from faults.catalog import PeakLoad
from scenario.arrivals import arrivals, window_factors
from scenario.calendar import table
from scenario.schema import Scenario

BASE = {
    "name": "t", "description": "arrivals", "start": "1403-01-20T00:00", "duration": "2h",
    "workload": {"rate_per_s": 2.0, "step": "15m", "kinds": {
        "read_history": {"share": 0.6, "service": {"dist": "exponential", "mean": "30ms"}},
        "prescribe": {"share": 0.3, "profile": "pharmacy",
                      "service": {"dist": "exponential", "mean": "30ms"}},
        "submit_list": {"share": 0.1, "profile": "lists",
                        "service": {"dist": "exponential", "mean": "30ms"}},
        "login": {"share": 0.1, "service": {"dist": "exponential", "mean": "30ms"}}}},
    "faults": [{"kind": "switch_failure", "switch": "switch-a", "start": "10m",
                "duration": "20m"}],
    "attack": {"rate_per_s": 1.0, "start": "30m", "duration": "10m", "sources": 3},
    "stochastic": {"mtbf": {"switch-b": "1h"}, "mttr": {"switch-b": "5m"}},
}


def _scenario() -> Scenario:
    return Scenario.model_validate(BASE)


def test_speed_one_is_the_scenario_itself() -> None:
    s = _scenario()
    assert s.compressed(1.0) == s


def test_compression_divides_run_times_and_keeps_request_times() -> None:
    s = _scenario().compressed(60.0)
    assert s.duration == 120.0 and s.time_scale == 60.0
    assert (s.faults[0].start, s.faults[0].duration) == (10.0, 20.0)
    assert s.faults[0].record == _scenario().faults[0].record
    assert s.attack is not None and (s.attack.start, s.attack.duration) == (30.0, 10.0)
    assert s.attack.rate_per_s == 1.0  # rates stay per second
    assert (s.stochastic.mtbf, s.stochastic.mttr) == ({"switch-b": 60.0}, {"switch-b": 5.0})
    assert s.workload.step == 15.0
    assert s.workload.patience == _scenario().workload.patience  # request-level: real
    # one request stands for 60: the accounts shrink with them (rounded up)
    assert s.workload.population == -(-_scenario().workload.population // 60)


def test_compressing_twice_composes() -> None:
    s = _scenario()
    assert s.compressed(4.0).compressed(8.0) == s.compressed(32.0)


def test_compressed_calendar_reads_scenario_time() -> None:
    s, c = _scenario(), _scenario().compressed(60.0)
    workload = s.workload
    full = table(workload.calendar, ["office", "lists"], s.start, s.duration, workload.step)
    fast = table(c.workload.calendar, ["office", "lists"], c.start, c.duration, c.workload.step,
                 time_scale=c.time_scale)
    assert fast == full


def test_same_seed_same_arrivals_and_the_attack_is_drawn() -> None:
    s = _scenario().compressed(60.0)
    one, two = arrivals(s, 5), arrivals(s, 5)
    assert one == two != arrivals(s, 6)
    attackers = [a for a in one if a.source.startswith("attacker-")]
    assert attackers and all(30.0 <= a.time_s < 40.0 and a.kind == "login" for a in attackers)
    assert {a.source for a in attackers} <= {"attacker-0", "attacker-1", "attacker-2"}
    sites = {a.source for a in one if a.kind == "prescribe"}
    assert sites and all(x.startswith("clinic-") for x in sites)


def test_compressed_arrivals_are_the_same_process_scaled() -> None:
    # one live request stands for K scenario requests: counts divide by K, kinds keep shares
    s = _scenario().model_copy(update={"attack": None})
    full = Counter(a.kind for a in arrivals(s, 1))
    fast = Counter(a.kind for a in arrivals(s.compressed(10.0), 1))
    for kind, n in full.items():
        assert abs(fast[kind] - n / 10) < 4 * math.sqrt(n / 10) + 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), speed=st.sampled_from([1.0, 6.0, 60.0]))
def test_counts_follow_the_integral_of_the_rate(seed: int, speed: float) -> None:
    s = _scenario().model_copy(update={"attack": None}).compressed(speed)
    workload = s.workload
    profiles = [k.profile for k in workload.kinds.values()]
    shares = [k.share for k in workload.kinds.values()]
    rows = table(workload.calendar, profiles, s.start, s.duration, workload.step,
                 time_scale=s.time_scale)
    base = workload.rate_per_s / sum(shares)
    steps = int(s.duration // workload.step)
    expected = sum(base * sum(sh * m for sh, m in zip(shares, rows[i], strict=True)) * workload.step
                   for i in range(steps))
    n = len(arrivals(s, seed))
    assert abs(n - expected) < 5 * math.sqrt(expected)


def test_peak_windows_multiply_their_population() -> None:
    s = _scenario().model_copy(update={"attack": None}).compressed(60.0)
    peak = [(20.0, 40.0, PeakLoad(rate_multiplier=4.0, population="all"))]
    plain, peaked = arrivals(s, 2), arrivals(s, 2, window_factors(peak))
    inside = sum(20.0 <= a.time_s < 40.0 for a in plain)
    more = sum(20.0 <= a.time_s < 40.0 for a in peaked)
    assert more > 2.5 * inside
    assert [a for a in peaked if a.time_s < 20.0] == [a for a in plain if a.time_s < 20.0]
