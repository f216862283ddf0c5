"""Checkers of service as users see it: availability, failures during a deploy, latency
SLOs (logins, admitted requests) and logins under credential stuffing.

Availability, exactly: ok / completed legitimate client operations. Completed means an ok,
fail or info completion (an operation the run ended before completing is left out). Every
fail and every info counts as a failure — "shed", "rate_limited", "breaker_open", "timeout",
"refused", "http_*", "unauthorized" alike — except a fail with error "deferred", the client's
own decision not to send (the pharmacy's paper quota), which counts neither way. Ok includes
stale reads and 202-accepted writes. Attackers' operations never count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from scenario.checkers.index import Call, index, is_wrong_password
from scenario.checkers.params import Count, Params, Positive, Quantile, Share
from scenario.checkers.windows import during, quantile_of, select_faults
from scenario.history import History
from scenario.verdict import Checker, Verdict

DEFERRED = "deferred"


def counted(call: Call) -> bool:
    """True when a call counts for availability (completed, and not deferred by the client)."""
    return call.outcome is not None and not (call.outcome == "fail" and call.error == DEFERRED)


def failure_mix(calls: Sequence[Call]) -> str:
    """The failures of `calls` by error, most frequent first ("timeout 12, shed 3")."""
    errors = Counter(c.error or c.outcome or "" for c in calls if counted(c) and not c.ok)
    return ", ".join(f"{e} {n}" for e, n in sorted(errors.items(), key=lambda x: (-x[1], x[0])))


class AvailabilityParams(Params):
    """The target share of ok operations; optionally only those invoked during faults."""

    target: Share = 0.99
    during_faults: bool = False
    fault_kinds: tuple[str, ...] = ()


def availability(params: AvailabilityParams, name: str = "availability") -> Checker:
    """ok / completed client operations >= target (the module docstring defines both)."""

    def check(history: History) -> Verdict:
        ix = index(history)
        calls = [c for c in ix.calls if counted(c)]
        if params.during_faults:
            in_fault = during(select_faults(ix, params.fault_kinds))
            calls = [c for c in calls if in_fault(c.start_s)]
        if not calls:
            return Verdict(name, "unknown", "no completed client operation to judge")
        ok = sum(c.ok for c in calls)
        share = ok / len(calls)
        text = f"availability {share:.4f} ({ok} ok of {len(calls)} completed"
        text += f"; failed: {failure_mix(calls)})" if ok < len(calls) else ")"
        if share < params.target:
            return Verdict(name, False, f"{text} < target {params.target}")
        return Verdict(name, True, f"{text} >= target {params.target}")

    return check


class DeployParams(Params):
    """Which faults are deploys, and how many failed user operations they may cost."""

    fault_kinds: tuple[str, ...] = ("deployment_window", "deploy", "rolling_deploy")
    max_failed: Count = 0


def deploy_no_failures(params: DeployParams, name: str = "deploy_no_failures") -> Checker:
    """User operations invoked during a deploy fail at most `max_failed` times."""

    def check(history: History) -> Verdict:
        ix = index(history)
        spans = select_faults(ix, params.fault_kinds)
        if not spans:
            return Verdict(name, "unknown", f"no fault of kind {list(params.fault_kinds)}")
        in_deploy = during(spans)
        calls = [c for c in ix.calls if counted(c) and in_deploy(c.start_s)]
        if not calls:
            return Verdict(name, "unknown", "no completed client operation during a deploy")
        failed = [c for c in calls if not c.ok]
        text = f"{len(failed)} of {len(calls)} operations during {len(spans)} deploys failed"
        if len(failed) > params.max_failed:
            return Verdict(name, False, f"{text} ({failure_mix(calls)}) > {params.max_failed}")
        return Verdict(name, True, f"{text} <= {params.max_failed}")

    return check


def latency_verdict(name: str, calls: Sequence[Call], q: float, slo_ms: float,
                    what: str) -> Verdict:
    """Whether the q-quantile latency of the completed `calls` is within `slo_ms`."""
    latencies = [c.latency_s for c in calls if c.latency_s is not None]
    if not latencies:
        return Verdict(name, "unknown", f"no completed {what}")
    value_ms = quantile_of(latencies, q) * 1000.0
    text = f"p{q * 100:g} of {len(latencies)} {what} {value_ms:.1f} ms"
    if value_ms > slo_ms:
        return Verdict(name, False, f"{text} > SLO {slo_ms:g} ms")
    return Verdict(name, True, f"{text} <= SLO {slo_ms:g} ms")


class LatencyParams(Params):
    """A latency SLO: the quantile and its bound in milliseconds."""

    slo_ms: Positive = 3000.0
    quantile: Quantile = 0.99


def login_p99(params: LatencyParams, name: str = "login_p99") -> Checker:
    """Legitimate logins (any outcome, at the latency the user saw) within the SLO."""

    def check(history: History) -> Verdict:
        calls = [c for c in index(history).calls if c.f == "login" and not is_wrong_password(c)]
        return latency_verdict(name, calls, params.quantile, params.slo_ms, "logins")

    return check


class AdmittedLatencyParams(LatencyParams):
    """A latency SLO over admitted requests; `rejected_errors` mark the not admitted."""

    slo_ms: Positive = 2000.0
    rejected_errors: tuple[str, ...] = ("shed", "rate_limited")


def admitted_p99(params: AdmittedLatencyParams, name: str = "admitted_p99") -> Checker:
    """Requests admitted (not rejected by admission control) complete within the SLO."""
    rejected = frozenset(params.rejected_errors)

    def check(history: History) -> Verdict:
        calls = [c for c in index(history).calls if counted(c) and c.error not in rejected]
        return latency_verdict(name, calls, params.quantile, params.slo_ms,
                               "admitted requests")

    return check


def login_under_attack(params: LatencyParams, name: str = "login_under_attack") -> Checker:
    """Under credential stuffing, legitimate logins keep their SLO and no wrong-password
    login succeeds.
    """
    slo = login_p99(params, name)

    def check(history: History) -> Verdict:
        ix = index(history)
        wrong = [c for c in (*ix.attacks, *ix.calls) if is_wrong_password(c)]
        accepted = [c for c in wrong if c.ok]
        legit = slo(history)
        if accepted:
            who = sorted({c.process for c in accepted})[:3]
            return Verdict(name, False, f"{len(accepted)} of {len(wrong)} wrong-password logins "
                                        f"succeeded (from {who}); {legit.detail}")
        if legit.valid is not True:
            return legit
        if not wrong:
            return Verdict(name, "unknown", f"no wrong-password login attempt; {legit.detail}")
        return Verdict(name, True, f"none of {len(wrong)} wrong-password logins succeeded; "
                                   f"{legit.detail}")

    return check
