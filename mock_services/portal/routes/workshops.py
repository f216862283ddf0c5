"""Workshop registration (10-digit code) and an employer's own workshops."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.errors import Conflict
from mock_services.domain.insurance_list import Text, WorkshopCode
from mock_services.portal.auth import CurrentUser, require_role
from mock_services.portal.context import Ctx

router = APIRouter(prefix="/workshops", tags=["workshops"])


class WorkshopIn(BaseModel):
    """POST /workshops."""

    model_config = ConfigDict(extra="forbid")
    code: WorkshopCode
    name: Annotated[Text, Field(min_length=1)]


class WorkshopOut(BaseModel):
    """A workshop of the caller."""

    code: str
    name: str


@router.post("", status_code=201, response_model=WorkshopOut)
async def register(body: WorkshopIn, key: idempotency.IdempotencyKey, user: CurrentUser,
                   ctx: Ctx) -> JSONResponse:
    """Register a workshop code to the calling employer (once)."""
    require_role(user, "employer")
    digest = idempotency.fingerprint("workshop", body.model_dump_json())
    now = ctx.clock.now()

    def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
        row = conn.execute("SELECT employer_id FROM workshops WHERE code=?",
                           (body.code,)).fetchone()
        if row is not None:
            whose = "you" if row["employer_id"] == user.national_id else "another employer"
            raise Conflict(f"workshop {body.code} is already registered to {whose}")
        conn.execute("INSERT INTO workshops VALUES (?, ?, ?, ?, ?)",
                     (body.code, user.national_id, body.name, now, key))
        return idempotency.StoredResponse(201, {"code": body.code, "name": body.name})

    stored, replayed = await ctx.db.awrite(lambda c: idempotency.run_once(
        c, user.national_id, key, digest, now_s=now, apply=apply))
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
