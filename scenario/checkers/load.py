"""Checkers of behaviour under load: goodput near capacity during a peak, priorities
respected when shedding, and no metastable collapse after a trigger ends.

Goodput is the number of ok client operations completed per second (by completion time),
optionally only those within a latency SLO: a reply the user gave up on is not good.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from scenario.checkers.index import Call, Index, index
from scenario.checkers.params import Count, Params, Positive, Seconds, SecondsOrZero, Share
from scenario.checkers.windows import merge, select_faults
from scenario.history import History
from scenario.verdict import Checker, Verdict


def good_times(ix: Index, slo_ms: float | None = None) -> list[float]:
    """Sorted completion times of the ok client operations (within `slo_ms` when given)."""
    limit_s = None if slo_ms is None else slo_ms / 1000.0
    return sorted(c.end_s for c in ix.calls if c.ok and c.end_s is not None
                  and (limit_s is None or (c.latency_s or 0.0) <= limit_s))


def count_between(times: Sequence[float], start_s: float, end_s: float) -> int:
    """How many of the sorted `times` fall in [start_s, end_s)."""
    return bisect_left(times, end_s) - bisect_left(times, start_s)


class GoodputParams(Params):
    """The capacity (ok ops per second; unset leaves the verdict unknown), the share of it
    goodput must keep, which faults are peaks, and an optional SLO on good replies.
    """

    capacity_per_s: Positive | None = None
    min_ratio: Share = 0.8
    fault_kinds: tuple[str, ...] = ("peak_load", "surge")
    warmup_s: SecondsOrZero = 0.0
    slo_ms: Positive | None = None


def goodput_near_capacity(params: GoodputParams,
                          name: str = "goodput_near_capacity") -> Checker:
    """During each peak, goodput >= min_ratio x min(capacity, offered load)."""

    def check(history: History) -> Verdict:
        if params.capacity_per_s is None:
            return Verdict(name, "unknown", "capacity_per_s is not set for this scenario")
        ix = index(history)
        spans = select_faults(ix, params.fault_kinds)
        if not spans:
            return Verdict(name, "unknown", f"no fault of kind {list(params.fault_kinds)}")
        good = good_times(ix, params.slo_ms)
        starts = [c.start_s for c in ix.calls]
        low, judged = [], 0
        for start, end in merge((s.start_s + params.warmup_s, s.end_s) for s in spans):
            if end <= start:
                continue
            judged += 1
            seconds = end - start
            goodput = count_between(good, start, end) / seconds
            offered = count_between(starts, start, end) / seconds
            expected = min(params.capacity_per_s, offered)
            if goodput < params.min_ratio * expected:
                low.append(f"{goodput:.1f}/s in [{start:g}s, {end:g}s] (expected >= "
                           f"{params.min_ratio:g} x {expected:.1f}/s)")
        if not judged:
            return Verdict(name, "unknown", "every peak is shorter than its warm-up")
        if low:
            return Verdict(name, False, f"goodput fell below capacity: {'; '.join(low[:3])}")
        return Verdict(name, True, f"goodput >= {params.min_ratio:g} x min(capacity, offered) "
                                   f"in all {judged} peaks")

    return check


class PriorityParams(Params):
    """The interval compared, the errors that mean a request was dropped, the tolerance."""

    interval_s: Seconds = 1.0
    drop_errors: tuple[str, ...] = ("shed", "refused", "timeout", "http_503")
    max_inverted: Count = 0


def priority_shedding(params: PriorityParams, name: str = "priority_shedding") -> Checker:
    """No request of priority p is dropped while lower-priority requests (a larger number)
    are still being served: none invoked in the `interval_s` after the drop was served.

    A server sheds by what it knows at arrival; a lower-priority request admitted just before
    a surge is not an inversion, one admitted just after a higher one was shed is.

    It judges the portal as its users see it (DESIGN.md: prescriptions before browsing), not
    one replica: a client operation records no replica, so a prescription shed by portal-a
    while portal-b serves browsing counts. Each replica's limiter cannot see the other's
    load; what keeps the portal's order is the client's failover to the other replica, and a
    drop here is a request whose retries ran out. The times are the operations' invokes (the
    history records no attempts), so a lower-priority operation invoked within the interval
    but admitted only after retries of its own counts too: month_end_lists under resilient,
    seeds 1-3, about a third of the inversions (the rest: served by the other replica).
    """
    drops = frozenset(params.drop_errors)

    def check(history: History) -> Verdict:
        ix = index(history)
        ranked = [c for c in ix.calls if c.priority >= 0 and c.outcome is not None]
        if not ranked:
            return Verdict(name, "unknown", "no prioritised request in the history")
        served: dict[int, list[float]] = {}
        for c in ranked:
            if c.ok:
                served.setdefault(c.priority, []).append(c.start_s)
        for times in served.values():
            times.sort()
        dropped = [c for c in ranked if not c.ok and c.error in drops]
        inverted = [c for c in dropped if any(
            count_between(times, c.start_s, c.start_s + params.interval_s)
            for p, times in served.items() if p > c.priority)]
        text = f"{len(inverted)} of {len(dropped)} dropped requests were followed within " \
               f"{params.interval_s:g}s by a lower-priority request served"
        if len(inverted) > params.max_inverted:
            first = min(inverted, key=_order)
            return Verdict(name, False, f"{text} (first: priority {first.priority} "
                                        f"{first.f} at {first.start_s:g}s, {first.error})")
        return Verdict(name, True, text)

    return check


def _order(c: Call) -> tuple[float, str]:
    return c.start_s, c.process


class MetastableParams(Params):
    """Which faults trigger, how fast goodput must recover, to what share of before."""

    fault_kinds: tuple[str, ...] = ()
    recover_within_s: Seconds = 60.0
    recover_ratio: Share = 0.9
    bucket_s: Seconds = 5.0
    reference_s: Seconds = 60.0


def metastable_recovery(params: MetastableParams,
                        name: str = "metastable_recovery") -> Checker:
    """After each trigger ends, some `bucket_s` of goodput within `recover_within_s` reaches
    `recover_ratio` of the goodput in the `reference_s` before the trigger began.
    """

    def check(history: History) -> Verdict:
        ix = index(history)
        spans = merge((s.start_s, s.end_s) for s in select_faults(ix, params.fault_kinds))
        if not spans:
            return Verdict(name, "unknown", "no trigger fault in the history")
        good = good_times(ix)
        notes, stuck, judged = [], [], 0
        for start, end in spans:
            ref_start = max(ix.start_s, start - params.reference_s)
            if start - ref_start < params.bucket_s:
                notes.append(f"no fault-free period before {start:g}s")
                continue
            before = count_between(good, ref_start, start) / (start - ref_start)
            if before <= 0:
                notes.append(f"no goodput before {start:g}s")
                continue
            recovered_at = _recovery(good, end, before * params.recover_ratio, params)
            if recovered_at is None and ix.end_s < end + params.recover_within_s:
                notes.append(f"the run ended {ix.end_s - end:g}s after the trigger at "
                             f"{end:g}s, before {params.recover_within_s:g}s")
                continue
            judged += 1
            if recovered_at is None:
                stuck.append(f"not recovered to {params.recover_ratio:g} x {before:.1f}/s "
                             f"within {params.recover_within_s:g}s after {end:g}s")
        if stuck:
            return Verdict(name, False, "metastable: " + "; ".join(stuck[:3]))
        if not judged:
            return Verdict(name, "unknown", "; ".join(notes[:3]))
        return Verdict(name, True, f"goodput recovered within {params.recover_within_s:g}s "
                                   f"after all {judged} triggers")

    return check


def _recovery(good: Sequence[float], end_s: float, target_per_s: float,
              params: MetastableParams) -> float | None:
    t = end_s
    while t + params.bucket_s <= end_s + params.recover_within_s + 1e-9:
        if count_between(good, t, t + params.bucket_s) / params.bucket_s >= target_per_s:
            return t
        t += params.bucket_s
    return None
