"""The one resolver: a set's canonical file, its digest, the exact round trip, differences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policies.errors import PolicyConfigError
from policies.presets import BASELINE, RESILIENT, PolicySet
from policies.resolve import (
    describe_differences,
    dump_policies,
    load_policies,
    policies_digest,
    policy_differences,
    resolve_policies,
    short_digest,
    write_policies,
)

OVERRIDES = {"admission": "off", "user": {"retry": {"max_attempts": 5}, "failover": False},
             "client": {"breaker": {"wait_open_s": 7.5}}}
SETS = {"baseline": BASELINE, "resilient": RESILIENT,
        "resilient+overrides": resolve_policies("resilient", OVERRIDES)}


@pytest.mark.parametrize("name", sorted(SETS))
def test_a_resolved_file_loads_back_exactly(name: str, tmp_path: Path) -> None:
    ps = SETS[name]
    digest = write_policies(ps, tmp_path / "policies.json")
    back = load_policies(tmp_path / "policies.json")
    assert back == ps
    assert dump_policies(back) == dump_policies(ps) == (tmp_path / "policies.json").read_text()
    assert digest == policies_digest(ps) == policies_digest(back)
    assert resolve_policies(str(tmp_path / "policies.json")) == ps  # the file as a source
    assert resolve_policies(tmp_path / "policies.json") == ps


def test_the_text_is_canonical() -> None:
    text = dump_policies(RESILIENT)
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2) + "\n"
    assert data["user"]["failover"] is True and data["admission"]["latency_target_s"] == 1.0
    # sets (the retry classifier's statuses) are written sorted, not in hash order
    statuses = data["client"]["retry"]["classifier"]["retry_statuses"]
    assert statuses == sorted(statuses)
    assert len(policies_digest(RESILIENT)) == 64
    assert short_digest(policies_digest(RESILIENT)) == policies_digest(RESILIENT)[:12]


def test_the_digest_does_not_depend_on_the_process() -> None:
    """String hashing is seeded per process: the frozensets of a set must not leak into it."""
    code = ("from policies.resolve import policies_digest, resolve_policies as r\n"
            "print(policies_digest(r('baseline')), policies_digest(r('resilient')))")
    seen = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        seen.add(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                capture_output=True, text=True).stdout)
    assert seen == {f"{policies_digest(BASELINE)} {policies_digest(RESILIENT)}\n"}


def test_overrides_change_the_digest_and_apply_on_a_resolved_file(tmp_path: Path) -> None:
    assert policies_digest(SETS["resilient+overrides"]) != policies_digest(RESILIENT)
    write_policies(RESILIENT, tmp_path / "p.json")
    assert resolve_policies(tmp_path / "p.json", OVERRIDES) == SETS["resilient+overrides"]


def test_differences_name_dotted_keys_in_one_clause() -> None:
    ps = SETS["resilient+overrides"]
    assert policy_differences(RESILIENT, RESILIENT) == []
    assert describe_differences(RESILIENT, RESILIENT.model_copy(update={"name": "x"})) == ""
    keys = [k for k, _, _ in policy_differences(RESILIENT, ps, limit=10)]
    assert keys == ["admission", "client.breaker.wait_open_s", "user.failover",
                    "user.retry.max_attempts"]  # a table switched off differs once
    text = describe_differences(RESILIENT, ps, limit=2)
    assert text.startswith('admission: lab has on (algorithm "aimd", ')
    assert text.endswith("run wants off; client.breaker.wait_open_s: lab has 5.0, run wants 7.5")


@pytest.mark.parametrize(("content", "expected"), [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "holds no JSON object"),
    ('{"user": {"retry": {"max_attempts": 0}}}', "policies.user.retry.max_attempts"),
])
def test_a_bad_resolved_file_is_one_sentence(tmp_path: Path, content: str | None,
                                             expected: str) -> None:
    path = tmp_path / "policies.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PolicyConfigError) as exc:
        resolve_policies(path)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_failover_is_a_field_of_the_client_policy() -> None:
    """Baseline's users are pinned to their home replica; resilient's fail over."""
    assert BASELINE.user.failover is False
    assert RESILIENT.user.failover is True
    assert PolicySet().user.failover is True  # a custom set keeps the old default
    assert resolve_policies("baseline", {"user": {"failover": True}}).user.failover is True


def test_the_verification_deadline_is_a_policy_that_round_trips(tmp_path: Path) -> None:
    """The login's wait for Shahkar with a fallback at hand is in the set both runners read."""
    assert BASELINE.verification_deadline_s is None
    assert RESILIENT.verification_deadline_s == 2.5
    assert RESILIENT.verification_cache_max_age_s is not None  # the deadline needs a fallback
    assert json.loads(dump_policies(RESILIENT))["verification_deadline_s"] == 2.5
    for ps in (RESILIENT, resolve_policies("resilient", {"verification_deadline_s": 0.75}),
               resolve_policies("resilient", {"verification_deadline_s": "off"})):
        write_policies(ps, tmp_path / "policies.json")
        back = load_policies(tmp_path / "policies.json")
        assert back == ps and back.verification_deadline_s == ps.verification_deadline_s
    assert describe_differences(RESILIENT, resolve_policies(
        "resilient", {"verification_deadline_s": "off"})) == (
        "verification_deadline_s: lab has 2.5, run wants off")
    with pytest.raises(PolicyConfigError, match="verification_deadline_s"):
        resolve_policies("resilient", {"verification_deadline_s": 0.0})
