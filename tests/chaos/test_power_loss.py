"""Row "power loss (a rack)", directed: rack-a (portal-a, Shahkar, SMS) is SIGKILLed right after
portal-a acknowledged a few writes, then powered back on; the final state is read from the
restarted portal. Every acknowledged write and saved draft must be there: SQLite in WAL mode
with synchronous=FULL, committed before the answer."""

from __future__ import annotations

import pytest

from faults.catalog import PowerLoss
from faults.injector import Injector
from mock_services.lab.supervisor import Lab
from tests.chaos.directed import run_writes

INVARIANTS: dict[str, dict[str, object]] = {
    "no_lost_writes": {}, "no_duplicate_writes": {}, "drafts_restorable": {},
    "availability": {"target": 0.99}}
WRITES = 4


@pytest.mark.chaos
def test_resilient_loses_no_acknowledged_write(chaos_lab: Lab, injector: Injector) -> None:
    def power_cut() -> None:
        applied = injector.apply(PowerLoss(rack="rack-a"))
        assert not chaos_lab.running()["portal-a"]
        injector.heal(applied)  # power back: the rack's processes restart and get ready

    out = run_writes(chaos_lab, injector, "resilient", writes=WRITES, invariants=INVARIANTS,
                     fault_after_applied=lambda: None, after_done=power_cut)
    broken = {k: v for k, v in out.verdicts.items() if v[0] is not True}
    assert not broken, broken
    assert sum(op.type == "ok" and op.f == "save_draft" for op in out.history) == WRITES
