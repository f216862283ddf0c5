"""The upstream checkers at their edges: a breaker open exactly at its deadline is in time, a
fault exactly as long as the window is judged, a call exactly at the grace's end is still in
flight, exactly the allowed probes pass, and exactly the amplification bound passes.
"""

from __future__ import annotations

from scenario.checkers.breaker import (
    AmplificationParams,
    BreakerWindowParams,
    OpenCallsParams,
    amplification,
    breaker_opens_in_time,
    open_breaker_calls,
    upstream_amplification,
    upstream_names,
)
from scenario.checkers.index import UpstreamAttempt, build_index
from scenario.history import History
from scenario.verdict import Verdict
from tests.scenario.builder import Builder

Opens = BreakerWindowParams


def outage(b: Builder, start: float, end: float, *, upstream: str = "shahkar",
           kind: str = "upstream_outage", every_s: float = 1.0, key: str = "c") -> None:
    """A fault on `upstream` and one attempt per `every_s` during it."""
    b.fault(kind, upstream, start, end)
    t = start
    while t <= end:
        b.upstream(upstream, t, "timeout", f"{key}-{t:g}")
        t += every_s


# --- breaker_opens_in_time -----------------------------------------------------------------

def test_a_breaker_open_exactly_at_its_deadline_is_in_time() -> None:
    b = Builder(1)
    outage(b, 10.0, 60.0)
    b.breaker("shahkar", 40.0, "closed->open")
    assert breaker_opens_in_time(Opens())(b.history()) == Verdict(
        "breaker_opens_in_time", True, "breaker opened within 30s in all 1 upstream faults")
    b = Builder(1)
    outage(b, 10.0, 60.0)
    b.breaker("shahkar", 40.5, "closed->open")
    assert breaker_opens_in_time(Opens())(b.history()) == Verdict(
        "breaker_opens_in_time", False,
        "1 of 1 upstream faults: breaker shahkar (upstream_outage at 10s) not open by 40s")


def test_a_breaker_already_open_when_the_fault_starts_is_in_time() -> None:
    b = Builder(1)
    b.breaker("shahkar", 5.0, "closed->open")
    outage(b, 10.0, 60.0)
    assert breaker_opens_in_time(Opens())(b.history()).valid is True
    b.breaker("shahkar", 8.0, "open->half_open")
    assert breaker_opens_in_time(Opens())(b.history()).valid is False
    b = Builder(1)
    b.breaker("shahkar", 10.0, "closed->open")  # at the very start
    outage(b, 10.0, 60.0)
    assert breaker_opens_in_time(Opens())(b.history()).valid is True


def test_a_half_open_breaker_is_not_open() -> None:
    b = Builder(1)
    outage(b, 10.0, 60.0)
    b.breaker("shahkar", 20.0, "closed->half-open")
    assert breaker_opens_in_time(Opens())(b.history()).valid is False


def test_a_fault_exactly_as_long_as_the_window_is_judged_a_shorter_one_is_not() -> None:
    b = Builder(1)
    outage(b, 10.0, 40.0)
    assert breaker_opens_in_time(Opens())(b.history()).valid is False
    b = Builder(1)
    outage(b, 10.0, 39.5)
    assert breaker_opens_in_time(Opens())(b.history()) == Verdict(
        "breaker_opens_in_time", "unknown", "no upstream fault long enough to judge, with calls")


def test_a_fault_without_calls_in_its_window_is_not_judged() -> None:
    b = Builder(1)
    b.fault("upstream_outage", "shahkar", 10.0, 100.0)
    for t in (1.0, 2.0, 9.9, 40.1, 50.0):  # before the fault, and after the window
        b.upstream("shahkar", t, "timeout", f"c{t}")
    assert breaker_opens_in_time(Opens())(b.history()).valid == "unknown"
    for t in (10.0, 40.0):  # a call at either end of the window counts
        b2 = Builder(1)
        b2.fault("upstream_outage", "shahkar", 10.0, 100.0)
        b2.upstream("shahkar", 1.0, "ok", "c0")
        b2.upstream("shahkar", t, "timeout", "c1")
        assert breaker_opens_in_time(Opens())(b2.history()).valid is False, t


