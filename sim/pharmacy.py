"""The pharmacies' paper fallback and its reconciliation after recovery.

When a pharmacy cannot dispense electronically (its link or the portal is down), it records
the prescription on paper with a control number, if its quota for the claim period allows
(`policies.quota.PaperQuota`, 20 % under `resilient`; no cap under `baseline`); otherwise it
defers. Once the pharmacy reaches the portal again, each paper record is registered
electronically ("reconcile", key "reconcile:<control number>"), retried until it succeeds.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from policies.decisions import Reject
from policies.quota import PaperQuota
from scenario.history import WRITE_FS

if TYPE_CHECKING:
    from sim.world import World

CLAIM_PERIOD_S = 30 * 86_400.0  # a claim period is a month
RECONCILE_EVERY_S = 300.0  # a pharmacy first retries its paper backlog after five minutes,
MAX_RECONCILE_WAIT_S = 3600.0  # then doubles the wait while the portal stays down, to an hour


class Pharmacies:
    """Paper quota and backlog of every pharmacy of one replication."""

    def __init__(self, max_share: float | None) -> None:
        self.quota = PaperQuota(max_share) if max_share is not None else None
        self.backlog: dict[str, list[str]] = {}

    def dispensed(self, pharmacy: str, now: float) -> None:
        """An electronic prescription counts towards the quota's denominator."""
        if self.quota is not None:
            self.quota.record_electronic(pharmacy, str(int(now // CLAIM_PERIOD_S)))

    def fallback(self, world: World, pharmacy: str, n: int) -> None:
        """After a failed dispense: a paper record (and later its reconciliation), or defer."""
        now = world.env.now
        history = world.history
        control = f"C-{pharmacy}-{n}"
        op = history.invoke(f"{pharmacy}/p{n}", "paper_record", now, control, 0)
        world.keys.add(control)
        if self.quota is not None and isinstance(
                self.quota.request_paper(pharmacy, str(int(now // CLAIM_PERIOD_S))), Reject):
            history.complete(op, "fail", now, error="deferred")
            return
        history.complete(op, "ok", now)
        world.commit(control)  # the paper record itself is kept by the pharmacy
        pending = self.backlog.setdefault(pharmacy, [])
        pending.append(control)
        if len(pending) == 1:
            world.env.process(self.reconcile(world, pharmacy))

    def reconcile(self, world: World, pharmacy: str) -> Generator[simpy.Event, Any, None]:
        """Register the pharmacy's paper records electronically, oldest first."""
        from sim.client import operation  # the client imports this module

        pending = self.backlog[pharmacy]
        wait_s = RECONCILE_EVERY_S
        while pending:
            yield world.env.timeout(wait_s)
            while pending:
                ok = yield from operation(world, "reconcile", world.next_id(), pharmacy,
                                          key=f"reconcile:{pending[0]}")
                if not ok:  # the portal is still down: back off before the next try
                    wait_s = min(2 * wait_s, MAX_RECONCILE_WAIT_S)
                    break
                pending.pop(0)
                wait_s = RECONCILE_EVERY_S


assert "reconcile" in WRITE_FS and "paper_record" in WRITE_FS
