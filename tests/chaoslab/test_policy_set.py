"""One experiment, two runners: `chaoslab sim` and `chaoslab lab run` resolve one policy set.

The sim side runs `chaoslab sim` itself (its replications stubbed out: the set is resolved and
written before any seed runs), the live side runs `chaoslab lab run`'s own `prepare`; both
must give the same bytes for every shipped scenario and both presets. Then: attaching to a
lab compares digests and says what differs, and `lab up --policies` starts what it is told.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from chaoslab import compose_lab
from chaoslab import lab as lab_cli
from chaoslab import simulate as sim_cli
from chaoslab.cli import SCENARIO_DIR, build_parser, main
from chaoslab.live import cli as live_cli
from mock_services.lab import access as lab_access
from mock_services.lab import state
from mock_services.lab.config import LabConfig
from mock_services.lab.state import LabState
from mock_services.lab.supervisor import service_argv
from mock_services.lab.topology import default_topology
from policies.presets import PolicySet
from policies.resolve import (
    POLICIES_FILE,
    dump_policies,
    load_policies,
    policies_digest,
    resolve_policies,
    short_digest,
    write_policies,
)
from scenario.errors import BadInput

SCENARIOS = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
PRESETS = ("baseline", "resilient")


def _live_set(scenario: str, preset: str, out: Path) -> PolicySet:
    args = build_parser().parse_args(["lab", "run", scenario, "--policies", preset,
                                      "--out", str(out)])
    _, policies, _, _ = live_cli.prepare(args)
    return policies


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sim_and_lab_run_resolve_byte_identical_sets(
        scenario: str, preset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sim_cli, "run_all", lambda *_a, **_k: [])  # no seed needs to run
    out = tmp_path / "sim"
    assert main(["sim", scenario, "--policies", preset, "--seeds", "1", "--out",
                 str(out)]) == 0
    capsys.readouterr()
    sim_text = (out / POLICIES_FILE).read_text()
    live = _live_set(scenario, preset, tmp_path / "live")
    assert dump_policies(live) == sim_text
    report = json.loads((out / "report.json").read_text())
    assert report["policies"] == preset
    assert report["policies_digest"] == policies_digest(live)


def test_the_overrides_of_a_scenario_reach_the_live_set(tmp_path: Path) -> None:
    """metastable_retry switches admission off: the lab must run that, not the preset."""
    live = _live_set("metastable_retry", "resilient", tmp_path)
    assert live.admission is None and resolve_policies("resilient").admission is not None
    assert policies_digest(live) != policies_digest(resolve_policies("resilient"))


def _args(policies: str) -> argparse.Namespace:
    """`lab run`'s arguments that choose a lab: none named, $CHAOSLAB_LAB_DIR decides."""
    return argparse.Namespace(lab=None, new_lab=False, policies=policies)