def test_every_fault_long_enough_is_judged_after_one_that_is_not() -> None:
    b = Builder(1)
    outage(b, 10.0, 20.0)  # too short
    outage(b, 100.0, 200.0, key="d")
    outage(b, 300.0, 400.0, key="e")
    b.breaker("shahkar", 110.0, "closed->open")
    b.breaker("shahkar", 250.0, "open->closed")
    assert breaker_opens_in_time(Opens())(b.history()) == Verdict(
        "breaker_opens_in_time", False,
        "1 of 2 upstream faults: breaker shahkar (upstream_outage at 300s) not open by 330s")
    b.breaker("shahkar", 301.0, "closed->open")
    assert breaker_opens_in_time(Opens())(b.history()).detail == \
        "breaker opened within 30s in all 2 upstream faults"


def test_late_breakers_are_listed_three_then_cut() -> None:
    b = Builder(1)
    for n in range(4):
        outage(b, 100.0 * n, 100.0 * n + 50, key=f"k{n}")
    window = Opens.model_validate({"open_within_s": "20s"})
    assert breaker_opens_in_time(window)(b.history()).detail == (
        "4 of 4 upstream faults: breaker shahkar (upstream_outage at 0s) not open by 20s; "
        "shahkar (upstream_outage at 100s) not open by 120s; "
        "shahkar (upstream_outage at 200s) not open by 220s")


def test_only_the_chosen_upstream_and_fault_kinds_are_judged() -> None:
    b = Builder(1)
    outage(b, 10.0, 60.0, upstream="shahkar")
    outage(b, 10.0, 60.0, upstream="registry", kind="latency")
    b.breaker("shahkar", 12.0, "closed->open")
    h = b.history()
    assert breaker_opens_in_time(Opens())(h).detail.startswith("1 of 2 upstream faults: "
                                                               "breaker registry (latency")
    assert breaker_opens_in_time(Opens(upstream="shahkar"))(h).valid is True
    assert breaker_opens_in_time(Opens(fault_kinds=("upstream_outage",)))(h).valid is True
    assert breaker_opens_in_time(Opens(fault_kinds=("slow",)))(h).valid == "unknown"
    assert breaker_opens_in_time(Opens())(History()).name == "breaker_opens_in_time"


# --- open_breaker_calls --------------------------------------------------------------------

def cycle(b: Builder, opened: float, half_open: float, probes: int, name: str = "shahkar",
          closed: bool = False) -> None:
    """A breaker that opens, then half-opens and makes `probes` attempts."""
    b.breaker(name, opened, "closed->open")
    b.breaker(name, half_open, "open->half_open")
    for n in range(probes):
        b.upstream(name, half_open + 0.1 * (n + 1), "timeout", f"p{half_open:g}-{n}")
    b.breaker(name, half_open + 1.0, "half_open->closed" if closed else "half_open->open")


def test_exactly_the_allowed_probes_per_half_open_pass() -> None:
    b = Builder(1)
    cycle(b, 0.0, 10.0, 3)
    cycle(b, 20.0, 30.0, 3)
    assert open_breaker_calls(OpenCallsParams())(b.history()) == Verdict(
        "open_breaker_calls", True, "6 calls reached open upstreams <= 6 half-open probes")
    b = Builder(1)
    cycle(b, 0.0, 10.0, 4)
    cycle(b, 20.0, 30.0, 2)
    # the allowance is per entry into half-open, pooled over the breaker's run
    assert open_breaker_calls(OpenCallsParams())(b.history()).detail == \
        "6 calls reached open upstreams <= 6 half-open probes"


def test_probes_beyond_the_allowance_fail() -> None:
    b = Builder(1)
    cycle(b, 0.0, 10.0, 4)
    assert open_breaker_calls(OpenCallsParams())(b.history()) == Verdict(
        "open_breaker_calls", False,
        "calls reached an open or failing upstream: shahkar: 4 calls > 3 probes")
    assert open_breaker_calls(OpenCallsParams(max_probes=4))(b.history()).valid is True


def test_a_call_at_the_end_of_the_grace_is_in_flight_and_later_reaches_an_open_breaker() -> None:
    b = Builder(1)
    b.breaker("shahkar", 10.0, "closed->open")
    b.upstream("shahkar", 15.0, "timeout", "in-flight")
    assert open_breaker_calls(OpenCallsParams(max_probes=0))(b.history()) == Verdict(
        "open_breaker_calls", True, "0 calls reached open upstreams <= 0 half-open probes")
    b.upstream("shahkar", 15.5, "timeout", "late")
    assert open_breaker_calls(OpenCallsParams(max_probes=0))(b.history()).detail == \
        "calls reached an open or failing upstream: shahkar: 1 calls > 0 probes"
    assert open_breaker_calls(OpenCallsParams(max_probes=0, grace_s=6))(b.history()).valid \
        is True


