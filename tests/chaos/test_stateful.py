"""A Hypothesis state machine on the live lab: random faults in and out, random user writes.

Rules inject and heal faults (a slow client link, a switch failure, a registry outage, a
power cut of a rack, a rolling deploy of the portal) and save drafts, replay saves with the
same idempotency key, and restore drafts, all through the `resilient` user policies with
failover. After every step the invariants are read from the portal's own state (directly,
bypassing the proxies): no acknowledged write lost, none applied twice, a replayed key never
applied again, an acknowledged draft restorable. Bounded for CI (a few examples of a few
steps); on failure Hypothesis prints the steps and the blob that replays them.
"""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from faults.catalog import (
    DeploymentWindow,
    Fault,
    PowerLoss,
    RawToxic,
    SwitchFailure,
    UpstreamOutage,
)
from faults.injector import Applied, Injector
from faults.toxics import ToxicSpec
from mock_services.lab.clients import http
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.portal_api import applied_by_logical_key
from mock_services.lab.clients.replicas import ReplicaSet
from mock_services.lab.supervisor import Lab
from policies.presets import load_policy_set
from tests.chaos.directed import login_all

FAULTS: list[Fault] = [
    RawToxic(link="client-portal-a", toxic=ToxicSpec.of("latency", stream="downstream",
                                                        latency=300)),
    SwitchFailure(switch="switch-a"),
    SwitchFailure(switch="switch-b"),
    UpstreamOutage(link="portal-b-registry", mode="http_503", retry_after_s=1),
    PowerLoss(rack="rack-a"),
    DeploymentWindow(service="portal", rolling=True, drain_s=1.0),
]
USERS = 3


class LabMachine(RuleBasedStateMachine):
    """Faults and writes against the live lab, judged from the portal's state."""

    lab: Lab
    injector: Injector
    tokens: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.policies = load_policy_set("resilient")
        self.pipeline = self.policies.user.build("portal", [])
        self.active: dict[str, Applied] = {}
        self.acked: dict[str, int] = {}  # key -> the user who wrote it
        self.sent: set[str] = set()
        self.tag = f"h{time.monotonic_ns() % 10**9}"
        self.n = 0

    # -- faults ------------------------------------------------------------------------------

    @rule(fault=st.sampled_from(FAULTS))
    def inject(self, fault: Fault) -> None:
        if fault.target in self.active or (
                isinstance(fault, DeploymentWindow | PowerLoss) and self._processes_busy()):
            return  # one fault per target; a deploy and a power cut never overlap
        self.active[fault.target] = self.injector.apply(fault)

    @rule(data=st.data())
    def heal(self, data: st.DataObject) -> None:
        if self.active:
            target = data.draw(st.sampled_from(sorted(self.active)))
            self.injector.heal(self.active.pop(target))

    def _processes_busy(self) -> bool:
        return any(isinstance(a.fault, DeploymentWindow | PowerLoss)
                   for a in self.active.values())

    # -- operations --------------------------------------------------------------------------

    @rule(user=st.integers(0, USERS - 1))
    def save(self, user: int) -> None:
        self.n += 1
        key = f"{self.tag}-{self.n}"
        self._save(user, key)

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if self.acked:  # the same user, the same key: the portal must not apply it again
            key = data.draw(st.sampled_from(sorted(self.acked)))
            self._save(self.acked[key], key)

    def _save(self, user: int, key: str) -> None:
        self.sent.add(key)
        done = self._call(api.save_draft(self.tokens[user], key, key, {"n": self.n}))
        if done.type == "ok":
            self.acked[key] = user

    def _call(self, req: http.HttpRequest) -> http.Completion:
        async def go() -> http.Completion:
            async with httpx.AsyncClient() as client:
                replicas = ReplicaSet(self.lab.state.portal_urls())
                await replicas.poll_once(client)
                return await http.call(client, replicas, self.pipeline, req,
                                       clock=time.monotonic, rng=random.Random(self.n),
                                       sleep=asyncio.sleep, deadline_s=time.monotonic() + 15.0,
                                       stable_keys=self.policies.idempotency_keys)
        return asyncio.run(go())

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def every_acknowledged_write_applied_once(self) -> None:
        applied = self._applied()
        if applied is None:
            return  # every portal is down (a power cut during a deploy is excluded above)
        lost = sorted(k for k in self.acked if applied.get(k, 0) == 0)
        twice = sorted(k for k in self.sent if applied.get(k, 0) > 1)
        assert not lost, f"acknowledged writes lost: {lost}"
        assert not twice, f"writes applied more than once: {twice}"

    def _applied(self) -> dict[str, int] | None:
        running = self.lab.running()
        for portal in self.lab.state.topology.portals():
            if running.get(portal.name):
                try:
                    r = self.lab.admin().get(portal.name, "/admin/applied")
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    return applied_by_logical_key(r.json())
        return None

    def teardown(self) -> None:
        self.injector.heal_all()
        self.active.clear()


@pytest.mark.chaos
@pytest.mark.slow
def test_random_faults_never_lose_or_repeat_a_write(chaos_lab: Lab, injector: Injector) -> None:
    LabMachine.lab = chaos_lab
    LabMachine.injector = injector
    LabMachine.tokens = [tok for _, tok in login_all(chaos_lab, USERS)]
    run_state_machine_as_test(LabMachine, settings=settings(
        max_examples=3, stateful_step_count=8, deadline=None, print_blob=True,
        suppress_health_check=list(HealthCheck)))
