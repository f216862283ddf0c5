"""`chaoslab validate` tells every problem at once; `chaoslab new` writes a scenario that
validates, comments kept, and never overwrites."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoslab.cli import SCENARIO_DIR, main
from scenario.schema import load_scenario

BAD = """
description = "SMS outage during password recovery at month end"
duration = "1h"
[workload]
rate_per_s = -3
[workload.kinds.recover_password]
share = 1
service = { dist = "exponential", mean = "20ms" }
upstreams = ["sms"]
[[faults]]
kind = "upstream_outage"
link = "portal-a-smss"
start = "10m"
duration = "20m"
[invariants]
login_p99 = { slo_ms = 3000, upstream = "sms" }
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_validate_lists_every_problem_one_per_line_and_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sms.toml"
    path.write_text(BAD, encoding="utf-8")
    code, lines, err = run(capsys, "validate", str(path))
    assert code == 2 and err == ""
    assert lines == [
        f"{path}: key workload.rate_per_s: expected greater than or equal to 0, got -3",
        f"{path}: key faults[0].link: expected one of ['client-portal-a', 'client-portal-b', "
        "'portal-a-payment', 'portal-a-registry', 'portal-a-shahkar', 'portal-a-sms', "
        "'portal-b-payment', 'portal-b-registry', 'portal-b-shahkar', 'portal-b-sms'], got "
        "'portal-a-smss'",
        f"{path}: key invariants.login_p99: unknown threshold 'upstream'; expected thresholds "
        "among slo_ms (default 3000.0), quantile (default 0.99)"]


def test_validate_says_ok_for_every_shipped_scenario(
        capsys: pytest.CaptureFixture[str]) -> None:
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
    code, lines, _ = run(capsys, "validate", *names)
    assert code == 0
    assert lines == [f"{SCENARIO_DIR / n}.toml: ok" for n in names]


def test_validate_goes_on_past_a_file_it_cannot_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[[", encoding="utf-8")
    code, lines, _ = run(capsys, "validate", "no_such_scenario", str(broken),
                         "switch_failure")
    assert code == 2 and len(lines) == 3
    assert lines[0].startswith("scenario 'no_such_scenario' not found")
    assert lines[1].startswith(f"{broken}: not valid TOML")
    assert lines[2].endswith("switch_failure.toml: ok")


def test_validate_reports_what_a_run_would_refuse_beyond_the_schema(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (SCENARIO_DIR / "switch_failure.toml").read_text(encoding="utf-8")
    path = tmp_path / "odd.toml"
    path.write_text(text + '\n[[faults]]\nkind = "switch_failure"\nswitch = "switch-a"\n'
                    'start = "20m"\nduration = "5m"\n', encoding="utf-8")
    code, lines, _ = run(capsys, "validate", str(path))
    assert code == 2 and len(lines) == 1  # the schema accepts it; the timeline does not
    assert lines[0].startswith(f"{path}: scenario odd: schedule window 2 (switch_failure on "
                               "'switch-a'): starts at 1200.0 s while the previous fault")


def test_new_writes_a_commented_scenario_that_validates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sms_recovery.toml"
    code, lines, _ = run(capsys, "new", "sms_recovery", "--from", "switch_failure",
                         "--out", str(out))
    assert code == 0 and lines[0].startswith(f"wrote {out}")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# sms_recovery: a new scenario, begun from switch_failure.toml")
    assert "# Shahkar and SMS on rack-a, the registry and payment on rack-b." in text
    new, source = load_scenario(out), load_scenario(SCENARIO_DIR / "switch_failure.toml")
    assert new.name == "sms_recovery" and "sms_recovery" in new.description
    assert new.model_dump(exclude={"name", "description"}) == source.model_dump(
        exclude={"name", "description"})
    assert run(capsys, "validate", str(out))[:2] == (0, [f"{out}: ok"])


def test_new_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine.toml"
    out.write_text("# my work\n", encoding="utf-8")
    code, lines, err = run(capsys, "new", "mine", "--out", str(out))
    assert code == 2 and lines == []
    assert err == (f"chaoslab: --out {out}: the file exists; expected a new file (chaoslab "
                   f"new never overwrites)\n")
    assert out.read_text(encoding="utf-8") == "# my work\n"


@pytest.mark.parametrize(("argv", "says"), [
    (["new", "../evil"], "NAME '../evil': expected a plain name"),
    (["new", "ok", "--from", "no_such_scenario"], "scenario 'no_such_scenario' not found"),
])
def test_new_refuses_bad_input_in_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        says: str) -> None:
    code, _, err = run(capsys, *argv, "--out", str(tmp_path / "x.toml"))
    assert code == 2 and says in err and err.count("\n") == 1
    assert not (tmp_path / "x.toml").exists()


def test_new_keeps_a_multiline_description_out(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "long.toml"
    text = (SCENARIO_DIR / "metastable_retry.toml").read_text(encoding="utf-8")
    first = text.splitlines()[0]
    source.write_text(text.replace(first, 'name = "long"\ndescription = """two\nlines"""'),
                      encoding="utf-8")
    out = tmp_path / "short.toml"
    assert run(capsys, "new", "short", "--from", str(source), "--out", str(out))[0] == 0
    assert load_scenario(out).name == "short" and "lines" not in out.read_text()