def test_calls_to_a_closed_breaker_before_a_fault_or_any_event_are_fine() -> None:
    b = Builder(1)
    b.upstream("shahkar", 1.0, "ok", "a")
    b.breaker("shahkar", 2.0, "closed->open")
    b.breaker("shahkar", 3.0, "open->closed")
    b.upstream("shahkar", 4.0, "ok", "b")
    assert open_breaker_calls(OpenCallsParams(max_probes=0))(b.history()).valid is True


def test_without_a_breaker_calls_after_the_window_of_a_failing_upstream_count() -> None:
    b = Builder(1)
    b.fault("upstream_outage", "shahkar", 10.0, 100.0)
    for t in (5.0, 10.0, 39.9, 40.0, 70.0, 100.0, 100.5):
        b.upstream("shahkar", t, "timeout", f"c{t}")
    verdict = open_breaker_calls(OpenCallsParams(max_probes=0))(b.history())
    assert verdict.detail == "calls reached an open or failing upstream: shahkar: 3 calls > " \
                             "0 probes"
    assert open_breaker_calls(OpenCallsParams(open_within_s=61))(b.history()).detail == \
        "calls reached an open or failing upstream: shahkar: 1 calls > 0 probes"
    assert open_breaker_calls(OpenCallsParams(fault_kinds=("latency",)))(b.history()) == \
        Verdict("open_breaker_calls", "unknown", "no upstream fault and no breaker event")


def test_one_breaker_over_its_probes_fails_even_when_another_cannot_be_judged() -> None:
    b = Builder(1)
    cycle(b, 0.0, 10.0, 5, name="registry")
    b.fault("upstream_outage", "portal-a-shahkar", 0.0, 50.0)
    b.upstream("shahkar", 1.0, "timeout", "x")
    h = b.history()
    assert open_breaker_calls(OpenCallsParams())(h) == Verdict(
        "open_breaker_calls", False,
        "calls reached an open or failing upstream: registry: 5 calls > 3 probes")
    assert open_breaker_calls(OpenCallsParams(upstream="shahkar"))(h) == Verdict(
        "open_breaker_calls", "unknown",
        "attempts to shahkar do not name their replica ('upstream:shahkar@<replica>') while "
        "faults hit one link (portal-a-shahkar): other links' calls cannot be told apart")
    assert open_breaker_calls(OpenCallsParams(upstream="registry", max_probes=5))(h).valid \
        is True
    assert open_breaker_calls(OpenCallsParams())(History()).name == "open_breaker_calls"


def test_bad_breakers_are_listed_three_then_cut() -> None:
    b = Builder(1)
    for name in ("a", "b", "c", "d"):
        cycle(b, 0.0, 10.0, 2, name=name)
    assert open_breaker_calls(OpenCallsParams(max_probes=1))(b.history()).detail == (
        "calls reached an open or failing upstream: a: 2 calls > 1 probes; b: 2 calls > 1 "
        "probes; c: 2 calls > 1 probes")


def test_a_replicas_breaker_is_judged_on_faults_of_its_own_link() -> None:
    b = Builder(1)
    b.fault("upstream_outage", "portal-b-shahkar", 0.0, 100.0)
    for t in range(0, 100, 10):
        b.upstream("shahkar@portal-a", float(t), "ok", f"a{t}")
        b.upstream("shahkar@portal-b", float(t), "timeout", f"b{t}")
    h = b.history()
    assert open_breaker_calls(OpenCallsParams())(h).detail == \
        "calls reached an open or failing upstream: shahkar@portal-b: 7 calls > 0 probes"
    assert breaker_opens_in_time(Opens())(h).detail == (
        "1 of 1 upstream faults: breaker shahkar@portal-b (upstream_outage at 0s) not open "
        "by 30s")


# --- upstream_amplification ----------------------------------------------------------------

def attempts(b: Builder, upstream: str, calls: int, retried: int) -> None:
    for n in range(calls):
        b.upstream(upstream, float(n), "ok", f"{upstream}-{n}")
    for n in range(retried):
        b.upstream(upstream, n + 0.5, "ok", f"{upstream}-{n}")