@pytest.fixture(autouse=True)
def _maps_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake labs below run no process: a lab map counts as running (attaching reads only
    the map), so choosing one compares digests without starting anything."""
    monkeypatch.setattr(live_cli, "running_lab", compose_lab.attach)


def _fake_lab(run_dir: Path, label: str, ps: PolicySet | None) -> Path:
    """A lab map as `lab up` writes it (no process runs: attaching reads only the map)."""
    lab = LabState(run_dir, default_topology(), "http://127.0.0.1:9", True, label, 0)
    if ps is not None:
        path = run_dir / POLICIES_FILE
        lab = LabState(run_dir, lab.topology, lab.toxiproxy_url, True, label, 0,
                       policies_file=str(path), policies_digest=write_policies(ps, path))
    lab.save()
    return run_dir


def test_attaching_compares_digests_and_says_what_differs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab_dir = _fake_lab(tmp_path / "lab", "resilient", resolve_policies("resilient"))
    monkeypatch.setenv(live_cli.LAB_DIR_ENV, str(lab_dir))
    out = tmp_path / "out"
    wanted = _live_set("metastable_retry", "resilient", out)
    with pytest.raises(BadInput) as exc:
        live_cli.choose_lab(_args("resilient"), wanted, out)
    message = str(exc.value)
    assert message.startswith(f"the lab in {lab_dir} runs policies 'resilient' "
                              f"({short_digest(policies_digest(resolve_policies('resilient')))})")
    assert 'admission: lab has on (algorithm "aimd", ' in message
    assert "run wants off; user.budget.min_per_s: lab has 1.0, run wants 0.0; " in message
    assert "user.budget.ratio: lab has 0.1, run wants 0.02;" in message  # the first three keys
    # the run's set has overrides: the command names the file it wrote, not a preset
    assert f"chaoslab lab up --detach --dir DIR --policies {out / POLICIES_FILE}" in message
    assert load_policies(out / POLICIES_FILE) == wanted
    assert "\n" not in message


def test_attaching_to_another_preset_names_that_preset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab_dir = _fake_lab(tmp_path / "lab", "baseline", resolve_policies("baseline"))
    monkeypatch.setenv(live_cli.LAB_DIR_ENV, str(lab_dir))
    wanted = _live_set("switch_failure", "resilient", tmp_path / "out")
    with pytest.raises(BadInput) as exc:
        live_cli.choose_lab(_args("resilient"), wanted, tmp_path / "o")
    assert "--policies resilient'" in str(exc.value)
    assert not (tmp_path / "o").exists()  # a plain preset: nothing written


def test_attaching_to_the_same_set_by_another_name_is_accepted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A map without a resolved file (the compose lab's) resolves its label; the digest of
    the set decides, not the name it was given."""
    wanted = _live_set("metastable_retry", "resilient", tmp_path / "out")
    lab_dir = _fake_lab(tmp_path / "lab", "my-file.json", wanted)
    monkeypatch.setenv(live_cli.LAB_DIR_ENV, str(lab_dir))
    lab, _ = live_cli.choose_lab(_args("resilient"), wanted, tmp_path / "out")
    assert lab is not None and lab.state.digest() == policies_digest(wanted)
    compose_dir = _fake_lab(tmp_path / "compose", "baseline", None)
    monkeypatch.setenv(live_cli.LAB_DIR_ENV, str(compose_dir))
    baseline = _live_set("switch_failure", "baseline", tmp_path / "out")
    lab, _ = live_cli.choose_lab(_args("baseline"), baseline, tmp_path / "out")
    assert lab is not None and lab.state.policies_file == ""


def test_the_map_records_the_resolved_file_and_the_services_get_it(tmp_path: Path) -> None:
    ps = resolve_policies("baseline", {"user": {"failover": True}})
    _fake_lab(tmp_path, "baseline", ps)
    lab = state.load(tmp_path)
    lab_access.prepare(lab)  # the secrets and admin ports `lab up` writes before any process
    assert lab.policies == "baseline"
    assert lab.policies_file == str(tmp_path / POLICIES_FILE)
    assert lab.policies_digest == policies_digest(ps) == lab.digest()
    assert lab.policy_set() == ps
    for service in lab.topology.services:
        argv = service_argv(lab, service)
        assert argv[argv.index("--policies") + 1] == str(tmp_path / POLICIES_FILE)


@pytest.mark.parametrize(("argv", "expected"), [
    ([], "resilient"), (["--policies", "baseline"], "baseline"),
    (["--policies", "resilient"], "resilient"), (["--policies", "x/p.toml"], "x/p.toml")])
def test_lab_up_takes_policies(argv: list[str], expected: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(["lab", "up", "--detach", "--dir", str(tmp_path), *argv])
    assert args.policies == expected
    started: list[LabConfig] = []

    class Started:
        state = LabState(tmp_path, default_topology(), "http://127.0.0.1:9", True, expected, 0,
                         policies_digest="ab" * 32)

    def fake_up(config: LabConfig) -> Any:
        started.append(config)
        return Started()

    monkeypatch.setattr(lab_cli, "start_lab", fake_up)
    assert lab_cli.up(args) == 0
    assert [c.policies for c in started] == [expected]


def test_lab_up_with_unknown_policies_is_refused_before_anything_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "lab"
    assert main(["lab", "up", "--detach", "--dir", str(run_dir), "--policies", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chaoslab: --policies: policy set file nope does not exist; expected")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not run_dir.exists()
