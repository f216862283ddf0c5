"""The service checkers at their edges: availability exactly at its target, the client's own
deferrals counted neither way, latency exactly at its SLO, a deploy's allowance of failures,
and a wrong password accepted under attack.
"""

from __future__ import annotations

from scenario.checkers.index import Call
from scenario.checkers.service import (
    AdmittedLatencyParams,
    AvailabilityParams,
    DeployParams,
    LatencyParams,
    admitted_p99,
    availability,
    counted,
    deploy_no_failures,
    failure_mix,
    latency_verdict,
    login_p99,
    login_under_attack,
)
from scenario.history import WRONG_PASSWORD, History
from scenario.verdict import Verdict
from tests.scenario.builder import Builder

Row = tuple[float, str | None, str]  # start, outcome, error


def calls(*rows: Row, f: str = "read_history", fault: tuple[str, float, float] | None = None,
          latency_s: float = 0.1) -> History:
    """Client calls (start, outcome, error), one process each, and an optional fault."""
    b = Builder(1)
    if fault is not None:
        b.fault(fault[0], "portal-a", fault[1], fault[2])
    for n, (start, outcome, error) in enumerate(rows):
        b.call(f"citizen-{n}", f, start, latency_s, outcome, error=error)  # type: ignore[arg-type]
    return b.history()


def call(outcome: str | None, error: str = "") -> Call:
    return Call("citizen-1", "login", "", -1, 0.0, None if outcome is None else 1.0, outcome,
                "", error, "")


def test_what_counts_for_availability() -> None:
    assert counted(call("ok")) and counted(call("fail", "shed")) and counted(call("info"))
    assert counted(call("info", "deferred"))  # only a failed send is the client's decision
    assert not counted(call("fail", "deferred"))
    assert not counted(call(None))


def test_failures_are_mixed_most_frequent_first_then_by_name() -> None:
    mixed = [call("fail", "timeout"), call("fail", "shed"), call("info", "timeout"),
             call("fail", "refused"), call("info"), call("ok"), call("fail", "deferred"),
             call(None)]
    assert failure_mix(mixed) == "timeout 2, info 1, refused 1, shed 1"
    assert failure_mix([call("ok")]) == ""


def test_availability_exactly_at_its_target_passes() -> None:
    check = availability(AvailabilityParams(target=0.75))
    h = calls((0.0, "ok", ""), (1.0, "ok", ""), (2.0, "ok", ""), (3.0, "fail", "shed"),
              (4.0, "fail", "deferred"), (5.0, None, ""))
    assert check(h) == Verdict(
        "availability", True,
        "availability 0.7500 (3 ok of 4 completed; failed: shed 1) >= target 0.75")
    h = calls((0.0, "ok", ""), (1.0, "ok", ""), (2.0, "info", "timeout"),
              (3.0, "fail", "shed"))
    assert check(h) == Verdict(
        "availability", False,
        "availability 0.5000 (2 ok of 4 completed; failed: shed 1, timeout 1) < target 0.75")


def test_availability_all_ok_lists_no_failures() -> None:
    assert availability(AvailabilityParams())(calls((0.0, "ok", ""))) == Verdict(
        "availability", True, "availability 1.0000 (1 ok of 1 completed) >= target 0.99")


def test_availability_during_faults_judges_only_calls_invoked_in_them() -> None:
    h = calls((5.0, "fail", "refused"), (10.0, "ok", ""), (20.0, "ok", ""),
              (20.5, "fail", "refused"), fault=("deploy", 10.0, 20.0))
    assert availability(AvailabilityParams())(h).valid is False
    assert availability(AvailabilityParams(during_faults=True))(h).detail == \
        "availability 1.0000 (2 ok of 2 completed) >= target 0.99"
    assert availability(AvailabilityParams(during_faults=True, fault_kinds=("latency",)))(
        h) == Verdict("availability", "unknown", "no completed client operation to judge")
    assert availability(AvailabilityParams())(calls((0.0, "fail", "deferred"))).valid == \
        "unknown"


def test_a_deploy_may_cost_up_to_its_allowance_of_failures() -> None:
    h = calls((5.0, "fail", "refused"), (10.0, "ok", ""), (12.0, "fail", "http_503"),
              (13.0, "fail", "deferred"), (20.0, "info", "timeout"),
              fault=("rolling_deploy", 10.0, 20.0))
    assert deploy_no_failures(DeployParams())(h) == Verdict(
        "deploy_no_failures", False,
        "2 of 3 operations during 1 deploys failed (http_503 1, timeout 1) > 0")
    assert deploy_no_failures(DeployParams(max_failed=2))(h) == Verdict(
        "deploy_no_failures", True, "2 of 3 operations during 1 deploys failed <= 2")


def test_deploy_checks_are_unknown_without_a_deploy_or_operations_in_it() -> None:
    for kind in ("deployment_window", "deploy", "rolling_deploy"):
        h = calls((12.0, "fail", "refused"), fault=(kind, 10.0, 20.0))
        assert deploy_no_failures(DeployParams())(h).valid is False, kind
    h = calls((12.0, "fail", "refused"), fault=("latency", 10.0, 20.0))
    assert deploy_no_failures(DeployParams())(h) == Verdict(
        "deploy_no_failures", "unknown",
        "no fault of kind ['deployment_window', 'deploy', 'rolling_deploy']")
    h = calls((30.0, "fail", "refused"), (12.0, None, ""), fault=("deploy", 10.0, 20.0))
    assert deploy_no_failures(DeployParams())(h) == Verdict(
        "deploy_no_failures", "unknown", "no completed client operation during a deploy")


