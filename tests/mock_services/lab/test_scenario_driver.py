"""The load driver plays a scenario's arrivals: every request kind through the user behaviour
that does it (doctors with their SMS code, pharmacies dispensing the run's prescriptions,
the attacker's wrong-password logins), against an `httpx.MockTransport` portal."""

from __future__ import annotations

import asyncio
import json
import random

import httpx

from mock_services.lab.clients.driver import DriverConfig, LoadDriver, Storm
from mock_services.lab.clients.profile import Arrival
from mock_services.lab.clients.user import Behaviour
from mock_services.seed import DEFAULT_SEED, demo_population
from policies.presets import load_policy_set
from scenario.history import WRONG_PASSWORD
from scenario.schema import Workload

PORTAL = "http://portal.test"
SMS = "http://sms.test"
KINDS = ("login", "recover_password", "read_history", "read_payslip", "register_workshop",
         "save_draft", "submit_list", "prescribe", "dispense")


def _portal() -> httpx.MockTransport:
    doctors = {p.national_id for p in demo_population(DEFAULT_SEED).doctors}

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        if path == "/auth/login":
            if str(body.get("password", "")).startswith("wrong-"):
                return httpx.Response(401, json={"detail": "wrong password"})
            if body.get("national_id") in doctors:
                return httpx.Response(200, json={"otp_required": True, "challenge_id": "c1"})
            return httpx.Response(200, json={"token": "t"})
        if path == "/auth/otp":
            ok = body.get("code") == "123456"
            return httpx.Response(200 if ok else 401, json={"token": "d"} if ok else {})
        if path == "/admin/messages":
            return httpx.Response(200, json={"messages": [{"text": "your code: 123456"}]})
        if path == "/prescriptions":
            return httpx.Response(200, json={"tracking_code": "123456789012"})
        return httpx.Response(200, json={})

    return httpx.MockTransport(handle)


def _run(arrivals: list[Arrival], behaviour: Behaviour, storms: tuple[Storm, ...] = (),
         seen: list[str] | None = None) -> LoadDriver:
    transport = _portal() if seen is None else _counting_portal(seen)
    config = DriverConfig({"portal-a": PORTAL}, load_policy_set("resilient"), sms_url=SMS,
                          behaviour=behaviour, active_users=5, storms=storms)
    driver = LoadDriver(config, rng=random.Random(7), run_tag="r00ab",
                        client_factory=lambda: httpx.AsyncClient(transport=transport))
    asyncio.run(driver.run(arrivals))
    return driver


def test_every_scenario_kind_is_played_by_its_user() -> None:
    arrivals = [Arrival(0.0, "prescribe", 1, "clinic-2")]
    arrivals += [Arrival(0.05 + i * 0.002, k, i + 2, "citizen") for i, k in enumerate(KINDS)
                 if k != "prescribe"]
    arrivals += [Arrival(0.08, "login", 99, "attacker-1")]
    driver = _run(arrivals, Behaviour())
    history = driver.history
    done = {op.f for op in history.ops if op.type == "ok"}
    assert set(KINDS) <= done
    assert driver.drawn == driver.played  # the pharmacy found the doctor's prescription
    attack = [op for op in history.ops if op.process == "attacker-1/99"]
    assert [op.type for op in attack] == ["invoke", "fail"]
    assert attack[0].value == WRONG_PASSWORD
    writes = [op for op in history.ops if op.type == "invoke" and op.f in
              ("save_draft", "submit_list", "prescribe", "dispense", "register_workshop")]
    assert all(op.key.startswith("r00ab.") for op in writes)


def test_the_scenario_users_refresh_failures_in_a_storm() -> None:
    workload = Workload.model_validate({"rate_per_s": 1, "kinds": {"login": {
        "share": 1, "service": {"dist": "exponential", "mean": "1ms"}}},
        "patience": {"dist": "deterministic", "value": "30s"},
        "refresh": {"probability": 0.0, "max_refreshes": 0}})
    # every attacker's login fails: in the storm it is refreshed 3 times without pause, all
    # inside its one operation (as the simulator's user refreshes), so 4 logins reach the
    # portal and the history has one invoke and one failure
    seen: list[str] = []
    driver = _run([Arrival(0.0, "login", 1, "attacker-0")], Behaviour.of_workload(workload),
                  storms=(Storm(0.0, 10.0, 3, 0.0),), seen=seen)
    assert [op.type for op in driver.history.ops if op.f == "login"] == ["invoke", "fail"]
    assert seen.count("/auth/login") == 4
    seen.clear()
    calm = _run([Arrival(0.0, "login", 1, "attacker-0")], Behaviour.of_workload(workload),
                seen=seen)
    assert [op.type for op in calm.history.ops if op.f == "login"] == ["invoke", "fail"]
    assert seen.count("/auth/login") == 1


