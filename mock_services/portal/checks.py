"""The upstream checks a write makes before it commits, failing as the simulator's `serve` does.

Each request kind calls the upstreams its scenario declares (`[workload.kinds] upstreams`), in
that order, with its worker slot held: a prescription checks the patient's insurance with the
registry, a dispensing checks it again (coverage on the day it is dispensed), a workshop
registration confirms the employer's mobile with Shahkar and looks the workshop up in the
registry. Every call goes through the upstream's policy pipeline (`UpstreamClient.call`). An
upstream that gives no usable answer fails the request before anything is written: 503 with
Retry-After when the breaker refused the call (the sim's `breaker_open`), else 502 (the sim's
`http_502`). A usable answer that refuses (not insured, mobile not the employer's) is the
client's 4xx.
"""

from __future__ import annotations

from mock_services.common.errors import (
    Forbidden,
    NotFound,
    ServiceError,
    Unavailable,
    Unprocessable,
    UpstreamFailed,
)
from mock_services.common.reasons import Reason
from mock_services.portal.context import PortalContext
from mock_services.portal.upstream import Reply
from mock_services.portal.verification import ask_shahkar

BREAKER_RETRY_AFTER_S = 5.0


def failure(service: str, reply: Reply) -> ServiceError:
    """The error of a call to `service` (a phrase) that gave no usable answer."""
    if reply.reason == "breaker_open":
        return Unavailable(f"{service} is unavailable ({reply.reason}); try later",
                           Reason.BREAKER_OPEN,
                           retry_after_s=reply.retry_after_s or BREAKER_RETRY_AFTER_S)
    if reply.ok:  # an answer, but not one the portal can use (a 4xx it did not ask for)
        return UpstreamFailed(f"{service} gave an unexpected answer (HTTP {reply.status})")
    return UpstreamFailed(f"{service} did not answer ({reply.reason})")


async def insured(ctx: PortalContext, national_id: str) -> str | None:
    """The registry confirms `national_id` is insured: their last insured month (YYYYMM).

    Unprocessable when the registry says they are not (or knows no such person)."""
    reply = await ctx.upstream("registry").call("GET", f"/persons/{national_id}/eligibility")
    if reply.ok and reply.status == 404:
        raise Unprocessable(f"the registry has no insured person with national ID {national_id}")
    if not (reply.ok and reply.status == 200 and isinstance(reply.body, dict)):
        raise failure("the insurance eligibility check (registry)", reply)
    if not reply.body.get("eligible"):
        raise Unprocessable(f"the registry reports national ID {national_id} is not insured")
    through = reply.body.get("covered_through")
    return through if isinstance(through, str) else None


async def mobile_confirmed(ctx: PortalContext, national_id: str) -> None:
    """Shahkar confirms the mobile on file is `national_id`'s; Forbidden when it says not.

    No cached fallback here: the verification cache is the login's (and recovery's) only."""
    row = await ctx.db.aread(lambda c: c.execute(
        "SELECT mobile FROM users WHERE national_id=?", (national_id,)).fetchone())
    if row is None:
        raise NotFound(f"no portal account for national ID {national_id}")
    matched, reply = await ask_shahkar(ctx, national_id, row["mobile"])
    if matched is None:
        raise failure("the mobile ownership check (Shahkar)", reply)
    if not matched:
        raise Forbidden("Shahkar reports the mobile on file is not registered to this national ID")


async def workshop_standing(ctx: PortalContext, code: str) -> int:
    """The registry's records under workshop `code`: how many people are insured under it."""
    reply = await ctx.upstream("registry").call("GET", f"/workshops/{code}")
    if not (reply.ok and reply.status == 200 and isinstance(reply.body, dict)):
        raise failure("the workshop check (registry)", reply)
    people = reply.body.get("insured_people")
    return people if isinstance(people, int) else 0
