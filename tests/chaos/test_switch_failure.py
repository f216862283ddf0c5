"""Row "server switch fails", directed: writes whose answers are still on the wire when the
switch dies. `resilient` (same idempotency key on the retry) applies each once and loses
none; `baseline` (a fresh key per retry) applies them twice — the duplicate checker fails."""

from __future__ import annotations

import pytest

from faults.catalog import RawToxic, SwitchFailure
from faults.injector import Injector
from faults.toxics import ToxicSpec
from mock_services.lab.supervisor import Lab
from tests.chaos.directed import Outcome, run_writes

INVARIANTS: dict[str, dict[str, object]] = {
    "no_lost_writes": {}, "no_duplicate_writes": {}, "availability": {"target": 0.99}}
WRITES = 4


def _run(lab: Lab, injector: Injector, preset: str) -> Outcome:
    # the answers crawl back over switch-a's client link, so they are in flight when it dies
    injector.apply(RawToxic(link="client-portal-a", toxic=ToxicSpec.of(
        "latency", stream="downstream", latency=3000)))

    def cut() -> None:
        injector.apply(SwitchFailure(switch="switch-a"))

    return run_writes(lab, injector, preset, writes=WRITES, invariants=INVARIANTS,
                      fault_after_applied=cut)


@pytest.mark.chaos
def test_resilient_keeps_every_write_once(chaos_lab: Lab, injector: Injector) -> None:
    out = _run(chaos_lab, injector, "resilient")
    broken = {k: v for k, v in out.verdicts.items() if v[0] is not True}
    assert not broken, broken


@pytest.mark.chaos
def test_baseline_applies_retried_writes_twice(chaos_lab: Lab, injector: Injector) -> None:
    out = _run(chaos_lab, injector, "baseline")
    assert out.verdicts["no_duplicate_writes"][0] is False, out.verdicts
    assert out.verdicts["no_lost_writes"][0] is True, out.verdicts
