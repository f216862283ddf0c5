"""Checkers of the pharmacies' paper fallback: paper stays within its share of each
pharmacy's prescriptions per claim period, and each paper prescription is registered
electronically exactly once after recovery.

Dispensing and paper records are pharmacies' own operations, so the source of their process
names the pharmacy (`scenario.names.source_of`: "pharmacy-3/2" -> "pharmacy-3"); its
prescriptions are its ok "dispense" (electronic) and ok "paper_record" (paper) operations; a
claim period is a `period_s`-long slice of the run's clock, counted from time 0.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from scenario.checkers.index import Index, index
from scenario.checkers.params import Params, Seconds, Share
from scenario.history import History
from scenario.names import reconcile_key, source_of
from scenario.verdict import Checker, Verdict

MONTH_S = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class PaperCounts:
    """Paper and electronic prescriptions of one pharmacy in one claim period."""

    pharmacy: str
    period: int
    paper: int
    electronic: int

    @property
    def share(self) -> float:
        """Paper / all prescriptions (0 when there are none)."""
        total = self.paper + self.electronic
        return self.paper / total if total else 0.0


def paper_counts(ix: Index, period_s: float = MONTH_S) -> list[PaperCounts]:
    """Paper and electronic prescriptions per pharmacy and claim period, in sorted order."""
    paper: Counter[tuple[str, int]] = Counter()
    electronic: Counter[tuple[str, int]] = Counter()
    for c in ix.calls:
        if c.ok and c.f in ("paper_record", "dispense"):
            cell = (source_of(c.process), int(c.start_s // period_s))
            (paper if c.f == "paper_record" else electronic)[cell] += 1
    cells = sorted(set(paper) | set(electronic))
    return [PaperCounts(p, k, paper[(p, k)], electronic[(p, k)]) for p, k in cells]


class PaperShareParams(Params):
    """The cap on paper's share, and the claim period."""

    max_share: Share = 0.2
    period_s: Seconds = MONTH_S


def paper_share(params: PaperShareParams, name: str = "paper_share") -> Checker:
    """Paper <= max_share of each pharmacy's prescriptions in each claim period."""

    def check(history: History) -> Verdict:
        counts = paper_counts(index(history), params.period_s)
        if not any(c.paper for c in counts):
            return Verdict(name, "unknown" if not counts else True,
                           "no prescription in the history" if not counts
                           else "no paper prescription recorded")
        over = [c for c in counts if c.share > params.max_share]
        worst = max(counts, key=lambda c: (c.share, c.pharmacy))
        text = f"max paper share {worst.share:.3f} ({worst.pharmacy}, period {worst.period})"
        if over:
            return Verdict(name, False, f"{len(over)} of {len(counts)} pharmacy-periods over "
                                        f"{params.max_share:g}; {text}")
        return Verdict(name, True, f"{text} <= {params.max_share:g} in all {len(counts)} "
                                   "pharmacy-periods")

    return check


class PaperReconciledParams(Params):
    """No thresholds: every paper prescription is registered exactly once."""


def paper_reconciled_once(params: PaperReconciledParams,
                          name: str = "paper_reconciled_once") -> Checker:
    """Each ok paper_record C shows "reconcile:C" applied exactly once in the final state."""

    def check(history: History) -> Verdict:
        ix = index(history)
        papers = sorted({c.key for c in ix.calls if c.ok and c.f == "paper_record" and c.key})
        if not papers:
            return Verdict(name, "unknown", "no paper prescription recorded")
        problem = ix.finals_problem()
        if problem:
            return Verdict(name, "unknown", problem)
        wrong = [(k, ix.applied(reconcile_key(k))) for k in papers]
        wrong = [(k, n) for k, n in wrong if n != 1]
        if wrong:
            never = sum(n == 0 for _, n in wrong)
            sample = ", ".join(f"{k!r} {n}x" for k, n in wrong[:3])
            return Verdict(name, False, f"{len(wrong)} of {len(papers)} paper prescriptions not "
                                        f"registered exactly once ({never} never): {sample}")
        return Verdict(name, True, f"all {len(papers)} paper prescriptions registered once")

    return check
