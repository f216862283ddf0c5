"""The summary of one replication: every figure the report pools, read from one history.

A report pools replications (`scenario.report`); what it needs from each history is a few
counts, the latencies of its ok operations and its checkers' verdicts. `summarize` reads
them in one place, so a runner can summarise a history where it was simulated (a worker
process, a Dask worker) and ship this small record instead of the whole history. The
report built from summaries is the report built from the histories, byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scenario.checkers.breaker import amplification, upstream_names
from scenario.checkers.index import Index, index
from scenario.checkers.paper import paper_counts
from scenario.checkers.service import counted
from scenario.history import WRITE_FS, History
from scenario.names import reconcile_key, upstream_ref
from scenario.verdict import Checker, Verdict, safely


@dataclass(frozen=True, slots=True)
class UpstreamSummary:
    """One upstream in one replication: its attempts, amplification and breaker opens.

    `amplification` is None when unknown; `attempted` is False for an upstream known only
    from breaker events (no call), which has no amplification to pool."""

    calls: int
    attempted: bool
    amplification: float | None
    breaker_opens: int


@dataclass(frozen=True, slots=True)
class Summary:
    """What the report pools from one replication (see the module docstring)."""

    by_kind: dict[str, dict[str, int]]  # f -> {"ok" | "shed" | "failed": count}
    latencies_s: list[float]  # of ok client operations, ascending (pooling them re-sorts in O(n))
    acknowledged: int
    lost: int | None  # None when the history has no (or a bad) final state
    duplicated: int | None
    electronic: int
    paper: int
    paper_share_max: float
    deferred: int
    reconciled: int
    upstreams: dict[str, UpstreamSummary]  # every upstream with attempts or breaker events
    faults: list[tuple[str, str, float, float]]  # kind, target, start_s, end_s
    verdicts: list[Verdict]  # one per checker, in the checkers' order


def summarize(history: History, checkers: Sequence[tuple[str, Checker]]) -> Summary:
    """The summary of one history, its checkers' verdicts included."""
    ix = index(history)  # the checkers below reuse this cached index
    verdicts = [safely(name, check, history) for name, check in checkers]
    acked, lost, dup = _writes(ix)
    electronic, paper, share = _paper(ix)
    return Summary(
        by_kind=_by_kind(ix),
        latencies_s=sorted([c.latency_s for c in ix.calls if c.ok and c.latency_s is not None]),
        acknowledged=acked, lost=lost, duplicated=dup,
        electronic=electronic, paper=paper, paper_share_max=share,
        deferred=sum(c.f == "paper_record" and c.error == "deferred" for c in ix.calls),
        reconciled=_reconciled(ix), upstreams=_upstreams(ix),
        faults=[(s.kind, s.target, s.start_s, s.end_s) for s in ix.faults],
        verdicts=verdicts,
    )


def _by_kind(ix: Index) -> dict[str, dict[str, int]]:
    by_kind: dict[str, Counter[str]] = {}
    for c in ix.calls:
        if counted(c):
            outcome = "ok" if c.ok else ("shed" if c.error == "shed" else "failed")
            by_kind.setdefault(c.f, Counter())[outcome] += 1
    return {f: dict(o) for f, o in by_kind.items()}


def _writes(ix: Index) -> tuple[int, int | None, int | None]:
    keys = {c.key for c in ix.calls if c.ok and c.f in WRITE_FS and c.key}
    if ix.finals is None or ix.bad_finals:
        return len(keys), None, None
    lost = sum(ix.applied(k) == 0 for k in keys)
    return len(keys), lost, sum(n >= 2 for n in ix.finals.values())


def _paper(ix: Index) -> tuple[int, int, float]:
    counts = paper_counts(ix)
    share = max([0.0, *(c.share for c in counts)])
    return sum(c.electronic for c in counts), sum(c.paper for c in counts), share


def _reconciled(ix: Index) -> int:
    papers = {c.key for c in ix.calls if c.ok and c.f == "paper_record" and c.key}
    if ix.finals is not None:
        return sum(ix.applied(reconcile_key(k)) >= 1 for k in papers)
    done = {c.key for c in ix.calls if c.ok and c.f == "reconcile"}
    return len({k for k in papers if reconcile_key(k) in done})


def _upstreams(ix: Index) -> dict[str, UpstreamSummary]:
    out: dict[str, UpstreamSummary] = {}
    opens = _opens(ix)
    for u in upstream_names(ix, None):
        attempts = ix.upstream.get(u, [])
        short = ix.short_circuits.get(u, 0)
        out[u] = UpstreamSummary(calls=len(attempts), attempted=bool(attempts or short),
                                 amplification=amplification(attempts, short),
                                 breaker_opens=opens.get(u, 0))
    return out


def _opens(ix: Index) -> dict[str, int]:
    opens: Counter[str] = Counter()
    for key, events in ix.breaker.items():
        opens[upstream_ref(key).name] += sum(s == "open" for _, s in events)
    return dict(opens)
