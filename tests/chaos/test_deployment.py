"""Row "deployment with no maintenance window": the portal is redeployed under steady load.

The policy under test is the deploy itself: readiness-gated and rolling (one replica at a
time: readiness off, drain, SIGTERM, restart) against every replica restarted at once. The
users are the same in both runs (the resilient ones: retry with backoff on the other
replica), so the twin isolates the deploy: rolling fails no user operation and loses no
write; all-at-once fails operations. The history is the load driver's, with the deploy's
fault operations on the same clock, judged by the scenario checkers.

Finding: the baseline's own users (a 10 s timeout, refreshes 3-10 s apart) ride out an
all-at-once restart here (0 of 22 failed), because the lab's replicas restart in about a
second; a real portal that takes tens of seconds to start would fail them.
"""

from __future__ import annotations

import time

import pytest

from faults.catalog import DeploymentWindow
from faults.injector import Injector
from mock_services.lab.clients.profile import steady
from mock_services.lab.supervisor import Lab
from tests.chaos.directed import Outcome, judge
from tests.mock_services.lab.support import Disruption, drive

RATES = {"citizen": 8.0, "doctor": 3.0, "employer": 2.0, "pharmacy": 2.0}
DRAIN_S = 2.0
INVARIANTS: dict[str, dict[str, object]] = {
    "deploy_no_failures": {}, "no_lost_writes": {}, "no_duplicate_writes": {}}


def _deploy(lab: Lab, injector: Injector, *, rolling: bool, seed: int) -> Outcome:
    before = {p.name: lab.pid(p.name) for p in lab.state.topology.portals()}
    assert None not in before.values(), f"a lab that cannot tell its replicas apart: {before}"

    def deploy() -> None:
        applied = injector.apply(DeploymentWindow(service="portal", rolling=rolling,
                                                  drain_s=DRAIN_S))
        injector.heal(applied)  # returns once the last replica is ready again

    origin_s = time.monotonic() - injector.clock()  # the injector's time 0, on the monotonic
    duration_s = 9.0 if rolling else 6.0  # the load outlasts the deploy
    history, driver = drive(lab, steady(duration_s, RATES), seed=seed,
                            disruption=Disruption(1.0, deploy))
    assert all(lab.pid(n) != pid for n, pid in before.items()), "a replica was not redeployed"
    shift_s = driver.start_s - origin_s
    merged = [*injector.history.ops, *(op._replace(time_s=op.time_s + shift_s) for op in history)]
    injector.history.ops[:] = sorted(merged, key=lambda op: op.time_s)
    return judge(lab, injector, INVARIANTS)


@pytest.mark.chaos
def test_resilient_rolling_deploy_fails_no_user_operation(chaos_lab: Lab,
                                                         injector: Injector) -> None:
    out = _deploy(chaos_lab, injector, rolling=True, seed=21)
    broken = {k: v for k, v in out.verdicts.items() if v[0] is not True}
    assert not broken, broken


@pytest.mark.chaos
def test_all_at_once_deploy_fails_user_operations(chaos_lab: Lab, injector: Injector) -> None:
    out = _deploy(chaos_lab, injector, rolling=False, seed=22)
    assert out.verdicts["deploy_no_failures"][0] is False, out.verdicts
