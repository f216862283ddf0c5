"""Row "network loss at a clinic or pharmacy", directed: a pharmacy's link to both portal
replicas goes silent (Toxiproxy `timeout` toxics, the catalog's NetworkLoss) while customers
keep coming; then the link returns and the pharmacy reconciles.

`resilient` caps paper at 20 % of the pharmacy's prescriptions in the claim period (deferring
the rest: the insured comes back) and registers every paper prescription afterwards, once,
under its stable idempotency key. `baseline` has no cap: every customer of the outage goes on
paper and the share breaks the organisation's 20 % rule. The agent is the lab's own pharmacy
client, in this process, recording into the injector's history.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from chaoslab.pytest_plugin import LabFactory, lab_injector
from faults.catalog import NetworkLoss
from faults.injector import Injector
from mock_services.lab.clients.pharmacy import AgentConfig, PharmacyAgent, Prescription
from mock_services.lab.clients.profile import steady
from mock_services.lab.supervisor import Lab
from mock_services.seed import demo_population
from policies.presets import load_policy_set
from tests.chaos.directed import Outcome, judge
from tests.mock_services.lab.support import drive

BEFORE, DURING = 8, 8  # customers served on a healthy link, then during the outage
CLIENT_LINKS = ("client-portal-a", "client-portal-b")
# a silent link closes a connection after 1 s without an answer: the agent's calls fail
# in seconds instead of waiting out its 10 s timeouts, and the test stays short
SILENT_CLOSE_MS = 1000
INVARIANTS: dict[str, dict[str, object]] = {
    "paper_share": {"max_share": 0.2}, "paper_reconciled_once": {}}


def _outage(lab: Lab, injector: Injector, preset: str, pharmacy: int, tmp: Path,
            seed: int) -> Outcome:
    _, driver = drive(lab, steady(2.0, {"doctor": 16.0}), seed=seed)
    written = driver.shared.prescriptions
    assert len(written) >= BEFORE + DURING, "the doctors wrote too few prescriptions"
    rxs = [Prescription(code, patient, f"{driver.shared.run_tag}-{i}")
           for i, (code, patient) in enumerate(written[:BEFORE + DURING])]
    person = demo_population(1).pharmacies[pharmacy]
    config = AgentConfig(lab.state.portal_urls(), tmp / "agent.sqlite3", person.national_id,
                         person.password, load_policy_set(preset))
    injector.history.ops.clear()

    async def serve_and_reconcile() -> int:
        async with PharmacyAgent(config, injector.history, rng=random.Random(seed),
                                 clock=injector.clock) as agent:
            kinds = [await agent.serve(rx) for rx in rxs[:BEFORE]]
            assert kinds == ["electronic"] * BEFORE, kinds
            applied = [injector.apply(NetworkLoss(link=link, close_after_ms=SILENT_CLOSE_MS))
                       for link in CLIENT_LINKS]
            try:
                for rx in rxs[BEFORE:]:
                    await agent.serve(rx)
            finally:
                for a in applied:
                    injector.heal(a)
            return await agent.reconcile()

    assert asyncio.run(asyncio.wait_for(serve_and_reconcile(), 120.0)) == 0
    return judge(lab, injector, INVARIANTS)


@pytest.mark.chaos
def test_resilient_pharmacy_keeps_the_quota_and_registers_paper_once(
        chaos_lab: Lab, injector: Injector, tmp_path: Path) -> None:
    out = _outage(chaos_lab, injector, "resilient", pharmacy=1, tmp=tmp_path, seed=41)
    broken = {k: v for k, v in out.verdicts.items() if v[0] is not True}
    assert not broken, broken
    papers = [op for op in out.history if op.f == "paper_record" and op.type != "invoke"]
    assert sum(op.type == "ok" for op in papers) >= 1, "no customer of the outage on paper"
    assert sum(op.error == "deferred" for op in papers) >= 1, "nobody was deferred"


@pytest.mark.chaos
def test_baseline_pharmacy_breaks_the_paper_quota(chaos_labs: LabFactory,
                                                  tmp_path: Path) -> None:
    lab = chaos_labs("baseline")
    with lab_injector(lab) as injector:
        out = _outage(lab, injector, "baseline", pharmacy=2, tmp=tmp_path, seed=42)
    assert out.verdicts["paper_share"][0] is False, out.verdicts
