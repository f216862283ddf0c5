"""Checkers of the portal's calls to its upstreams: the breaker opens in time, calls reaching
an open upstream stay within the half-open probes, and retries do not amplify the load.

Breaker state over time comes from the policy events ("closed->open", "open->half_open",
"half_open->closed"); a breaker without events is closed. An upstream is "failing" while a
fault targets it (`targets`): the fault's target equals its name or ends in ":name".
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from scenario.checkers.index import Attempt, Index, index
from scenario.checkers.params import Params, Seconds
from scenario.checkers.windows import during, select_faults
from scenario.history import History
from scenario.verdict import Checker, Verdict

OPEN = "open"
HALF_OPEN = "half_open"


def upstream_names(ix: Index, only: str | None) -> list[str]:
    """The upstreams to judge: `only`, or every one with attempts or breaker events."""
    return [only] if only else sorted(set(ix.upstream) | set(ix.breaker))


def _calls_between(times: list[float], start_s: float, end_s: float) -> int:
    return bisect_right(times, end_s) - bisect_left(times, start_s)


class BreakerWindowParams(Params):
    """Which upstream (all when unset), the window to open in, the fault kinds that count."""

    upstream: str | None = None
    open_within_s: Seconds = 30.0
    fault_kinds: tuple[str, ...] = ()


def breaker_opens_in_time(params: BreakerWindowParams,
                          name: str = "breaker_opens_in_time") -> Checker:
    """For each fault on an upstream that lasts at least the window and sees calls in it, the
    upstream's breaker is open by `open_within_s` after the fault starts.
    """

    def check(history: History) -> Verdict:
        ix = index(history)
        judged, late = 0, []
        for u in upstream_names(ix, params.upstream):
            attempt_times = [a.time_s for a in ix.upstream.get(u, [])]
            events = ix.breaker.get(u, [])
            times = [t for t, _ in events]
            for span in select_faults(ix, params.fault_kinds, u):
                deadline = span.start_s + params.open_within_s
                seen = _calls_between(attempt_times, span.start_s, deadline)
                if span.end_s < deadline or not seen:
                    continue  # too short to demand an open breaker, or nothing to protect
                judged += 1
                i = bisect_right(times, span.start_s) - 1
                opened = (i >= 0 and events[i][1] == OPEN) or any(
                    s == OPEN for t, s in events[i + 1:bisect_right(times, deadline)])
                if not opened:
                    late.append(f"{u} ({span.kind} at {span.start_s:g}s) not open by "
                                f"{deadline:g}s")
        if not judged:
            return Verdict(name, "unknown", "no upstream fault long enough to judge, with calls")
        if late:
            return Verdict(name, False, f"{len(late)} of {judged} upstream faults: breaker "
                                        f"{'; '.join(late[:3])}")
        return Verdict(name, True, f"breaker opened within {params.open_within_s:g}s in all "
                                   f"{judged} upstream faults")

    return check


class OpenCallsParams(Params):
    """The breaker's window, grace for in-flight calls, and probes allowed per half-open."""

    upstream: str | None = None
    open_within_s: Seconds = 30.0
    grace_s: float = 1.0
    max_probes: int = 3
    fault_kinds: tuple[str, ...] = ()


def open_breaker_calls(params: OpenCallsParams, name: str = "open_breaker_calls") -> Checker:
    """Calls reaching an open upstream <= the half-open probes allowed.

    A call reaches an open upstream when the breaker is open (past `grace_s` after it
    opened: calls already in flight) or, with the breaker closed, when the upstream has been
    failing longer than `open_within_s` (a breaker should be open then; this is how a
    history without a breaker is judged). Calls while half-open are probes. Valid iff those
    calls together number at most `max_probes` per entry into half-open.
    """

    def check(history: History) -> Verdict:
        ix = index(history)
        judged, reaching, allowed, bad = 0, 0, 0, []
        for u in upstream_names(ix, params.upstream):
            spans = select_faults(ix, params.fault_kinds, u)
            events = ix.breaker.get(u, [])
            if not spans and not events:
                continue
            judged += 1
            shielded = during((s.start_s + params.open_within_s, s.end_s) for s in spans)
            times = [t for t, _ in events]
            probes_allowed = params.max_probes * sum(s == HALF_OPEN for _, s in events)
            n = 0
            for a in ix.upstream.get(u, []):
                i = bisect_right(times, a.time_s) - 1
                state, since = (events[i][1], events[i][0]) if i >= 0 else ("closed", 0.0)
                if state == OPEN:
                    n += a.time_s > since + params.grace_s  # earlier: already in flight
                else:
                    n += state == HALF_OPEN or shielded(a.time_s)
            reaching += n
            allowed += probes_allowed
            if n > probes_allowed:
                bad.append(f"{u}: {n} calls > {probes_allowed} probes")
        if not judged:
            return Verdict(name, "unknown", "no upstream fault and no breaker event")
        if bad:
            return Verdict(name, False, "calls reached an open or failing upstream: "
                                        + "; ".join(bad[:3]))
        return Verdict(name, True, f"{reaching} calls reached open upstreams <= {allowed} "
                                   "half-open probes")

    return check


def amplification(attempts: list[Attempt]) -> float | None:
    """Attempts per logical call; None when some attempt carries no logical call id."""
    if not attempts or any(not a.key for a in attempts):
        return None
    return len(attempts) / len({a.key for a in attempts})


class AmplificationParams(Params):
    """The bound on attempts per logical call, for one upstream or all."""

    max_amplification: float = 1.1
    upstream: str | None = None


def upstream_amplification(params: AmplificationParams,
                           name: str = "upstream_amplification") -> Checker:
    """Each upstream's attempts / logical calls <= `max_amplification`."""

    def check(history: History) -> Verdict:
        ix = index(history)
        found: list[tuple[str, float]] = []
        for u in upstream_names(ix, params.upstream):
            attempts = ix.upstream.get(u, [])
            if not attempts:
                continue
            amp = amplification(attempts)
            if amp is None:
                return Verdict(name, "unknown", f"attempts to {u} carry no logical call id "
                                                "in key")
            found.append((u, amp))
        if not found:
            return Verdict(name, "unknown", "no upstream attempt in the history")
        text = ", ".join(f"{u} {a:.3f}x" for u, a in found)
        if any(a > params.max_amplification for _, a in found):
            return Verdict(name, False, f"amplification {text}; bound "
                                        f"{params.max_amplification:g}x")
        return Verdict(name, True, f"amplification {text} <= {params.max_amplification:g}x")

    return check
