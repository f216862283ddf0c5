"""Paying a submitted list: one attempt path for the request, and the durable-queue worker.

A list and its payment job are committed together before anything is acknowledged. The
payment ID is fixed per list, and the gateway is idempotent on it, so the request's attempt,
the worker's retries and another replica's worker can overlap without charging twice.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

import anyio

from mock_services.portal.context import PortalContext

LOG = logging.getLogger(__name__)
MAX_BACKOFF_S = 60.0
LEASE_S = 60.0  # a claimed job is left alone this long; a crashed worker's claim expires


@dataclass(frozen=True)
class PaymentOrder:
    """What the gateway needs to charge one list."""

    list_id: int
    payment_ref: str
    payer: str
    amount_rial: int


@dataclass(frozen=True)
class PayResult:
    """The receipt when paid; `permanent` when the gateway refused the order itself (4xx)."""

    receipt: str | None
    permanent: bool = False
    reason: str = ""


async def pay(ctx: PortalContext, order: PaymentOrder, deadline_s: float | None) -> PayResult:
    """Ask the gateway to charge the order, through the payment client's policies."""
    reply = await ctx.upstream("payment").call(
        "POST", "/payments", deadline_s=deadline_s,
        json={"payment_id": order.payment_ref, "payer": order.payer,
              "amount_rial": order.amount_rial},
        headers={"Idempotency-Key": order.payment_ref})
    if reply.ok and reply.status in (200, 201) and isinstance(reply.body, dict) and (
            receipt := reply.body.get("receipt")):
        return PayResult(str(receipt))
    permanent = reply.ok and reply.status is not None and 400 <= reply.status < 500
    return PayResult(None, permanent, reply.reason or f"http_{reply.status}")


def mark_paid(conn: sqlite3.Connection, list_id: int, receipt: str, now_s: float) -> None:
    """Record the payment (once: a second success changes nothing) and close the job."""
    conn.execute("UPDATE lists SET status='paid', receipt=?, paid_s=? "
                 "WHERE id=? AND status != 'paid'", (receipt, now_s, list_id))
    conn.execute("UPDATE payment_jobs SET done=1 WHERE list_id=?", (list_id,))


def _claim(conn: sqlite3.Connection, now_s: float, owner: str) -> PaymentOrder | None:
    row = conn.execute(
        "SELECT j.list_id, l.payment_ref, l.workshop_code, l.payable_rial FROM payment_jobs j "
        "JOIN lists l ON l.id = j.list_id WHERE j.done=0 AND j.next_s<=? AND j.lease_until_s<=? "
        "ORDER BY j.next_s LIMIT 1", (now_s, now_s)).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE payment_jobs SET lease_until_s=?, lease_owner=? WHERE list_id=?",
                 (now_s + LEASE_S, owner, row["list_id"]))
    return PaymentOrder(row["list_id"], row["payment_ref"], row["workshop_code"],
                        row["payable_rial"])


def _failed(conn: sqlite3.Connection, order: PaymentOrder, result: PayResult,
            now_s: float) -> None:
    if result.permanent:
        conn.execute("UPDATE lists SET status='payment_failed' WHERE id=?", (order.list_id,))
        conn.execute("UPDATE payment_jobs SET done=1, last_error=? WHERE list_id=?",
                     (result.reason, order.list_id))
        return
    attempts = conn.execute("SELECT attempts FROM payment_jobs WHERE list_id=?",
                            (order.list_id,)).fetchone()["attempts"] + 1
    backoff = min(MAX_BACKOFF_S, 0.5 * 2 ** min(attempts, 10))
    conn.execute("UPDATE payment_jobs SET attempts=?, next_s=?, lease_until_s=0, last_error=? "
                 "WHERE list_id=?", (attempts, now_s + backoff, result.reason, order.list_id))


class PaymentWorker:
    """Drains the durable payment queue (resilient policy set): each queued list paid once."""

    def __init__(self, ctx: PortalContext) -> None:
        self.ctx = ctx

    async def run_once(self) -> bool:
        """Pay one due job; False when none was due."""
        ctx = self.ctx
        now = ctx.clock.now()
        owner = ctx.settings.replica_id
        order = await ctx.db.awrite(lambda c: _claim(c, now, owner))
        if order is None:
            return False
        result = await pay(ctx, order, deadline_s=None)
        done = ctx.clock.now()
        if result.receipt is not None:
            receipt = result.receipt
            await ctx.db.awrite(lambda c: mark_paid(c, order.list_id, receipt, done))
            ctx.metrics.events.labels("queued_payment_completed").inc()
        else:
            await ctx.db.awrite(lambda c: _failed(c, order, result, done))
        return True

    async def run_forever(self) -> None:
        """Loop until cancelled (the app's lifespan ends it)."""
        # Claims held under this replica's name belong to a previous life of this process
        # (killed mid-payment): release them now instead of waiting out the lease.
        owner = self.ctx.settings.replica_id
        await self.ctx.db.awrite(lambda c: c.execute(
            "UPDATE payment_jobs SET lease_until_s=0 WHERE lease_owner=? AND done=0", (owner,)))
        while True:
            try:
                busy = await self.run_once()
            except anyio.get_cancelled_exc_class():
                raise
            except Exception:  # a database hiccup must not end the worker; the job stays queued
                LOG.exception("payment worker: one round failed; retrying after a pause")
                busy = False
            if not busy:
                await self.ctx.clock.sleep(self.ctx.settings.payment_worker_idle_s)
