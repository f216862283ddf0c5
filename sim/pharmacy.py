"""The pharmacies' paper fallback and its reconciliation after recovery.

When a pharmacy cannot dispense electronically (its link or the portal is down), it records
the prescription on paper with a control number, if its quota for the claim period allows
(`policies.quota.PaperQuota`, 20 % under `resilient`; no cap under `baseline`); otherwise it
defers. Once the pharmacy reaches the portal again, each paper record is registered
electronically ("reconcile", key "reconcile:<control number>"), retried until it succeeds.

A pharmacy's dispense is a user operation (`client.operation`) followed by this module's
bookkeeping, so the client knows nothing of paper; the quota and the backlog are state of the
world (`world.Pharmacies`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from policies.quota import MAX_RECONCILE_WAIT_S, RECONCILE_EVERY_S, reconcile_until_s
from scenario.history import WRITE_FS
from scenario.names import process_name, reconcile_key
from sim.client import operation
from sim.world import World

DISPENSE = "dispense"


def dispense(world: World, n: int, pharmacy: str) -> Generator[simpy.Event, Any, bool]:
    """The n-th arrival, a dispense by `pharmacy`: electronic if the portal takes it, else on
    paper (`fallback`). True if dispensed electronically."""
    if (yield from operation(world, DISPENSE, n, pharmacy)):
        world.pharmacies.dispensed(pharmacy, world.env.now)
        return True
    fallback(world, pharmacy, n)
    return False


def fallback(world: World, pharmacy: str, n: int) -> None:
    """After a failed dispense: a paper record (and later its reconciliation), or defer."""
    now = world.env.now
    history = world.history
    control = f"C-{pharmacy}-{n}"
    op = history.invoke(process_name(pharmacy, f"p{n}"), "paper_record", now, control, 0)
    world.keys.add(control)
    if not world.pharmacies.paper_allowed(pharmacy, now):
        history.complete(op, "fail", now, error="deferred")
        return
    history.complete(op, "ok", now)
    world.commit(control)  # the paper record itself is kept by the pharmacy
    pending = world.pharmacies.backlog.setdefault(pharmacy, [])
    pending.append(control)
    if len(pending) == 1:
        world.env.process(reconcile(world, pharmacy))


def reconcile(world: World, pharmacy: str) -> Generator[simpy.Event, Any, None]:
    """Register the pharmacy's paper records electronically, oldest first. Its waits are
    scenario seconds: a run compressed by `--speed` shortens them as it does the calendar
    (the live pharmacies' loop, `mock_services/lab/clients/paper.py`, does the same)."""
    pending = world.pharmacies.backlog[pharmacy]
    wait_s = RECONCILE_EVERY_S
    compression = world.scenario.time_scale
    duration = world.scenario.duration
    until = reconcile_until_s(duration, compression, world.horizon_s - duration)
    while pending:
        if world.env.now + wait_s / compression > until:
            return  # the drain is over before the next try (the live loop's rule too)
        yield world.env.timeout(wait_s / compression)
        while pending:
            if world.env.now >= until:
                return
            ok = yield from operation(world, "reconcile", world.next_id(), pharmacy,
                                      key=reconcile_key(pending[0]))
            if not ok:  # the portal is still down: back off before the next try
                wait_s = min(2 * wait_s, MAX_RECONCILE_WAIT_S)
                break
            pending.pop(0)
            wait_s = RECONCILE_EVERY_S


assert "reconcile" in WRITE_FS and "paper_record" in WRITE_FS and DISPENSE in WRITE_FS
