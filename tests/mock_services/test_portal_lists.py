"""Insurance lists: validation, idempotency, payment outage (queued under resilient), DBF."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from mock_services.domain.dbf_writer import list_to_dbf_pair
from mock_services.domain.insurance_list import InsuranceList
from mock_services.domain.list_builder import WorkerFacts, build_list
from mock_services.portal.payments import PaymentWorker
from mock_services.seed import Workshop
from tests.mock_services.conftest import Lab, ctx_of

# resilient's payment queue behind a list paid on the request path (its list queue off)
PAID_IN_THE_REQUEST = {"list_queue": "off"}

pytestmark = pytest.mark.anyio


def make_list(shop: Workshop, mm: int = 1, wage: int = 4_000_000) -> InsuranceList:
    workers = [WorkerFacts(nid, "کارگر", "نمونه", 30, wage, 100_000)
               for nid in shop.worker_ids]
    return build_list(shop.code, "کارگاه", "کارفرما", yy=1404, mm=mm, list_no="1",
                      workers=workers)


def body(lst: InsuranceList) -> dict[str, Any]:
    return lst.model_dump(mode="json")


async def payments(lab: Lab) -> list[dict[str, Any]]:
    async with lab.admin(lab.upstreams["payment"]) as c:
        found: list[dict[str, Any]] = (await c.get("/admin/payments")).json()["payments"]
        return found


async def test_list_paid_and_idempotent(lab: Lab, baseline: httpx.AsyncClient) -> None:
    shop = lab.population.workshops[0]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    headers = await lab.login(baseline, employer)
    lst = body(make_list(shop))
    r = await baseline.post("/lists", json=lst, headers={**headers, "Idempotency-Key": "L-1"})
    assert r.status_code == 201 and r.json()["status"] == "paid", r.text
    first = r.json()
    again = await baseline.post("/lists", json=lst, headers={**headers, "Idempotency-Key": "L-1"})
    assert again.status_code == 201 and again.json() == r.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = body(make_list(shop, wage=5_000_000))
    r = await baseline.post("/lists", json=other, headers={**headers, "Idempotency-Key": "L-1"})
    assert r.status_code == 422 and "different request body" in r.json()["error"]
    r = await baseline.post("/lists", json=lst, headers={**headers, "Idempotency-Key": "L-2"})
    assert r.status_code == 409  # the same period's list, another key: already submitted
    r = await baseline.post("/lists", json=lst, headers=headers)
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["error"]
    paid = await payments(lab)
    assert len(paid) == 1 and paid[0]["amount_rial"] == first["payable_rial"]
    assert paid[0]["receipt"] == first["receipt"]
    applied = await lab.applied()
    assert applied["L-1"] == 1


async def test_list_validation_changes_nothing(lab: Lab, baseline: httpx.AsyncClient) -> None:
    shop, foreign = lab.population.workshops[0], lab.population.workshops[-1]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    headers = {**await lab.login(baseline, employer), "Idempotency-Key": "bad-1"}
    lst = body(make_list(shop))
    lst["workers"][0]["DSW_BIME"] += 1
    r = await baseline.post("/lists", json=lst, headers=headers)
    assert r.status_code == 422 and "DSW_BIME" in r.json()["error"]
    lst = body(make_list(shop))
    lst["workers"][0]["PER_NATCOD"] = "1234567890"
    r = await baseline.post("/lists", json=lst, headers=headers)
    assert r.status_code == 422 and "check digit" in r.json()["error"]
    if foreign.employer_id != employer.national_id:
        r = await baseline.post("/lists", json=body(make_list(foreign)), headers=headers)
        assert r.status_code == 403
    r = await baseline.post("/lists/dbf", json={"dskkar_b64": "!!!!", "dskwor_b64": "AAAA"},
                            headers=headers)
    assert r.status_code == 422 and "base64" in r.json()["error"]
    junk = base64.b64encode(b"\x03" + b"\x00" * 40).decode()
    r = await baseline.post("/lists/dbf", json={"dskkar_b64": junk, "dskwor_b64": junk},
                            headers=headers)
    assert r.status_code == 422 and "DSKKAR00" in r.json()["error"]
    r = await baseline.post("/lists", content=b"x" * 5_000_000, headers=headers)
    assert r.status_code == 413
    assert await payments(lab) == []
    assert "bad-1" not in await lab.applied()


async def test_dbf_pair_upload(lab: Lab, baseline: httpx.AsyncClient) -> None:
    shop = lab.population.workshops[1]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    headers = {**await lab.login(baseline, employer), "Idempotency-Key": "dbf-1"}
    kar, wor = list_to_dbf_pair(make_list(shop, mm=2))
    upload = {"dskkar_b64": base64.b64encode(kar).decode(),
              "dskwor_b64": base64.b64encode(wor).decode()}
    r = await baseline.post("/lists/dbf", json=upload, headers=headers)
    assert r.status_code == 201 and r.json()["workers"] == len(shop.worker_ids)
    status = await baseline.get(r.json()["status_url"], headers=headers)
    assert status.json()["status"] == "paid"
    stranger = next(e for e in lab.population.employers if e.national_id != employer.national_id)
    theirs = await baseline.get(r.json()["status_url"], headers=await lab.login(baseline, stranger))
    assert theirs.status_code == 404  # another employer's list is not visible


async def test_payment_outage_baseline_refuses(lab: Lab, baseline: httpx.AsyncClient) -> None:
    shop = lab.population.workshops[0]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    headers = {**await lab.login(baseline, employer), "Idempotency-Key": "p-1"}
    lab.fault("payment", mode="unavailable")
    r = await baseline.post("/lists", json=body(make_list(shop)), headers=headers)
    assert r.status_code == 503 and "not submitted" in r.json()["error"]
    lab.fault("payment", mode="ok")
    r = await baseline.post("/lists", json=body(make_list(shop)), headers=headers)
    assert r.status_code == 201  # the key was released: the retry runs again
    assert len(await payments(lab)) == 1


async def test_payment_outage_resilient_queues_and_completes_once(lab: Lab) -> None:
    app = lab.portal("resilient", overrides=PAID_IN_THE_REQUEST)
    shop = lab.population.workshops[0]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    async with lab.client(app) as client:
        headers = {**await lab.login(client, employer), "Idempotency-Key": "q-1"}
        lab.fault("payment", mode="unavailable")
        r = await client.post("/lists", json=body(make_list(shop)), headers=headers)
        assert r.status_code == 202 and r.json()["status"] == "queued"
        url = r.json()["status_url"]
        worker = PaymentWorker(ctx_of(app))
        assert await worker.run_once()  # still down: the job is rescheduled
        assert (await client.get(url, headers=headers)).json()["status"] == "queued"
        lab.fault("payment", mode="ok")
        lab.clock.advance(120)
        for _ in range(3):
            await worker.run_once()
        assert (await client.get(url, headers=headers)).json()["status"] == "paid"
        assert len(await payments(lab)) == 1
        again = await client.post("/lists", json=body(make_list(shop)), headers=headers)
        assert again.status_code == 202  # the recorded answer; nothing re-applied
        assert len(await payments(lab)) == 1


async def test_lost_payment_response_charged_once(lab: Lab) -> None:
    app = lab.portal("resilient", overrides=PAID_IN_THE_REQUEST)
    shop = lab.population.workshops[0]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    async with lab.client(app) as client:
        headers = {**await lab.login(client, employer), "Idempotency-Key": "lost-1"}
        lab.fault("payment", mode="lose_response", delay_ms=10)
        r = await client.post("/lists", json=body(make_list(shop)), headers=headers)
        assert r.status_code in (201, 202)
        lab.fault("payment", mode="ok")
        lab.clock.advance(120)
        worker = PaymentWorker(ctx_of(app))
        for _ in range(3):
            await worker.run_once()
        status = await client.get(r.json()["status_url"], headers=headers)
        assert status.json()["status"] == "paid"
    assert len(await payments(lab)) == 1
