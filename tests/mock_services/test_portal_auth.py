"""Logins, Shahkar verification with its cached fallback, rate limits, recovery, sessions."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from mock_services.common.clock import SystemClock
from policies.shedding import AdmissionController
from tests.mock_services.conftest import Lab, ctx_of

pytestmark = pytest.mark.anyio


async def test_login_and_wrong_password(lab: Lab, baseline: httpx.AsyncClient) -> None:
    who = lab.population.citizens[0]
    headers = await lab.login(baseline, who)
    r = await baseline.get(f"/citizens/{who.national_id}/history", headers=headers)
    assert r.status_code == 200 and r.json()["records"]
    r = await baseline.post("/auth/login", json={"national_id": who.national_id,
                                                 "password": "wrong"})
    assert r.status_code == 401 and "wrong" in r.json()["error"]


async def test_bad_check_digit_is_a_clear_422(baseline: httpx.AsyncClient) -> None:
    r = await baseline.post("/auth/login", json={"national_id": "1234567890", "password": "x"})
    assert r.status_code == 422
    assert "check digit" in r.json()["error"]


async def test_shahkar_outage_baseline_blocks_login(lab: Lab, baseline: httpx.AsyncClient) -> None:
    who = lab.population.citizens[1]
    await lab.login(baseline, who)
    lab.fault("shahkar", mode="unavailable", retry_after_s=2)
    r = await baseline.post("/auth/login", json={"national_id": who.national_id,
                                                 "password": who.password})
    assert r.status_code == 503 and r.headers["retry-after"]


async def test_shahkar_outage_resilient_uses_recent_verification(
        lab: Lab, resilient: httpx.AsyncClient) -> None:
    verified, never = lab.population.citizens[2], lab.population.citizens[3]
    await lab.login(resilient, verified)
    lab.fault("shahkar", mode="unavailable")
    r = await resilient.post("/auth/login", json={"national_id": verified.national_id,
                                                  "password": verified.password})
    assert r.status_code == 200 and r.json()["verification"] == "cached"
    r = await resilient.post("/auth/login", json={"national_id": never.national_id,
                                                  "password": never.password})
    assert r.status_code == 503  # never verified: no fallback
    lab.clock.advance(8 * 86_400)  # older than the bounded age (7 days)
    r = await resilient.post("/auth/login", json={"national_id": verified.national_id,
                                                  "password": verified.password})
    assert r.status_code == 503


async def test_login_rate_limited_per_account(lab: Lab, resilient: httpx.AsyncClient) -> None:
    who = lab.population.citizens[4]
    statuses = []
    for _ in range(8):
        r = await resilient.post("/auth/login", json={"national_id": who.national_id,
                                                      "password": "guess"})
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:]
    r = await resilient.post("/auth/login", json={"national_id": who.national_id,
                                                  "password": who.password})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


async def test_login_rate_limited_per_source(lab: Lab, resilient: httpx.AsyncClient) -> None:
    statuses = []
    for who in (lab.population.citizens * 3)[:25]:  # credential stuffing across accounts
        r = await resilient.post("/auth/login", json={"national_id": who.national_id,
                                                      "password": "guess"})
        statuses.append(r.status_code)
    assert statuses.count(429) >= 4


async def test_doctor_needs_sms_code(lab: Lab, baseline: httpx.AsyncClient) -> None:
    doctor = lab.population.doctors[0]
    r = await baseline.post("/auth/login", json={"national_id": doctor.national_id,
                                                 "password": doctor.password})
    body = r.json()
    assert r.status_code == 200 and body["otp_required"] and body["token"] is None
    code = await lab.sms_code(doctor.mobile)
    wrong = "000000" if code != "000000" else "111111"
    r = await baseline.post("/auth/otp", json={"challenge_id": body["challenge_id"],
                                               "code": wrong})
    assert r.status_code == 401
    r = await baseline.post("/auth/otp", json={"challenge_id": body["challenge_id"],
                                               "code": code})
    assert r.status_code == 200 and r.json()["token"]


async def test_password_recovery_by_sms(lab: Lab, baseline: httpx.AsyncClient) -> None:
    who = lab.population.citizens[5]
    r = await baseline.post("/auth/recovery", json={"national_id": who.national_id,
                                                    "mobile": "09120000000"})
    assert r.status_code == 403  # Shahkar: not this person's mobile
    r = await baseline.post("/auth/recovery", json={"national_id": who.national_id,
                                                    "mobile": who.mobile})
    assert r.status_code == 202
    challenge = r.json()["challenge_id"]
    body = {"challenge_id": challenge, "code": await lab.sms_code(who.mobile),
            "new_password": "a new password"}
    r = await baseline.post("/auth/recovery/confirm", json=body)
    assert r.status_code == 400  # no Idempotency-Key
    r = await baseline.post("/auth/recovery/confirm", json=body, headers={"Idempotency-Key": "r1"})
    assert r.status_code == 200
    r2 = await baseline.post("/auth/recovery/confirm", json=body, headers={"Idempotency-Key": "r1"})
    assert r2.status_code == 200 and r2.json() == r.json()  # replayed, code not re-checked
    r = await baseline.post("/auth/login", json={"national_id": who.national_id,
                                                 "password": who.password})
    assert r.status_code == 401
    r = await baseline.post("/auth/login", json={"national_id": who.national_id,
                                                 "password": "a new password"})
    assert r.status_code == 200


async def test_sessions_expire_and_are_shared_by_replicas(lab: Lab) -> None:
    who = lab.population.citizens[6]
    async with lab.client(lab.portal(replica="a")) as a, lab.client(lab.portal(replica="b")) as b:
        headers = await lab.login(a, who)
        r = await b.get(f"/citizens/{who.national_id}/payslips", headers=headers)
        assert r.status_code == 200 and len(r.json()["payslips"]) == 6
        lab.clock.advance(1801)
        r = await b.get(f"/citizens/{who.national_id}/payslips", headers=headers)
        assert r.status_code == 401


async def test_no_token_and_forged_token(lab: Lab, baseline: httpx.AsyncClient) -> None:
    nid = lab.population.citizens[0].national_id
    assert (await baseline.get(f"/citizens/{nid}/history")).status_code == 401
    r = await baseline.get(f"/citizens/{nid}/history", headers={"Authorization": "Bearer x"})
    assert r.status_code == 401


async def test_slow_shahkar_cut_short_when_a_recent_verification_exists(tmp_path: Path) -> None:
    """Real clock: a verified user does not wait out a slow Shahkar (resilient)."""
    lab = Lab(tmp_path, clock=SystemClock())
    # the deadline is a policy (PolicySet.verification_deadline_s), read from the set
    app = lab.portal("resilient", overrides={"verification_deadline_s": 0.3})
    verified, never = lab.population.citizens[0], lab.population.citizens[1]
    async with lab.client(app) as client:
        await lab.login(client, verified)
        lab.fault("shahkar", mode="slow", delay_ms=1500)
        t0 = time.monotonic()
        r = await client.post("/auth/login", json={"national_id": verified.national_id,
                                                   "password": verified.password})
        assert r.status_code == 200 and r.json()["verification"] == "cached"
        assert time.monotonic() - t0 < 1.2  # cut at 0.3 s, well before Shahkar's 1.5 s
        r = await client.post("/auth/login", json={"national_id": never.national_id,
                                                   "password": never.password})
        assert r.status_code == 200 and r.json()["verification"] == "fresh"  # waited it out


async def test_the_deadline_is_read_from_the_policy_set(tmp_path: Path) -> None:
    """Real clock: with `verification_deadline_s` off, a verified user waits Shahkar out
    (the portal has no setting of its own for it)."""
    lab = Lab(tmp_path, clock=SystemClock())
    app = lab.portal("resilient", overrides={"verification_deadline_s": "off"})
    assert ctx_of(app).policies.verification_deadline_s is None
    assert not hasattr(ctx_of(app).settings, "login_shahkar_deadline_s")
    verified = lab.population.citizens[0]
    async with lab.client(app) as client:
        await lab.login(client, verified)
        lab.fault("shahkar", mode="slow", delay_ms=600)
        t0 = time.monotonic()
        r = await client.post("/auth/login", json={"national_id": verified.national_id,
                                                   "password": verified.password})
        assert r.status_code == 200 and r.json()["verification"] == "fresh"
        assert time.monotonic() - t0 >= 0.5  # not cut short


async def test_a_rate_limited_login_is_no_admission_sample(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 429 frees its admission slot without a sample, as the simulator's gate does."""
    app = lab.portal("resilient")
    samples: list[tuple[int, bool, bool]] = []
    release = AdmissionController.release

    def spy(self: AdmissionController, now: float, latency_s: float, ok: bool = True,
            ignore: bool = False) -> None:
        samples.append((self.in_flight, ok, ignore))
        release(self, now, latency_s, ok, ignore)

    monkeypatch.setattr(AdmissionController, "release", spy)
    who = lab.population.citizens[5]
    async with lab.client(app) as client:
        statuses = []
        for _ in range(8):
            samples.clear()
            r = await client.post("/auth/login", json={"national_id": who.national_id,
                                                       "password": "guess"})
            statuses.append(r.status_code)
        assert statuses[-1] == 429 and samples == [(1, True, True)]  # ignored
        # a wrong password's 401 is the client's error too: no sample either (counted as a
        # success it raised the limit, as a failure in the simulator it cut it)
        assert statuses[0] == 401
        samples.clear()
        other = lab.population.citizens[6]
        r = await client.post("/auth/login", json={"national_id": other.national_id,
                                                   "password": "guess"})
        assert r.status_code == 401 and samples == [(1, True, True)]
