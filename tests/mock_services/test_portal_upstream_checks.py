"""The writes call the upstreams their scenario kinds declare, and fail like the simulator.

prescribe, dispense and the registration of a paper prescription ask the registry whether
the patient is insured; register_workshop asks Shahkar, then the registry. An upstream
without a usable answer fails the write, unwritten, with 502 (503 when the breaker refused);
an idempotent replay of an applied write answers from the stored result without asking
anyone again. And a refusal of the emulated waiting room (queue full) is a failed admission
sample of latency 0, as in the sim's gate.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from mock_services.common.demand import Demand, write_demand
from mock_services.portal.context import PortalContext
from policies.shedding import AdmissionController
from tests.mock_services.conftest import Lab, ctx_of
from tests.mock_services.test_demand import GatedSleep, until

pytestmark = pytest.mark.anyio
ITEMS = [{"drug_code": "AMOX500", "quantity": 2}]


class Recording(httpx.AsyncBaseTransport):
    """An upstream's in-process transport that notes each request's path in a shared list."""

    def __init__(self, name: str, app: Any, calls: list[str]) -> None:
        self.name, self.inner, self.calls = name, httpx.ASGITransport(app=app), calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{self.name} {request.method} {request.url.path}")
        return await self.inner.handle_async_request(request)


def _recorded(lab: Lab, calls: list[str], policies: str = "baseline") -> Any:
    return lab.portal(policies, transports={
        n: Recording(n, lab.upstreams[n], calls) for n in ("shahkar", "registry")})


def _rows(lab: Lab, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(lab.tmp / "portal.sqlite3")
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def _open_breaker(ctx: PortalContext, name: str) -> None:
    breaker = ctx.upstreams[name].pipeline.breaker
    assert breaker is not None
    while breaker.try_acquire(ctx.clock.now()):  # failed calls, as an outage leaves it
        breaker.on_result(ctx.clock.now(), 0.01, True)
    assert breaker.state == "open"


async def test_prescribe_and_dispense_ask_the_registry_once_per_write(lab: Lab) -> None:
    calls: list[str] = []
    doctor, pharmacy = lab.population.doctors[0], lab.population.pharmacies[0]
    patient = lab.population.citizens[0]
    async with lab.client(_recorded(lab, calls)) as client:
        dh, ph = await lab.login(client, doctor), await lab.login(client, pharmacy)
        calls.clear()  # the logins' Shahkar checks
        rx = {"patient_national_id": patient.national_id, "items": ITEMS}
        r = await client.post("/prescriptions", json=rx, headers={**dh, "Idempotency-Key": "p1"})
        assert r.status_code == 201, r.text
        eligibility = f"registry GET /persons/{patient.national_id}/eligibility"
        assert calls == [eligibility]
        again = await client.post("/prescriptions", json=rx,
                                  headers={**dh, "Idempotency-Key": "p1"})
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == r.json() and calls == [eligibility]  # nobody asked again
        code = r.json()["tracking_code"]
        d = {"patient_national_id": patient.national_id}
        r = await client.post(f"/prescriptions/{code}/dispense", json=d,
                              headers={**ph, "Idempotency-Key": "d1"})
        assert r.status_code == 200, r.text
        assert calls == [eligibility] * 2
        r = await client.post(f"/prescriptions/{code}/dispense", json=d,
                              headers={**ph, "Idempotency-Key": "d1"})
        assert r.status_code == 200 and r.headers["idempotent-replayed"] == "true"
        r = await client.post(f"/prescriptions/{code}/dispense", json=d,
                              headers={**ph, "Idempotency-Key": "d2"})
        assert r.status_code == 409  # the pharmacy's own records refuse it: nobody is asked
        assert calls == [eligibility] * 2


async def test_registry_down_fails_prescribe_and_dispense_unwritten(
        lab: Lab, baseline: httpx.AsyncClient) -> None:
    doctor, pharmacy = lab.population.doctors[0], lab.population.pharmacies[0]
    patient = lab.population.citizens[1]
    dh, ph = await lab.login(baseline, doctor), await lab.login(baseline, pharmacy)
    rx = {"patient_national_id": patient.national_id, "items": ITEMS}
    r = await baseline.post("/prescriptions", json=rx, headers={**dh, "Idempotency-Key": "ok1"})
    assert r.status_code == 201
    code = r.json()["tracking_code"]
    before = _rows(lab, "SELECT COUNT(*) FROM prescriptions")
    lab.fault("registry", mode="unavailable")
    r = await baseline.post("/prescriptions", json=rx, headers={**dh, "Idempotency-Key": "x1"})
    assert r.status_code == 502, r.text
    assert set(r.json()) == {"error"} and "eligibility check (registry)" in r.json()["error"]
    d = {"patient_national_id": patient.national_id}
    r = await baseline.post(f"/prescriptions/{code}/dispense", json=d,
                            headers={**ph, "Idempotency-Key": "x2"})
    assert r.status_code == 502, r.text
    assert _rows(lab, "SELECT COUNT(*) FROM prescriptions") == before
    assert _rows(lab, "SELECT dispensed_by FROM prescriptions WHERE tracking_code=?",
                 code) == [(None,)]
    applied = await lab.applied()
    assert "x1" not in applied and "x2" not in applied
    lab.fault("registry", mode="ok")  # the same keys, retried, now apply (they were free)
    r = await baseline.post("/prescriptions", json=rx, headers={**dh, "Idempotency-Key": "x1"})
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    r = await baseline.post(f"/prescriptions/{code}/dispense", json=d,
                            headers={**ph, "Idempotency-Key": "x2"})
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers


async def test_paper_registration_asks_the_registry_and_fails_unwritten_while_it_is_down(
        lab: Lab) -> None:
    """A paper prescription's registration costs a dispense, as the simulator's "reconcile":
    the registry's eligibility check, once; with the registry down, 502 and nothing written,
    and the same key retried after recovery applies."""
    calls: list[str] = []
    pharmacy, patient = lab.population.pharmacies[0], lab.population.citizens[3]
    paper = {"control_no": "C-2001", "patient_national_id": patient.national_id,
             "items": ITEMS, "dispensed_on": "14040315"}
    async with lab.client(_recorded(lab, calls)) as client:
        ph = await lab.login(client, pharmacy)
        calls.clear()
        lab.fault("registry", mode="unavailable")
        r = await client.post("/prescriptions/paper", json=paper,
                              headers={**ph, "Idempotency-Key": "pr1"})
        assert r.status_code == 502, r.text
        assert "eligibility check (registry)" in r.json()["error"]
        assert _rows(lab, "SELECT COUNT(*) FROM paper_prescriptions") == [(0,)]
        assert "pr1" not in await lab.applied()
        lab.fault("registry", mode="ok")
        calls.clear()
        r = await client.post("/prescriptions/paper", json=paper,
                              headers={**ph, "Idempotency-Key": "pr1"})
        assert r.status_code == 201 and "idempotent-replayed" not in r.headers, r.text
        assert calls == [f"registry GET /persons/{patient.national_id}/eligibility"]
        again = await client.post("/prescriptions/paper", json=paper,
                                  headers={**ph, "Idempotency-Key": "pr1"})
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert len(calls) == 1  # a replay asks nobody
        assert _rows(lab, "SELECT COUNT(*) FROM paper_prescriptions") == [(1,)]


async def test_open_breaker_is_503_with_its_reason(lab: Lab) -> None:
    doctor, patient = lab.population.doctors[1], lab.population.citizens[2]
    app = lab.portal("resilient")
    async with lab.client(app) as client:
        dh = await lab.login(client, doctor)
        _open_breaker(ctx_of(app), "registry")
        rx = {"patient_national_id": patient.national_id, "items": ITEMS}
        r = await client.post("/prescriptions", json=rx, headers={**dh, "Idempotency-Key": "b1"})
        assert r.status_code == 503 and "breaker_open" in r.json()["error"]
        assert r.json()["reason"] == "breaker_open"  # what clients read
        assert int(r.headers["retry-after"]) >= 1
    assert _rows(lab, "SELECT COUNT(*) FROM prescriptions") == [(0,)]


async def test_uninsured_patient_is_refused(lab: Lab, baseline: httpx.AsyncClient) -> None:
    doctor, employer = lab.population.doctors[0], lab.population.employers[0]
    dh = await lab.login(baseline, doctor)
    # an employer is in the registry but has no insurance records of their own here
    for i, nid in enumerate((employer.national_id, "0000000019")):
        rx = {"patient_national_id": nid, "items": ITEMS}
        r = await baseline.post("/prescriptions", json=rx,
                                headers={**dh, "Idempotency-Key": f"u{i}"})
        assert r.status_code == 422 and "insured" in r.json()["error"], (nid, r.text)
    assert _rows(lab, "SELECT COUNT(*) FROM prescriptions") == [(0,)]


async def test_register_workshop_asks_shahkar_then_the_registry(lab: Lab) -> None:
    calls: list[str] = []
    employer = lab.population.employers[0]
    new = {"code": "9876543210", "name": "نانوایی"}
    async with lab.client(_recorded(lab, calls)) as client:
        eh = await lab.login(client, employer)
        calls.clear()
        r = await client.post("/workshops", json=new, headers={**eh, "Idempotency-Key": "w1"})
        assert r.status_code == 201, r.text
        asked = ["shahkar POST /shahkar", "registry GET /workshops/9876543210"]
        assert calls == asked
        r = await client.post("/workshops", json=new, headers={**eh, "Idempotency-Key": "w1"})
        assert r.status_code == 201 and r.headers["idempotent-replayed"] == "true"
        assert calls == asked  # a replay asks nobody
        calls.clear()
        lab.fault("shahkar", mode="unavailable")
        other = {"code": "9876543211", "name": "x"}
        r = await client.post("/workshops", json=other, headers={**eh, "Idempotency-Key": "w2"})
        assert r.status_code == 502 and "Shahkar" in r.json()["error"]
        # the policy's retries, all to Shahkar: the registry is not asked after its failure
        assert calls and set(calls) == {"shahkar POST /shahkar"}
        lab.fault("shahkar", mode="ok")
        lab.fault("registry", mode="unavailable")
        calls.clear()
        r = await client.post("/workshops", json=other, headers={**eh, "Idempotency-Key": "w2"})
        assert r.status_code == 502 and "workshop check (registry)" in r.json()["error"]
        assert calls[0] == "shahkar POST /shahkar"  # then the registry (and its retries)
        assert set(calls[1:]) == {"registry GET /workshops/9876543211"}
        mine = (await client.get("/workshops", headers=eh)).json()
        assert "9876543211" not in {w["code"] for w in mine}


async def test_registry_answers_eligibility_and_workshop_standing(lab: Lab) -> None:
    citizen, employer = lab.population.citizens[0], lab.population.employers[0]
    async with lab.client(lab.upstreams["registry"]) as registry:
        r = await registry.get(f"/persons/{citizen.national_id}/eligibility")
        assert r.json() == {"national_id": citizen.national_id, "eligible": True,
                            "covered_through": "140406"}
        r = await registry.get(f"/persons/{employer.national_id}/eligibility")
        assert r.json()["eligible"] is False and r.json()["covered_through"] is None
        assert (await registry.get("/persons/0000000019/eligibility")).status_code == 404
        history = (await registry.get(f"/persons/{citizen.national_id}/history")).json()
        shop = history["records"][-1]["workshop_code"]
        r = await registry.get(f"/workshops/{shop}")
        assert r.status_code == 200 and r.json()["insured_people"] >= 1
        assert r.json()["last_period"] == "140406"
        r = await registry.get("/workshops/9876543210")
        assert r.json() == {"code": "9876543210", "insured_people": 0, "last_period": None}
        assert (await registry.get("/workshops/123")).status_code == 422
        lab.fault("registry", mode="fail_n", n=1)  # the admin faults reach the new routes
        assert (await registry.get("/workshops/9876543210")).status_code == 503
        assert (await registry.get("/workshops/9876543210")).status_code == 200
        lab.fault("registry", mode="unavailable")
        r = await registry.get(f"/persons/{citizen.national_id}/eligibility")
        assert r.status_code == 503


async def test_queue_full_is_a_failed_admission_sample(lab: Lab, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "demand.json"
    write_demand(path, Demand.model_validate({
        "seed": 1, "kinds": {"read_history": {"dist": "deterministic", "value": 0.05}},
        "replicas": {"r0": {"workers": 1, "max_queue": 0}}}))
    sleep = GatedSleep()
    app = lab.portal("resilient", demand=path, sleep=sleep)
    admission = ctx_of(app).admission
    assert admission is not None
    samples: list[tuple[float, bool, bool]] = []
    release = AdmissionController.release

    def spy(self: AdmissionController, now: float, latency_s: float, ok: bool = True,
            ignore: bool = False) -> None:
        samples.append((latency_s, ok, ignore))
        release(self, now, latency_s, ok, ignore)

    monkeypatch.setattr(AdmissionController, "release", spy)
    me = lab.population.citizens[0]
    async with lab.client(app) as client:
        headers = await lab.login(client, me)
        url = f"/citizens/{me.national_id}/history"
        samples.clear()
        limit = admission.limit

        async def read() -> None:
            assert (await client.get(url, headers=headers)).status_code == 200

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await until(lambda: len(sleep.pending) == 1)  # the one worker is taken
            full = await client.get(url, headers=headers)
            assert full.status_code == 503 and "queue is full" in full.json()["error"]
            assert full.json()["reason"] == "queue_full"
            assert samples == [(0.0, False, False)]  # a failed sample, not ignored
            assert admission.limit < limit  # AIMD backs off on it
            sleep.release()
        assert samples[1][1:] == (True, False)
        # an upstream's 503 still frees the slot without a sample
        lab.fault("registry", mode="unavailable")
        samples.clear()
        r = await client.get(f"/citizens/{me.national_id}/payslips", headers=headers)
        assert r.status_code in (502, 503) and [s[1:] for s in samples] == [(False, True)]