ADMIN = "http://portal-a.admin.test"


def _counting_portal(seen: list[str], *, logins: bool = True, limit: int | None = None
                     ) -> httpx.MockTransport:
    """The mock portal, recording every path; `logins` False: every login refused (401);
    `limit`: a per-source login limit of that many logins until the policies are reset."""
    inner = _portal()
    since_reset = [0]

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/admin/policies/reset":
            since_reset[0] = 0
            return httpx.Response(200, json={"state": "reset"})
        if request.url.path == "/auth/login":
            if not logins:
                return httpx.Response(401, json={"detail": "wrong password"})
            since_reset[0] += 1
            if limit is not None and since_reset[0] > limit:
                return httpx.Response(429, json={"error": "too many login attempts"},
                                      headers={"retry-after": "1"})
        return inner.handle_request(request)

    return httpx.MockTransport(handle)


def _driver(transport: httpx.MockTransport, active: int = 5) -> LoadDriver:
    config = DriverConfig({"portal-a": PORTAL}, load_policy_set("resilient"), sms_url=SMS,
                          active_users=active, admin_urls={"portal-a": ADMIN})
    return LoadDriver(config, rng=random.Random(3), run_tag="r00cd",
                      client_factory=lambda: httpx.AsyncClient(transport=transport))


def test_warm_up_logs_the_run_in_and_stocks_the_pharmacies_unrecorded() -> None:
    seen: list[str] = []
    driver = _driver(_counting_portal(seen))
    # two dispenses at pharmacy-2 before any prescription of the run: the stock serves them
    arrivals = [Arrival(0.0, "dispense", 1, "pharmacy-2"), Arrival(0.0, "dispense", 2,
                                                                    "pharmacy-2"),
                Arrival(0.01, "read_history", 3, "citizen"),
                Arrival(0.02, "submit_list", 4, "employer"),
                Arrival(0.03, "prescribe", 5, "clinic-1"),
                Arrival(0.04, "login", 6, "citizen"),
                Arrival(0.05, "login", 7, "attacker-0")]
    warm = asyncio.run(driver.warm_up(arrivals))
    # the pharmacist, the citizen, the employer and the doctor (who also wrote the stock)
    assert warm.people == warm.sessions == 4
    assert (warm.prescriptions, warm.dispenses) == (2, 2)
    assert len(driver.shared.stock["pharmacy-2"]) == 2
    assert seen.count("/auth/login") == 4 and seen.count("/prescriptions") == 2
    assert seen[-1] == "/admin/policies/reset"  # the run starts with the login limits full
    assert driver.history.ops == []  # nothing recorded before the run
    seen.clear()
    asyncio.run(driver.run(arrivals))
    ops = driver.history.ops
    assert driver.drawn == driver.played
    # one operation per arrival, each of its kind, all answered: no login but the arrivals'
    assert sorted(op.f for op in ops if op.type == "invoke") == sorted(a.kind for a in arrivals)
    assert {op.f for op in ops if op.type == "ok"} == {"dispense", "read_history",
                                                       "submit_list", "prescribe", "login"}
    assert seen.count("/auth/login") == 2  # the citizen's fresh login and the attacker's


def test_warm_up_resets_the_login_limit_it_meets() -> None:
    seen: list[str] = []
    driver = _driver(_counting_portal(seen, limit=3), active=50)
    arrivals = [Arrival(i * 0.01, "read_payslip", i, "citizen") for i in range(1, 40)]
    warm = asyncio.run(driver.warm_up(arrivals))
    assert warm.people > 10 and warm.sessions == warm.people
    assert seen.count("/admin/policies/reset") >= warm.people // 3


def test_an_arrival_that_cannot_be_played_is_recorded_as_failed() -> None:
    seen: list[str] = []
    driver = _driver(_counting_portal(seen, logins=False))
    arrivals = [Arrival(0.0, "read_history", 1, "citizen"),
                Arrival(0.01, "dispense", 2, "pharmacy-1"),
                Arrival(0.02, "save_draft", 3, "citizen")]
    warm = asyncio.run(driver.warm_up(arrivals))
    assert warm.sessions == 0 and warm.prescriptions == 0  # nobody could log in
    asyncio.run(driver.run(arrivals))
    assert driver.drawn == driver.played
    failed = {(op.f, op.error) for op in driver.history.ops if op.type == "fail"}
    # the readers tried to log in during the run (recorded), then their operation failed
    assert failed == {("login", "unauthorized"), ("read_history", "no_session"),
                      ("save_draft", "no_session"), ("dispense", "no_prescription")}
    assert [op.type for op in driver.history.ops if op.f == "dispense"] == ["invoke", "fail"]
