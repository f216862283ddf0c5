"""Admin routes for the chaos suite (admin listener and token): final reads, policy reset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mock_services.common.access import AdminOnly
from mock_services.portal.context import Ctx
from mock_services.portal.store import applied_counts

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/applied")
async def applied(ctx: Ctx, _: AdminOnly) -> dict[str, int]:
    """How many times each write's Idempotency-Key is applied."""
    return await ctx.db.aread(applied_counts)


@router.post("/policies/reset")
async def reset_policies(ctx: Ctx, _: AdminOnly) -> dict[str, str]:
    """Back to the policies' initial state (see `PortalContext.reset_policies`)."""
    ctx.reset_policies()
    return {"policies": ctx.policies.name, "state": "reset"}


@router.get("/queue")
async def queue(ctx: Ctx, _: AdminOnly) -> dict[str, Any]:
    """The durable payment queue: pending and completed jobs, and lists by status."""

    def read(conn: Any) -> dict[str, Any]:
        jobs = conn.execute("SELECT done, COUNT(*) AS n FROM payment_jobs GROUP BY done")
        lists = conn.execute("SELECT status, COUNT(*) AS n FROM lists GROUP BY status")
        return {"jobs": {("done" if r["done"] else "pending"): r["n"] for r in jobs},
                "lists": {r["status"]: r["n"] for r in lists}}

    return await ctx.db.aread(read)
