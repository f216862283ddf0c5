"""The scenario driver's pharmacies fall back to paper and register it later, against an
`httpx.MockTransport` portal whose dispenses all fail: the history names every paper record
and registration as the simulator does, the portal is sent run-unique control numbers and
keys, the final state counts both, and the run's end cuts a registration in flight and leaves
no task behind."""

from __future__ import annotations

import asyncio
import json
import random

import httpx

from mock_services.lab.clients.driver import DriverConfig, LoadDriver, final_counts
from mock_services.lab.clients.profile import Arrival
from mock_services.seed import DEFAULT_SEED, demo_population
from policies.presets import load_policy_set

PORTAL = "http://portal.test"
POPULATION = demo_population(DEFAULT_SEED)
PHARMACIST = POPULATION.pharmacies[0]  # pharmacy-1's
ONE_TRY = load_policy_set("baseline", {"user": {"retry": {"max_attempts": 1}}})
# three dispenses at pharmacy-1, then a citizen whose read the portal answers only once the
# third paper record's registration has reached it (so the run lasts until then)
ARRIVALS = [Arrival(0.0, "dispense", n, "pharmacy-1") for n in (1, 2, 3)] + [
    Arrival(0.0, "read_history", 4, "citizen")]


class Portal:
    """Dispenses fail (the registry is down: 502); paper registrations 1 and 2 succeed, the
    third is never answered; a read waits for the third."""

    def __init__(self) -> None:
        self.papers: list[tuple[str, dict[str, object]]] = []  # (Idempotency-Key, body)
        self.third = asyncio.Event()
        self.never = asyncio.Event()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/auth/login":
            return httpx.Response(200, json={"token": "t"})
        if path.endswith("/dispense"):
            return httpx.Response(502, json={"detail": "the registry gave no answer"})
        if path == "/prescriptions/paper":
            self.papers.append((request.headers["Idempotency-Key"],
                                json.loads(request.content)))
            if len(self.papers) == 3:
                self.third.set()
                await self.never.wait()  # in flight when the run ends
            return httpx.Response(201, json={"status": "registered"})
        if path.startswith("/citizens/"):
            await self.third.wait()
        return httpx.Response(200, json={})  # /readyz


def _play() -> tuple[LoadDriver, Portal, int]:
    """Run the arrivals under baseline (no paper cap; users who do not retry, so a dispense
    fails at its first 502) at x30000 (a 300 s wait is 10 ms); return the driver, the portal
    and how many tasks were left once the run was over."""
    portal = Portal()
    config = DriverConfig({"portal-a": PORTAL}, ONE_TRY, active_users=5, speed=30_000.0,
                          start="1403-07-15T09:00")
    driver = LoadDriver(config, rng=random.Random(5), run_tag="r00ef",
                        client_factory=lambda: httpx.AsyncClient(
                            transport=httpx.MockTransport(portal.handle)))
    pop = driver.shared.population
    driver.shared.tokens[PHARMACIST.national_id] = "t"
    driver.shared.stock["pharmacy-1"] = [(f"10000000000{n}", pop.citizens[n].national_id)
                                         for n in (1, 2, 3)]

    async def main() -> int:
        await driver.run(ARRIVALS)
        return len(asyncio.all_tasks()) - 1  # all but this one

    left = asyncio.run(main())
    return driver, portal, left


