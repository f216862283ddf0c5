"""Prescriptions: doctor writes, only the presenting pharmacy reads/dispenses; paper once."""

from __future__ import annotations

import httpx
import pytest

from tests.mock_services.conftest import Lab, ctx_of

pytestmark = pytest.mark.anyio
ITEMS = [{"drug_code": "AMOX500", "quantity": 2}]


async def test_prescribe_and_dispense(lab: Lab, baseline: httpx.AsyncClient) -> None:
    doctor, (ph1, ph2) = lab.population.doctors[0], lab.population.pharmacies
    patient, stranger = lab.population.citizens[0], lab.population.citizens[1]
    dh = await lab.login(baseline, doctor)
    p1, p2 = await lab.login(baseline, ph1), await lab.login(baseline, ph2)
    rx = {"patient_national_id": patient.national_id, "items": ITEMS}
    r = await baseline.post("/prescriptions", json=rx, headers={**dh, "Idempotency-Key": "rx1"})
    assert r.status_code == 201
    code = r.json()["tracking_code"]
    assert len(code) == 12
    again = await baseline.post("/prescriptions", json=rx,
                                headers={**dh, "Idempotency-Key": "rx1"})
    assert again.json()["tracking_code"] == code  # no second prescription
    r = await baseline.get(f"/prescriptions/{code}",
                           params={"patient_national_id": stranger.national_id}, headers=p1)
    assert r.status_code == 404  # not presented by this patient
    r = await baseline.get(f"/prescriptions/{code}",
                           params={"patient_national_id": patient.national_id}, headers=p1)
    assert r.status_code == 200 and r.json()["items"] == ITEMS
    r = await baseline.get(f"/prescriptions/{code}",
                           params={"patient_national_id": patient.national_id}, headers=dh)
    assert r.status_code == 403  # doctors do not dispense
    d = {"patient_national_id": patient.national_id}
    r = await baseline.post(f"/prescriptions/{code}/dispense", json=d,
                            headers={**p1, "Idempotency-Key": "d1"})
    assert r.status_code == 200
    r = await baseline.post(f"/prescriptions/{code}/dispense", json=d,
                            headers={**p1, "Idempotency-Key": "d1"})
    assert r.status_code == 200 and r.headers["idempotent-replayed"] == "true"
    r = await baseline.post(f"/prescriptions/{code}/dispense", json=d,
                            headers={**p1, "Idempotency-Key": "d2"})
    assert r.status_code == 409
    r = await baseline.post(f"/prescriptions/{code}/dispense", json=d,
                            headers={**p2, "Idempotency-Key": "d3"})
    assert r.status_code == 404  # dispensed elsewhere: invisible to another pharmacy
    applied = await lab.applied()
    assert applied["rx1"] == 1 and applied["d1"] == 1 and "d2" not in applied


async def test_expired_prescription_refused(lab: Lab, baseline: httpx.AsyncClient) -> None:
    doctor, pharmacy = lab.population.doctors[0], lab.population.pharmacies[0]
    patient = lab.population.citizens[2]
    dh = await lab.login(baseline, doctor)
    rx = {"patient_national_id": patient.national_id, "items": ITEMS}
    r = await baseline.post("/prescriptions", json=rx, headers={**dh, "Idempotency-Key": "e1"})
    code = r.json()["tracking_code"]
    lab.clock.advance(61 * 86_400)
    ph = await lab.login(baseline, pharmacy)
    r = await baseline.post(f"/prescriptions/{code}/dispense",
                            json={"patient_national_id": patient.national_id},
                            headers={**ph, "Idempotency-Key": "e2"})
    assert r.status_code == 410


