"""The list queue (`list_queue`, resilient): a list is answered 202 "accepted" once recorded,
counts as applied only once processed in the background, is processed and paid once, and
splits its drawn service time between the request and the background as the simulator does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_services.common.demand import Demand, write_demand
from mock_services.portal.listqueue import LIST_RETRY_S, ListWorker
from mock_services.portal.payments import PaymentWorker
from tests.mock_services.conftest import Lab, ctx_of
from tests.mock_services.test_portal_lists import body, make_list, payments

pytestmark = pytest.mark.anyio


async def _employer(lab: Lab, client: httpx.AsyncClient, key: str) -> dict[str, str]:
    shop = lab.population.workshops[0]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    return {**await lab.login(client, employer), "Idempotency-Key": key}


async def _submit_while_payment_is_down(lab: Lab, client: httpx.AsyncClient,
                                        key: str) -> tuple[dict[str, str], str]:
    """An employer's list sent while the gateway is down: its headers and status URL."""
    headers = await _employer(lab, client, key)
    lab.fault("payment", mode="unavailable")
    r = await client.post("/lists", json=body(make_list(lab.population.workshops[0])),
                          headers=headers)
    assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
    return headers, r.json()["status_url"]


async def _applied(lab: Lab, app: Any) -> dict[str, int]:
    async with lab.admin(app) as admin:
        counts: dict[str, int] = (await admin.get("/admin/applied")).json()
        return counts


async def test_a_list_is_answered_202_and_applied_once_processed(lab: Lab) -> None:
    app = lab.portal("resilient")
    async with lab.client(app) as client:
        headers = await _employer(lab, client, "lq-1")
        r = await client.post("/lists", json=body(make_list(lab.population.workshops[0])),
                              headers=headers)
        assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
        assert "lq-1" not in await _applied(lab, app)  # taken, not processed: not applied
        assert await payments(lab) == []  # nothing paid on the request path
        again = await client.post("/lists", json=body(make_list(lab.population.workshops[0])),
                                  headers=headers)
        assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
        worker = ListWorker(ctx_of(app))
        assert await worker.run_once()
        assert not await worker.run_once()  # the retry was not queued a second time
        status = await client.get(r.json()["status_url"], headers=headers)
        assert status.json()["status"] == "paid"
    assert (await _applied(lab, app))["lq-1"] == 1
    assert len(await payments(lab)) == 1


async def test_a_payment_outage_hands_the_processed_list_to_the_payment_queue(
        lab: Lab) -> None:
    app = lab.portal("resilient")
    async with lab.client(app) as client:
        headers, url = await _submit_while_payment_is_down(lab, client, "lq-2")
        assert await ListWorker(ctx_of(app)).run_once()
        assert (await client.get(url, headers=headers)).json()["status"] == "queued"
        assert (await _applied(lab, app))["lq-2"] == 1  # processed: its payment is queued
        lab.fault("payment", mode="ok")
        lab.clock.advance(120)
        assert await PaymentWorker(ctx_of(app)).run_once()
        assert (await client.get(url, headers=headers)).json()["status"] == "paid"
    assert len(await payments(lab)) == 1


async def test_without_a_payment_queue_the_list_is_paid_again_later(lab: Lab) -> None:
    app = lab.portal("resilient", overrides={"payment_queue": False})
    worker = ListWorker(ctx_of(app))
    async with lab.client(app) as client:
        headers, url = await _submit_while_payment_is_down(lab, client, "lq-3")
        assert await worker.run_once()
        assert "lq-3" not in await _applied(lab, app)  # not paid: not processed
        assert not await worker.run_once()  # due again only LIST_RETRY_S later
        lab.fault("payment", mode="ok")
        lab.clock.advance(LIST_RETRY_S - 1)
        assert not await worker.run_once()
        lab.clock.advance(61)  # due, and past the client throttle's 60 s window of failures
        assert await worker.run_once()
        assert (await client.get(url, headers=headers)).json()["status"] == "paid"
    assert (await _applied(lab, app))["lq-3"] == 1


class RecordingSleep:
    """An injected sleep that returns at once and keeps what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def test_the_request_holds_its_accept_share_and_the_background_the_rest(
        lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "demand.json"
    write_demand(path, Demand.model_validate({
        "seed": 1, "list_accept_share": 0.25,
        "kinds": {"submit_list": {"dist": "deterministic", "value": 2.0}},
        "replicas": {"r0": {"workers": 4, "max_queue": 10}}}))
    sleep = RecordingSleep()
    app = lab.portal("resilient", demand=path, sleep=sleep)
    async with lab.client(app) as client:
        headers = await _employer(lab, client, "lq-4")
        r = await client.post("/lists", json=body(make_list(lab.population.workshops[0])),
                              headers=headers)
        assert r.status_code == 202
        assert sleep.calls == [pytest.approx(0.5)]  # the manual clock: no real work counted
        assert await ListWorker(ctx_of(app)).run_once()
        assert sleep.calls == [pytest.approx(0.5), pytest.approx(1.5)]


def test_the_loops_are_the_policys_share_of_the_workers() -> None:
    from policies.serverside import ListQueuePolicy

    policy = ListQueuePolicy(worker_share=0.4)
    assert [policy.loops(w) for w in (1, 2, 3, 16)] == [1, 1, 1, 6]
