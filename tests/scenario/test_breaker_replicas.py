"""Per-replica breakers ("shahkar@portal-a"): each replica's breaker is judged against the
faults on its own link, so a healthy replica calling a healthy link is no violation.
"""

from __future__ import annotations

from scenario.checkers.windows import targets
from scenario.history import History
from scenario.invariants import build_checker
from scenario.report import RunMeta, build_report
from tests.scenario.builder import Builder


def two_replicas(resilient: bool, qualified: bool = True) -> History:
    """Portal replicas a and b call Shahkar every second; only a's link is slow, 50..150 s."""
    b = Builder(7)
    b.fault("slow_upstream", "portal-a-shahkar", 50.0, 150.0)
    name = {r: f"shahkar@portal-{r}" if qualified else "shahkar" for r in "ab"}
    if resilient:
        b.breaker(name["a"], 56.0, "closed->open")
        for t in range(66, 160, 10):
            b.breaker(name["a"], t, "open->half_open")
            b.upstream(name["a"], t + 2.0, "timeout" if t < 150 else "ok", f"probe-{t}")
            b.breaker(name["a"], t + 2.1, "half_open->open" if t < 150 else "half_open->closed")
    for n in range(200):
        t = float(n)
        b.upstream(name["b"], t + 0.3, "ok", f"b-{n}")
        slow = 50 <= t < 150
        if resilient and 56 <= t < 159:
            continue  # a's breaker is open (or probing): a makes no call of its own
        if resilient and slow:  # before it opens: 2 s timeouts
            b.upstream(name["a"], t + 2.0, "timeout", f"a-{n}")
        elif slow:  # baseline: no timeout of its own, a 4 s wait per call
            b.upstream(name["a"], t + 4.0, "timeout", f"a-{n}")
        else:
            b.upstream(name["a"], t + 0.3, "ok", f"a-{n}")
    return b.history()


def test_each_replicas_breaker_is_judged_on_its_own_link() -> None:
    opens = build_checker("breaker_opens_in_time", {"open_within_s": "15s"})
    calls = build_checker("open_breaker_calls", {"max_probes": 1})
    good, bad = two_replicas(True), two_replicas(False)
    assert opens(good).valid is True and calls(good).valid is True, calls(good).detail
    assert opens(bad).valid is False and "shahkar@portal-a" in opens(bad).detail
    assert calls(bad).valid is False and "shahkar@portal-a" in calls(bad).detail


def test_unqualified_attempts_under_a_one_link_fault_are_unknown() -> None:
    """Without "@replica" the healthy replica's calls cannot be told from the failing one's."""
    calls = build_checker("open_breaker_calls", {"max_probes": 1})
    for resilient in (True, False):
        verdict = calls(two_replicas(resilient, qualified=False))
        assert verdict.valid == "unknown"
        assert "do not name their replica" in verdict.detail
        assert "portal-a-shahkar" in verdict.detail


def test_unqualified_attempts_are_judged_when_the_upstream_itself_fails() -> None:
    b = Builder(3)
    b.fault("upstream_outage", "shahkar", 10.0, 100.0)
    for n in range(100):
        b.upstream("shahkar", float(n), "fail" if 10 <= n <= 100 else "ok", f"c{n}")
    assert build_checker("open_breaker_calls", {})(b.history()).valid is False


def test_the_report_counts_calls_and_openings_per_upstream_name() -> None:
    meta = RunMeta(scenario="s", mode="sim", policies="resilient", seed=1, duration_s=200,
                   wall_s=0)
    report = build_report([two_replicas(True)], meta, [])
    assert list(report.upstream_calls) == ["shahkar"]
    assert report.upstream_calls["shahkar"].breaker_opens == 10


def test_fault_targets_name_upstreams_by_suffix() -> None:
    assert targets("portal-a-shahkar", "shahkar") and targets("shahkar", "shahkar")
    assert targets("proxy:sms", "sms") and not targets("portal-a-shahkar", "kar")
    assert not targets("portal-a-shahkar-2", "shahkar")
