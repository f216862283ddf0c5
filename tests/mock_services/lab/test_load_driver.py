"""The load driver is open-loop: a portal that never answers still faces every arrival; as a
program, Ctrl-C ends it in one line and keeps what it recorded."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from faults.client import ToxiproxyClient
from faults.toxics import ToxicSpec
from mock_services.lab.clients.driver import DriverConfig, LoadDriver
from mock_services.lab.clients.profile import steady
from mock_services.lab.clients.user import Behaviour
from mock_services.lab.supervisor import Lab
from policies.presets import load_policy_set
from scenario.history import History
from tests.mock_services.lab.support import SESSIONS

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]
CLIENT_LINKS = ("client-portal-a", "client-portal-b")


def test_arrivals_keep_coming_when_the_portal_hangs_and_overflow_is_recorded(
        healthy_lab: Lab) -> None:
    profile = steady(2.0, {"citizen": 20.0})
    expected = len(profile.arrivals(random.Random(41)))
    config = DriverConfig(healthy_lab.state.portal_urls(), load_policy_set("resilient"),
                          behaviour=Behaviour(refresh_after_s=1.0, refresh_probability=0.0,
                                              min_refresh_pause_s=0.1, max_refresh_pause_s=0.2,
                                              patience_s=1.0),
                          max_in_flight=8, active_users=10)
    sessions = dict(SESSIONS.get(str(healthy_lab.state.run_dir), {}))
    driver = LoadDriver(config, rng=random.Random(41), sessions=sessions)
    with ToxiproxyClient(healthy_lab.state.toxiproxy_url) as toxiproxy:
        for link in CLIENT_LINKS:  # requests go in, nothing ever comes back
            toxiproxy.add_toxic(healthy_lab.state.proxy_name(link),
                                ToxicSpec.of("timeout", timeout=0, name="blackhole"))
        try:
            history = asyncio.run(driver.run(profile))
        finally:
            for link in CLIENT_LINKS:
                toxiproxy.remove_toxic(healthy_lab.state.proxy_name(link), "blackhole")
    first_invokes: dict[str, float] = {}
    for op in history:
        if op.type == "invoke":
            first_invokes.setdefault(op.process, op.time_s)
    assert len(first_invokes) == expected  # every arrival became an operation
    assert max(first_invokes.values()) > 1.5  # on schedule, not held back by the hang
    done = [op for op in history if op.type != "invoke" and op.process.startswith("citizen")]
    assert not any(op.type == "ok" for op in done)
    shed = [op for op in done if op.error == "shed" and op.value == "client"]
    assert len(shed) >= expected // 3  # 20/s held 1 s each against 8 seats: most overflow


def _history_reads(lab: Lab) -> int:
    """Insurance-history requests the portal replicas have answered (their /metrics)."""
    total = 0.0
    for portal in lab.state.topology.portals():
        text = lab.admin().get(portal.name, "/metrics").text
        for family in text_string_to_metric_families(text):
            if family.name == "http_requests":
                total += sum(s.value for s in family.samples if s.name.endswith("_total")
                             and s.labels.get("route", "").endswith("/history"))
    return int(total)


def test_ctrl_c_ends_the_load_program_in_one_line_and_keeps_the_history(
        healthy_lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "history.jsonl"
    before = _history_reads(healthy_lab)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_services.lab.clients.load_cli", "--lab",
         str(healthy_lab.state.run_dir), "--rate", "citizen=20", "--duration-s", "60",
         "--active-users", "10", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30.0
        # interrupt once a user has read a history: the run is under way and recording
        while time.monotonic() < deadline and proc.poll() is None and \
                _history_reads(healthy_lab) == before:
            time.sleep(0.05)  # a poll with a deadline
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err == "load-driver: interrupted\n"
    history = History.read_jsonl(out)
    assert any(op.type == "invoke" and op.f == "read_history" for op in history.ops)
