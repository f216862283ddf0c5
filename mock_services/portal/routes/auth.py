"""Login (password, Shahkar-verified mobile, SMS code for doctors) and password recovery."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.access import client_identity
from mock_services.common.errors import (
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    responses,
)
from mock_services.common.reasons import Reason
from mock_services.domain.mobile import Mobile
from mock_services.domain.national_id import NationalId
from mock_services.portal.auth import CurrentUser
from mock_services.portal.context import Ctx, PortalContext
from mock_services.portal.limits import Limit
from mock_services.portal.security import (
    hash_password,
    needs_rehash,
    token_digest,
    verify_password,
)
from mock_services.portal.sessions import check_otp, consume_otp, create_session, new_otp
from mock_services.portal.verification import shahkar_match, verify_login_mobile

router = APIRouter(prefix="/auth", tags=["auth"], responses=responses(503))
Password = Annotated[str, Field(min_length=1, max_length=128)]
NewPassword = Annotated[str, Field(min_length=8, max_length=128)]
Challenge = Annotated[str, Field(min_length=10, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
Code = Annotated[str, Field(pattern=r"^\d{6}$")]


class LoginIn(BaseModel):
    """POST /auth/login."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    national_id: NationalId
    password: Password


class LoginOut(BaseModel):
    """A session, or (doctors) the challenge of the SMS code step."""

    role: str
    token: str | None = None
    expires_s: float | None = None
    otp_required: bool = False
    challenge_id: str | None = None
    verification: Literal["fresh", "cached"] | None = None


class LogoutOut(BaseModel):
    """The session ended."""

    status: Literal["logged out"]
    national_id: str


class RecoveryOut(BaseModel):
    """A code sent to the mobile: the challenge the confirmation names."""

    challenge_id: str
    status: Literal["code sent"]


class PasswordChangedOut(BaseModel):
    """The new password set; every session of the account ended."""

    status: Literal["password changed"]
    national_id: str


class OtpIn(BaseModel):
    """POST /auth/otp: the code the SMS carried."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    challenge_id: Challenge
    code: Code


class RecoveryIn(BaseModel):
    """POST /auth/recovery: the mobile to send the code to, checked with Shahkar."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    national_id: NationalId
    mobile: Mobile


class RecoveryConfirmIn(BaseModel):
    """POST /auth/recovery/confirm: the code and the new password."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    challenge_id: Challenge
    code: Code
    new_password: NewPassword


# Password recovery's own limits, whatever the policy set: a confirmation is refused per
# source past a burst of 10 (1 a second after that), and each challenge takes at most 5
# confirmations (its wrong codes are capped at max_otp_attempts besides).
CONFIRM_PER_SOURCE = Limit("confirm:source", rate_per_s=1.0, burst=10.0)
CONFIRM_PER_CHALLENGE = Limit("confirm:challenge", rate_per_s=1 / 60, burst=5.0)
TRUSTED_AFTER_RECOVERY_S = 3600.0  # how long a recovery vouches for its source's logins
NOT_REGISTERED = "Shahkar reports this mobile is not registered to this national ID"


def _policy_limits(ctx: PortalContext, kind: str) -> tuple[Limit, Limit] | None:
    """(per source, per account) limits of `kind` ("login", "recovery") from the policy set."""
    shape = ctx.policies.login_limit
    if shape is None:
        return None
    return (Limit(f"{kind}:source", shape.per_source_rate_per_s, shape.per_source_burst),
            Limit(f"{kind}:account", shape.per_account_rate_per_s, shape.per_account_burst))


def _refused(ctx: PortalContext, what: str, refusal: tuple[Limit, float] | None) -> None:
    if refusal is None:
        return
    limit, wait_s = refusal
    whose = "from this address" if limit.scope.endswith(":source") else (
        "for this account" if limit.scope.endswith(":account") else "for this challenge")
    ctx.metrics.events.labels(f"{what}_rate_limited").inc()
    raise TooManyRequests(f"too many {what} attempts {whose}; wait and retry",
                          retry_after_s=max(1.0, wait_s))


async def _trusted(ctx: PortalContext, national_id: str, source: str) -> bool:
    """Whether `source` recovered `national_id`'s password lately (its owner, proven by SMS)."""
    now = ctx.clock.now()
    row = await ctx.db.aread(lambda c: c.execute(
        "SELECT 1 FROM trusted_sources WHERE national_id=? AND source=? AND until_s>?",
        (national_id, source, now)).fetchone())
    return row is not None


