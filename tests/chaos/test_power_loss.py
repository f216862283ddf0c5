"""Row "power loss (a rack)", directed: rack-a (portal-a, Shahkar, SMS) is SIGKILLed right after
portal-a acknowledged a few writes, then powered back on; the final state is read from the
restarted portal. Every acknowledged write and saved draft must be there: SQLite in WAL mode
with synchronous=FULL, committed before the answer.

The twins cut the power after writes are applied but before their answers got out: the users
retry on portal-b, `resilient` under the same idempotency key (each write once), `baseline`
under a fresh one (applied twice). The storage is the same in both presets, and a SIGKILL
loses no committed page (the OS keeps it): only a kernel crash would tell fsync apart.
"""

from __future__ import annotations

import pytest

from faults.catalog import PowerLoss, RawToxic
from faults.injector import Applied, Injector
from faults.toxics import ToxicSpec
from mock_services.lab.supervisor import Lab
from tests.chaos.directed import Outcome, run_writes

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


def _cut_in_flight(lab: Lab, injector: Injector, preset: str) -> Outcome:
    # the answers never leave the rack before the power goes: portal-a's client link drops
    # them (a `timeout` toxic, downstream); answers merely slowed would still arrive, as bytes
    # already on the network do when their sender dies
    injector.apply(RawToxic(link="client-portal-a", toxic=ToxicSpec.of(
        "timeout", stream="downstream", timeout=0)))
    cuts: list[Applied] = []

    def cut() -> None:
        cuts.append(injector.apply(PowerLoss(rack="rack-a")))
        assert not lab.running()["portal-a"]

    return run_writes(lab, injector, preset, writes=WRITES, invariants=INVARIANTS,
                      fault_after_applied=cut, after_done=lambda: injector.heal(cuts[0]))


@pytest.mark.chaos
def test_resilient_applies_writes_cut_in_flight_once(chaos_lab: Lab,
                                                     injector: Injector) -> None:
    out = _cut_in_flight(chaos_lab, injector, "resilient")
    broken = {k: v for k, v in out.verdicts.items() if v[0] is not True}
    assert not broken, broken


@pytest.mark.chaos
def test_baseline_applies_writes_cut_in_flight_twice(chaos_lab: Lab,
                                                     injector: Injector) -> None:
    out = _cut_in_flight(chaos_lab, injector, "baseline")
    assert out.verdicts["no_duplicate_writes"][0] is False, out.verdicts
    assert out.verdicts["no_lost_writes"][0] is True, out.verdicts
