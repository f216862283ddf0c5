"""The live side of `degraded_replica` (faults/catalog.py): the admin fault's `speed` divides
the emulated service times of a portal replica (and an upstream's latency)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_services.common.demand import Demand, write_demand
from mock_services.common.emulation import Emulator
from tests.mock_services.conftest import Lab, ctx_of

pytestmark = pytest.mark.anyio


async def test_a_degraded_emulator_holds_its_slot_for_the_draw_over_its_speed(
        tmp_path: Path) -> None:
    path = tmp_path / "demand.json"
    write_demand(path, Demand.model_validate({
        "seed": 1, "kinds": {"login": {"dist": "deterministic", "value": "50ms"}}}))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 9))

    emulator = Emulator("portal-a", path, sleep, now=lambda: 0.0)
    for speed in (1.0, 0.5, 0.25):
        emulator.speed = speed
        async with emulator.serve("login"):
            pass
    assert slept == [0.05, 0.1, 0.2]


async def test_the_portals_admin_fault_route_sets_its_speed(lab: Lab, tmp_path: Path) -> None:
    app = lab.portal(demand=tmp_path / "demand.json")
    emulator = ctx_of(app).demand
    async with lab.admin(app) as client:
        r = await client.post("/admin/fault", json={"mode": "ok", "speed": 0.5})
        assert r.status_code == 200 and emulator.speed == 0.5
        bad = await client.post("/admin/fault", json={"mode": "ok", "speed": 0})
        assert bad.status_code == 422 and emulator.speed == 0.5
        assert (await client.post("/admin/fault", json={"mode": "ok"})).status_code == 200
        assert emulator.speed == 1.0
