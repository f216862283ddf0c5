"""A rolling deploy under steady load fails no user operation; a naive deploy does.

The naive deploy is the proof that the check can fail: the same load, the same retrying
clients, but every replica restarting at once.
"""

from __future__ import annotations

import pytest

from mock_services.lab.clients.profile import steady
from mock_services.lab.operations import LabSupervisor
from mock_services.lab.supervisor import Lab
from tests.mock_services.lab.support import Disruption, completions, drive

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]
RATES = {"citizen": 8.0, "doctor": 3.0, "employer": 2.0, "pharmacy": 2.0}
PORTALS = ("portal-a", "portal-b")


def _failed(lab: Lab, supervisor: LabSupervisor, rolling: bool, seed: int) -> tuple[int, int]:
    def deploy() -> None:
        if rolling:
            supervisor.rolling_deploy("portal", PORTALS, drain_s=2.0)
        else:
            supervisor.naive_deploy("portal", PORTALS)

    before = {n: lab.pid(n) for n in PORTALS}
    duration_s = 9.0 if rolling else 6.0  # the load outlasts the deploy
    history, _ = drive(lab, steady(duration_s, RATES), seed=seed,
                       disruption=Disruption(1.0, deploy))
    assert all(lab.pid(n) != before[n] for n in PORTALS)  # every replica was redeployed
    done = completions(history)
    return sum(1 for op in done if op.type != "ok"), len(done)


def test_rolling_deploy_fails_no_user_operation(healthy_lab: Lab,
                                                lab_supervisor: LabSupervisor) -> None:
    failed, total = _failed(healthy_lab, lab_supervisor, rolling=True, seed=21)
    assert total > 80
    assert failed == 0


def test_naive_deploy_fails_user_operations(healthy_lab: Lab,
                                            lab_supervisor: LabSupervisor) -> None:
    failed, total = _failed(healthy_lab, lab_supervisor, rolling=False, seed=22)
    assert total > 40
    assert failed > 0
