"""Bad scenarios found by the input audit: each is refused at load time with one sentence
naming the file, the key and what was expected (exit 2), so no simulation starts on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenario.errors import BadInput
from scenario.schema import ScenarioError, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
METASTABLE = (SCENARIOS / "metastable_retry.toml").read_text(encoding="utf-8")
SHAHKAR = (SCENARIOS / "shahkar_outage.toml").read_text(encoding="utf-8")
TOP = "^"  # an edit that prepends its text to the file
STOCHASTIC = ('[stochastic]\nmtbf = {{"switch-a" = "{}"}}\nmttr = {{"switch-a" = "{}"}}\n\n'
              "[policies]")


def edited(tmp_path: Path, base: str, old: str, new: str) -> Path:
    if old == TOP:
        text = new + "\n" + base
    else:
        assert old in base, old
        text = base.replace(old, new, 1)
    path = tmp_path / "case.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert isinstance(err.value, BadInput) and err.value.exit_code == 2
    assert message.startswith(f"{path}: key ")
    assert "\n" not in message and "Traceback" not in message
    assert message.count(". ") == 0  # one sentence
    return message


BAD = [
    # 1. the name names the run directory: no path
    ("name_parent", METASTABLE, TOP, 'name = "../../evil"', "key name: expected a plain name"),
    ("name_absolute", METASTABLE, TOP, 'name = "/tmp/evil"', "not starting with '.'"),
    ("name_slash", METASTABLE, TOP, 'name = "a/b"', "got 'a/b'"),
    ("name_dot", METASTABLE, TOP, 'name = ".hidden"', "key name: expected a plain name"),
    # 2. what crashed the simulation workers
    ("start_garbage", METASTABLE, 'start = "1403-07-15T09:00"', 'start = "yesterday"',
     'key start: expected a Solar Hijri date and time "YYYY-MM-DDTHH:MM"'),
    ("start_no_such_day", METASTABLE, 'start = "1403-07-15T09:00"',
     'start = "1403-13-40T09:00"', "got '1403-13-40T09:00'"),
    ("start_hour_25", METASTABLE, 'start = "1403-07-15T09:00"', 'start = "1403-07-15T25:00"',
     "hours 00-23"),
    ("step_zero", METASTABLE, 'step = "1h"', 'step = "0s"',
     "key workload.step: expected a duration greater than 0"),
    ("step_too_fine", METASTABLE, 'step = "1h"', 'step = "1ms"',
     "key workload.step: expected a step of at least"),
    ("kinds_empty", METASTABLE, '[workload.kinds.read_history]\nshare = 1\nprofile = "flat"\n'
     'service = { dist = "deterministic", value = "3.3333ms" }', "[workload.kinds]",
     "key workload.kinds: expected at least one request kind"),
    ("share_inf", METASTABLE, "share = 1", "share = inf",
     "key workload.kinds.read_history.share: expected a finite number, got inf"),
    ("mtbf_zero", METASTABLE, "[policies]", STOCHASTIC.format("0s", "1m"),
     "key stochastic.mtbf.switch-a: expected a duration greater than 0"),
    ("mttr_zero", METASTABLE, "[policies]", STOCHASTIC.format("1h", "0s"),
     "key stochastic.mttr.switch-a: expected a duration greater than 0"),
    ("mtbf_tiny", METASTABLE, "[policies]", STOCHASTIC.format("1ms", "1ms"),
     "key stochastic.mtbf.switch-a: expected mtbf + mttr of at least"),
    ("mean_zero", METASTABLE, 'service = { dist = "deterministic", value = "3.3333ms" }',
     'service = { dist = "exponential", mean = "0s" }',
     "key workload.kinds.read_history.service.mean: expected a duration greater than 0"),
    ("duration_zero", METASTABLE, 'duration = "5m"', 'duration = "0s"',
     "key duration: expected a duration greater than 0"),
    # 3. what ran for ever: non-finite numbers, endless durations
    ("rate_inf", METASTABLE, "rate_per_s = 280", "rate_per_s = inf",
     "key workload.rate_per_s: expected a finite number, got inf"),
    ("rate_nan", METASTABLE, "rate_per_s = 280", "rate_per_s = nan",
     "key workload.rate_per_s: expected a finite number, got nan"),
    ("factor_inf", METASTABLE, 'step = "1h"', 'step = "1h"\ncalendar = { office_factor = inf }',
     "key workload.calendar.office_factor: expected a finite number"),
    ("multiplier_inf", METASTABLE, "rate_multiplier = 2.0", "rate_multiplier = inf",
     "key faults[0].rate_multiplier: expected a finite number, got inf"),
    ("threshold_nan", METASTABLE, "recover_ratio = 0.9", "recover_ratio = nan",
     "key invariants.metastable_recovery.recover_ratio: expected a finite number"),
    ("override_inf", METASTABLE, "attempt_timeout_s = 1.0", "attempt_timeout_s = inf",
     "key policies.overrides.user.timeout.attempt_timeout_s: expected a finite number"),
    ("duration_huge", METASTABLE, 'duration = "5m"', 'duration = "99999999999999999999d"',
     "key duration: expected a duration of at most 400d (a year and a bit)"),
    ("duration_inf_digits", METASTABLE, 'duration = "5m"', f'duration = "{"9" * 400}s"',
     "key duration: expected a duration of at most 400d"),
    ("patience_huge", METASTABLE, 'value = "1h" }', 'value = "401d" }',
     "key workload.patience.value: expected a duration of at most 400d"),
    ("start_off_calendar", METASTABLE, 'start = "1403-07-15T09:00"\nduration = "5m"',
     'start = "9377-12-29T09:00"\nduration = "30d"',
     "key start: expected a start whose run ends on the calendar"),
    # 6. accepted although clearly bad
    ("uniform_inverted", METASTABLE, 'patience = { dist = "deterministic", value = "1h" }',
     'patience = { dist = "uniform", low = "10s", high = "3s" }',
     "key workload.patience: expected low at most high"),
    ("office_inverted", METASTABLE, 'step = "1h"',
     'step = "1h"\ncalendar = { office_start = "14:00", office_end = "08:00" }',
     "key workload.calendar: expected office_start before office_end, got 14:00 and 08:00"),
    ("pharmacy_inverted", METASTABLE, 'step = "1h"',
     'step = "1h"\ncalendar = { pharmacy_start = "23:00", pharmacy_end = "08:00" }',
     "key workload.calendar: expected pharmacy_start before pharmacy_end"),
    ("replica_twice", METASTABLE, "max_queue = 1000 }]",
     'max_queue = 1000 }, { name = "portal-a", switch = "switch-a", rack = "rack-a" }]',
     "key topology.replicas: expected each name once, got 'portal-a' twice"),
    ("switch_twice", METASTABLE, 'switches = ["switch-a"]', 'switches = ["switch-a", "switch-a"]',
     "key topology.switches: expected each name once"),
    ("population_unknown", METASTABLE, 'population = "all"', 'population = "martians"',
     "key faults[0].population: expected one of ['all', 'citizens', 'employers', 'clinics', "
     "'pharmacies'], got 'martians'"),
    ("invariant_upstream_unknown", SHAHKAR, 'breaker_opens_in_time = { upstream = "shahkar"',
     'breaker_opens_in_time = { upstream = "shahkr"',
     "key invariants.breaker_opens_in_time.upstream: expected an upstream declared in "
     "[topology.upstreams], one of ['payment', 'registry', 'shahkar', 'sms'], got 'shahkr'"),
    ("invariant_fault_kind_unknown", SHAHKAR,
     'open_within_s = 30, fault_kinds = ["upstream_outage"]',
     'open_within_s = 30, fault_kinds = ["meteor"]',
     "key invariants.breaker_opens_in_time.fault_kinds: expected fault kinds among "
     "['degraded_replica', 'deployment_window', 'network_loss', 'peak_load', "),
    ("preset_unknown", METASTABLE, "[policies]", '[policies]\npreset = "nosuch"',
     "key policies.preset: expected one of ['baseline', 'resilient'], got 'nosuch'"),
    # 7. the semantics of giving up, orphaned work, breakdowns and backoff (issue 20)
    ("give_up_unknown", METASTABLE, 'step = "1h"', 'step = "1h"\ngive_up = "sulk"',
     "key workload.give_up: expected 'request' or 'queue', got 'sulk'"),
    ("give_up_by_unknown_population", METASTABLE, 'step = "1h"',
     'step = "1h"\ngive_up_by = { martians = "queue" }', "key workload.give_up_by.martians"),
    ("orphans_unknown", METASTABLE, "[policies]", '[server]\norphans = "keep"\n\n[policies]',
     "key server.orphans: expected 'policy', 'serve' or 'drop', got 'keep'"),
    ("backoff_and_delay", METASTABLE, 'step = "1h"',
     'step = "1h"\nrefresh = { delay = { dist = "deterministic", value = "1s" }, '
     'backoff = { base = "1s" } }', "key workload.refresh: expected either delay or backoff"),
    ("backoff_inverted", METASTABLE, 'step = "1h"',
     'step = "1h"\nrefresh = { backoff = { base = "10s", max = "1s" } }',
     "key workload.refresh.backoff: expected max at least base"),
    ("backoff_shrinking", METASTABLE, 'step = "1h"',
     'step = "1h"\nrefresh = { backoff = { base = "1s", multiplier = 0.5 } }',
     "key workload.refresh.backoff.multiplier: expected greater than or equal to 1"),
    ("degraded_speed_zero", METASTABLE, 'kind = "peak_load"\nrate_multiplier = 2.0\n'
     'population = "all"', 'kind = "degraded_replica"\nreplica = "portal-a"\nspeed = 0.0',
     "key faults[0]: degraded_replica: speed is 0.0; expected 0 < speed <= 1"),
    ("degraded_replica_unknown", METASTABLE, 'kind = "peak_load"\nrate_multiplier = 2.0\n'
     'population = "all"', 'kind = "degraded_replica"\nreplica = "portal-z"',
     "key faults[0].replica: expected one of ['portal-a'], got 'portal-z'"),
    ("breakdown_work_unknown", METASTABLE, 'kind = "peak_load"\nrate_multiplier = 2.0\n'
     'population = "all"', 'kind = "replica_failure"\nreplica = "portal-a"\nwork = "pray"',
     "key faults[0]: replica_failure field 'work'"),
    ("mtbf_replica_work_unknown", METASTABLE, "[policies]",
     '[stochastic]\nmtbf = { portal-a = "1h" }\nmttr = { portal-a = "1m" }\n'
     'replica_work = "pray"\n\n[policies]',
     "key stochastic.replica_work: expected 'drop', 'resume' or 'restart', got 'pray'"),
]


@pytest.mark.parametrize(("base", "old", "new", "expected"),
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_scenario_is_refused_in_one_sentence(tmp_path: Path, base: str, old: str,
                                                   new: str, expected: str) -> None:
    assert expected in refused(edited(tmp_path, base, old, new))


@pytest.mark.parametrize(("old", "new"), [
    ('value = "1h" }', 'value = "400d" }'),  # the longest duration allowed
    ('patience = { dist = "deterministic", value = "1h" }',
     'patience = { dist = "uniform", low = "3s", high = "3s" }'),
    ('step = "1h"', 'step = "1h"\ncalendar = { pharmacy_start = "00:00", pharmacy_end = "24:00" }'),
    (TOP, 'name = "metastable_retry-2.v1"'),
    ('population = "all"', 'population = "employers"'),
])
def test_edge_values_that_make_sense_still_load(tmp_path: Path, old: str, new: str) -> None:
    load_scenario(edited(tmp_path, METASTABLE, old, new))


def test_a_file_that_is_not_utf8_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe" + METASTABLE.encode())
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not UTF-8 text") and "expected a scenario file" in message
    assert "\n" not in message and err.value.exit_code == 2


def test_a_name_taken_from_an_odd_file_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "...toml"  # its stem is ".."
    path.write_text(METASTABLE, encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "key name is missing and the file's name '..' is not a plain name; expected " \
        "name = letters" in str(err.value)