def test_a_latency_exactly_at_its_slo_passes() -> None:
    logins = calls((0.0, "ok", ""), (1.0, "fail", "timeout"), f="login", latency_s=0.25)
    assert login_p99(LatencyParams(slo_ms=250))(logins) == Verdict(
        "login_p99", True, "p99 of 2 logins 250.0 ms <= SLO 250 ms")
    assert login_p99(LatencyParams(slo_ms=249.9))(logins) == Verdict(
        "login_p99", False, "p99 of 2 logins 250.0 ms > SLO 249.9 ms")


def test_the_latency_quantile_is_nearest_rank() -> None:
    b = Builder(1)
    for n in range(10):
        b.call(f"citizen-{n}", "login", 0.0, (n + 1) / 10.0)
    h = b.history()
    assert login_p99(LatencyParams(quantile=0.5, slo_ms=500))(h).detail == \
        "p50 of 10 logins 500.0 ms <= SLO 500 ms"
    assert login_p99(LatencyParams())(h).detail == "p99 of 10 logins 1000.0 ms <= SLO 3000 ms"
    assert latency_verdict("x", [], 0.99, 1.0, "things") == Verdict("x", "unknown",
                                                                     "no completed things")


def test_login_latency_leaves_out_wrong_passwords_and_other_operations() -> None:
    b = Builder(1)
    b.call("citizen-1", "login", 0.0, 0.1)
    b.call("citizen-2", "login", 0.0, 9.0, "fail", invoke_value=WRONG_PASSWORD)
    b.call("citizen-3", "read_history", 0.0, 9.0)
    b.call("citizen-4", "login", 0.0, 9.0, None)
    assert login_p99(LatencyParams(slo_ms=100))(b.history()) == Verdict(
        "login_p99", True, "p99 of 1 logins 100.0 ms <= SLO 100 ms")


def test_admitted_latency_leaves_out_rejected_and_deferred_requests() -> None:
    b = Builder(1)
    b.call("citizen-1", "read_history", 0.0, 0.2)
    b.call("citizen-2", "read_history", 0.0, 0.4, "fail", error="timeout")
    for n, error in enumerate(["shed", "rate_limited", "deferred"]):
        b.call(f"citizen-{n + 3}", "read_history", 0.0, 9.0, "fail", error=error)
    h = b.history()
    assert admitted_p99(AdmittedLatencyParams(slo_ms=400))(h) == Verdict(
        "admitted_p99", True, "p99 of 2 admitted requests 400.0 ms <= SLO 400 ms")
    assert admitted_p99(AdmittedLatencyParams())(h).detail.endswith("<= SLO 2000 ms")
    assert admitted_p99(AdmittedLatencyParams(rejected_errors=("shed",)))(h).valid is False


def attack(accepted: bool, legit_latency_s: float = 0.1, wrong: bool = True) -> History:
    b = Builder(1)
    b.call("citizen-1", "login", 0.0, legit_latency_s)
    if wrong:
        b.call("attacker-1", "login", 0.0, 0.05, "ok" if accepted else "fail",
               error="" if accepted else "unauthorized")
        b.call("citizen-2", "login", 0.0, 0.05, "fail", error="unauthorized",
               invoke_value=WRONG_PASSWORD)
    return b.history()


def test_a_wrong_password_accepted_fails_the_attack_check() -> None:
    check = login_under_attack(LatencyParams())
    assert check(attack(accepted=True)) == Verdict(
        "login_under_attack", False, "1 of 2 wrong-password logins succeeded (from "
                                     "['attacker-1']); p99 of 1 logins 100.0 ms <= SLO 3000 ms")


def test_slow_legitimate_logins_under_attack_fail_with_the_slo_verdict() -> None:
    check = login_under_attack(LatencyParams(slo_ms=1000))
    assert check(attack(accepted=False, legit_latency_s=2.0)) == Verdict(
        "login_under_attack", False, "p99 of 1 logins 2000.0 ms > SLO 1000 ms")


def test_logins_under_attack_pass_when_refused_and_fast() -> None:
    check = login_under_attack(LatencyParams())
    assert check(attack(accepted=False)) == Verdict(
        "login_under_attack", True, "none of 2 wrong-password logins succeeded; p99 of 1 "
                                    "logins 100.0 ms <= SLO 3000 ms")
    assert check(attack(accepted=False, wrong=False)) == Verdict(
        "login_under_attack", "unknown", "no wrong-password login attempt; p99 of 1 logins "
                                         "100.0 ms <= SLO 3000 ms")


def test_service_checkers_name_themselves_by_default() -> None:
    h = History()
    assert availability(AvailabilityParams())(h).name == "availability"
    assert deploy_no_failures(DeployParams())(h).name == "deploy_no_failures"
    assert login_p99(LatencyParams())(h).name == "login_p99"
    assert admitted_p99(AdmittedLatencyParams())(h).name == "admitted_p99"
    assert login_under_attack(LatencyParams())(attack(False)).name == "login_under_attack"


def test_accepted_attackers_are_named_three_at_most() -> None:
    b = Builder(1)
    b.call("citizen-1", "login", 0.0, 0.1)
    for n in range(4):
        b.call(f"attacker-{n}", "login", 0.0, 0.05)
    assert login_under_attack(LatencyParams())(b.history()).detail == (
        "4 of 4 wrong-password logins succeeded (from ['attacker-0', 'attacker-1', "
        "'attacker-2']); p99 of 1 logins 100.0 ms <= SLO 3000 ms")
