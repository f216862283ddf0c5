"""Workshop registration (10-digit code) and an employer's own workshops.

A registration confirms the employer's mobile with Shahkar and looks the workshop up in the
registry (`checks`), in that order, with the worker slot held; an upstream that gives no
answer fails it, unwritten, with 502 (503 when the breaker refused).
"""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.errors import Conflict, responses
from mock_services.domain.insurance_list import Text, WorkshopCode
from mock_services.portal import checks
from mock_services.portal.auth import CurrentUser, require_role
from mock_services.portal.context import Ctx

router = APIRouter(prefix="/workshops", tags=["workshops"], responses=responses(
    401, 403, 503, s403="Not an employer's account (a registration: or Shahkar reports the "
    "mobile on file is not the employer's)"))


class WorkshopIn(BaseModel):
    """POST /workshops."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    code: WorkshopCode
    name: Annotated[Text, Field(min_length=1)]


class WorkshopOut(BaseModel):
    """A workshop of the caller."""

    code: str
    name: str


def _free(conn: sqlite3.Connection, code: str) -> None:
    """The code is not registered yet: 409 if it is, the same sentence whoever holds it (an
    employer learns nothing of another's workshops; their own are on GET /workshops)."""
    row = conn.execute("SELECT employer_id FROM workshops WHERE code=?", (code,)).fetchone()
    if row is not None:
        raise Conflict(f"workshop {code} is already registered")


@router.post("", status_code=201, response_model=WorkshopOut, responses=responses(
    400, 404, 409, 413, 422, 502, s404="No portal account for the employer's national ID",
    s409="The workshop code is already registered (whoever holds it)",
    s422=idempotency.IDEMPOTENCY_422))
async def register(body: WorkshopIn, key: idempotency.IdempotencyKey, user: CurrentUser,
                   ctx: Ctx) -> JSONResponse:
    """Register a workshop code to the calling employer (once), after Shahkar confirms the
    employer's mobile and the registry is asked what it holds under the code."""
    require_role(user, "employer")
    async with ctx.demand.serve("register_workshop"):
        digest = idempotency.fingerprint("workshop", body.model_dump_json())
        applied = await idempotency.replay(ctx.db, user.national_id, key, digest)
        if applied is not None:  # a retry of an applied write: nobody is asked again
            return _respond(applied, True)
        employer = user.national_id
        await ctx.db.aread(lambda c: _free(c, body.code))  # 409 before asking anyone
        # the scenario's order: shahkar, then registry; 502/503/403: nothing written
        await checks.mobile_confirmed(ctx, employer)
        await checks.workshop_standing(ctx, body.code)
        now = ctx.clock.now()

        def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
            _free(conn, body.code)
            conn.execute("INSERT INTO workshops VALUES (?, ?, ?, ?, ?)",
                         (body.code, employer, body.name, now, key))
            return idempotency.StoredResponse(201, {"code": body.code, "name": body.name})

        stored, replayed = await ctx.db.awrite(lambda c: idempotency.run_once(
            c, employer, key, digest, now_s=now, apply=apply))
        return _respond(stored, replayed)


def _respond(stored: idempotency.StoredResponse, replayed: bool) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(stored.body, status_code=stored.status, headers=headers)


@router.get("")
async def mine(user: CurrentUser, ctx: Ctx) -> list[WorkshopOut]:
    """The caller's workshops."""
    require_role(user, "employer")
    rows = await ctx.db.aread(lambda c: c.execute(
        "SELECT code, name FROM workshops WHERE employer_id=? ORDER BY code",
        (user.national_id,)).fetchall())
    return [WorkshopOut(code=r["code"], name=r["name"]) for r in rows]