async def _limit_login(ctx: PortalContext, national_id: str, source: str) -> None:
    """The login limits, shared by the replicas: per source, then per account. A source that
    recovered the account's password lately skips the account's bucket, which an attacker
    may keep empty: the owner keeps a way in while the attacker is held."""
    limits = _policy_limits(ctx, "login")
    if limits is None:
        return
    by_source, by_account = limits
    checks = [(by_source, source)]
    if not await _trusted(ctx, national_id, source):
        checks.append((by_account, national_id))
    _refused(ctx, "login", await ctx.limits.take_all(checks, ctx.clock.now()))


async def _session(ctx: PortalContext, national_id: str, role: str) -> tuple[str, float]:
    expires = ctx.clock.now() + ctx.settings.session_ttl_s
    token = await ctx.db.awrite(lambda c: create_session(c, national_id, role, expires))
    return token, expires


@router.post("/login", responses=responses(
    400, 401, 403, 413, 429, s401="The national ID or the password is wrong",
    s403="Shahkar reports the mobile on file is not the account holder's"))
async def login(body: LoginIn, request: Request, ctx: Ctx) -> LoginOut:
    """Password check, then Shahkar confirms the mobile; doctors also get an SMS code."""
    source = client_identity(request)
    await _limit_login(ctx, body.national_id, source)  # the sim's gate: before the queue
    # the login operation's one service time; a doctor's second step (/auth/otp) passes through
    async with ctx.demand.serve("login"):
        user = await ctx.db.aread(lambda c: c.execute(
            "SELECT * FROM users WHERE national_id=?", (body.national_id,)).fetchone())
        # the same work whether the account exists or not, whatever its hash's cost
        stored = user["password_hash"] if user else ctx.dummy_hash
        if not await to_thread.run_sync(verify_password, body.password, stored,
                                          ctx.settings.scrypt_n, limiter=ctx.hashing) \
                or user is None:
            raise Unauthorized("the national ID or the password is wrong")
        verification = await verify_login_mobile(ctx, body.national_id, user["mobile"],
                                                 user["mobile_verified_s"])
        if needs_rehash(stored, ctx.settings.scrypt_n):
            new_hash = await to_thread.run_sync(hash_password, body.password,
                                                  ctx.settings.scrypt_n, limiter=ctx.hashing)
            await ctx.db.awrite(lambda c: c.execute(
                "UPDATE users SET password_hash=? WHERE national_id=? AND password_hash=?",
                (new_hash, body.national_id, stored)))
        if user["role"] == "doctor":
            challenge = await new_otp(ctx, body.national_id, user["mobile"], "login")
            return LoginOut(role="doctor", otp_required=True, challenge_id=challenge,
                            verification=verification)
        token, expires = await _session(ctx, body.national_id, user["role"])
        return LoginOut(role=user["role"], token=token, expires_s=expires,
                        verification=verification)


@router.post("/otp", responses=responses(
    400, 401, 413, s401="The code is wrong, unknown, used or expired"))
async def login_otp(body: OtpIn, ctx: Ctx) -> LoginOut:
    """The second step of a doctor's login: the SMS code gives the session."""
    now = ctx.clock.now()
    nid = await ctx.db.awrite(lambda c: consume_otp(
        c, body.challenge_id, body.code, "login", now_s=now,
        max_attempts=ctx.settings.max_otp_attempts))
    if nid is None:
        raise Unauthorized("the one-time code is wrong")
    role = await ctx.db.aread(lambda c: c.execute(
        "SELECT role FROM users WHERE national_id=?", (nid,)).fetchone()["role"])
    token, expires = await _session(ctx, nid, role)
    return LoginOut(role=role, token=token, expires_s=expires)


