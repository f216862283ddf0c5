"""Sessions and one-time codes in the shared database (any replica can check them)."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable

from mock_services.common.errors import Unauthorized, Unavailable
from mock_services.common.reasons import Reason
from mock_services.portal.context import PortalContext
from mock_services.portal.security import new_code, new_token, token_digest


def create_session(conn: sqlite3.Connection, national_id: str, role: str,
                   expires_s: float) -> str:
    """A new bearer token for the user (only its digest is stored)."""
    token = new_token()
    conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                 (token_digest(token), national_id, role, expires_s))
    return token


async def new_otp(ctx: PortalContext, national_id: str, mobile: str, purpose: str,
                  also: Callable[[sqlite3.Connection], None] | None = None) -> str:
    """Store a one-time code (and do `also` in the same transaction), send it by SMS (through
    the policies), return the challenge ID."""
    challenge, code = secrets.token_urlsafe(16), new_code()
    expires = ctx.clock.now() + ctx.settings.otp_ttl_s

    def store(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO otps (id, national_id, purpose, code, expires_s) "
                     "VALUES (?, ?, ?, ?, ?)", (challenge, national_id, purpose, code, expires))
        if also is not None:
            also(conn)

    await ctx.db.awrite(store)
    reply = await ctx.upstream("sms").call(
        "POST", "/sms", json={"mobile": mobile, "text": f"Tamin code: {code}"},
        headers={"Idempotency-Key": f"otp-{challenge}"})
    if not reply.ok:
        raise Unavailable("the SMS gateway is unavailable; try again shortly",
                          Reason.UPSTREAM_UNAVAILABLE, retry_after_s=5)
    return challenge


def check_otp(conn: sqlite3.Connection, challenge: str, code: str, purpose: str,
              *, now_s: float, max_attempts: int) -> bool:
    """Whether `code` is the challenge's, without using it up; a wrong one counts as an
    attempt (returned, not raised, so the count is committed)."""
    row = _usable(conn, challenge, purpose, now_s=now_s, max_attempts=max_attempts)
    if secrets.compare_digest(row["code"], code):
        return True
    conn.execute("UPDATE otps SET attempts = attempts + 1 WHERE id=?", (challenge,))
    return False


def _usable(conn: sqlite3.Connection, challenge: str, purpose: str, *, now_s: float,
            max_attempts: int) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM otps WHERE id=? AND purpose=?",
                                           (challenge, purpose)).fetchone()
    if row is None or row["used"] or row["expires_s"] <= now_s:
        raise Unauthorized("the one-time code is unknown, used or expired; ask for a new one")
    if row["attempts"] >= max_attempts:
        raise Unauthorized("too many wrong codes; ask for a new one")
    return row


def consume_otp(conn: sqlite3.Connection, challenge: str, code: str, purpose: str,
                *, now_s: float, max_attempts: int) -> str | None:
    """Use up a one-time code: the national ID it was issued to, or None for a wrong code.

    A wrong code returns (rather than raises) so the attempt counter is committed.
    """
    row = _usable(conn, challenge, purpose, now_s=now_s, max_attempts=max_attempts)
    if not secrets.compare_digest(row["code"], code):
        conn.execute("UPDATE otps SET attempts = attempts + 1 WHERE id=?", (challenge,))
        return None
    conn.execute("UPDATE otps SET used = 1 WHERE id=?", (challenge,))
    national_id: str = row["national_id"]
    return national_id

