"""Timelines of one history for the report's plots: goodput and latency p99 per time bucket,
failures per bucket by reason, each breaker's state as a step function, gauge samples
(queue length), and the faults. `covered_s` is the time each bucket really covers: the last
one usually ends with the run, part-way through its width, and a rate over the whole width
would plot it as a drop that never happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scenario.checkers.index import Index, Span
from scenario.checkers.service import counted
from scenario.checkers.windows import quantile

MAX_BUCKETS = 240
_NICE_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
BREAKER_LEVEL = {"closed": 0.0, "half_open": 0.5, "open": 1.0}


@dataclass(frozen=True, slots=True)
class Timelines:
    """The series of one history; `starts_s` are the buckets' left edges."""

    bucket_s: float
    starts_s: list[float]
    goodput_per_s: list[float]
    p99_ms: list[float]  # NaN where a bucket completed nothing
    breaker: dict[str, list[tuple[float, float]]]
    gauges: dict[str, list[tuple[float, float]]]
    faults: list[Span]
    # per bucket: failed client operations by reason ("timeout", "shed", "http_503", ...)
    failures: dict[str, list[int]] = field(default_factory=dict)
    covered_s: list[float] = field(default_factory=list)  # seconds of each bucket in the run


def bucket_size_s(duration_s: float) -> float:
    """The smallest round bucket that cuts `duration_s` into at most MAX_BUCKETS pieces."""
    for size in _NICE_S:
        if duration_s / size <= MAX_BUCKETS:
            return float(size)
    return math.ceil(duration_s / MAX_BUCKETS)


def _activity_end_s(ix: Index) -> float:
    """The last client, fault, upstream or breaker event: gauges sampled while the model
    drains, and the final state read after it, would stretch the plots with empty time.
    """
    ends = [max((c.end_s or c.start_s) for c in ix.calls)] if ix.calls else []
    ends += [min(s.end_s, ix.end_s) for s in ix.faults]
    ends += [a[-1].time_s for a in ix.upstream.values() if a]
    ends += [e[-1][0] for e in ix.breaker.values() if e]
    return max(ends, default=ix.end_s)


def timelines(ix: Index) -> Timelines:
    """The report's series of one indexed history, in O(n log n)."""
    start = math.floor(ix.start_s)
    end = _activity_end_s(ix)
    size = bucket_size_s(max(end - start, 1.0))
    n = max(1, math.ceil((end - start) / size) + (end == start))
    good = [0] * n
    lat: list[list[float]] = [[] for _ in range(n)]
    for c in ix.calls:
        if c.ok and c.end_s is not None and c.end_s <= end:
            i = min(n - 1, int((c.end_s - start) // size))
            good[i] += 1
            lat[i].append((c.end_s - c.start_s) * 1000.0)
    p99 = [quantile(sorted(xs), 0.99) if xs else math.nan for xs in lat]
    failures: dict[str, list[int]] = {}
    for c in ix.calls:
        if not c.ok and counted(c) and c.end_s is not None and c.end_s <= end:
            reason = c.error or c.outcome or "failed"
            failures.setdefault(reason, [0] * n)[min(n - 1, int((c.end_s - start) // size))] += 1
    covered = [max(0.0, min(size, max(end, start + 1.0) - (start + i * size))) for i in range(n)]
    breaker = {}
    for u, events in sorted(ix.breaker.items()):
        steps = [(ix.start_s, 0.0)]
        steps += [(t, BREAKER_LEVEL.get(state, 0.5)) for t, state in events]
        steps.append((end, steps[-1][1]))
        breaker[u] = steps
    gauges = {f"{f} {key}".strip(): [x for x in samples if x[0] <= end]
              for (f, key), samples in sorted(ix.gauges.items())}
    return Timelines(size, [start + i * size for i in range(n)], [g / size for g in good],
                     p99, breaker, gauges, list(ix.faults), dict(sorted(failures.items())),
                     covered)