async def test_paper_registered_once(lab: Lab, baseline: httpx.AsyncClient) -> None:
    pharmacy = lab.population.pharmacies[0]
    ph = await lab.login(baseline, pharmacy)
    paper = {"control_no": "C-1001", "patient_national_id": lab.population.citizens[0].national_id,
             "items": ITEMS, "dispensed_on": "14040315"}
    r = await baseline.post("/prescriptions/paper", json=paper,
                            headers={**ph, "Idempotency-Key": "pp1"})
    assert r.status_code == 201
    r = await baseline.post("/prescriptions/paper", json=paper,
                            headers={**ph, "Idempotency-Key": "pp1"})
    assert r.status_code == 201 and r.headers["idempotent-replayed"] == "true"
    r = await baseline.post("/prescriptions/paper", json=paper,
                            headers={**ph, "Idempotency-Key": "pp2"})
    assert r.status_code == 409
    r = await baseline.post("/prescriptions/paper", json={**paper, "dispensed_on": "14041315"},
                            headers={**ph, "Idempotency-Key": "pp3"})
    assert r.status_code == 422
    claim = (await baseline.get("/prescriptions/claims/140403", headers=ph)).json()
    assert claim["paper"] == 1 and claim["paper_share"] == 1.0


async def test_drafts_survive_and_stay_private(lab: Lab, baseline: httpx.AsyncClient) -> None:
    a, b = lab.population.citizens[0], lab.population.citizens[1]
    ha, hb = await lab.login(baseline, a), await lab.login(baseline, b)
    r = await baseline.put("/drafts/form-7", json={"data": {"name": "علی", "step": 3}},
                           headers={**ha, "Idempotency-Key": "dr1"})
    assert r.status_code == 200 and r.json()["version"] == 1
    async with lab.client(lab.portal(replica="other")) as other:
        r = await other.get("/drafts/form-7", headers=ha)
        assert r.status_code == 200 and r.json()["data"] == {"name": "علی", "step": 3}
        assert (await other.get("/drafts/form-7", headers=hb)).status_code == 404
    big = {"data": {"x": "y" * 70_000}}
    r = await baseline.put("/drafts/form-7", json=big, headers={**ha, "Idempotency-Key": "dr2"})
    assert r.status_code == 413


async def test_admission_sheds_browsing_before_prescriptions(lab: Lab) -> None:
    app = lab.portal("resilient")
    ctx = ctx_of(app)
    doctor, patient = lab.population.doctors[1], lab.population.citizens[3]
    async with lab.client(app) as client:
        dh, ch = await lab.login(client, doctor), await lab.login(client, patient)
        admission = ctx.admission
        assert admission is not None
        occupied = int(admission.limit * 0.7)  # above browsing's 60 % share, below 100 %
        for _ in range(occupied):
            admission.admit(ctx.clock.now(), 0)
        r = await client.get(f"/citizens/{patient.national_id}/history", headers=ch)
        assert r.status_code == 503 and r.json()["shed"] and int(r.headers["retry-after"]) >= 1
        assert r.json()["reason"] == "shed"
        rx = {"patient_national_id": patient.national_id, "items": ITEMS}
        r = await client.post("/prescriptions", json=rx, headers={**dh, "Idempotency-Key": "s1"})
        assert r.status_code == 201
        assert (await client.get("/healthz")).status_code == 200


async def test_workshop_registration(lab: Lab, baseline: httpx.AsyncClient) -> None:
    employer, citizen = lab.population.employers[0], lab.population.citizens[0]
    other_shop = next(w for w in lab.population.workshops
                      if w.employer_id != employer.national_id)
    eh, ch = await lab.login(baseline, employer), await lab.login(baseline, citizen)
    new = {"code": "9876543210", "name": "نانوایی"}
    r = await baseline.post("/workshops", json=new, headers={**eh, "Idempotency-Key": "w1"})
    assert r.status_code == 201
    r = await baseline.post("/workshops", json=new, headers={**eh, "Idempotency-Key": "w1"})
    assert r.status_code == 201 and r.headers["idempotent-replayed"] == "true"
    r = await baseline.post("/workshops", json={"code": other_shop.code, "name": "x"},
                            headers={**eh, "Idempotency-Key": "w2"})
    assert r.status_code == 409 and "already registered" in r.json()["error"]
    assert "employer" not in r.json()["error"]  # whose it is stays unsaid (issue #21)
    r = await baseline.post("/workshops", json={"code": "12345", "name": "x"},
                            headers={**eh, "Idempotency-Key": "w3"})
    assert r.status_code == 422
    r = await baseline.post("/workshops", json=new, headers={**ch, "Idempotency-Key": "w4"})
    assert r.status_code == 403
    mine = (await baseline.get("/workshops", headers=eh)).json()
    assert "9876543210" in {w["code"] for w in mine}
    assert other_shop.code not in {w["code"] for w in mine}
