"""Insurance history and pay slips: read from the registry, stale-if-error when it fails.

With a cache policy (resilient) a fresh copy is served without calling the registry, and when
the registry fails a copy up to `max_staleness_s` old is served marked `"stale": true` and
with the `X-Stale: true` header. Without it (baseline) a registry failure is a 502/503.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from mock_services.common.errors import NotFound, Unavailable, UpstreamFailed, responses
from mock_services.common.reasons import upstream_reason
from mock_services.domain.national_id import NationalIdPath
from mock_services.portal.auth import CurrentUser, require_self
from mock_services.portal.context import Ctx, PortalContext

router = APIRouter(prefix="/citizens", tags=["records"], responses=responses(
    401, 403, 404, 502, 503, s403="Someone else's records",
    s404="The registry has no records for the national ID"))


async def _read_through(ctx: PortalContext, kind: str, national_id: str,
                        response: Response) -> dict[str, Any]:
    key = f"{kind}:{national_id}"
    now = ctx.clock.now()
    cache = ctx.cache
    if cache is not None:
        hit = cache.get(key, now)
        if hit is not None:
            return {**dict(hit.value), "stale": False}  # type: ignore[call-overload]
    reply = await ctx.upstream("registry").call("GET", f"/persons/{national_id}/{kind}")
    if reply.ok and reply.status == 200 and isinstance(reply.body, dict):
        if cache is not None:
            cache.put(key, reply.body, ctx.clock.now())
        return {**reply.body, "stale": False}
    if reply.ok and reply.status == 404:
        raise NotFound(f"the registry has no records for national ID {national_id}")
    if cache is not None:
        stale = cache.get_stale(key, ctx.clock.now())
        if stale is not None:
            ctx.metrics.events.labels("stale_read").inc()
            response.headers["X-Stale"] = "true"
            response.headers["Age"] = str(int(stale.age_s))
            return {**dict(stale.value), "stale": True,  # type: ignore[call-overload]
                    "age_s": round(stale.age_s, 3)}
    if reply.reason in ("breaker_open", "throttled") or reply.status == 503:
        raise Unavailable(f"the records service is unavailable ({reply.reason}); try later",
                          upstream_reason(reply.reason), retry_after_s=reply.retry_after_s or 5)
    raise UpstreamFailed(f"the records service did not answer ({reply.reason})")


@router.get("/{national_id}/history")
async def history(national_id: NationalIdPath, user: CurrentUser, ctx: Ctx,
                  response: Response) -> dict[str, Any]:
    """The caller's insurance history (only their own)."""
    require_self(user, national_id)
    async with ctx.demand.serve("read_history"):
        return await _read_through(ctx, "history", national_id, response)


@router.get("/{national_id}/payslips")
async def payslips(national_id: NationalIdPath, user: CurrentUser, ctx: Ctx,
                   response: Response) -> dict[str, Any]:
    """The caller's recent pay slips (only their own)."""
    require_self(user, national_id)
    async with ctx.demand.serve("read_payslip"):
        return await _read_through(ctx, "payslips", national_id, response)
