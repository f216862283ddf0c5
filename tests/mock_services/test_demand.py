"""Emulated service demand: the worker pool, seeded draws, a portal and an upstream under it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from mock_services.common.clock import ManualClock
from mock_services.common.demand import Demand, DemandError, load_demand, write_demand
from mock_services.common.emulation import (
    HOP_WORK_MAX_S,
    Emulator,
    QueueFull,
    WorkerPool,
    hop_overhead,
    upstream_time,
)
from mock_services.common.settings import ServiceSettings
from mock_services.upstreams import shahkar
from tests.mock_services.conftest import SMALL, Lab, ctx_of

pytestmark = pytest.mark.anyio
FIXED = {"dist": "deterministic", "value": 0.05}


class GatedSleep:
    """An injected sleep that returns only when the test releases it, oldest first."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, asyncio.Event]] = []
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        event = asyncio.Event()
        self.calls.append(seconds)
        self.pending.append((seconds, event))
        await event.wait()

    def release(self) -> None:
        self.pending.pop(0)[1].set()


async def until(condition: Callable[[], bool]) -> None:
    """Poll `condition` with a deadline (5 s: generous for in-process requests on a busy
    2-core machine; a pass takes milliseconds)."""
    with anyio.fail_after(5):
        for _ in range(1_000_000):  # bounded; the deadline ends it first
            if condition():
                return
            await anyio.sleep(0.001)


# -- the worker pool ----------------------------------------------------------------------


async def test_pool_grants_free_slots_then_queues_then_refuses() -> None:
    pool = WorkerPool(workers=2, max_queue=1)
    await pool.acquire()
    await pool.acquire()
    assert pool.busy == 2 and pool.queue_length == 0
    waiter = asyncio.ensure_future(pool.acquire())
    await until(lambda: pool.queue_length == 1)
    with pytest.raises(QueueFull):
        await pool.acquire()
    pool.release()  # the slot passes to the waiter: still two busy
    await waiter
    assert pool.busy == 2 and pool.queue_length == 0
    pool.release()
    pool.release()
    assert pool.busy == 0


async def test_pool_max_queue_zero_refuses_only_when_no_slot_is_free() -> None:
    pool = WorkerPool(workers=1, max_queue=0)
    await pool.acquire()  # a free slot: admitted although there is no waiting room
    with pytest.raises(QueueFull):
        await pool.acquire()
    pool.release()
    await pool.acquire()
    assert pool.busy == 1


async def test_pool_serves_waiters_in_fifo_order() -> None:
    pool = WorkerPool(workers=1, max_queue=5)
    await pool.acquire()
    order: list[int] = []

    async def wait(i: int) -> None:
        await pool.acquire()
        order.append(i)

    tasks = []
    for i in range(4):
        tasks.append(asyncio.ensure_future(wait(i)))
        await until(lambda n=i + 1: pool.queue_length == n)  # type: ignore[misc]
    for i in range(4):
        pool.release()
        await until(lambda n=i + 1: len(order) == n)  # type: ignore[misc]
    assert order == [0, 1, 2, 3]
    await asyncio.gather(*tasks)


