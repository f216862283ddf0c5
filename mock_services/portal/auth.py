"""Who is calling: the bearer session, checked on every request, and the role a route needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mock_services.common.errors import Forbidden, Unauthorized
from mock_services.portal.context import Ctx
from mock_services.portal.security import token_digest

Role = Literal["citizen", "employer", "doctor", "pharmacy"]


@dataclass(frozen=True)
class Principal:
    """The logged-in person and their role."""

    national_id: str
    role: Role


# The OpenAPI document's security scheme (what schemathesis and clients read): our own 401
# sentence answers a missing or non-Bearer header, not FastAPI's.
_BEARER = HTTPBearer(auto_error=False, description="the token POST /auth/login (or /auth/otp) "
                     "gave; sessions live in the shared database, so any replica accepts it")


async def _principal(
    ctx: Ctx,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Principal:
    if bearer is None:
        raise Unauthorized("log in first: send Authorization: Bearer <token>")
    digest = token_digest(bearer.credentials.strip())
    now = ctx.clock.now()
    row = await ctx.db.aread(lambda c: c.execute(
        "SELECT national_id, role, expires_s FROM sessions WHERE token_hash=?",
        (digest,)).fetchone())
    if row is None or row["expires_s"] <= now:
        raise Unauthorized("the session is unknown or expired; log in again")
    return Principal(row["national_id"], row["role"])


CurrentUser = Annotated[Principal, Depends(_principal)]


def require_role(principal: Principal, *roles: Role) -> None:
    """Forbidden unless the principal has one of `roles`."""
    if principal.role not in roles:
        raise Forbidden(f"this needs {' or '.join(map(_a, roles))} account, not "
                        f"{_a(principal.role)}")


def require_self(principal: Principal, national_id: str) -> None:
    """Forbidden unless the record belongs to the principal (a citizen reads only their own)."""
    if principal.national_id != national_id:
        raise Forbidden("you may read only your own records")


def _a(word: str) -> str:
    """The word with its indefinite article: "an employer", "a citizen"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"
