"""Row "refresh storm (users retrying)", directed: the registry is unreachable from both
replicas and every user whose page fails clicks refresh at once, up to five times (DESIGN.md:
clients retry without backoff).

What must hold is the portal's own restraint: its attempts on the registry per logical call
stay <= 1.1x, so the storm is not multiplied on the way down. A logical call the policies
answered without any attempt (the breaker open) counts as a call that cost the registry
nothing: amplification is the load the registry saw over the load the portal was offered.
`baseline` retries every call three times at once (measured 3.000x), which proves the
checker fails live; `resilient`'s breaker opens after 10 calls and keeps the rest of the
storm off the registry. The attempts come from the portal replicas' event logs, folded into
the history on the injector's clock.

The row's other invariant, metastable recovery, has its own twin: test_metastable.py.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from chaoslab.pytest_plugin import LabFactory, lab_injector
from faults.catalog import UpstreamOutage
from faults.injector import Injector
from mock_services.lab.clients import portal_api as api
from mock_services.lab.supervisor import Lab
from scenario.history import SHORT_CIRCUIT, OpType
from tests.chaos.directed import Outcome, judge
from tests.chaos.directed_login import fold_portal_events, people, wall_origin, warm_logins

USERS = 24
FIRST_CITIZEN = 240  # a range of its own (per-account login limits)
GROUP = 7  # the users' addresses (10.7.0.x): the per-source login limit is per person
REFRESHES = 5  # after the first click, each failed page is refreshed at once this often
INVARIANTS: dict[str, dict[str, object]] = {
    "upstream_amplification": {"upstream": "registry", "max_amplification": 1.1}}


async def _user(client: httpx.AsyncClient, base_url: str, injector: Injector, i: int,
                nid: str, token: str) -> None:
    """One user: open the insurance history, refresh at once while it fails."""
    req = api.read_history(token, nid)
    for _ in range(1 + REFRESHES):
        op = injector.history.invoke(f"user-{i}", "read_history", injector.clock(), priority=2)
        try:
            r = await client.request(req.method, base_url + req.path, headers=req.headers,
                                     timeout=30.0)
        except httpx.HTTPError as exc:
            injector.history.complete(op, "fail", injector.clock(), error=type(exc).__name__)
            continue
        kind: OpType = "ok" if r.status_code == 200 else "fail"
        injector.history.complete(op, kind, injector.clock(),
                                  error="" if kind == "ok" else f"http_{r.status_code}")
        if kind == "ok":
            return


def _storm(lab: Lab, injector: Injector) -> Outcome:
    sessions = warm_logins(lab, people(FIRST_CITIZEN, USERS), group=GROUP)
    urls = list(lab.state.portal_urls().values())
    injector.history.ops.clear()
    t0_wall = wall_origin(injector)

    async def storm() -> None:
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(_user(client, urls[i % len(urls)], injector, i, nid, tok)
                                   for i, (nid, tok) in enumerate(sessions)))

    with (injector.fault(UpstreamOutage(link="portal-a-registry")),
          injector.fault(UpstreamOutage(link="portal-b-registry"))):
        asyncio.run(asyncio.wait_for(storm(), 60.0))
    fold_portal_events(lab, injector, t0_wall)
    return judge(lab, injector, INVARIANTS)


@pytest.mark.chaos
def test_baseline_portal_multiplies_the_storm(chaos_labs: LabFactory) -> None:
    lab = chaos_labs("baseline")
    with lab_injector(lab) as injector:
        out = _storm(lab, injector)
    assert out.verdicts["upstream_amplification"][0] is False, out.verdicts


@pytest.mark.chaos
def test_resilient_portal_keeps_the_storm_off_the_registry(chaos_labs: LabFactory) -> None:
    lab = chaos_labs("resilient")
    with lab_injector(lab) as injector:
        out = _storm(lab, injector)
    assert out.verdicts["upstream_amplification"][0] is True, out.verdicts
    # the storm reached the breaker: some of its calls were answered without an attempt
    assert any(op.f == SHORT_CIRCUIT for op in out.history.ops), out.verdicts