async def test_pool_cancelled_waiter_leaves_the_queue() -> None:
    pool = WorkerPool(workers=1, max_queue=1)
    await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    await until(lambda: pool.queue_length == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert pool.queue_length == 0
    pool.release()
    assert pool.busy == 0


# -- the model and the draws ---------------------------------------------------------------


def test_demand_file_round_trips_and_takes_seconds(tmp_path: Path) -> None:
    demand = Demand.model_validate({
        "seed": 7, "time_factor": 2.0, "replicas": {"a": {"workers": 2, "max_queue": 0}},
        "kinds": {"login": FIXED, "read_history": {"dist": "lognormal", "p50": "80ms",
                                                   "p99": "600ms"}},
        "upstreams": {"sms": {"dist": "empirical", "values": [1e-7, 0.2]}}})
    path = tmp_path / "demand.json"
    write_demand(path, demand)
    assert load_demand(path) == demand
    assert load_demand(tmp_path / "absent.json") is None
    assert load_demand(None) is None
    path.write_text(json.dumps({"seed": 1, "kinds": {"nap": FIXED}}))
    with pytest.raises(DemandError, match=r"demand file .*kinds"):
        load_demand(path)


async def test_seeded_draws_are_reproducible(tmp_path: Path) -> None:
    path = tmp_path / "demand.json"
    write_demand(path, Demand.model_validate({
        "seed": 3, "kinds": {"login": {"dist": "exponential", "mean": "60ms"}},
        "upstreams": {"sms": {"dist": "lognormal", "p50": "100ms", "p99": "800ms"}}}))

    async def draws(name: str) -> list[float]:
        seen: list[float] = []

        async def record(seconds: float) -> None:
            seen.append(seconds)

        emulator = Emulator(name, path, record, upstream="sms", now=lambda: 0.0)
        for _ in range(5):
            async with emulator.serve("login"):
                pass
            await emulator.delay()
        return seen

    first = await draws("portal-a")
    assert first == await draws("portal-a") and len(set(first)) == 10
    assert first != await draws("portal-b")


# -- a portal replica under its demand ------------------------------------------------------


def _write(tmp: Path, **demand: Any) -> Path:
    path = tmp / "demand.json"
    write_demand(path, Demand.model_validate({"seed": 1, **demand}))
    return path


async def test_portal_holds_one_worker_per_request(lab: Lab, tmp_path: Path) -> None:
    path = _write(tmp_path, time_factor=2.0, kinds={"read_history": FIXED},
                  replicas={"r0": {"workers": 1, "max_queue": 1}})
    sleep = GatedSleep()
    app = lab.portal(demand=path, sleep=sleep)
    pool = ctx_of(app).demand.pool
    assert pool is not None
    me = lab.population.citizens[0]
    async with lab.client(app) as client:
        headers = await lab.login(client, me)  # login is not in this demand: not emulated
        assert sleep.calls == []
        url = f"/citizens/{me.national_id}/history"
        done: list[str] = []

        async def read(tag: str) -> None:
            r = await client.get(url, headers=headers)
            assert r.status_code == 200, r.text
            done.append(tag)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read, "first")
            await until(lambda: len(sleep.pending) == 1)
            tg.start_soon(read, "second")
            await until(lambda: pool.queue_length == 1)
            assert pool.busy == 1 and len(sleep.pending) == 1  # serialised: one worker
            full = await client.get(url, headers=headers)  # the waiting room is full
            assert full.status_code == 503 and "queue is full" in full.json()["error"]
            async with lab.admin(app) as admin:
                metrics = (await admin.get("/metrics")).text
            assert "emulated_busy_workers 1.0" in metrics
            assert "emulated_queue_length 1.0" in metrics
            sleep.release()
            await until(lambda: done == ["first"] and len(sleep.pending) == 1)
            sleep.release()
        assert done == ["first", "second"] and sleep.calls == [0.1, 0.1]  # 50 ms times 2
        assert pool.busy == 0 and pool.queue_length == 0


async def test_portal_without_demand_is_unchanged(lab: Lab, tmp_path: Path) -> None:
    sleep = GatedSleep()
    app = lab.portal(demand=tmp_path / "no-such-demand.json", sleep=sleep)
    me = lab.population.citizens[0]
    async with lab.client(app) as client:
        headers = await lab.login(client, me)
        r = await client.get(f"/citizens/{me.national_id}/history", headers=headers)
        assert r.status_code == 200
    async with lab.admin(app) as admin:
        assert (await admin.get("/admin/demand")).json()["demand"] is None
    assert sleep.calls == [] and ctx_of(app).demand.pool is None


