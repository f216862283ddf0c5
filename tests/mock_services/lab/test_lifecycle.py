"""The lab comes up and goes down cleanly: real processes, real sockets, real proxies.

These tests start their own labs (not the session's), through the CLI as a user would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chaoslab.cli import main
from mock_services.lab import procs, supervisor
from mock_services.lab.state import LabState
from mock_services.lab.supervisor import Lab, LabConfig, LabError, up
from mock_services.lab.topology import ServiceSpec
from policies.presets import BASELINE
from policies.resolve import policies_digest

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]
SERVICES = ("portal-a", "portal-b", "shahkar", "sms", "registry", "payment")


def chaoslab(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaoslab", *argv], capture_output=True,
                          text=True, timeout=90, check=False, env=env)


def _pids(run_dir: Path) -> dict[str, int]:
    return procs.read_pids(run_dir)


def _wait_for(predicate: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_up_detach_status_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "lab"
    started = chaoslab("lab", "up", "--detach", "--dir", str(run_dir), "--policies", "baseline")
    try:
        assert started.returncode == 0, started.stderr
        assert f"policies   baseline (sha256 {policies_digest(BASELINE)[:12]})" in started.stdout
        for name in SERVICES:
            assert name in started.stdout
        assert "client-portal-a" in started.stdout and "portal-b-shahkar" in started.stdout
        lab = json.loads((run_dir / "lab.json").read_text())
        ports = {s["name"]: s["port"] for s in lab["topology"]["services"]}
        # every service answers on its own port, and through its client proxy for portals
        for port in ports.values():
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        client_link = next(x for x in lab["topology"]["links"]
                           if x["source"] == "client" and x["target"] == "portal-a")
        r = httpx.get(f"http://127.0.0.1:{client_link['listen_port']}/readyz", timeout=5)
        assert r.status_code == 200
        # status and down in this process: the same handlers, without another interpreter
        assert main(["lab", "status", "--dir", str(run_dir)]) == 0
        assert "lab is up" in capsys.readouterr().out
        pids = _pids(run_dir)
        assert len(pids) == len(SERVICES) + 1  # and the embedded proxy
        # the map records the resolved set; every service was handed its file, not a name
        policies_file = str((run_dir / "policies.json").resolve())
        assert (lab["policies"], lab["policies_file"]) == ("baseline", policies_file)
        assert lab["policies_digest"] == policies_digest(BASELINE)
        for name in SERVICES:
            argv = Path(f"/proc/{pids[name]}/cmdline").read_bytes().split(b"\0")
            assert argv[argv.index(b"--policies") + 1] == policies_file.encode()
    finally:
        stopped = main(["lab", "down", "--dir", str(run_dir)])
    assert stopped == 0
    assert not any(procs.alive(p) for p in pids.values())
    assert not (run_dir / "lab.json").exists()
    assert main(["lab", "status", "--dir", str(run_dir)]) == 1
    for port in ports.values():  # every port is free again
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_down_after_the_supervisor_crashed_leaves_no_process_and_no_proxy(
        tmp_path: Path, toxiproxy_url: str) -> None:
    """A foreground supervisor SIGKILLed: its services live on; `down` removes them all."""
    run_dir = tmp_path / "lab"
    env = dict(os.environ, TOXIPROXY_URL=toxiproxy_url)
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "chaoslab", "lab", "up", "--dir", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert supervisor.stdout is not None
        for line in supervisor.stdout:  # the map, then "lab is up"
            if line.startswith("lab is up"):
                break
        else:
            err = supervisor.stderr.read() if supervisor.stderr else ""
            pytest.fail(f"lab did not come up: {err}")
        lab_id = json.loads((run_dir / "lab.json").read_text())["lab_id"]
        names = {n for n in httpx.get(f"{toxiproxy_url}/proxies", timeout=5).json()
                 if n.startswith(f"{lab_id}-")}  # the lab's proxies carry its id
        assert {f"{lab_id}-{x}" for x in ("client-portal-a", "portal-a-payment")} <= names
        assert len(names) == 10  # one per link
        pids = _pids(run_dir)
        assert len(pids) == len(SERVICES)  # an external proxy: no embedded one
        supervisor.send_signal(signal.SIGKILL)
        supervisor.communicate(timeout=10)
        assert all(procs.alive(p) for p in pids.values())  # orphans, as after a real crash
    finally:
        supervisor.kill()
        supervisor.communicate(timeout=10)
        stopped = chaoslab("lab", "down", "--dir", str(run_dir), env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not any(procs.alive(p) for p in pids.values())
    left = set(httpx.get(f"{toxiproxy_url}/proxies", timeout=5).json())
    assert not left & names


def test_a_service_that_does_not_become_ready_is_named_with_its_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad policies make every service exit at start: the first noticed is named, logs shown.

    The lab resolves its policies before it starts anything, so the services are handed a
    bad set behind its back, on their command line."""
    real_argv = supervisor.service_argv

    def bad_policies(lab: LabState, s: ServiceSpec) -> tuple[str, ...]:
        argv = list(real_argv(lab, s))
        argv[argv.index("--policies") + 1] = "no-such-policy-set"
        return tuple(argv)

    monkeypatch.setattr(supervisor, "service_argv", bad_policies)
    with pytest.raises(LabError) as exc:
        up(LabConfig(tmp_path, ready_timeout_s=30))
    message = str(exc.value)
    assert "is not ready" in message and "last lines" in message
    assert any(f"service '{name}'" in message for name in SERVICES)
    assert "no-such-policy-set" in message  # the service's own sentence, from its log
    assert not any(procs.alive(p) for p in _pids(tmp_path).values())
    assert _pids(tmp_path) == {}
    assert not (tmp_path / "lab.json").exists()


def test_a_foreground_lab_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    run_dir = tmp_path / "lab"
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "chaoslab", "lab", "up", "--dir", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert supervisor.stdout is not None
        for line in supervisor.stdout:
            if line.startswith("lab is up"):
                break
        pids = _pids(run_dir)
        assert len(pids) == len(SERVICES) + 1
        supervisor.send_signal(signal.SIGINT)
        out, _ = supervisor.communicate(timeout=60)
    finally:
        supervisor.kill()
        supervisor.communicate(timeout=10)
    assert supervisor.returncode == 0
    assert "lab is down" in out
    assert not any(procs.alive(p) for p in pids.values())
    assert not (run_dir / "lab.json").exists()


def test_a_second_lab_in_the_same_directory_is_refused(lab: Lab) -> None:
    with pytest.raises(LabError, match="a lab is already running in") as exc:
        up(LabConfig(lab.state.run_dir))
    assert exc.value.bad_input
    assert all(lab.running().values())  # the running lab is untouched


def test_reset_heals_a_killed_rack_an_upstream_fault_and_the_proxies(lab: Lab) -> None:
    lab.kill(["registry"])
    lab.admin().post("shahkar", "/admin/fault", json={"mode": "unavailable"}).raise_for_status()
    proxy_url = f"{lab.state.toxiproxy_url}/proxies/{lab.state.proxy_name('client-portal-a')}"
    httpx.post(proxy_url, json={"enabled": False}, timeout=5).raise_for_status()
    shahkar = lab.state.proxied_url("portal-a", "shahkar") + "/shahkar"
    query = {"mobile": "09121234567", "national_code": "0013542419"}
    assert httpx.post(shahkar, json=query, timeout=5).status_code == 503
    lab.reset()
    assert all(lab.running().values())
    proxy = httpx.get(proxy_url, timeout=5).json()
    assert proxy["enabled"] is True
    assert httpx.post(shahkar, json=query, timeout=5).status_code == 200
