"""Issue #21: what an attacker and a careless client could do, each closed (in process).

Every test here failed on the code before the fix (the item is named in each docstring).
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_services.common.access import client_headers
from mock_services.domain.national_id import make_national_id
from mock_services.portal.security import hash_password, verify_password
from mock_services.seed import Person
from tests.mock_services.conftest import Lab, ctx_of

pytestmark = pytest.mark.anyio
ITEMS = [{"drug_code": "AMOX500", "quantity": 2}]


async def _prescribe(lab: Lab, client: httpx.AsyncClient, key: str,
                     patient: Person | None = None) -> str:
    doctor = lab.population.doctors[0]
    who = patient or lab.population.citizens[0]
    headers = {**await lab.login(client, doctor), "Idempotency-Key": key}
    r = await client.post("/prescriptions", json={"patient_national_id": who.national_id,
                                                  "items": ITEMS}, headers=headers)
    assert r.status_code == 201, r.text
    code: str = r.json()["tracking_code"]
    return code


async def test_tracking_codes_do_not_follow_the_seed_and_replica(tmp_path: Path) -> None:
    """Item 1: codes came from random.Random(seed:replica): two labs gave the same ones."""
    codes = []
    for n in range(2):
        lab = Lab(tmp_path / f"lab{n}")
        async with lab.client(lab.portal()) as client:
            codes.append(await _prescribe(lab, client, "rx-1"))
    assert codes[0] != codes[1]


async def test_prescription_lookups_are_limited_per_account_and_source(lab: Lab) -> None:
    """Item 1: a pharmacy could guess codes at will (230 requests found one)."""
    ph1, ph2 = lab.population.pharmacies
    patient = lab.population.citizens[0].national_id
    async with lab.client(lab.portal(replica="a")) as a, lab.client(lab.portal(replica="b")) as b:
        code = await _prescribe(lab, a, "rx-1")
        h1, h2 = await lab.login(a, ph1), await lab.login(b, ph2)
        guesses = [f"{10**11 + n}" for n in range(12)]
        first = [(await (a if n % 2 else b).get(
            f"/prescriptions/{g}", params={"patient_national_id": patient}, headers=h1)
        ).status_code for n, g in enumerate(guesses)]
        assert first == [404] * 10 + [429] * 2  # ten misses per account, on any replica
        r = await a.get(f"/prescriptions/{code}", params={"patient_national_id": patient},
                        headers=h1)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        second = [(await b.get(f"/prescriptions/{g}", params={"patient_national_id": patient},
                               headers=h2)).status_code for g in guesses]
        assert second == [404] * 10 + [429] * 2  # 20 misses from this source, then held
        r = await b.get(f"/prescriptions/{code}", params={"patient_national_id": patient},
                        headers={**h2, **client_headers(b"no key", "10.0.0.9")})
        assert r.status_code == 429  # an unsigned stated address is still the same peer


async def test_a_hit_costs_nothing(lab: Lab, baseline: httpx.AsyncClient) -> None:
    ph = lab.population.pharmacies[0]
    patient = lab.population.citizens[0].national_id
    code = await _prescribe(lab, baseline, "rx-1")
    headers = await lab.login(baseline, ph)
    for _ in range(30):
        r = await baseline.get(f"/prescriptions/{code}",
                               params={"patient_national_id": patient}, headers=headers)
        assert r.status_code == 200


def _unknown_id() -> str:
    return make_national_id(random.Random(4242))


async def test_recovery_answers_alike_for_an_unknown_account(lab: Lab,
                                                             baseline: httpx.AsyncClient) -> None:
    """Item 4: 404 "no portal account" against 403 for a wrong mobile told who has one."""
    known = lab.population.citizens[0]
    unknown = _unknown_id()
    assert unknown not in {p.national_id for p in lab.population.people()}
    a = await baseline.post("/auth/recovery", json={"national_id": known.national_id,
                                                    "mobile": "09120000000"})
    b = await baseline.post("/auth/recovery", json={"national_id": unknown,
                                                    "mobile": "09120000000"})
    assert (a.status_code, a.json()) == (b.status_code, b.json()) and a.status_code == 403


def test_a_wrong_password_costs_the_same_work_on_any_account() -> None:
    """Item 4: the dummy hash was cheaper than a real one (18 ms against 163 ms)."""
    work: list[int] = []

    def counting(password: bytes, **kw: Any) -> bytes:
        work.append(kw["n"])
        return b"x" * kw["dklen"]

    cost = 2**8
    totals = []
    for stored in (hash_password("p", cost), hash_password("p", 2**4)):  # used, seeded
        work.clear()
        assert not verify_password("wrong", stored, cost, scrypt=counting)
        totals.append(sum(work))
    assert totals == [cost, cost]


async def test_a_confirmation_checks_the_code_before_hashing(
        lab: Lab, baseline: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 5: every confirmation hashed the new password first (a CPU flood)."""
    from mock_services.portal.routes import auth

    hashes: list[str] = []

    def counting(password: str, n: int) -> str:
        hashes.append(password)
        return hash_password(password, n)

    monkeypatch.setattr(auth, "hash_password", counting)
    who = lab.population.citizens[5]
    r = await baseline.post("/auth/recovery", json={"national_id": who.national_id,
                                                    "mobile": who.mobile})
    challenge = r.json()["challenge_id"]
    for n, challenge_id in enumerate([challenge, "x" * 22, challenge]):
        r = await baseline.post("/auth/recovery/confirm", headers={"Idempotency-Key": f"k{n}"},
                                json={"challenge_id": challenge_id, "code": "000000",
                                      "new_password": "a new password"})
        assert r.status_code == 401
    assert hashes == []
    statuses = [(await baseline.post(
        "/auth/recovery/confirm", headers={"Idempotency-Key": f"f{n}"},
        json={"challenge_id": f"flood-{n:06d}", "code": "000000",
              "new_password": "a new password"})).status_code for n in range(12)]
    assert statuses[-1] == 429 and statuses.count(401) == 7  # 10 per source, 3 above


