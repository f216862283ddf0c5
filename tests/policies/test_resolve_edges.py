"""The resolved policy file at its edges: non-ASCII names, new directories, values JSON
cannot hold, bad files, and the wording and defaults of the differences."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policies.errors import PolicyConfigError
from policies.presets import BASELINE, RESILIENT, load_policy_set
from policies.resolve import (
    describe_differences,
    dump_policies,
    load_policies,
    policies_digest,
    policy_differences,
    resolve_policies,
    write_policies,
)

PERSIAN = "تاب‌آوری"  # "resilience", with a zero-width non-joiner


def test_a_persian_name_is_written_as_ascii_and_loads_back(tmp_path: Path) -> None:
    ps = resolve_policies("resilient", {"name": PERSIAN})
    text = dump_policies(ps)
    assert text.isascii() and json.loads(text)["name"] == PERSIAN
    assert '"name": "\\u062a\\u0627\\u0628\\u200c' in text
    path = tmp_path / "policies.json"
    assert write_policies(ps, path) == policies_digest(ps)
    assert path.read_bytes() == text.encode("ascii")
    assert load_policies(path) == ps


def test_writing_creates_the_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r1" / "out" / "policies.json"
    write_policies(BASELINE, path)
    assert load_policies(path) == BASELINE
    assert [p.name for p in path.parent.iterdir()] == ["policies.json"]  # no temporary left


def test_a_value_json_cannot_hold_is_refused_not_written(tmp_path: Path) -> None:
    """A set built past validation (model_copy) with an infinite value must not produce a
    file other JSON readers refuse ("Infinity" is not JSON)."""
    ps = RESILIENT.model_copy(update={"verification_deadline_s": math.inf})
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        dump_policies(ps)
    with pytest.raises(ValueError):
        write_policies(ps, tmp_path / "policies.json")
    assert not (tmp_path / "policies.json").exists()


def test_a_directory_is_not_a_resolved_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError) as info:
        load_policies(tmp_path)
    assert str(info.value) == (f"resolved policy file {tmp_path} is a directory; expected a "
                               "JSON file")


def test_a_file_without_an_object_says_what_it_should_hold(tmp_path: Path) -> None:
    path = tmp_path / "policies.json"
    path.write_text('"resilient"\n')
    with pytest.raises(PolicyConfigError) as info:
        load_policies(path)
    assert str(info.value) == (f"resolved policy file {path} holds no JSON object; expected "
                               "every field of a policy set")


def test_a_bad_value_in_a_resolved_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "policies.json"
    data = json.loads(dump_policies(RESILIENT))
    data["client"]["hedge"] = {**data["upstreams"]["shahkar"]["hedge"], "max_hedges": 11}
    path.write_text(json.dumps(data))
    with pytest.raises(PolicyConfigError) as info:
        load_policies(path)
    assert str(info.value) == (f"{path}: policies.client.hedge.max_hedges: must be less than "
                               "or equal to 10 (got 11)")


def test_three_differences_are_named_by_default() -> None:
    every = policy_differences(BASELINE, RESILIENT, limit=100)
    assert len(every) > 3
    assert policy_differences(BASELINE, RESILIENT) == every[:3]
    assert describe_differences(BASELINE, RESILIENT) == (
        'admission: lab has off, run wants on (algorithm "aimd", backoff_ratio 0.9, ...); '
        'cache: lab has off, run wants on (max_entries 100000, max_staleness_s 86400.0, ...); '
        'client.breaker: lab has off, run wants on (failure_rate_threshold 0.5, '
        'half_open_calls 3, ...)')


def test_an_upstream_only_one_set_has_is_named_with_none_on_the_other_side() -> None:
    """"none" = no entry at all (the upstream uses the client policy), unlike "off"."""
    every = dict((k, (a, b)) for k, a, b in policy_differences(BASELINE, RESILIENT, limit=100))
    assert every["upstreams.shahkar"] == ("none", "on (failover true, ...)")
    back = dict((k, (a, b)) for k, a, b in policy_differences(RESILIENT, BASELINE, limit=100))
    assert back["upstreams.shahkar"] == ("on (failover true, ...)", "none")
    assert every["client.retry.backoff.jitter"] == ('"none"', '"full"')
    assert every["client.retry.max_total_s"] == ("off", "8.0")
    assert every["payment_queue"] == ("false", "true")


def test_policy_files_are_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """TOML is UTF-8 by definition and a hand-edited policies.json may hold raw Persian: a
    process under an ASCII locale (a bare container's C locale) must still read both."""
    toml = tmp_path / "mine.toml"
    toml.write_text(f'preset = "resilient"\nname = "{PERSIAN}"\n', encoding="utf-8")
    data = json.loads(dump_policies(RESILIENT)) | {"name": PERSIAN}
    resolved = tmp_path / "policies.json"
    resolved.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert load_policy_set(toml).name == load_policies(resolved).name == PERSIAN
    code = ("import sys\nfrom policies.resolve import resolve_policies as r\n"
            "print(ascii(r(sys.argv[1]).name), ascii(r(sys.argv[2]).name))")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
           "PYTHONCOERCECLOCALE": "0"}
    out = subprocess.run([sys.executable, "-c", code, str(toml), str(resolved)], env=env,
                         check=True, capture_output=True, text=True).stdout
    assert out == f"{PERSIAN!a} {PERSIAN!a}\n"
