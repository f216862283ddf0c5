"""Attaching to the compose lab from its map (deploy/lab.json), against an in-memory engine.

No container runs here: the map and the admin listeners are the checked-in ones (copied, with
fresh secrets, as the containers see /lab), the Docker engine is the fake of test_docker_lab
(httpx.MockTransport) and readiness is recorded instead of polled, so the
tests check what attach builds and what reaches the engine: the container hosts, the
faults' view of the lab, SIGKILL of a rack's containers for a power loss, start and readiness
after it, and one sentence for a bad map. The pytest plugin's attach mode runs in a pytest
subprocess on the same map.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chaoslab import compose_lab
from chaoslab.compose_lab import ComposeLab, attach
from chaoslab.docker_lab import DockerSupervisor
from mock_services.common.access import new_secrets, write_secrets
from mock_services.lab.config import LabError
from mock_services.lab.faultsview import faults_topology
from mock_services.lab.operations import LabSupervisor
from mock_services.lab.supervisor import Lab
from tests.chaoslab.test_docker_lab import FakeEngine, labels, no_wait, posts

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "deploy" / "lab.json"


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    """The compose lab's run directory as the chaos container sees it (/lab)."""
    for name in ("lab.json", "admin.json"):
        shutil.copy(ROOT / "deploy" / name, tmp_path / name)
    write_secrets(tmp_path / "secrets.json", new_secrets())
    return tmp_path


@pytest.fixture
def engine() -> FakeEngine:
    racks = {"portal-a": "rack-a", "shahkar": "rack-a", "sms": "rack-a",
             "portal-b": "rack-b", "registry": "rack-b", "payment": "rack-b"}
    return FakeEngine({f"c-{name}": labels(name, rack) for name, rack in racks.items()})


@pytest.fixture
def readied(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The services each readiness wait asked for, in order (no network here)."""
    calls: list[list[str]] = []
    monkeypatch.setattr(compose_lab, "wait_ready",
                        lambda urls, deadline, procs: calls.append(sorted(urls)))
    return calls


def attached(engine: FakeEngine, policies: str | None = None,
             path: Path = MAP) -> ComposeLab:
    client = httpx.Client(transport=httpx.MockTransport(engine.handler))
    lab = attach(path, policies, engine=DockerSupervisor(client, wait=no_wait))
    assert isinstance(lab, ComposeLab)
    return lab


def test_attach_reads_container_hosts_from_the_map(engine: FakeEngine, lab_dir: Path) -> None:
    assert attached(engine).state.run_dir == ROOT / "deploy"
    lab = attached(engine, path=lab_dir)
    assert lab.state.toxiproxy_url == "http://toxiproxy:8474"
    assert lab.state.url("shahkar") == "http://shahkar:8000"
    assert lab.state.portal_urls()["portal-b"] == "http://toxiproxy:21006"
    view = faults_topology(lab.state)
    # admin faults go to the upstream's admin listener on the compose network
    assert view.links["portal-a-payment"].admin_url == "http://payment:8001"
    assert view.racks["rack-b"] == ("portal-b", "registry", "payment")
    assert lab.state.policies == "resilient"
    assert attached(engine, "baseline").state.policies == "baseline"


def test_the_policy_set_comes_from_the_environment(engine: FakeEngine,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compose_lab.POLICIES_ENV, "baseline")
    assert attached(engine).state.policies == "baseline"


def test_power_loss_kills_the_racks_containers_through_the_engine(
        engine: FakeEngine, readied: list[list[str]]) -> None:
    lab = attached(engine)
    sup = LabSupervisor(lab)  # what the live runner and the injector use
    sup.kill_rack("rack-a")
    assert sorted(posts(engine)) == [f"POST /containers/c-{n}/kill?signal=SIGKILL"
                                    for n in ("portal-a", "shahkar", "sms")]
    assert lab.running() == {"portal-a": False, "portal-b": True, "shahkar": False,
                             "sms": False, "registry": True, "payment": True}
    engine.calls.clear()
    sup.restart_rack("rack-a")
    assert sorted(posts(engine)) == [f"POST /containers/c-{n}/start"
                                    for n in ("portal-a", "shahkar", "sms")]
    assert readied == [["portal-a", "shahkar", "sms"]]
    assert all(lab.running().values())


def test_a_naive_deploy_stops_and_starts_the_containers(engine: FakeEngine,
                                                        readied: list[list[str]]) -> None:
    lab = attached(engine)
    LabSupervisor(lab).naive_deploy("portal", [])
    # both replicas get their SIGTERM before either is waited for: all at once
    assert posts(engine) == ["POST /containers/c-portal-a/kill?signal=SIGTERM",
                             "POST /containers/c-portal-b/kill?signal=SIGTERM",
                             "POST /containers/c-portal-a/start",
                             "POST /containers/c-portal-b/start"]
    assert readied == [["portal-a", "portal-b"]]


def test_down_leaves_the_compose_lab_alone(engine: FakeEngine) -> None:
    attached(engine).down()
    assert engine.calls == []


def test_a_map_without_a_project_attaches_the_embedded_lab(tmp_path: Path) -> None:
    data = json.loads(MAP.read_text(encoding="utf-8"))
    del data["docker_project"]
    (tmp_path / "lab.json").write_text(json.dumps(data), encoding="utf-8")
    lab = attach(tmp_path)
    assert type(lab) is Lab
    assert lab.state.url("sms") == "http://sms:8000"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("toxiproxy_url"), "missing key 'toxiproxy_url'"),
    (lambda d: d["addresses"].update({"sms": "sms"}), "addresses.sms is 'sms'; expected HOST:PORT"),
    (lambda d: d["addresses"].update({"nope": "x:1"}), "addresses names 'nope'"),
    (lambda d: d["topology"]["services"][0].update({"kind": "bank"}), "unknown kind 'bank'"),
])
def test_a_bad_map_is_one_sentence(tmp_path: Path, change: object, message: str) -> None:
    data = json.loads(MAP.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LabError, match=message):
        attach(path)
    with pytest.raises(LabError, match="does not exist"):
        attach(tmp_path / "missing")


PLUGIN_PROBE = """
import pytest

@pytest.mark.chaos
def test_starts_a_lab_of_its_own():
    raise AssertionError("must be skipped in attach mode")

@pytest.mark.chaos
def test_asks_for_another_policy_set(chaos_labs):
    chaos_labs("baseline")
    raise AssertionError("must be skipped: the attached lab runs resilient")
"""


def run_plugin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(PLUGIN_PROBE, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "chaoslab.pytest_plugin",
         "-q", "-rs", str(tmp_path / "test_probe.py"), *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)


def test_the_plugin_attaches_instead_of_starting_labs(tmp_path: Path) -> None:
    proc = run_plugin(tmp_path, "--lab", str(MAP))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 skipped" in proc.stdout
    assert "starts its own lab; the run is attached to" in proc.stdout
    assert "needs a lab running 'baseline'" in proc.stdout


def test_the_plugin_refuses_a_missing_map_in_one_sentence(tmp_path: Path) -> None:
    proc = run_plugin(tmp_path, "--lab", str(tmp_path / "nope" / "lab.json"))
    assert proc.returncode == 4  # pytest's usage error
    assert "--lab/$CHAOSLAB_LAB: no lab in" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