async def test_login_limits_are_shared_and_the_owner_keeps_a_way_in(lab: Lab) -> None:
    """Item 6: each replica had its own buckets (5 guesses per replica per account), and an
    emptied account bucket held its owner out as long as the attacker kept at it."""
    who = lab.population.citizens[6]
    attacker, owner = client_headers(_key(lab), "10.66.0.1"), client_headers(_key(lab),
                                                                             "10.7.0.1")
    async with _replicas(lab) as (a, b):
        statuses = [(await (a if n % 2 else b).post("/auth/login", headers=attacker, json={
            "national_id": who.national_id, "password": f"guess-{n}"})).status_code
            for n in range(8)]
        assert statuses == [401] * 5 + [429] * 3
        r = await a.post("/auth/login", headers=owner,
                         json={"national_id": who.national_id, "password": who.password})
        assert r.status_code == 429  # the account is held, for everyone
        r = await b.post("/auth/recovery", headers=owner,
                         json={"national_id": who.national_id, "mobile": who.mobile})
        assert r.status_code == 202  # recovery has limits of its own
        body = {"challenge_id": r.json()["challenge_id"],
                "code": await lab.sms_code(who.mobile), "new_password": "mine again"}
        r = await a.post("/auth/recovery/confirm", json=body,
                         headers={**owner, "Idempotency-Key": "rec-1"})
        assert r.status_code == 200
        r = await b.post("/auth/login", headers=owner,
                         json={"national_id": who.national_id, "password": "mine again"})
        assert r.status_code == 200  # the owner's source is vouched for by the recovery
        r = await b.post("/auth/login", headers=attacker,
                         json={"national_id": who.national_id, "password": "mine again"})
        assert r.status_code == 429  # the attacker still is not


def _key(lab: Lab) -> bytes:
    return b"the test lab's client key"