async def test_demand_reloads_through_the_admin_route(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "demand.json"
    app = lab.portal(demand=path)
    emulator = ctx_of(app).demand

    def current() -> Demand | None:
        return emulator.demand
    async with lab.admin(app) as client:
        assert (await client.post("/admin/demand")).json()["demand"] is None
        _write(tmp_path, kinds={"login": FIXED},
               replicas={"r0": {"workers": 2, "max_queue": 0}})
        async with lab.client(app) as outsider:  # the client listener, from loopback
            assert (await outsider.post("/admin/demand")).status_code == 404
        assert current() is None
        body = (await client.post("/admin/demand")).json()
        assert body["workers"] == 2 and body["max_queue"] == 0
        demand = current()
        assert demand is not None and "login" in demand.kinds
        path.write_text("{not json")
        bad = await client.post("/admin/demand")
        assert bad.status_code == 422 and "demand file" in bad.json()["error"]
        assert current() == demand  # a bad file keeps the demand in force
        path.unlink()
        assert (await client.post("/admin/demand")).json()["demand"] is None
        assert emulator.pool is None


async def test_upstream_answers_after_its_latency(tmp_path: Path) -> None:
    path = _write(tmp_path, upstreams={"shahkar": {"dist": "deterministic", "value": 0.3}})
    clock = ManualClock()
    settings = ServiceSettings(data_dir=tmp_path, demand=path, **SMALL)
    app = shahkar.create_app(settings, clock=clock)
    person = settings.population().citizens[0]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://shahkar") as client:
        t0 = clock.now()
        r = await client.post("/shahkar", json={"mobile": person.mobile,
                                                "national_code": person.national_id})
        assert r.status_code == 200 and r.json()["matched"] is True
        assert clock.now() - t0 == pytest.approx(0.3)
        t1 = clock.now()
        assert (await client.get("/healthz")).status_code == 200  # ops routes: no latency
        assert clock.now() == t1


def test_cli_refuses_a_bad_demand_file(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from mock_services.cli import main

    bad = tmp_path / "demand.json"
    bad.write_text(json.dumps({"seed": "x"}))
    with pytest.raises(SystemExit) as exit_info:
        main(["shahkar", "--port", "1", "--data-dir", str(tmp_path), "--demand", str(bad)])
    assert exit_info.value.code == 2
    assert "demand file" in capsys.readouterr().err


def _login_emulator(tmp_path: Path, service: str
                    ) -> tuple[Path, Emulator, list[float], list[float]]:
    """An emulator of a login taking `service`, on a manual clock `t[0]` that its sleeps
    (recorded in `slept`) move on."""
    path = tmp_path / "demand.json"
    write_demand(path, Demand.model_validate({
        "seed": 1, "kinds": {"login": {"dist": "deterministic", "value": service}}}))
    t = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 9))
        t[0] += seconds

    return path, Emulator("portal-a", path, sleep, now=lambda: t[0]), t, slept


async def test_the_handlers_own_work_counts_in_the_service_time(tmp_path: Path) -> None:
    """The slot is held for max(draw, own work) plus upstream calls: a 50 ms draw sleeps what
    the handler's own 30 ms left of it, nothing after 80 ms of own work, and upstream time
    does not count as own work."""
    path, emulator, t, slept = _login_emulator(tmp_path, "50ms")
    for own_s, upstream_s in ((0.03, 0.0), (0.08, 0.0), (0.03, 0.5)):
        async with emulator.serve("login"):
            t[0] += own_s
            with upstream_time(lambda: t[0]):
                t[0] += upstream_s
    assert slept == [0.02, 0.02]  # the 80 ms handler is past its draw: no sleep
    # what it served of the demand: three 50 ms draws, held 50 + 80 + 50 ms (the upstream's
    # 0.5 s is not the slot's own time), and GET /admin/demand says so
    served = emulator.describe().served
    assert served is not None and set(served) == {"login"}
    login = served["login"]
    assert login.requests == 3
    assert login.drawn_s == pytest.approx(0.15) and login.held_s == pytest.approx(0.18)
    emulator.configure(load_demand(path))  # a demand configured again counts afresh
    assert emulator.describe().served == {}


async def test_a_slow_hop_is_waited_out_not_counted_as_the_portals_work(tmp_path: Path) -> None:
    """Of an upstream round trip, what the upstream did not report as its emulated latency
    counts as the portal's own work (the hops, the parsing) up to HOP_WORK_MAX_S; beyond it is
    the network's delay (a latency toxic), which the worker waits out on top of its draw, as
    the simulator's request waits an upstream call out after its service time."""
    _, emulator, t, slept = _login_emulator(tmp_path, "100ms")
    for round_trip_s, emulated_s in ((0.304, 0.3), (1.0, 0.3)):  # a 4 ms hop; a 700 ms toxic
        async with emulator.serve("login"):
            with upstream_time(lambda: t[0]):
                t[0] += round_trip_s
                hop_overhead(round_trip_s - emulated_s)
    assert HOP_WORK_MAX_S == 0.05
    assert slept == [0.096, 0.05]  # the draw less the hop's 4 ms; less the cap, not 700 ms