def test_failed_dispenses_go_on_paper_and_are_registered_oldest_first() -> None:
    driver, portal, left = _play()
    ops = driver.history.ops
    assert [op.type for op in ops if op.f == "dispense"].count("fail") == 3
    papers = [op for op in ops if op.f == "paper_record" and op.type != "invoke"]
    # the simulator's names: process "<pharmacy>/p<n>", key the control number "C-<pharmacy>-<n>"
    assert sorted((op.process, op.key, op.type) for op in papers) == [
        (f"pharmacy-1/p{n}", f"C-pharmacy-1-{n}", "ok") for n in (1, 2, 3)]
    controls = [op.key for op in papers]  # the backlog's order: when each went on paper
    invoked = [op for op in ops if op.f == "reconcile" and op.type == "invoke"]
    assert [op.key for op in invoked] == [f"reconcile:{c}" for c in controls]
    # registrations are operations of the pharmacy numbered after the run's arrivals
    assert [op.process for op in invoked] == ["pharmacy-1/5", "pharmacy-1/6", "pharmacy-1/7"]
    done = {op.key: op.type for op in ops if op.f == "reconcile" and op.type != "invoke"}
    # the third was in flight when the run ended: cut, its invoke left open
    assert done == {f"reconcile:{c}": "ok" for c in controls[:2]}
    assert left == 0  # the loop ended with the run
    assert [r.control for r in driver.paper.backlog["pharmacy-1"]] == controls[2:]
    # on the wire: the run-tagged key, a run-unique control number, the pharmacy's patient
    keys = [key for key, _ in portal.papers]
    assert keys == [f"r00ef.reconcile:{c}" for c in controls]
    bodies = [body for _, body in portal.papers]
    assert len({b["control_no"] for b in bodies}) == 3
    assert all(str(b["control_no"]).isalnum() and len(str(b["control_no"])) == 16
               for b in bodies)
    assert {b["patient_national_id"] for b in bodies} == {
        driver.shared.population.citizens[n].national_id for n in (1, 2, 3)}
    # the calendar's day: a second of the run is 30000 s of the scenario's, from 09:00
    assert all(b["dispensed_on"] == "14030715" for b in bodies)
    # the final state: each paper kept (1), each registration as the portal counts its key
    applied = {key: 1 for key in keys[:2]}
    finals = final_counts(driver.history, applied, driver.paper.wire_keys)
    assert {k: n for k, n in finals.items() if k.startswith(("C-", "reconcile:"))} == {
        **dict.fromkeys(controls, 1), **{f"reconcile:{c}": 1 for c in controls[:2]},
        f"reconcile:{controls[2]}": 0}


def test_a_rate_profile_pharmacy_has_no_paper() -> None:
    """Only a scenario's pharmacies fall back (the rate profiles' users are not the
    simulator's): a failed dispense is just that."""
    portal = Portal()
    portal.third.set()
    config = DriverConfig({"portal-a": PORTAL}, ONE_TRY, active_users=5)
    driver = LoadDriver(config, rng=random.Random(5), run_tag="r00ef",
                        client_factory=lambda: httpx.AsyncClient(
                            transport=httpx.MockTransport(portal.handle)))
    driver.shared.prescriptions.append(("100000000001", POPULATION.citizens[1].national_id))
    asyncio.run(driver.run([Arrival(0.0, "pharmacy", 1)]))
    assert [op.type for op in driver.history.ops if op.f == "dispense"] == ["invoke", "fail"]
    assert not [op for op in driver.history.ops if op.f in ("paper_record", "reconcile")]


def test_the_reconcile_loop_runs_on_to_the_drains_end_after_the_last_user() -> None:
    """With `reconcile_until_s` (the runners' one drain rule) the loop outlives the users:
    the portal stays down, so the pharmacy keeps backing off and trying until a try would
    start after the drain's end; none starts after it, and no task is left."""
    async def down(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(200, json={"token": "t"})
        if request.url.path in ("/readyz",):
            return httpx.Response(200, json={})
        return httpx.Response(502, json={"detail": "the registry gave no answer"})

    until = 0.5  # history seconds: at x30000 the waits are 10, 20, 40, 80, 120, 120 ... ms
    config = DriverConfig({"portal-a": PORTAL}, ONE_TRY, active_users=5, speed=30_000.0,
                          start="1403-07-15T09:00", reconcile_until_s=until)
    driver = LoadDriver(config, rng=random.Random(5), run_tag="r00ef",
                        client_factory=lambda: httpx.AsyncClient(
                            transport=httpx.MockTransport(down)))
    driver.shared.tokens[PHARMACIST.national_id] = "t"
    driver.shared.stock["pharmacy-1"] = [("100000000001", POPULATION.citizens[1].national_id)]

    async def main() -> int:
        await driver.run([Arrival(0.0, "dispense", 1, "pharmacy-1")])
        return len(asyncio.all_tasks()) - 1

    left = asyncio.run(main())
    ops = driver.history.ops
    user_end = max(op.time_s for op in ops if op.f == "dispense")
    tries = [op.time_s for op in ops if op.f == "reconcile" and op.type == "invoke"]
    assert len(tries) >= 4 and tries[-1] > user_end  # on after the user
    assert max(tries) < until and left == 0
    assert len(driver.paper.backlog["pharmacy-1"]) == 1  # still on paper
