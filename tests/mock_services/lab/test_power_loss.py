"""Power loss of a rack loses no acknowledged write: the history against the database."""

from __future__ import annotations

import time

import pytest

from mock_services.lab import procs
from mock_services.lab.clients.portal_api import applied_by_logical_key
from mock_services.lab.clients.profile import steady
from mock_services.lab.operations import LabSupervisor
from mock_services.lab.supervisor import Lab
from scenario.history import WRITE_FS
from tests.mock_services.lab.support import Disruption, completions, drive, keys_in_db

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]
OUTAGE_S = 1.0


def test_power_loss_of_a_rack_loses_no_acknowledged_write(
        healthy_lab: Lab, lab_supervisor: LabSupervisor) -> None:
    before = {n: healthy_lab.pid(n) for n in ("portal-a", "shahkar", "sms", "portal-b")}

    def power_cut() -> None:
        lab_supervisor.kill_rack("rack-a")
        killed = [s.name for s in healthy_lab.state.topology.rack_services("rack-a")]
        assert not any(procs.alive(before[n] or 0) for n in killed if n in before)
        time.sleep(OUTAGE_S)  # the outage itself
        lab_supervisor.restart_rack("rack-a")

    # writes (prescriptions, lists) and reads; the cut lands in the middle of the stream
    profile = steady(5.0, {"doctor": 6.0, "employer": 4.0, "citizen": 4.0, "pharmacy": 3.0})
    history, _ = drive(healthy_lab, profile, seed=11, disruption=Disruption(2.0, power_cut))

    after = {n: healthy_lab.pid(n) for n in before}
    assert after["portal-a"] != before["portal-a"]  # it really was killed and restarted
    assert after["portal-b"] == before["portal-b"]  # the other rack kept its power
    acked = {op.key for op in completions(history) if op.f in WRITE_FS and op.type == "ok"}
    assert len(acked) >= 20, "too few acknowledged writes for the check to mean anything"
    in_db = applied_by_logical_key(keys_in_db(healthy_lab))
    lost = sorted(k for k in acked if in_db.get(k, 0) == 0)
    duplicated = sorted(k for k in acked if in_db.get(k, 0) > 1)
    assert lost == [], f"acknowledged writes missing from the database: {lost}"
    assert duplicated == [], f"writes applied twice: {duplicated}"
