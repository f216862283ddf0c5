"""The presets load, differ where they must, and take overrides from files and mappings."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.errors import PolicyConfigError
from policies.presets import BASELINE, RESILIENT, load_policy_set


def test_named_presets() -> None:
    assert load_policy_set("baseline") is BASELINE
    assert load_policy_set("resilient") is RESILIENT
    assert BASELINE.client.breaker is None and BASELINE.admission is None
    assert BASELINE.cache is None and BASELINE.client.budget is None
    assert BASELINE.client.retry.backoff.base_s == 0.0  # immediate retries
    assert RESILIENT.client.breaker is not None and RESILIENT.client.budget is not None
    assert RESILIENT.admission is not None and RESILIENT.cache is not None


def test_presets_are_frozen() -> None:
    with pytest.raises(Exception, match="frozen"):
        RESILIENT.payment_queue = False  # type: ignore[misc]


def test_overrides_merge_and_switch_off() -> None:
    ps = load_policy_set("resilient", {"client": {"breaker": {"wait_open_s": 9.0},
                                                  "throttle": "off"}, "cache": "off"})
    assert ps.client.breaker is not None and ps.client.breaker.wait_open_s == 9.0
    assert ps.client.breaker.half_open_calls == RESILIENT.client.breaker.half_open_calls  # type: ignore[union-attr]
    assert ps.client.throttle is None and ps.cache is None
    assert ps.admission == RESILIENT.admission


def test_file_with_preset_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text('[policies]\npreset = "baseline"\n[policies.client.retry]\n'
                    'max_attempts = 5\n[policies.upstreams.shahkar.timeout]\n'
                    'attempt_timeout_s = 3.0\n', encoding="utf-8")
    ps = load_policy_set(path, {"payment_queue": True})
    assert ps.client.retry.max_attempts == 5 and ps.payment_queue
    assert ps.client_for("shahkar").timeout.attempt_timeout_s == 3.0
    assert ps.client_for("sms") == ps.client


@pytest.mark.parametrize("text,match", [
    ('preset = "fancy"', "preset must be one of"),
    ("[client.retry]\nmax_attempts = 0", r"policies\.client\.retry\.max_attempts"),
    ("[client.breaker]\nfailure_rate_threshold = 2.0", "failure_rate_threshold"),
    ("[client]\nunknown = 1", r"policies\.client\.unknown"),
    ("not toml [", "not valid TOML"),
])
def test_bad_files_give_one_clear_error(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyConfigError, match=match):
        load_policy_set(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError, match="does not exist"):
        load_policy_set(tmp_path / "nope.toml")


def test_every_policy_of_both_presets_builds() -> None:
    for ps in (BASELINE, RESILIENT):
        for name in ("shahkar", "sms", "payment"):
            pipeline = ps.client_for(name).build(name)
            assert pipeline.name == name
        ps.user.build("portal")
        if ps.login_limit is not None:
            per_account, per_source = ps.login_limit.build()
            assert per_account.burst <= per_source.burst
        if ps.cache is not None:
            assert ps.cache.build().max_staleness_s >= ps.cache.ttl_s
    shahkar = RESILIENT.client_for("shahkar").build("shahkar")
    assert shahkar.hedger is not None and shahkar.bulkhead is not None
    assert shahkar.breaker is not None and BASELINE.client_for("shahkar").breaker is None


def test_the_verification_deadline_of_the_presets() -> None:
    assert BASELINE.verification_deadline_s is None  # no fallback, nothing to cut short for
    assert RESILIENT.verification_deadline_s == 2.5
    assert load_policy_set("resilient", {"verification_deadline_s": "off"}
                           ).verification_deadline_s is None
