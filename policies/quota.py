"""The paper-prescription quota and the reconciliation of paper prescriptions.

During an outage a pharmacy may record a prescription on paper, but paper may be at most
`max_share` (20 %) of that pharmacy's prescriptions in the claim period. `request_paper`
admits a paper prescription only if, counting it, paper stays within the share:
paper + 1 <= max_share * (electronic + paper + 1). Beyond the cap it answers
Reject("deferred"): the prescription is kept by the client and registered electronically
later, never lost. After recovery `Reconciler.register(pharmacy, control_no)` registers each
paper prescription exactly once (True the first time only).
"""

from __future__ import annotations

from fractions import Fraction

from policies.decisions import ADMIT, Admission, Reject
from policies.errors import check_ratio

DEFERRED = Reject("deferred", None)
# The pharmacies' side, the same in both runners (sim/pharmacy.py, the live driver's
# mock_services/lab/clients/paper.py): the quota counts per claim period, a month of the run's
# clock from time 0; a pharmacy first retries its paper backlog after five minutes, then
# doubles the wait while the portal stays down, to an hour (scenario seconds).
CLAIM_PERIOD_S = 30 * 86_400.0
RECONCILE_EVERY_S = 300.0
MAX_RECONCILE_WAIT_S = 3600.0


def reconcile_until_s(duration_s: float, time_scale: float, drain_s: float) -> float:
    """When a pharmacy stops reconciling, on the run's clock, in both runners: it starts no
    wait that would end, and no registration, after `drain_s` scenario seconds past the
    scenario's end; a run compressed `time_scale`-fold reads them as fast as its other waits.
    Uncompressed, it is the simulator's horizon (`sim.model.DRAIN_S` after the end)."""
    return duration_s + drain_s / time_scale


class PaperQuota:
    """Per (pharmacy, claim period): electronic and paper counts, and the paper cap."""

    __slots__ = ("_counts", "_deferred", "_den", "_num", "max_share")

    def __init__(self, max_share: float = 0.2) -> None:
        self.max_share = check_ratio("quota.max_share", max_share)
        # the share as the decimal the user wrote (0.2 = 1/5), compared in exact integers
        exact = Fraction(repr(self.max_share)).limit_denominator(10**9)
        self._num, self._den = exact.numerator, exact.denominator
        self._counts: dict[tuple[str, str], list[int]] = {}  # -> [electronic, paper]
        self._deferred: dict[tuple[str, str], int] = {}

    def _count(self, pharmacy: str, period: str) -> list[int]:
        key = (pharmacy, period)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0]
        return counts

    def record_electronic(self, pharmacy: str, period: str) -> None:
        """Count one prescription dispensed electronically."""
        self._count(pharmacy, period)[0] += 1

    def request_paper(self, pharmacy: str, period: str) -> Admission:
        """Admit one paper prescription if the share allows it, else Reject("deferred")."""
        counts = self._count(pharmacy, period)
        electronic, paper = counts
        if (paper + 1) * self._den <= self._num * (electronic + paper + 1):
            counts[1] = paper + 1
            return ADMIT
        key = (pharmacy, period)
        self._deferred[key] = self._deferred.get(key, 0) + 1
        return DEFERRED

    def counts(self, pharmacy: str, period: str) -> tuple[int, int, int]:
        """(electronic, paper, deferred) for a pharmacy in a period."""
        electronic, paper = self._counts.get((pharmacy, period), (0, 0))
        return electronic, paper, self._deferred.get((pharmacy, period), 0)

    def share(self, pharmacy: str, period: str) -> float:
        """The paper share so far (0 with no prescriptions)."""
        electronic, paper = self._counts.get((pharmacy, period), (0, 0))
        total = electronic + paper
        return paper / total if total else 0.0


class ClaimQuota:
    """The paper quota as a pharmacy keeps it on the run's clock: per claim period of
    `period_s` counted from time 0, no cap when `max_share` is None (`baseline`). The one
    bookkeeping of both runners' pharmacies (sim.world.Pharmacies, the live driver's
    PaperBook)."""

    __slots__ = ("period_s", "quota")

    def __init__(self, max_share: float | None, period_s: float = CLAIM_PERIOD_S) -> None:
        self.quota = PaperQuota(max_share) if max_share is not None else None
        self.period_s = period_s

    def dispensed(self, pharmacy: str, now_s: float) -> None:
        """An electronic prescription counts towards the quota's denominator."""
        if self.quota is not None:
            self.quota.record_electronic(pharmacy, self._period(now_s))

    def paper_allowed(self, pharmacy: str, now_s: float) -> bool:
        """Whether `pharmacy` may record one more prescription on paper now (counting it
        when it may)."""
        return self.quota is None or not isinstance(
            self.quota.request_paper(pharmacy, self._period(now_s)), Reject)

    def _period(self, now_s: float) -> str:
        return str(int(now_s // self.period_s))


class Reconciler:
    """Registers paper prescriptions electronically, each (pharmacy, control number) once."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def register(self, pharmacy: str, control_no: str) -> bool:
        """True the first time this paper prescription is registered, False ever after."""
        key = (pharmacy, control_no)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def __len__(self) -> int:
        return len(self._seen)
