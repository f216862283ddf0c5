"""The emulated side of a `replica_failure` that pauses the work (faults/catalog.py): while
the replica stands broken down its emulated service clock stands still, and at the repair the
work in service resumes where it stopped or starts its draw again — the simulator's numbers
(tests/sim/test_semantics.py: 10 s of work from 50 s, broken down from 52 s to 55 s: done at
63 s resumed, 65 s restarted), on a manual clock whose sleeps end only when the test moves
time past them, as a stopped process's timers fire late and all at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mock_services.common.demand import Demand, write_demand
from mock_services.common.emulation import Emulator, hop_overhead, upstream_time
from tests.mock_services.conftest import Lab, ctx_of

pytestmark = pytest.mark.anyio


class Timers:
    """A manual clock: `sleep` waits until `advance` moves time to its end."""

    def __init__(self, start_s: float) -> None:
        self.t = start_s
        self.sleepers: list[tuple[float, asyncio.Event]] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.Event()
        self.sleepers.append((self.t + seconds, woken))
        await woken.wait()

    async def advance(self, to_s: float) -> None:
        """Move time to `to_s`, firing every timer due on the way in order (as a continued
        process fires the ones that fell due while it was stopped, all at `to_s` when
        `late`)."""
        while True:
            for _ in range(5):  # let woken holds run to their next sleep or their end
                await asyncio.sleep(0)
            due = sorted((d, id(e), e) for d, e in self.sleepers if d <= to_s)
            if not due:
                break
            deadline, _, woken = due[0]
            self.sleepers.remove((deadline, woken))
            self.t = max(self.t, deadline)
            woken.set()
        self.t = to_s

    async def fire_late(self, to_s: float) -> None:
        """Move time to `to_s` first, then fire what fell due: a stopped process's timers."""
        self.t = to_s
        await self.advance(to_s)


def _emulator(tmp_path: Path, timers: Timers) -> Emulator:
    """An emulator whose logins take 10 s, on `timers`."""
    path = tmp_path / "demand.json"
    write_demand(path, Demand.model_validate({
        "seed": 1, "kinds": {"login": {"dist": "deterministic", "value": "10s"}}}))
    return Emulator("portal-a", path, timers.sleep, now=timers.now)


async def _served_at(emulator: Emulator, timers: Timers, work: str, repair_s: float) -> float:
    """When one request of 10 s from 50 s ends, broken down at 52 s and repaired at
    `repair_s` with `work` ("" for no breakdown)."""
    ended: list[float] = []

    async def request() -> None:
        async with emulator.serve("login"):
            pass
        ended.append(timers.now())

    task = asyncio.create_task(request())
    await timers.advance(50.0)
    if work:
        await timers.advance(52.0)
        emulator.break_down(work)
        await timers.fire_late(repair_s)  # the process is stopped: its timers fire late
        assert ended == [], "no work ends while the replica stands broken down"
        emulator.repair()
    await timers.advance(200.0)
    await task
    return ended[0]


@pytest.mark.parametrize(("work", "repair_s", "end_s"), [
    ("", 0.0, 60.0),
    ("resume", 55.0, 63.0),  # 2 s, 3 s stopped, 8 s
    ("restart", 55.0, 65.0),  # 2 s lost, 3 s stopped, 10 s again
    ("resume", 70.0, 78.0),  # stopped past the draw's end: its timer fired while stopped
    ("restart", 70.0, 80.0),
])
async def test_work_in_service_resumes_or_restarts_at_the_repair(
        tmp_path: Path, work: str, repair_s: float, end_s: float) -> None:
    timers = Timers(50.0)
    emulator = _emulator(tmp_path, timers)
    assert await _served_at(emulator, timers, work, repair_s) == end_s
    assert emulator.broken_down == "" and emulator.paused_s() == repair_s - 52.0 * bool(work)


async def test_without_the_hook_a_stopped_replica_would_have_worked_on(tmp_path: Path) -> None:
    """What the admin hook is for: a bare SIGSTOP of 18 s ends the 10 s request at the
    SIGCONT (70 s), as if it had kept working while stopped; with the hook it ends at 78 s."""
    timers = Timers(50.0)
    emulator = _emulator(tmp_path, timers)
    ended: list[float] = []

    async def request() -> None:
        async with emulator.serve("login"):
            pass
        ended.append(timers.now())

    task = asyncio.create_task(request())
    await timers.advance(50.0)
    await timers.advance(52.0)
    await timers.fire_late(70.0)
    await task
    assert ended == [70.0]


@pytest.mark.parametrize(("work", "slept_s"), [("resume", 8.96), ("restart", 9.95)])
async def test_a_pause_during_an_upstream_call_counts_as_nobodys_work(
        tmp_path: Path, work: str, slept_s: float) -> None:
    """1 s of own work, then an upstream call of 5 s wall time of which 3 s stood broken
    down and 40 ms was the hop (the portal's own work): 1.04 s own, so 8.96 s left to sleep;
    after a restart only what followed the repair counts, and of the call's 3.04 s beyond its
    emulated latency at most HOP_WORK_MAX_S (50 ms) is hop: 9.95 s left."""
    t = [0.0]
    slept: list[float] = []

    def now() -> float:
        return t[0]

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 9))
        t[0] += seconds

    path = tmp_path / "demand.json"
    write_demand(path, Demand.model_validate({
        "seed": 1, "kinds": {"login": {"dist": "deterministic", "value": "10s"}}}))
    emulator = Emulator("portal-a", path, sleep, now=now)
    async with emulator.serve("login"):
        t[0] += 1.0
        with upstream_time(now):
            t[0] += 1.0
            emulator.break_down(work)
            t[0] += 3.0
            emulator.repair()
            t[0] += 1.0
            hop_overhead(0.04 + 3.0)  # the attempt's time less its emulated latency
    assert slept == [slept_s]


async def test_the_breakdown_admin_routes(lab: Lab, tmp_path: Path) -> None:
    app = lab.portal(demand=tmp_path / "demand.json")
    emulator = ctx_of(app).demand
    async with lab.admin(app) as client:
        r = await client.post("/admin/breakdown", json={"work": "restart"})
        assert r.status_code == 200 and r.json()["broken_down"] == "restart"
        assert emulator.broken_down == "restart"
        bad = await client.post("/admin/breakdown", json={"work": "drop"})
        assert bad.status_code == 422 and "work" in bad.text
        r = await client.delete("/admin/breakdown")
        assert r.status_code == 200 and r.json()["broken_down"] is None
        assert emulator.broken_down == ""
        assert (await client.delete("/admin/breakdown")).status_code == 200  # idempotent
    async with lab.client(app) as client:  # not on the client listener
        assert (await client.post("/admin/breakdown", json={"work": "resume"})).status_code \
            in (403, 404)