@router.post("/logout", responses=responses(401))
async def logout(request: Request, user: CurrentUser, ctx: Ctx) -> LogoutOut:
    """End this session."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    await ctx.db.awrite(lambda c: c.execute("DELETE FROM sessions WHERE token_hash=?",
                                            (token_digest(token),)))
    return LogoutOut(status="logged out", national_id=user.national_id)


@router.post("/recovery", status_code=202, responses=responses(
    400, 403, 413, 429, s403="Shahkar reports the mobile is not the national ID's"))
async def recovery(body: RecoveryIn, request: Request, ctx: Ctx) -> RecoveryOut:
    """Send a one-time code to a mobile that Shahkar confirms belongs to the national ID.

    The same answer, and the same work, whether a portal account exists or not: Shahkar is
    asked either way, a refused mobile is the same 403, and a confirmed one gets its code
    (the confirmation then tells the mobile's owner, and only them, if there is no account).
    Its limits are its own, not the login's: an attacker who empties an account's login
    bucket does not lock its owner out of recovery."""
    source = client_identity(request)
    limits = _policy_limits(ctx, "recovery")
    sent = [(limits[1], body.national_id)] if limits else []  # codes sent to the account
    if limits:  # the sim's gate: rate limits before the queue
        _refused(ctx, "recovery", await ctx.limits.take_all([(limits[0], source)],
                                                            ctx.clock.now()))
        _refused(ctx, "recovery", await ctx.limits.peek_all(sent, ctx.clock.now()))
    async with ctx.demand.serve("recover_password"):
        matched = await shahkar_match(ctx, body.national_id, body.mobile)
        if matched is None:
            raise Unavailable("the mobile ownership check (Shahkar) is unavailable; try again "
                              "shortly", Reason.UPSTREAM_UNAVAILABLE, retry_after_s=5)
        if not matched:
            raise Forbidden(NOT_REGISTERED)
        now = ctx.clock.now()
        await ctx.limits.charge(sent, now)  # only a sent code counts: no SMS bombing

        def confirm_mobile(conn: sqlite3.Connection) -> None:  # in the code's transaction
            conn.execute("UPDATE users SET mobile=?, mobile_verified_s=? WHERE national_id=?",
                         (body.mobile, now, body.national_id))

        challenge = await new_otp(ctx, body.national_id, body.mobile, "recovery",
                                  also=confirm_mobile)
        return RecoveryOut(challenge_id=challenge, status="code sent")


@router.post("/recovery/confirm", response_model=PasswordChangedOut, responses=responses(
    400, 401, 404, 413, 422, 429, s401="The code is wrong, unknown, used or expired",
    s404="No portal account for the national ID (told only to the mobile's owner)",
    s422=idempotency.IDEMPOTENCY_422))
async def recovery_confirm(body: RecoveryConfirmIn, request: Request,
                           key: idempotency.IdempotencyKey, ctx: Ctx) -> JSONResponse:
    """Set the new password with the SMS code; every session of the account ends.

    The code is checked before the new password is hashed: a wrong or unknown code costs a
    row, never a hash (issue #21, item 5). Limited per source and per challenge."""
    source = client_identity(request)
    now = ctx.clock.now()
    _refused(ctx, "confirmation", await ctx.limits.take_all(
        [(CONFIRM_PER_SOURCE, source), (CONFIRM_PER_CHALLENGE, body.challenge_id)], now))
    scope = f"recovery:{body.challenge_id}"
    digest = idempotency.fingerprint("recovery", body.model_dump_json())
    applied = await idempotency.replay(ctx.db, scope, key, digest)
    if applied is not None:
        return JSONResponse(applied.body, status_code=applied.status)
    right = await ctx.db.awrite(lambda c: check_otp(
        c, body.challenge_id, body.code, "recovery", now_s=now,
        max_attempts=ctx.settings.max_otp_attempts))
    if not right:
        raise Unauthorized("the one-time code is wrong")
    new_hash = await to_thread.run_sync(hash_password, body.new_password,
                                      ctx.settings.scrypt_n, limiter=ctx.hashing)
    now = ctx.clock.now()

    def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
        nid = consume_otp(conn, body.challenge_id, body.code, "recovery", now_s=now,
                          max_attempts=ctx.settings.max_otp_attempts)
        if nid is None:
            return idempotency.StoredResponse(401, {"error": "the one-time code is wrong"})
        changed = conn.execute("UPDATE users SET password_hash=? WHERE national_id=?",
                               (new_hash, nid)).rowcount
        if not changed:  # the mobile's owner asked, and only they learn it
            raise NotFound(f"no portal account for national ID {nid}")
        conn.execute("DELETE FROM sessions WHERE national_id=?", (nid,))
        conn.execute("INSERT OR REPLACE INTO trusted_sources VALUES (?, ?, ?)",
                     (nid, source, now + TRUSTED_AFTER_RECOVERY_S))
        out = PasswordChangedOut(status="password changed", national_id=nid)
        return idempotency.StoredResponse(200, out.model_dump())

    stored, _ = await ctx.db.awrite(lambda c: idempotency.run_once(
        c, scope, key, digest, now_s=now, apply=apply))
    return JSONResponse(stored.body, status_code=stored.status)
