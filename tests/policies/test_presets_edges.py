"""Loading policy sets at the edges: the refusals word for word, files without a preset or
a [policies] table, overrides that switch a policy on, off, or change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.errors import PolicyConfigError
from policies.presets import BASELINE, RESILIENT, load_policy_set, with_overrides
from policies.shedding import AdmissionPolicy

EXPECTED = "expected a preset name (baseline or resilient) or the path of a policy TOML file"


def refusal(source: str | Path, overrides: dict[str, object] | None = None) -> str:
    with pytest.raises(PolicyConfigError) as info:
        load_policy_set(source, overrides)
    return str(info.value)


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "policies.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_the_refusals_of_a_source_word_for_word(tmp_path: Path) -> None:
    assert refusal(" ") == f"the policy set name is empty; {EXPECTED}"
    assert refusal("resilent") == f"policy set file resilent does not exist; {EXPECTED}"
    assert refusal(tmp_path) == f"policy set file {tmp_path} is a directory; {EXPECTED}"
    path = write(tmp_path, b"\xff\xfe")
    assert refusal(path) == (f"policy set file {path} is not valid TOML: 'utf-8' codec can't "
                             "decode byte 0xff in position 0: invalid start byte")
    path = write(tmp_path, "policies = 5\n")
    assert refusal(path) == f"{path}: [policies] must be a table"
    path = write(tmp_path, 'preset = "fancy"\n')
    assert refusal(path) == f"{path}: preset must be one of ['baseline', 'resilient'] (got 'fancy')"


def test_the_client_and_user_policies_cannot_be_switched_off() -> None:
    for key in ("client", "user", "upstreams"):
        assert refusal("resilient", {key: "off"}) == (
            f"policies.{key}: cannot be switched off; expected a table of its settings "
            "(got None)")


def test_a_file_without_a_preset_starts_from_baseline(tmp_path: Path) -> None:
    ps = load_policy_set(write(tmp_path, "payment_queue = true\n"))
    assert ps == BASELINE.model_copy(update={"payment_queue": True})
    ps = load_policy_set(write(tmp_path, '[policies]\npreset = "resilient"\nname = "mine"\n'))
    assert ps == RESILIENT.model_copy(update={"name": "mine"})


def test_a_policy_switched_off_in_the_preset_is_switched_on_with_its_defaults() -> None:
    ps = load_policy_set("baseline", {"admission": {"initial_limit": 40}})
    assert ps.admission == AdmissionPolicy(initial_limit=40)
    assert ps.model_copy(update={"admission": None}) == BASELINE


def test_an_override_that_is_not_a_table_replaces_the_value() -> None:
    ps = load_policy_set("resilient", {"admission": {"priority_shares": [1.0, 0.5]},
                                       "paper_quota_share": 0.5})
    assert ps.admission is not None and ps.admission.priority_shares == (1.0, 0.5)
    assert ps.admission.initial_limit == 50  # the rest of the preset's table is kept
    assert ps.paper_quota_share == 0.5


def test_no_overrides_give_the_set_itself() -> None:
    assert with_overrides(RESILIENT, None) is RESILIENT
    assert with_overrides(RESILIENT, {}) is RESILIENT
    assert load_policy_set("baseline", {}) is BASELINE


def test_client_for_an_upstream_without_its_own_entry_is_the_client_policy() -> None:
    assert RESILIENT.client_for("shahkar") is RESILIENT.upstreams["shahkar"]
    assert RESILIENT.client_for("sms") is RESILIENT.client