class _replicas:
    """Two resilient replicas on one data directory that believe `_key`'s signatures."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.clients: list[httpx.AsyncClient] = []

    async def __aenter__(self) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        for replica in ("a", "b"):
            app = self.lab.portal("resilient", replica=replica)
            app.state.client_key = _key(self.lab)
            self.clients.append(self.lab.client(app))
        return self.clients[0], self.clients[1]

    async def __aexit__(self, *_: object) -> None:
        for c in self.clients:
            await c.aclose()


def _nested(depth: int) -> dict[str, Any]:
    data: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        data = {"x": data}
    return data


@pytest.fixture
async def citizen(lab: Lab, baseline: httpx.AsyncClient) -> AsyncIterator[dict[str, str]]:
    yield await lab.login(baseline, lab.population.citizens[0])


@pytest.mark.parametrize(("content", "problem"), [
    (json.dumps({"data": _nested(400)}), "nested deeper than 32"),
    ('{"data": {"\\ud800": 1}}', "lone surrogate"),
    ('{"data": {"name": "a\\udfffb"}}', "lone surrogate"),
    ('{"data": {"x": NaN}}', "finite number"),
    ('{"data": {"rows": [1, Infinity]}}', "finite number"),
])
async def test_a_draft_that_could_not_be_read_back_is_refused(
        baseline: httpx.AsyncClient, citizen: dict[str, str], content: str,
        problem: str) -> None:
    """Items 7 and 10: such drafts saved (200), then every GET gave 500 (or null for NaN)."""
    headers = {**citizen, "Idempotency-Key": "d-1", "Content-Type": "application/json"}
    r = await baseline.put("/drafts/form", content=content.encode(), headers=headers)
    assert r.status_code == 422 and problem in r.json()["error"], r.text
    assert (await baseline.get("/drafts/form", headers=citizen)).status_code == 404


async def test_a_draft_at_the_depth_limit_reads_back(baseline: httpx.AsyncClient,
                                                     citizen: dict[str, str]) -> None:
    data = _nested(32)
    r = await baseline.put("/drafts/form", json={"data": data},
                           headers={**citizen, "Idempotency-Key": "d-2"})
    assert r.status_code == 200, r.text
    r = await baseline.get("/drafts/form", headers=citizen)
    assert r.status_code == 200 and r.json()["data"] == data


async def test_a_claim_counts_the_month_it_names(lab: Lab, baseline: httpx.AsyncClient) -> None:
    """Item 8: the claim for a past month counted today's electronic prescriptions."""
    ph, patient = lab.population.pharmacies[0], lab.population.citizens[0]
    code = await _prescribe(lab, baseline, "rx-9")
    headers = await lab.login(baseline, ph)
    r = await baseline.post(f"/prescriptions/{code}/dispense",
                            json={"patient_national_id": patient.national_id},
                            headers={**headers, "Idempotency-Key": "dx-9"})
    assert r.status_code == 200
    # the manual clock starts at 1_750_000_000 s: 2025-06-15, Khordad 25, 1404 in Tehran
    now = (await baseline.get("/prescriptions/claims/140403", headers=headers)).json()
    past = (await baseline.get("/prescriptions/claims/140101", headers=headers)).json()
    assert now["electronic"] == 1 and past["electronic"] == 0


async def _chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 65_536 + 1):
        yield b"x" * 65_536


async def test_a_chunked_body_over_the_limit_is_413(lab: Lab) -> None:
    """Item 10: without Content-Length, the body limit answered FastAPI's 400."""
    app = lab.portal(max_body_bytes=100_000)
    async with lab.client(app) as client:
        headers = {**await lab.login(client, lab.population.citizens[0]),
                   "Idempotency-Key": "big", "Content-Type": "application/json"}
        r = await client.put("/drafts/form", content=_chunks(200_000), headers=headers)
        assert "content-length" not in r.request.headers
        assert r.status_code == 413 and "100000-byte limit" in r.json()["error"]


async def test_a_taken_workshop_code_does_not_say_whose(lab: Lab,
                                                        baseline: httpx.AsyncClient) -> None:
    """Item 10: the 409 said the code belonged to "another employer"."""
    shop = lab.population.workshops[0]
    other = next(e for e in lab.population.employers if e.national_id != shop.employer_id)
    owner = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    answers = []
    for who in (other, owner):
        headers = {**await lab.login(baseline, who), "Idempotency-Key": f"w-{who.national_id}"}
        r = await baseline.post("/workshops", json={"code": shop.code, "name": "x"},
                                headers=headers)
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1] and answers[0][0] == 409
    assert ctx_of  # the fixtures' helpers stay importable
