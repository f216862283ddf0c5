"""Admin routes for the chaos suite (admin listener and token): final reads, policy reset."""

from __future__ import annotations

import sqlite3
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from mock_services.common.access import AdminOnly
from mock_services.portal.context import Ctx
from mock_services.portal.routes.lists import ListStatus
from mock_services.portal.store import applied_counts

router = APIRouter(prefix="/admin", tags=["admin"])


class PoliciesResetOut(BaseModel):
    """The policy set now back in its initial state."""

    policies: str
    state: Literal["reset"]


class QueueOut(BaseModel):
    """The durable queues: payment jobs, list-queue jobs (`list_queue`) and lists, counted
    by state. Maps of counts, not records: a state appears only when some row is in it (an
    empty table is `{}`)."""

    jobs: dict[Literal["pending", "done"], int]
    list_jobs: dict[Literal["pending", "done"], int]
    lists: dict[ListStatus, int]


# An open map on purpose: its keys are the writes' Idempotency-Keys, whatever the clients
# chose, and each value is how many times that write is applied (the history's `final`).
@router.get("/applied")
async def applied(ctx: Ctx, _: AdminOnly) -> dict[str, int]:
    """How many times each write's Idempotency-Key is applied."""
    return await ctx.db.aread(applied_counts)


@router.post("/policies/reset")
async def reset_policies(ctx: Ctx, _: AdminOnly) -> PoliciesResetOut:
    """Back to the policies' initial state (see `PortalContext.reset_policies`)."""
    ctx.reset_policies()
    return PoliciesResetOut(policies=ctx.policies.name, state="reset")


def _queue(conn: sqlite3.Connection) -> QueueOut:
    def by_done(table: str) -> dict[Literal["pending", "done"], int]:
        rows = conn.execute(f"SELECT done, COUNT(*) AS n FROM {table} GROUP BY done")  # noqa: S608
        return {("done" if r["done"] else "pending"): r["n"] for r in rows}

    lists = conn.execute("SELECT status, COUNT(*) AS n FROM lists GROUP BY status")
    return QueueOut(jobs=by_done("payment_jobs"), list_jobs=by_done("list_jobs"),
                    lists={r["status"]: r["n"] for r in lists})


@router.get("/queue")
async def queue(ctx: Ctx, _: AdminOnly) -> QueueOut:
    """The durable queues: pending and completed jobs, and lists by status."""
    return await ctx.db.aread(_queue)
