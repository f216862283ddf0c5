"""Checkers of the portal's calls to its upstreams: the breaker opens in time, calls reaching
an open upstream stay within the half-open probes, and retries do not amplify the load.

Breaker state over time comes from the policy events ("closed->open", "open->half_open",
"half_open->closed"); a breaker without events is closed. An upstream is "failing" while a
fault targets it (`targets`): the fault's target equals its name or ends in "-name" (the
lab's link "portal-a-shahkar"), ":name" or "/name".
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from scenario.checkers.index import Index, Span, UpstreamAttempt, index
from scenario.checkers.params import Count, Params, Positive, Seconds, SecondsOrZero
from scenario.checkers.windows import during, select_faults
from scenario.history import History
from scenario.names import upstream_key, upstream_process, upstream_ref
from scenario.verdict import Checker, Verdict

OPEN = "open"
HALF_OPEN = "half_open"


def upstream_names(ix: Index, only: str | None) -> list[str]:
    """The upstreams to judge: `only`, or every one with calls or breaker events."""
    names = set(ix.upstream) | set(ix.short_circuits) | {upstream_ref(k).name for k in ix.breaker}
    return [only] if only else sorted(names)


@dataclass(frozen=True, slots=True)
class Breaker:
    """One breaker: its upstream, its replica ("" unqualified), attempts and events."""

    upstream: str
    replica: str
    attempts: list[UpstreamAttempt]
    events: list[tuple[float, str]]

    @property
    def label(self) -> str:
        """"shahkar" or "shahkar@portal-a"."""
        return upstream_key(self.upstream, self.replica)

    def faults(self, ix: Index, kinds: Sequence[str]) -> list[Span]:
        """The faults on this breaker's upstream, on its replica's link when it has one."""
        return [s for s in select_faults(ix, kinds, self.upstream)
                if not self.replica or s.target == self.replica
                or s.target.startswith(self.replica + "-")]


def breakers(ix: Index, only: str | None) -> list[Breaker]:
    """Every breaker the history shows (per upstream, per replica when qualified)."""
    attempts: dict[tuple[str, str], list[UpstreamAttempt]] = defaultdict(list)
    for u, items in ix.upstream.items():
        for a in items:
            attempts[(u, a.replica)].append(a)
    groups = set(attempts) | {(ref.name, ref.replica) for ref in map(upstream_ref, ix.breaker)}
    return [Breaker(u, r, attempts.get((u, r), []), ix.breaker.get(upstream_key(u, r), []))
            for u, r in sorted(groups) if only is None or u == only]


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
    upstream's breaker (the replica's, when qualified) is open by `open_within_s` after the
    fault starts.
    """

    def check(history: History) -> Verdict:
        ix = index(history)
        judged, late = 0, []
        for br in breakers(ix, params.upstream):
            attempt_times = [a.time_s for a in br.attempts]
            times = [t for t, _ in br.events]
            for span in br.faults(ix, params.fault_kinds):
                deadline = span.start_s + params.open_within_s
                seen = _calls_between(attempt_times, span.start_s, deadline)
                if span.end_s < deadline or not seen:
                    continue  # too short to demand an open breaker, or nothing to protect
                judged += 1
                i = bisect_right(times, span.start_s) - 1
                opened = (i >= 0 and br.events[i][1] == OPEN) or any(
                    s == OPEN for _, s in br.events[i + 1:bisect_right(times, deadline)])
                if not opened:
                    late.append(f"{br.label} ({span.kind} at {span.start_s:g}s) not open by "
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
    """The breaker's window, grace for in-flight calls (set it to the call timeout), and the
    probes allowed per half-open.
    """

    upstream: str | None = None
    open_within_s: Seconds = 30.0
    grace_s: SecondsOrZero = 5.0
    max_probes: Count = 3
    fault_kinds: tuple[str, ...] = ()


def open_breaker_calls(params: OpenCallsParams, name: str = "open_breaker_calls") -> Checker:
    """Calls reaching an open upstream <= the half-open probes allowed.

    A call reaches an open upstream when the breaker is open (past `grace_s` after it
    opened: calls already in flight) or, with the breaker closed, when the upstream has been
    failing longer than `open_within_s` (a breaker should be open then; this is how a
    history without a breaker is judged). Calls while half-open are probes. Valid iff those
    calls together number at most `max_probes` per entry into half-open, breaker by breaker.
    A fault on one link ("portal-a-shahkar") is judged only when the attempts name their
    replica ("upstream:shahkar@portal-a"): otherwise the other links' calls would count too,
    and the verdict is unknown.
    """

    def check(history: History) -> Verdict:
        ix = index(history)
        judged, reaching, allowed, bad, vague = 0, 0, 0, [], []
        for br in breakers(ix, params.upstream):
            spans = br.faults(ix, params.fault_kinds)
            if not spans and not br.events:
                continue
            links = sorted({s.target for s in spans if s.target != br.upstream})
            if not br.replica and links:
                named = upstream_process(br.upstream, "<replica>")
                vague.append(f"attempts to {br.upstream} do not name their replica "
                             f"('{named}') while faults hit one link "
                             f"({', '.join(links[:2])}): other links' calls cannot be told apart")
                continue
            judged += 1
            shielded = during((s.start_s + params.open_within_s, s.end_s) for s in spans)
            times = [t for t, _ in br.events]
            probes_allowed = params.max_probes * sum(s == HALF_OPEN for _, s in br.events)
            n = 0
            for a in br.attempts:
                i = bisect_right(times, a.time_s) - 1
                since, state = br.events[i] if i >= 0 else (0.0, "closed")
                if state == OPEN:
                    n += a.time_s > since + params.grace_s  # earlier: already in flight
                else:
                    n += state == HALF_OPEN or shielded(a.time_s)
            reaching += n
            allowed += probes_allowed
            if n > probes_allowed:
                bad.append(f"{br.label}: {n} calls > {probes_allowed} probes")
        if bad:
            return Verdict(name, False, "calls reached an open or failing upstream: "
                                        + "; ".join(bad[:3]))
        if vague:
            return Verdict(name, "unknown", "; ".join(vague[:2]))
        if not judged:
            return Verdict(name, "unknown", "no upstream fault and no breaker event")
        return Verdict(name, True, f"{reaching} calls reached open upstreams <= {allowed} "
                                   "half-open probes")

    return check


def amplification(attempts: list[UpstreamAttempt], short_circuits: int = 0) -> float | None:
    """Attempts per logical call: the calls are the attempts' distinct ids plus the calls
    the policies answered without an attempt (load offered to the upstream and kept off
    it). None when some attempt carries no logical call id, or there is no call at all."""
    if (not attempts and not short_circuits) or any(not a.key for a in attempts):
        return None
    return len(attempts) / (len({a.key for a in attempts}) + short_circuits)


class AmplificationParams(Params):
    """The bound on attempts per logical call, for one upstream or all."""

    max_amplification: Positive = 1.1
    upstream: str | None = None


def upstream_amplification(params: AmplificationParams,
                           name: str = "upstream_amplification") -> Checker:
    """Each upstream's attempts / logical calls <= `max_amplification`."""

    def check(history: History) -> Verdict:
        ix = index(history)
        found: list[tuple[str, float]] = []
        for u in upstream_names(ix, params.upstream):
            attempts = ix.upstream.get(u, [])
            short = ix.short_circuits.get(u, 0)
            if not attempts and not short:
                continue
            amp = amplification(attempts, short)
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
