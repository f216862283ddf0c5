"""Mobile ownership through Shahkar, with the resilient fallback: a recent verification stands.

With `verification_cache_max_age_s` set, a user whose mobile Shahkar confirmed within that
age still logs in while Shahkar is down or slow; without it (baseline) a Shahkar outage
stops every login. With `verification_deadline_s` set too, such a user waits at most that
long for Shahkar: the call is given the deadline, so its attempt is cut (and recorded as a
timeout) when it passes, not left running. The simulator (sim/upstream.py) does the same.
Password recovery has no fallback: it checks a new mobile, which no past answer vouches for.
"""

from __future__ import annotations

from typing import Literal

from mock_services.common.errors import Forbidden, Unavailable
from mock_services.common.reasons import Reason
from mock_services.portal.context import PortalContext
from mock_services.portal.upstream import Reply

# Re-confirming at most hourly keeps a login from being a write every time.
REFRESH_AFTER_S = 3600.0
Verification = Literal["fresh", "cached"]


async def ask_shahkar(ctx: PortalContext, national_id: str, mobile: str,
                      deadline_s: float | None = None) -> tuple[bool | None, Reply]:
    """Shahkar's answer (True/False), or None when Shahkar gave no usable answer; and the
    reply, whose `reason` says why not."""
    reply = await ctx.upstream("shahkar").call(
        "POST", "/shahkar", json={"mobile": mobile, "national_code": national_id},
        deadline_s=deadline_s)
    if reply.ok and reply.status == 200 and isinstance(reply.body, dict):
        return bool(reply.body.get("matched")), reply
    return None, reply


async def shahkar_match(ctx: PortalContext, national_id: str, mobile: str,
                        deadline_s: float | None = None) -> bool | None:
    """Shahkar's answer (True/False), or None when Shahkar gave no usable answer."""
    matched, _ = await ask_shahkar(ctx, national_id, mobile, deadline_s)
    return matched


async def verify_login_mobile(ctx: PortalContext, national_id: str, mobile: str,
                              verified_s: float | None) -> Verification:
    """Confirm the user's mobile is still theirs; raise Forbidden/Unavailable otherwise."""
    max_age = ctx.policies.verification_cache_max_age_s
    start = ctx.clock.now()
    fallback = max_age is not None and verified_s is not None and start - verified_s <= max_age
    # With a fallback at hand, a slow Shahkar is not worth the user's wait: cut it short.
    wait_s = ctx.policies.verification_deadline_s
    deadline = start + wait_s if fallback and wait_s is not None else None
    matched = await shahkar_match(ctx, national_id, mobile, deadline)
    now = ctx.clock.now()
    if matched is True:
        if verified_s is None or now - verified_s > REFRESH_AFTER_S:
            await ctx.db.awrite(lambda c: c.execute(
                "UPDATE users SET mobile_verified_s=? WHERE national_id=?", (now, national_id)))
        return "fresh"
    if matched is False:
        raise Forbidden("Shahkar reports the mobile on file is not registered to this national ID")
    if fallback:
        ctx.metrics.events.labels("verification_cached").inc()
        return "cached"
    ctx.metrics.events.labels("verification_unavailable").inc()
    raise Unavailable("the mobile ownership check (Shahkar) is unavailable; try again shortly",
                      Reason.UPSTREAM_UNAVAILABLE, retry_after_s=5)