def test_amplification_exactly_at_its_bound_passes() -> None:
    b = Builder(1)
    attempts(b, "shahkar", 10, 1)
    assert upstream_amplification(AmplificationParams())(b.history()) == Verdict(
        "upstream_amplification", True, "amplification shahkar 1.100x <= 1.1x")
    attempts(b, "shahkar", 0, 1)
    assert upstream_amplification(AmplificationParams())(b.history()) == Verdict(
        "upstream_amplification", False, "amplification shahkar 1.200x; bound 1.1x")


def test_amplification_is_judged_per_upstream_or_for_the_one_chosen() -> None:
    b = Builder(1)
    attempts(b, "shahkar", 2, 2)
    attempts(b, "registry", 4, 0)
    b.short_circuit("sms", 3.0, "s1", "breaker_open")
    h = b.history()
    assert upstream_names(build_index(h), None) == ["registry", "shahkar", "sms"]
    assert upstream_amplification(AmplificationParams())(h).detail == \
        "amplification registry 1.000x, shahkar 2.000x, sms 0.000x; bound 1.1x"
    assert upstream_amplification(AmplificationParams(upstream="registry"))(h).detail == \
        "amplification registry 1.000x <= 1.1x"
    assert upstream_amplification(AmplificationParams(upstream="payment"))(h) == Verdict(
        "upstream_amplification", "unknown", "no upstream attempt in the history")
    assert upstream_amplification(AmplificationParams(max_amplification=2))(h).valid is True


def test_attempts_without_a_call_id_leave_amplification_unknown() -> None:
    b = Builder(1)
    attempts(b, "registry", 2, 0)
    b.upstream("shahkar", 1.0, "ok", "")
    b.breaker("payment@portal-a", 1.0, "closed->open")  # a breaker but no attempt: skipped
    assert upstream_amplification(AmplificationParams())(b.history()) == Verdict(
        "upstream_amplification", "unknown", "attempts to shahkar carry no logical call id "
                                             "in key")


def test_calls_and_probes_add_up_over_every_breaker() -> None:
    b = Builder(1)
    cycle(b, 0.0, 10.0, 2, name="registry")
    cycle(b, 0.0, 10.0, 1, name="shahkar")
    assert open_breaker_calls(OpenCallsParams())(b.history()).detail == \
        "3 calls reached open upstreams <= 6 half-open probes"


def test_a_breaker_that_cannot_be_judged_does_not_hide_the_next() -> None:
    b = Builder(1)
    b.fault("upstream_outage", "portal-a-payment", 0.0, 50.0)
    b.upstream("payment", 1.0, "timeout", "x")  # sorts first, and is vague
    cycle(b, 0.0, 10.0, 5, name="shahkar")
    assert open_breaker_calls(OpenCallsParams())(b.history()).detail == \
        "calls reached an open or failing upstream: shahkar: 5 calls > 3 probes"


def test_vague_breakers_name_two_links_each_and_two_breakers_at_most() -> None:
    b = Builder(1)
    for upstream in ("payment", "registry", "shahkar"):
        for replica in "abc":
            b.fault("upstream_outage", f"portal-{replica}-{upstream}", 0.0, 50.0)
        b.upstream(upstream, 1.0, "timeout", "x")

    def vague(u: str) -> str:
        return (f"attempts to {u} do not name their replica ('upstream:{u}@<replica>') while "
                f"faults hit one link (portal-a-{u}, portal-b-{u}): other links' calls cannot "
                "be told apart")

    assert open_breaker_calls(OpenCallsParams())(b.history()) == Verdict(
        "open_breaker_calls", "unknown", f"{vague('payment')}; {vague('registry')}")


def test_a_breaker_with_events_and_no_attempts_is_judged() -> None:
    b = Builder(1)
    b.fault("upstream_outage", "shahkar", 0.0, 100.0)
    b.breaker("shahkar", 5.0, "closed->open")
    b.breaker("shahkar", 15.0, "open->half_open")
    h = b.history()
    assert open_breaker_calls(OpenCallsParams())(h) == Verdict(
        "open_breaker_calls", True, "0 calls reached open upstreams <= 3 half-open probes")
    assert breaker_opens_in_time(Opens())(h).valid == "unknown"  # nothing to protect


def test_amplification_without_short_circuits_is_attempts_per_call_id() -> None:
    tries = [UpstreamAttempt(1.0, "timeout", "c1"), UpstreamAttempt(2.0, "ok", "c1"),
             UpstreamAttempt(3.0, "ok", "c2")]
    assert amplification(tries) == 1.5
    assert amplification(tries, 1) == 1.0
