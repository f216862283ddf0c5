"""Insurance history and pay slips: read from the registry, stale-if-error when it fails.

With a cache policy (resilient) a fresh copy is served without calling the registry, and when
the registry fails a copy up to `max_staleness_s` old is served marked `"stale": true` and
with the `X-Stale: true` header. Without it (baseline) a registry failure is a 502/503.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from mock_services.common.errors import NotFound, Unavailable, UpstreamFailed, responses
from mock_services.common.reasons import upstream_reason
from mock_services.domain.national_id import NationalIdPath
from mock_services.domain.records import HistoryRecord, Payslip
from mock_services.portal.auth import CurrentUser, require_self
from mock_services.portal.context import Ctx, PortalContext
from mock_services.portal.upstream import Reply

router = APIRouter(prefix="/citizens", tags=["records"], responses=responses(
    401, 403, 404, 502, 503, s403="Someone else's records",
    s404="The registry has no records for the national ID"))


# `age_s` is there only on a stale copy: the routes leave None out (the key is absent, as
# it always was), so the document gives it no null.
AgeS = Annotated[float | SkipJsonSchema[None],
                 Field(description="Seconds since the registry gave this copy; only when "
                                   "`stale` is true")]


class HistoryOut(BaseModel):
    """A citizen's insurance history, oldest month first; `stale` when the registry failed
    and a cached copy is served."""

    national_id: str
    records: list[HistoryRecord]
    stale: bool
    age_s: AgeS = None


class PayslipsOut(BaseModel):
    """A citizen's recent pay slips, newest first; `stale` as for the history."""

    national_id: str
    payslips: list[Payslip]
    stale: bool
    age_s: AgeS = None


R = TypeVar("R", HistoryOut, PayslipsOut)


def _fresh(out: type[R], reply: Reply) -> R | None:
    """The registry's answer as `out`, or None when it is no usable 200 (a body not of the
    registry's schema is no more usable than no answer). Strict: what is served is what the
    registry sent, never a coerced "5"."""
    if not (reply.ok and reply.status == 200 and isinstance(reply.body, dict)):
        return None
    try:
        return out.model_validate({**reply.body, "stale": False}, strict=True)
    except ValidationError:
        return None


async def _read_through(ctx: PortalContext, kind: str, national_id: str,
                        response: Response, out: type[R]) -> R:
    """The registry's answer, fresh from the cache or the registry, else (the registry
    failing) a stale copy; the cache holds the validated fresh answers."""
    key = f"{kind}:{national_id}"
    cache = ctx.cache
    hit = cache.get(key, ctx.clock.now()) if cache is not None else None
    if hit is not None and isinstance(hit.value, out):
        return hit.value
    reply = await ctx.upstream("registry").call("GET", f"/persons/{national_id}/{kind}")
    fresh = _fresh(out, reply)
    if fresh is not None:
        if cache is not None:
            cache.put(key, fresh, ctx.clock.now())
        return fresh
    if reply.ok and reply.status == 404:
        raise NotFound(f"the registry has no records for national ID {national_id}")
    stale = cache.get_stale(key, ctx.clock.now()) if cache is not None else None
    if stale is not None and isinstance(stale.value, out):
        ctx.metrics.events.labels("stale_read").inc()
        response.headers["X-Stale"] = "true"
        response.headers["Age"] = str(int(stale.age_s))
        return stale.value.model_copy(update={"stale": True, "age_s": round(stale.age_s, 3)})
    if reply.reason in ("breaker_open", "throttled") or reply.status == 503:
        raise Unavailable(f"the records service is unavailable ({reply.reason}); try later",
                          upstream_reason(reply.reason), retry_after_s=reply.retry_after_s or 5)
    raise UpstreamFailed("the records service did not answer "
                         f"({reply.reason or f'an unusable {reply.status} answer'})")


@router.get("/{national_id}/history", response_model_exclude_none=True)
async def history(national_id: NationalIdPath, user: CurrentUser, ctx: Ctx,
                  response: Response) -> HistoryOut:
    """The caller's insurance history (only their own)."""
    require_self(user, national_id)
    async with ctx.demand.serve("read_history"):
        return await _read_through(ctx, "history", national_id, response, HistoryOut)


@router.get("/{national_id}/payslips", response_model_exclude_none=True)
async def payslips(national_id: NationalIdPath, user: CurrentUser, ctx: Ctx,
                   response: Response) -> PayslipsOut:
    """The caller's recent pay slips (only their own)."""
    require_self(user, national_id)
    async with ctx.demand.serve("read_payslip"):
        return await _read_through(ctx, "payslips", national_id, response, PayslipsOut)
