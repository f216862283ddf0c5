"""The upstreams on their own: answers, idempotency, and every injected HTTP-level fault."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from mock_services.common.clock import SystemClock
from mock_services.common.http_faults import FaultConfig, FaultInjector
from tests.mock_services.conftest import Lab
from tests.mock_services.test_portal_lists import body, make_list, payments

pytestmark = pytest.mark.anyio


async def test_shahkar_matches_only_the_owner(lab: Lab) -> None:
    a, b = lab.population.citizens[0], lab.population.citizens[1]
    async with lab.client(lab.upstreams["shahkar"]) as c:
        r = await c.post("/shahkar", json={"mobile": a.mobile, "national_code": a.national_id})
        assert r.json() == {"matched": True}
        r = await c.post("/shahkar", json={"mobile": b.mobile, "national_code": a.national_id})
        assert r.json() == {"matched": False}
        r = await c.post("/shahkar", json={"mobile": "0912", "national_code": a.national_id})
        assert r.status_code == 422 and "mobile" in r.json()["error"]


async def test_payment_once_per_key_and_per_payment_id(lab: Lab) -> None:
    order = {"payment_id": "L1", "payer": "1234567890", "amount_rial": 500}
    async with lab.client(lab.upstreams["payment"]) as c:
        first = await c.post("/payments", json=order, headers={"Idempotency-Key": "k1"})
        again = await c.post("/payments", json=order, headers={"Idempotency-Key": "k1"})
        other_key = await c.post("/payments", json=order, headers={"Idempotency-Key": "k2"})
        assert first.status_code == 201 and again.json() == first.json()
        assert other_key.status_code == 200 and other_key.json()["receipt"] == first.json()[
            "receipt"]
        changed = await c.post("/payments", json={**order, "amount_rial": 1},
                               headers={"Idempotency-Key": "k1"})
        assert changed.status_code == 422
        async with lab.admin(lab.upstreams["payment"]) as admin:
            assert len((await admin.get("/admin/payments")).json()["payments"]) == 1
        assert (await c.get("/payments/L1")).json()["amount_rial"] == 500
        assert (await c.get("/payments/L2")).status_code == 404


async def test_fault_modes(lab: Lab) -> None:
    order = {"payment_id": "L9", "payer": "1234567890", "amount_rial": 5}
    async with lab.client(lab.upstreams["payment"]) as c:
        lab.fault("payment", mode="unavailable", retry_after_s=7)
        r = await c.post("/payments", json=order, headers={"Idempotency-Key": "f1"})
        assert r.status_code == 503 and r.headers["retry-after"] == "7"
        assert r.json()["reason"] == "injected"
        lab.fault("payment", mode="fail_n", n=2)
        codes = [(await c.get("/payments/L9")).status_code for _ in range(3)]
        assert codes == [503, 503, 404]
        lab.fault("payment", mode="lose_response", delay_ms=5000)
        t0 = lab.clock.now()
        r = await c.post("/payments", json=order, headers={"Idempotency-Key": "f2"})
        assert r.status_code == 504 and lab.clock.now() - t0 >= 5.0
        lab.fault("payment", mode="ok")
        assert (await c.get("/payments/L9")).status_code == 200  # committed before "losing"
        lab.fault("payment", mode="slow", delay_ms=3000)
        t0 = lab.clock.now()
        assert (await c.get("/payments/L9")).status_code == 200
        assert lab.clock.now() - t0 >= 3.0
        async with lab.admin(lab.upstreams["payment"]) as admin:
            assert (await admin.get("/admin/fault")).json()["mode"] == "slow"
            r = await admin.post("/admin/fault", json={"mode": "explode"})
            assert r.status_code == 422


async def test_sms_outbox(lab: Lab) -> None:
    mobile = lab.population.citizens[0].mobile
    async with lab.client(lab.upstreams["sms"]) as c:
        for key in ("s1", "s1", "s2"):
            r = await c.post("/sms", json={"mobile": mobile, "text": f"code {key}"},
                             headers={"Idempotency-Key": key})
            assert r.status_code == 202
    async with lab.admin(lab.upstreams["sms"]) as admin:
        got = (await admin.get("/admin/messages", params={"mobile": mobile})).json()["messages"]
        assert [m["text"] for m in got] == ["code s2", "code s1"]


async def test_slow_payment_answers_202_then_completes(tmp_path: Path) -> None:
    """Real clock: the request's payment attempt is cut at list_sync_payment_s."""
    lab = Lab(tmp_path, clock=SystemClock())
    # the payment queue behind a list paid on the request path (no list queue)
    app = lab.portal("resilient", overrides={"list_queue": "off"}, list_sync_payment_s=0.3)
    shop = lab.population.workshops[0]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    async with lab.client(app) as client:
        headers = {**await lab.login(client, employer), "Idempotency-Key": "slow-1"}
        lab.fault("payment", mode="slow", delay_ms=1500)
        t0 = time.monotonic()
        r = await client.post("/lists", json=body(make_list(shop)), headers=headers)
        assert r.status_code == 202 and time.monotonic() - t0 < 1.4
        lab.fault("payment", mode="ok")
        from mock_services.portal.payments import PaymentWorker
        from tests.mock_services.conftest import ctx_of

        assert await PaymentWorker(ctx_of(app)).run_once()
        status = await client.get(r.json()["status_url"], headers=headers)
        assert status.json()["status"] == "paid"
    assert len(await payments(lab)) == 1


async def test_same_key_concurrently_on_two_replicas_applies_once(lab: Lab) -> None:
    doctor, patient = lab.population.doctors[0], lab.population.citizens[0]
    a, b = lab.portal(replica="a"), lab.portal(replica="b")
    async with lab.client(a) as ca, lab.client(b) as cb:
        headers = {**await lab.login(ca, doctor), "Idempotency-Key": "rx-race"}
        rx = {"patient_national_id": patient.national_id,
              "items": [{"drug_code": "ASA100", "quantity": 1}]}
        replies = await asyncio.gather(*(
            (ca if i % 2 else cb).post("/prescriptions", json=rx, headers=headers)
            for i in range(10)))
        assert {r.status_code for r in replies} == {201}
        assert len({r.json()["tracking_code"] for r in replies}) == 1
    assert (await lab.applied())["rx-race"] == 1


class _CountingClock(SystemClock):
    """Sleeps yield a few times instead of waiting, counting how many sleep at once."""

    def __init__(self) -> None:
        self.active = self.peak = 0

    async def sleep(self, seconds: float) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        for _ in range(3):
            await asyncio.sleep(0)
        self.active -= 1


@pytest.mark.parametrize("servers", [1, 2])
async def test_capacity_serves_n_at_a_time_in_arrival_order(servers: int) -> None:
    clock = _CountingClock()
    faults = FaultInjector(clock)
    faults.set(FaultConfig(mode="capacity", n=servers, delay_ms=10))
    done: list[int] = []

    async def request(i: int) -> None:
        await faults.before()
        done.append(i)

    await asyncio.gather(*(request(i) for i in range(6)))
    assert clock.peak == servers and done == list(range(6))
    faults.set(FaultConfig(mode="ok"))
    clock.peak = 0
    await asyncio.gather(*(request(i) for i in range(3)))
    assert clock.peak == 0  # healed: no server is held
