"""The list queue (`list_queue`): lists answered 202 are processed here, off the request path.

A list accepted under `list_queue` is committed with status "accepted" and a `list_jobs` row
(this replica's, with the rest of its drawn service time) before its 202 leaves. This
replica's dispatcher keeps at most `ListQueuePolicy.loops(workers)` lists in work, oldest
first: each holds one of the replica's emulated worker slots for the rest of its service
time (waiting in the same FIFO as requests, whatever the waiting room holds) and pays the
list through the payment client's policies, as the simulator's `sim.portal.list_worker`
does. Paid: status "paid". Not paid and the payment queue on: status "queued" and a payment
job for `PaymentWorker`. Either way the list now counts as applied (`store.APPLIED_SOURCES`).
Not paid otherwise: the job goes back, its work done, due again `LIST_RETRY_S` later.

Everything is in SQLite first: a replica killed with lists in work takes them again, at the
head of its queue, when it restarts (the `taken` flags of its rows are cleared at start).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from functools import partial

import anyio

from mock_services.portal.context import PortalContext
from mock_services.portal.payments import PaymentOrder, PayResult, pay
from scenario.history import LIST_QUEUE

LOG = logging.getLogger(__name__)
LIST_RETRY_S = 30.0  # as the simulator's `sim.portal.LIST_RETRY_S`


@dataclass(frozen=True)
class ListJob:
    """One accepted list in work: its payment order, the service time left, its key and
    when it was accepted."""

    order: PaymentOrder
    rest_s: float
    key: str
    accepted_s: float


def _claim(conn: sqlite3.Connection, *, replica: str, now_s: float) -> ListJob | None:
    row = conn.execute(
        "SELECT j.list_id, j.rest_s, l.payment_ref, l.workshop_code, l.payable_rial, "
        "l.idem_key, l.submitted_s "
        "FROM list_jobs j JOIN lists l ON l.id = j.list_id WHERE j.replica=? AND j.done=0 "
        "AND j.taken=0 AND j.next_s<=? ORDER BY j.next_s, j.list_id LIMIT 1",
        (replica, now_s)).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE list_jobs SET taken=1 WHERE list_id=?", (row["list_id"],))
    return ListJob(PaymentOrder(row["list_id"], row["payment_ref"], row["workshop_code"],
                                row["payable_rial"]), row["rest_s"], row["idem_key"],
                   row["submitted_s"])


def _settle(conn: sqlite3.Connection, job: ListJob, result: PayResult, *, queue: bool,
            now_s: float) -> bool:
    """Record what the payment did; whether the list is processed (else it is due again)."""
    list_id, receipt, permanent = job.order.list_id, result.receipt, result.permanent
    if receipt is not None:
        conn.execute("UPDATE lists SET status='paid', receipt=?, paid_s=? WHERE id=?",
                     (receipt, now_s, list_id))
    elif permanent:
        conn.execute("UPDATE lists SET status='payment_failed' WHERE id=?", (list_id,))
    elif queue:
        conn.execute("UPDATE lists SET status='queued' WHERE id=?", (list_id,))
        conn.execute("INSERT OR REPLACE INTO payment_jobs (list_id, next_s) VALUES (?, ?)",
                     (list_id, now_s))
    else:  # paid again later; the processing itself is done
        conn.execute("UPDATE list_jobs SET rest_s=0, next_s=?, taken=0 WHERE list_id=?",
                     (now_s + LIST_RETRY_S, list_id))
        return False
    conn.execute("UPDATE list_jobs SET done=1 WHERE list_id=?", (list_id,))
    return True


class ListWorker:
    """This replica's list queue: a dispatcher and the lists it has in work."""

    def __init__(self, ctx: PortalContext) -> None:
        self.ctx = ctx
        self.in_work = 0

    def loops(self) -> int:
        """Lists in work at most: the policy's share of this replica's worker slots."""
        policy = self.ctx.policies.list_queue
        pool = self.ctx.demand.pool
        return policy.loops(pool.workers if pool is not None else 1) if policy else 0

    async def claim(self) -> ListJob | None:
        """Take this replica's oldest due list (None when none is due)."""
        ctx = self.ctx
        return await ctx.db.awrite(partial(_claim, replica=ctx.settings.replica_id,
                                           now_s=ctx.clock.now()))

    async def run_once(self) -> bool:
        """Process one due list, whatever the number in work; False when none was due."""
        job = await self.claim()
        if job is None:
            return False
        self.in_work += 1
        await self._process(job)
        return True

    async def run_forever(self) -> None:
        """Dispatch until cancelled (the app's lifespan ends it)."""
        ctx = self.ctx
        me = ctx.settings.replica_id
        await ctx.db.awrite(lambda c: c.execute(
            "UPDATE list_jobs SET taken=0 WHERE replica=? AND done=0", (me,)))
        async with anyio.create_task_group() as tg:
            while True:
                job = None
                ctx.lists_waiting.clear()  # a list accepted from now on wakes `_idle`
                if self.in_work < self.loops():
                    try:
                        job = await self.claim()
                    except sqlite3.Error:  # a database hiccup: the job stays queued
                        LOG.exception("list queue: a claim failed; retrying after a pause")
                if job is None:
                    await self._idle()
                    continue
                self.in_work += 1
                tg.start_soon(self._process, job)

    async def _idle(self) -> None:
        """Until a list is accepted or a list in work ends, or the idle pause passes (a
        job due again later)."""
        ctx = self.ctx
        waiting = ctx.lists_waiting
        async with anyio.create_task_group() as tg:
            async def woken() -> None:
                await waiting.wait()
                tg.cancel_scope.cancel()

            async def paused() -> None:
                await ctx.clock.sleep(ctx.settings.payment_worker_idle_s)
                tg.cancel_scope.cancel()

            tg.start_soon(woken)
            tg.start_soon(paused)

    async def _process(self, job: ListJob) -> None:
        ctx = self.ctx
        try:
            async with ctx.demand.serve("submit_list", service_s=job.rest_s, bounded=False):
                result = await pay(ctx, job.order, deadline_s=None)
            done = ctx.clock.now()
            processed = await ctx.db.awrite(lambda c: _settle(
                c, job, result, queue=ctx.policies.payment_queue, now_s=done))
            if processed:  # the wait the simulator records too
                ctx.events.write(done, LIST_QUEUE, "processed", job.key,
                                 f"{done - job.accepted_s:.3f}")
            ctx.metrics.events.labels("list_processed").inc()
        except Exception:  # the job stays taken until this replica restarts: say so
            LOG.exception("list queue: list %s could not be processed", job.order.list_id)
            await ctx.db.awrite(lambda c: c.execute(
                "UPDATE list_jobs SET taken=0, next_s=? WHERE list_id=?",
                (ctx.clock.now() + LIST_RETRY_S, job.order.list_id)))
        finally:
            self.in_work -= 1
            ctx.lists_waiting.set()
