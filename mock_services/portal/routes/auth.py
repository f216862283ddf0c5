"""Login (password, Shahkar-verified mobile, SMS code for doctors) and password recovery."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.errors import (
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from mock_services.domain.mobile import Mobile
from mock_services.domain.national_id import NationalId
from mock_services.portal.auth import CurrentUser
from mock_services.portal.context import Ctx, PortalContext
from mock_services.portal.security import (
    DUMMY_HASH,
    hash_password,
    needs_rehash,
    token_digest,
    verify_password,
)
from mock_services.portal.sessions import consume_otp, create_session, new_otp
from mock_services.portal.verification import shahkar_match, verify_login_mobile

router = APIRouter(prefix="/auth", tags=["auth"])
Password = Annotated[str, Field(min_length=1, max_length=128)]
NewPassword = Annotated[str, Field(min_length=8, max_length=128)]
Challenge = Annotated[str, Field(min_length=10, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
Code = Annotated[str, Field(pattern=r"^\d{6}$")]


class LoginIn(BaseModel):
    """POST /auth/login."""

    model_config = ConfigDict(extra="forbid")
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


class OtpIn(BaseModel):
    """POST /auth/otp: the code the SMS carried."""

    model_config = ConfigDict(extra="forbid")
    challenge_id: Challenge
    code: Code


class RecoveryIn(BaseModel):
    """POST /auth/recovery: the mobile to send the code to, checked with Shahkar."""

    model_config = ConfigDict(extra="forbid")
    national_id: NationalId
    mobile: Mobile


class RecoveryConfirmIn(BaseModel):
    """POST /auth/recovery/confirm: the code and the new password."""

    model_config = ConfigDict(extra="forbid")
    challenge_id: Challenge
    code: Code
    new_password: NewPassword


def _limit(ctx: PortalContext, national_id: str, source: str) -> None:
    now = ctx.clock.now()
    for bucket, key, what in ((ctx.login_by_source, source, "this address"),
                              (ctx.login_by_account, national_id, "this account")):
        if bucket is None:
            continue
        decision = bucket.take(key, now)
        retry_after = getattr(decision, "retry_after_s", None)
        if hasattr(decision, "reason"):
            ctx.metrics.events.labels("login_rate_limited").inc()
            raise TooManyRequests(f"too many login attempts from {what}; wait and retry",
                                  retry_after_s=retry_after or 1)


async def _session(ctx: PortalContext, national_id: str, role: str) -> tuple[str, float]:
    expires = ctx.clock.now() + ctx.settings.session_ttl_s
    token = await ctx.db.awrite(lambda c: create_session(c, national_id, role, expires))
    return token, expires


@router.post("/login")
async def login(body: LoginIn, request: Request, ctx: Ctx) -> LoginOut:
    """Password check, then Shahkar confirms the mobile; doctors also get an SMS code."""
    source = request.client.host if request.client else "unknown"
    _limit(ctx, body.national_id, source)  # the sim's gate: rate limits before the queue
    # the login operation's one service time; a doctor's second step (/auth/otp) passes through
    async with ctx.demand.serve("login"):
        user = await ctx.db.aread(lambda c: c.execute(
            "SELECT * FROM users WHERE national_id=?", (body.national_id,)).fetchone())
        stored = user["password_hash"] if user else DUMMY_HASH
        if not await to_thread.run_sync(verify_password, body.password, stored,
                                          limiter=ctx.hashing) or user is None:
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


@router.post("/otp")
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


@router.post("/logout")
async def logout(request: Request, user: CurrentUser, ctx: Ctx) -> dict[str, str]:
    """End this session."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    await ctx.db.awrite(lambda c: c.execute("DELETE FROM sessions WHERE token_hash=?",
                                            (token_digest(token),)))
    return {"status": "logged out", "national_id": user.national_id}


@router.post("/recovery", status_code=202)
async def recovery(body: RecoveryIn, request: Request, ctx: Ctx) -> dict[str, str]:
    """Send a one-time code to a mobile that Shahkar confirms belongs to the national ID."""
    source = request.client.host if request.client else "unknown"
    _limit(ctx, body.national_id, source)  # the sim's gate: rate limits before the queue
    async with ctx.demand.serve("recover_password"):
        user = await ctx.db.aread(lambda c: c.execute(
            "SELECT national_id FROM users WHERE national_id=?", (body.national_id,)).fetchone())
        if user is None:
            raise NotFound(f"no portal account for national ID {body.national_id}")
        matched = await shahkar_match(ctx, body.national_id, body.mobile)
        if matched is None:
            raise Unavailable("the mobile ownership check (Shahkar) is unavailable; try again "
                              "shortly", retry_after_s=5)
        if not matched:
            raise Forbidden("Shahkar reports this mobile is not registered to this national ID")
        now = ctx.clock.now()
        await ctx.db.awrite(lambda c: c.execute(
            "UPDATE users SET mobile=?, mobile_verified_s=? WHERE national_id=?",
            (body.mobile, now, body.national_id)))
        challenge = await new_otp(ctx, body.national_id, body.mobile, "recovery")
        return {"challenge_id": challenge, "status": "code sent"}


@router.post("/recovery/confirm")
async def recovery_confirm(body: RecoveryConfirmIn, key: idempotency.IdempotencyKey,
                           ctx: Ctx) -> JSONResponse:
    """Set the new password with the SMS code; every session of the account ends."""
    new_hash = await to_thread.run_sync(hash_password, body.new_password,
                                      ctx.settings.scrypt_n, limiter=ctx.hashing)
    digest = idempotency.fingerprint("recovery", body.model_dump_json())
    now = ctx.clock.now()

    def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
        nid = consume_otp(conn, body.challenge_id, body.code, "recovery", now_s=now,
                          max_attempts=ctx.settings.max_otp_attempts)
        if nid is None:
            return idempotency.StoredResponse(401, {"error": "the one-time code is wrong"})
        conn.execute("UPDATE users SET password_hash=? WHERE national_id=?", (new_hash, nid))
        conn.execute("DELETE FROM sessions WHERE national_id=?", (nid,))
        return idempotency.StoredResponse(200, {"status": "password changed", "national_id": nid})

    stored, _ = await ctx.db.awrite(lambda c: idempotency.run_once(
        c, f"recovery:{body.challenge_id}", key, digest, now_s=now, apply=apply))
    return JSONResponse(stored.body, status_code=stored.status)
