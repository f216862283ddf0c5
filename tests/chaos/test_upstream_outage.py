"""Row "upstream outage": the registry answers 503 to every call. `resilient` serves the
insurance history from its cache (stale-if-error); `baseline` has no cache, so the reads fail
— the stale-reads and availability checkers fail."""

from __future__ import annotations

import pytest

from chaoslab.pytest_plugin import LabFactory, lab_injector
from faults.catalog import UpstreamOutage
from faults.injector import Injector
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.user import Behaviour
from mock_services.lab.supervisor import Lab
from mock_services.seed import demo_population
from tests.chaos.directed import Outcome, judge, run_ops

INVARIANTS: dict[str, dict[str, object]] = {
    "stale_reads": {"min_served_share": 0.99}, "availability": {"target": 0.99}}
READERS = 6
# one submission each, given up after 10 s: a cached read answers in well under a second, and
# a failing one would only fail again on refresh (two refreshes tripled this test's time)
NO_REFRESH = Behaviour(max_refreshes=0, patience_s=10.0)


def _run(lab: Lab, injector: Injector, preset: str) -> Outcome:
    ids = [p.national_id for p in demo_population().citizens[:READERS]]
    reads = [("read_history", lambda tok, nid=nid: api.read_history(tok, nid), n)
             for n, nid in enumerate(ids)]
    for _ in range(2):  # warm (twice: the first pass also warms a fresh lab's connections)
        run_ops(lab, injector, preset, reads)
    injector.history.ops.clear()  # judge the outage only
    with injector.fault(UpstreamOutage(link="portal-a-registry", mode="http_503")):
        run_ops(lab, injector, preset, reads, behaviour=NO_REFRESH)
    return judge(lab, injector, INVARIANTS)


@pytest.mark.chaos
def test_resilient_serves_reads_through_the_outage(chaos_lab: Lab, injector: Injector) -> None:
    out = _run(chaos_lab, injector, "resilient")
    broken = {k: v for k, v in out.verdicts.items() if v[0] is not True}
    assert not broken, broken


@pytest.mark.chaos
def test_baseline_reads_fail(chaos_labs: LabFactory) -> None:
    lab = chaos_labs("baseline")
    with lab_injector(lab) as injector:
        out = _run(lab, injector, "baseline")
    assert out.verdicts["stale_reads"][0] is False, out.verdicts
    assert out.verdicts["availability"][0] is False, out.verdicts
