"""Row "peak load": a surge of browsing beyond the portal's capacity, with a few logged-in
draft restores (priority 1) among it. `resilient` sheds browsing first (503 + Retry-After), so
the requests it admits keep their latency SLO and no priority-1 request is shed while browsing
is served; `baseline` admits everything, the queue grows and admitted p99 breaks the SLO.
The resilient half currently fails (strict xfail, reason below): a finding of this row."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest

from chaoslab.pytest_plugin import LabFactory, lab_injector
from faults.injector import Injector
from mock_services.lab.clients import http
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.replicas import ReplicaSet
from mock_services.lab.clients.user import Behaviour, perform
from mock_services.lab.supervisor import Lab
from policies.pipeline import ClientPolicy
from policies.retry import RetryPolicy
from policies.timeout import TimeoutPolicy
from tests.chaos.directed import Outcome, judge, login_all

# History reads saturate around ~180-300 req/s on this 2-core machine (it varies with the
# load; this test's own client shares the cores). A surge of 400 req/s for 2 s, open loop,
# leaves hundreds of requests queued without shedding: measured baseline p99 ~12 s at 3 s of
# surge, six times the 2 s SLO of admitted requests (DESIGN.md), so the baseline verdict is
# certain. (At 300 req/s the baseline sometimes kept up: p99 0.4 s in one run of three.)
RATE_PER_S = 400.0
SURGE_READS = 800
RESTORES = 30
INVARIANTS: dict[str, dict[str, object]] = {
    "admitted_p99": {"slo_ms": 2000.0}, "priority_shedding": {"interval_s": 1.0}}
# One attempt per request: the surge measures the portal's admission, not the users' retries
# (a retried shed request would wait its Retry-After and count twice).
ONE_SHOT = ClientPolicy(timeout=TimeoutPolicy(attempt_timeout_s=30.0),
                        retry=RetryPolicy(max_attempts=1))


def _surge(lab: Lab, injector: Injector) -> Outcome:
    sessions = login_all(lab, 6)
    pipeline = ONE_SHOT.build("portal", [])
    ops = [("read_history", i % len(sessions)) for i in range(SURGE_READS)]
    # the priority-1 requests spread through the surge, so they meet it at its height
    for j in range(RESTORES):
        ops.insert(j * SURGE_READS // RESTORES, ("restore_draft", j % len(sessions)))

    async def one(client: httpx.AsyncClient, i: int, f: str, who: int, start: float) -> None:
        # an open-loop arrival schedule (not a synchronisation): request i leaves at i / rate
        await asyncio.sleep(max(0.0, start + i / RATE_PER_S - time.monotonic()))
        rng = random.Random(i)
        nid, token = sessions[who]
        req = api.read_history(token, nid) if f == "read_history" else \
            api.restore_draft(token, f"peak-{i}")

        async def submit() -> http.Completion:
            return await http.call(client, ReplicaSet(lab.state.portal_urls()), pipeline, req,
                                   clock=time.monotonic, rng=rng, sleep=asyncio.sleep,
                                   stable_keys=False)

        await perform(injector.history, f"user-{i}", f, key="", priority=api.PRIORITY[f],
                      submit=submit, behaviour=Behaviour(patience_s=40.0), rng=rng,
                      clock=injector.clock, write=False)

    async def main() -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(limits=limits) as client:
            start = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*(
                one(client, i, f, who, start) for i, (f, who) in enumerate(ops))), timeout=60.0)

    injector.history.ops.clear()
    asyncio.run(main())
    return judge(lab, injector, INVARIANTS)


@pytest.mark.chaos
@pytest.mark.xfail(strict=True, reason=(
    "known defect: the portal's in-app AIMD limiter sees only requests past its middleware; "
    "at 400 req/s the queue builds ahead of it (accept loop, CPU), it sheds ~3 % and admitted "
    "p99 measured 8.6-11 s in four runs (2 s SLO). Remove this mark once admission also "
    "bounds that queue."))
def test_resilient_sheds_browsing_and_keeps_the_slo(chaos_lab: Lab, injector: Injector) -> None:
    out = _surge(chaos_lab, injector)
    shed = [op for op in out.history.ops if getattr(op, "error", None) == "shed"]
    assert shed, "the surge was not beyond capacity: nothing was shed"
    broken = {k: v for k, v in out.verdicts.items() if v[0] is not True}
    assert not broken, broken


@pytest.mark.chaos
def test_baseline_admits_everything_and_breaks_the_slo(chaos_labs: LabFactory) -> None:
    lab = chaos_labs("baseline")
    with lab_injector(lab) as injector:
        out = _surge(lab, injector)
    assert out.verdicts["admitted_p99"][0] is False, out.verdicts
