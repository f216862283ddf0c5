"""Server-side drafts of long forms: typed data survives a dropped connection or a crash."""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.errors import NotFound, PayloadTooLarge
from mock_services.portal.auth import CurrentUser
from mock_services.portal.context import Ctx

router = APIRouter(prefix="/drafts", tags=["drafts"])
FormId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]


class DraftIn(BaseModel):
    """PUT /drafts/{form_id}: the form's fields as a JSON object."""

    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any]
    base_version: Annotated[int | None, Field(ge=0)] = None


@router.put("/{form_id}")
async def save(form_id: FormId, body: DraftIn, key: idempotency.IdempotencyKey,
               user: CurrentUser, ctx: Ctx) -> JSONResponse:
    """Save a new version of the draft (committed before the answer)."""
    async with ctx.demand.serve("save_draft"):
        data = json.dumps(body.data, ensure_ascii=False, sort_keys=True)
        if len(data.encode()) > ctx.settings.max_draft_bytes:
            raise PayloadTooLarge(f"a draft may hold {ctx.settings.max_draft_bytes} bytes of data")
        digest = idempotency.fingerprint(f"draft:{form_id}", data)
        now = ctx.clock.now()

        def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
            last = conn.execute("SELECT MAX(version) FROM draft_versions WHERE owner_id=? AND "
                                "form_id=?", (user.national_id, form_id)).fetchone()[0]
            version = (last or 0) + 1
            conn.execute("INSERT INTO draft_versions VALUES (?, ?, ?, ?, ?, ?)",
                         (user.national_id, form_id, version, data, now, key))
            return idempotency.StoredResponse(200, {"form_id": form_id, "version": version,
                                                    "saved_s": now})

        stored, _ = await ctx.db.awrite(lambda c: idempotency.run_once(
            c, user.national_id, key, digest, now_s=now, apply=apply))
        return JSONResponse(stored.body, status_code=stored.status)


@router.get("/{form_id}")
async def restore(form_id: FormId, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """The latest saved version of the caller's draft."""
    row = await ctx.db.aread(lambda c: c.execute(
        "SELECT * FROM draft_versions WHERE owner_id=? AND form_id=? ORDER BY version DESC "
        "LIMIT 1", (user.national_id, form_id)).fetchone())
    if row is None:
        raise NotFound(f"no saved draft {form_id}")
    return {"form_id": form_id, "version": row["version"], "data": json.loads(row["data"]),
            "saved_s": row["saved_s"]}
