"""Bad policy sets are one sentence naming the source, the field and what was expected.

A policy file is validated on its own before a scenario's overrides are merged, so a bad
value in the file is reported even when the overrides replace the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from policies.errors import PolicyConfigError
from policies.presets import PolicySet, load_policy_set
from policies.shedding import AdmissionPolicy

EXPECTED = "expected a preset name (baseline or resilient) or the path of a policy TOML file"


def _one_sentence(error: pytest.ExceptionInfo[PolicyConfigError]) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize("source", ["nosuch", "Baseline"])
def test_unknown_name_lists_the_choices(source: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        load_policy_set(source)
    message = _one_sentence(info)
    assert source in message and "does not exist" in message and EXPECTED in message


@pytest.mark.parametrize("source", ["", "  "])
def test_empty_name_says_it_is_empty(source: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        load_policy_set(source)
    message = _one_sentence(info)
    assert "policy set name is empty" in message and EXPECTED in message
    assert "Errno" not in message


def test_directory_is_not_read_as_toml(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError) as info:
        load_policy_set(tmp_path)
    message = _one_sentence(info)
    assert f"{tmp_path} is a directory" in message and EXPECTED in message
    assert "Errno" not in message


# (file text, scenario overrides of the same key, field named, expectation named)
HIDDEN = [
    ('preset = "resilient"\nadmission = 5\n', {"admission": "off"},
     "policies.admission", "valid dictionary"),
    ('preset = "resilient"\n[user.timeout]\nattempt_timeout_s = nan\n',
     {"user": {"timeout": {"attempt_timeout_s": 1.0}}},
     "policies.user.timeout.attempt_timeout_s", "finite number"),
    ('preset = "resilient"\n[user.timeout]\nattempt_timeout_s = inf\n',
     {"user": {"timeout": {"attempt_timeout_s": 1.0}}},
     "policies.user.timeout.attempt_timeout_s", "finite number"),
    ('preset = "resilient"\nuser = "off"\n', {"user": {"timeout": {"attempt_timeout_s": 1.0}}},
     "policies.user", "cannot be switched off"),
]


@pytest.mark.parametrize(("text", "overrides", "field", "expected"), HIDDEN)
def test_a_bad_file_is_reported_even_when_overrides_replace_the_key(
    tmp_path: Path, text: str, overrides: dict[str, object], field: str, expected: str,
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyConfigError) as info:
        load_policy_set(path, overrides)
    message = _one_sentence(info)
    assert message.startswith(f"{path}: {field}:") and expected in message


def test_a_good_file_with_overrides_still_merges(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text('preset = "resilient"\n[user.timeout]\nattempt_timeout_s = 4.0\n',
                    encoding="utf-8")
    ps = load_policy_set(path, {"user": {"retry": {"max_attempts": 2}}, "admission": "off"})
    assert ps.user.timeout.attempt_timeout_s == 4.0 and ps.user.retry.max_attempts == 2
    assert ps.admission is None and ps.name == "resilient"


def test_bad_overrides_are_reported_without_a_file_name() -> None:
    with pytest.raises(PolicyConfigError) as info:
        load_policy_set("resilient", {"paper_quota_share": float("nan")})
    message = _one_sentence(info)
    assert message.startswith("policies.paper_quota_share:") and "finite number" in message


@pytest.mark.parametrize(("build", "field"), [
    (lambda: PolicySet(verification_cache_max_age_s=float("inf")),
     "verification_cache_max_age_s"),
    (lambda: AdmissionPolicy(priority_shares=(1.0, float("nan"))), "priority_shares"),
])
def test_non_finite_floats_are_refused_everywhere(build: Callable[[], object],
                                                  field: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        build()
    message = _one_sentence(info)
    assert field in message and "finite number" in message
