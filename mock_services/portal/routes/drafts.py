"""Server-side drafts of long forms: typed data survives a dropped connection or a crash.

What a draft may hold is checked at the write, so every saved draft can be read back: a JSON
object whose objects and arrays nest at most `MAX_DRAFT_DEPTH` deep (`data` itself is 1), of
finite numbers and text that is valid Unicode (no lone surrogate), at most `max_draft_bytes`
(64 KiB) as UTF-8 JSON; anything else is a 422 (413 over the size) and nothing is saved.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.errors import NotFound, PayloadTooLarge, responses
from mock_services.portal.auth import CurrentUser
from mock_services.portal.context import Ctx

router = APIRouter(prefix="/drafts", tags=["drafts"], responses=responses(401, 503))
MAX_DRAFT_DEPTH = 32  # a form's sections and rows nest a few levels; 400 broke every read
FormId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]


def draft_problem(value: object, depth: int = 1, where: str = "data") -> str | None:
    """Why `value` cannot be a draft's data (one sentence naming where), or None."""
    if isinstance(value, (dict, list)) and depth > MAX_DRAFT_DEPTH:
        return f"{where} is nested deeper than {MAX_DRAFT_DEPTH} levels"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} is {value}; expected a finite number"
    if isinstance(value, str) and not _utf8(value):
        return f"{where} holds a lone surrogate; expected valid Unicode text"
    items: list[tuple[str, object]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if not _utf8(str(k)):
                return f"a key in {where} holds a lone surrogate; expected valid Unicode text"
            items.append((f"{where}.{k}", v))
    elif isinstance(value, list):
        items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
    for path, item in items:
        problem = draft_problem(item, depth + 1, path[:200])
        if problem:
            return problem
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid_draft(value: dict[str, Any]) -> dict[str, Any]:
    problem = draft_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class DraftIn(BaseModel):
    """PUT /drafts/{form_id}: the form's fields as a JSON object."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    data: Annotated[dict[str, Any], AfterValidator(_valid_draft)]
    base_version: Annotated[int | None, Field(ge=0)] = None


class DraftSavedOut(BaseModel):
    """A draft's new version, committed."""

    form_id: str
    version: int
    saved_s: float


class DraftOut(BaseModel):
    """The latest saved version of a draft. `data` is whatever object the form saved (any
    form's fields, within the limits a save checks), so it is an open object."""

    form_id: str
    version: int
    data: dict[str, Any]
    saved_s: float


@router.put("/{form_id}", response_model=DraftSavedOut, responses=responses(
    400, 413, 422, s413="The body exceeds the service's limit, or data its max_draft_bytes",
    s422=idempotency.IDEMPOTENCY_422))
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
            out = DraftSavedOut(form_id=form_id, version=version, saved_s=now)
            return idempotency.StoredResponse(200, out.model_dump())

        stored, _ = await ctx.db.awrite(lambda c: idempotency.run_once(
            c, user.national_id, key, digest, now_s=now, apply=apply))
        return JSONResponse(stored.body, status_code=stored.status)


@router.get("/{form_id}", responses=responses(404))
async def restore(form_id: FormId, user: CurrentUser, ctx: Ctx) -> DraftOut:
    """The latest saved version of the caller's draft."""
    row = await ctx.db.aread(lambda c: c.execute(
        "SELECT * FROM draft_versions WHERE owner_id=? AND form_id=? ORDER BY version DESC "
        "LIMIT 1", (user.national_id, form_id)).fetchone())
    if row is None:
        raise NotFound(f"no saved draft {form_id}")
    return DraftOut(form_id=form_id, version=row["version"], data=json.loads(row["data"]),
                    saved_s=row["saved_s"])
