"""The load driver is open-loop: a portal that never answers still faces every arrival."""

from __future__ import annotations

import asyncio
import random

import pytest

from faults.client import ToxiproxyClient
from faults.toxics import ToxicSpec
from mock_services.lab.clients.driver import DriverConfig, LoadDriver
from mock_services.lab.clients.profile import steady
from mock_services.lab.clients.user import Behaviour
from mock_services.lab.supervisor import Lab
from policies.presets import load_policy_set
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
            toxiproxy.add_toxic(link, ToxicSpec.of("timeout", timeout=0, name="blackhole"))
        try:
            history = asyncio.run(driver.run(profile))
        finally:
            for link in CLIENT_LINKS:
                toxiproxy.remove_toxic(link, "blackhole")
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
