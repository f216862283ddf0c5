"""The scenario schema: durations with units, strict keys, and one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scenario.schema import ScenarioError, find_scenario, load_scenario, parse_duration

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

MINIMAL = """
description = "a small test scenario"
duration = "1h"
[topology.upstreams.shahkar]
latency = { dist = "lognormal", p50 = "300ms", p99 = "2s" }
[workload]
rate_per_s = 5
[workload.kinds.login]
share = 1
service = { dist = "exponential", mean = "50ms" }
upstreams = ["shahkar"]
[[faults]]
kind = "switch_failure"
switch = "switch-a"
start = "10m"
duration = "90s"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "case.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "seconds"), [
    ("300ms", 0.3), ("90s", 90.0), ("20m", 1200.0), ("2h", 7200.0), ("1d", 86400.0),
    ("1.5s", 1.5),
])
def test_durations_carry_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@given(st.one_of(st.integers(), st.floats(), st.text(alphabet="0123456789 .x", max_size=6)))
def test_a_duration_without_a_unit_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="a duration with a unit"):
        parse_duration(value)


def test_a_minimal_scenario_loads_with_the_labs_names(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, MINIMAL))
    assert sc.name == "case" and sc.duration == 3600.0
    assert [r.name for r in sc.topology.replicas] == ["portal-a", "portal-b"]
    assert sc.topology.switches == ["switch-a", "switch-b"]
    assert sc.faults[0].start == 600.0 and sc.faults[0].duration == 90.0
    assert sc.faults[0].fault("here").target == "switch-a"
    assert "portal-a-shahkar" in sc.topology.link_names()


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('duration = "1h"', "duration = 3600",
     'key duration: expected a duration with a unit like "300ms"'),
    ('rate_per_s = 5', "rate_per_s = 5\nrate = 3", "key workload.rate is not allowed"),
    ('kind = "switch_failure"', 'kind = "meteor"',
     "key faults[0]: kind 'meteor' is unknown; expected one of"),
    ('switch = "switch-a"', 'switch = "switch-z"',
     "key faults[0].switch: expected one of ['switch-a', 'switch-b'], got 'switch-z'"),
    ('switch = "switch-a"', 'link = "client-portal-a"', "switch_failure has no field 'link'"),
    ('dist = "exponential"', 'dist = "gamma"',
     "key workload.kinds.login.service: expected dist = one of deterministic"),
    ('p99 = "2s"', 'p99 = "100ms"', "expected p99 greater than p50"),
    ('rate_per_s = 5', "", "key workload.rate_per_s is missing"),
    ('rate_per_s = 5', "rate_per_s = -5", "key workload.rate_per_s: expected greater than"),
    ('upstreams = ["shahkar"]', 'upstreams = ["sms"]',
     "key workload.kinds.login.upstreams: expected names declared in [topology.upstreams]"),
    ('description = "a small test scenario"', "", "key description is missing"),
])
def test_bad_input_is_one_sentence_naming_file_and_key(tmp_path: Path, old: str, new: str,
                                                       expected: str) -> None:
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message and "Traceback" not in message
    assert err.value.exit_code == 2


def test_invalid_toml_and_missing_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, MINIMAL + "[[["))
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.toml")
    with pytest.raises(ScenarioError, match="not found"):
        find_scenario("no_such_scenario", tmp_path)


def test_policy_overrides_merge_common_then_preset(tmp_path: Path) -> None:
    text = MINIMAL + """
[policies]
preset = "baseline"
overrides = { client = { timeout = { attempt_timeout_s = 5.0 } } }
baseline = { client = { retry = { max_attempts = 2 } } }
"""
    sc = load_scenario(write(tmp_path, text))
    assert sc.policies.for_preset("baseline") == {
        "client": {"timeout": {"attempt_timeout_s": 5.0}, "retry": {"max_attempts": 2}}}
    assert sc.policies.for_preset("resilient") == {
        "client": {"timeout": {"attempt_timeout_s": 5.0}}}


def test_every_shipped_scenario_validates() -> None:
    paths = sorted(SCENARIOS.glob("*.toml"))
    for path in paths:
        sc = load_scenario(path)
        assert sc.description.strip() and "\n" not in sc.description


def test_scaled_divides_rates_accounts_and_workers_and_keeps_the_rest() -> None:
    day = load_scenario(SCENARIOS / "year_end_peak.toml")
    eighth = day.scaled(8)
    assert eighth.workload.rate_per_s == pytest.approx(day.workload.rate_per_s / 8)
    assert eighth.workload.population == day.workload.population // 8
    assert [r.workers for r in eighth.topology.replicas] == \
        [r.workers // 8 for r in day.topology.replicas]
    assert [r.max_queue for r in eighth.topology.replicas] == \
        [r.max_queue // 8 for r in day.topology.replicas]  # as many service times long
    assert (eighth.topology.clinics, eighth.topology.pharmacies) == \
        (day.topology.clinics // 8, day.topology.pharmacies // 8)
    assert (eighth.duration, eighth.faults, eighth.workload.kinds, eighth.invariants) == \
        (day.duration, day.faults, day.workload.kinds, day.invariants)
    assert day.scaled(1) is day
    tiny = day.scaled(1000).topology
    assert all(r.workers == 1 and r.max_queue == 1 for r in tiny.replicas)  # at least one
    stuffing = load_scenario(SCENARIOS / "credential_stuffing.toml")
    assert stuffing.attack is not None
    quarter = stuffing.scaled(4).attack
    assert quarter is not None
    assert quarter.rate_per_s == pytest.approx(stuffing.attack.rate_per_s / 4)
    assert quarter.sources == max(1, stuffing.attack.sources // 4)  # each source as fast
    with pytest.raises(ValueError, match="expected an integer 1 or more"):
        day.scaled(0)


def test_scaled_keeps_a_loss_system_and_scales_absolute_thresholds() -> None:
    day = load_scenario(SCENARIOS / "year_end_peak.toml")
    loss = day.model_copy(update={
        "topology": day.topology.model_copy(update={"replicas": [
            r.model_copy(update={"max_queue": 0}) for r in day.topology.replicas]}),
        "invariants": {"goodput_near_capacity": {"capacity_per_s": 40.0},
                       "deploy_no_failures": {"max_failed": 9}, "availability": {"target": 0.9}}})
    eighth = loss.scaled(8)
    assert all(r.max_queue == 0 for r in eighth.topology.replicas)  # no waiting room stays none
    assert eighth.invariants == {"goodput_near_capacity": {"capacity_per_s": 5.0},
                                 "deploy_no_failures": {"max_failed": 2},
                                 "availability": {"target": 0.9}}
