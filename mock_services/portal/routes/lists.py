"""Employers' monthly insurance lists: JSON rows or the DBF pair, paid through the gateway.

The list and its payment job are committed (with the Idempotency-Key) before any answer.
Then the portal tries the payment. Paid: 201. Not paid in time under a policy set with
`payment_queue` (resilient): 202 with a status URL, and the worker pays it once the gateway
is back. Not paid without it (baseline): the submission is withdrawn and answered 502/503.

Under `list_queue` (resilient) a list is only taken on the request path: checked, committed
with status "accepted" and a job of the list queue, and answered 202 after its
`accept_share` of the drawn service time; `listqueue.ListWorker` does the rest of the work
and the payment in the background, as the simulator does.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unavailable,
    Unprocessable,
    responses,
)
from mock_services.common.reasons import upstream_reason
from mock_services.domain.dbf_list import parse_dbf_pair
from mock_services.domain.insurance_list import (
    InsuranceList,
    ListError,
    check_list,
    full_year,
    payable_rial,
)
from mock_services.portal.auth import CurrentUser, Principal, require_role
from mock_services.portal.context import Ctx, PortalContext
from mock_services.portal.payments import PaymentOrder, mark_paid, pay

router = APIRouter(prefix="/lists", tags=["lists"], responses=responses(401, 503))
SUBMIT_ERRORS = responses(
    400, 403, 409, 413, 422,
    s403="Not an employer's account, or not one of the employer's workshops",
    s409="This list (workshop, year, month, list number) was already submitted",
    s422="The body breaks the schema (detail says where) or the list's own rules (its "
         "arithmetic, a worker twice), or the Idempotency-Key was already used with another body",
    s503="The payment gateway failed and the list was not submitted (baseline), or the "
         "portal is overloaded; Retry-After says when to come back")
B64 = Annotated[str, Field(min_length=4, max_length=3_000_000)]
ListStatus = Literal["accepted", "queued", "paid", "payment_failed"]


class ListOut(BaseModel):
    """A submitted list: its period, totals, payment status, and where to ask about it."""

    list_id: int
    workshop_code: str
    yy: int
    mm: int
    list_no: str
    workers: int
    payable_rial: int
    status: ListStatus
    receipt: Annotated[str | None, Field(description="The gateway's receipt once paid")]
    status_url: str


SUBMITTED: dict[int | str, dict[str, Any]] = {
    202: {"model": ListOut, "description": "Recorded, its processing or its payment queued "
                                           "(resilient): status_url says when it is paid"}}


class DbfUpload(BaseModel):
    """POST /lists/dbf: the DSKKAR00 and DSKWOR00 files, base64-encoded."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    dskkar_b64: B64
    dskwor_b64: B64


def _summary(row: sqlite3.Row) -> ListOut:
    return ListOut(list_id=row["id"], workshop_code=row["workshop_code"], yy=row["yy"],
                   mm=row["mm"], list_no=row["list_no"], workers=row["n_workers"],
                   payable_rial=row["payable_rial"], status=row["status"],
                   receipt=row["receipt"], status_url=f"/lists/{row['id']}")


def _record(conn: sqlite3.Connection, user: Principal, key: str, lst: InsuranceList, *,
            now_s: float, taken: tuple[str, float] | None) -> tuple[PaymentOrder, ListOut]:
    """Commit the list: with its payment job, or (`taken`: the replica and the service time
    left) as "accepted" with a job of that replica's list queue."""
    h = lst.header
    owner = conn.execute("SELECT employer_id FROM workshops WHERE code=?", (h.DSK_ID,)).fetchone()
    if owner is None or owner["employer_id"] != user.national_id:
        raise Forbidden(f"workshop {h.DSK_ID} is not one of your workshops")
    period = (h.DSK_ID, full_year(h.DSK_YY), h.DSK_MM, h.DSK_LISTNO)
    existing = conn.execute("SELECT * FROM lists WHERE workshop_code=? AND yy=? AND mm=? "
                            "AND list_no=?", period).fetchone()
    status = "queued" if taken is None else "accepted"
    values = (len(lst.workers), payable_rial(h), lst.model_dump_json(), now_s, key, status)
    if existing is not None and existing["status"] != "payment_failed":
        raise Conflict(f"list {h.DSK_LISTNO} of {h.DSK_YY}/{h.DSK_MM} for workshop {h.DSK_ID} "
                       f"was already submitted (list {existing['id']}, {existing['status']})")
    if existing is not None:  # resubmitting a list whose payment failed: same payment ID
        list_id, ref = existing["id"], existing["payment_ref"]
        conn.execute("UPDATE lists SET n_workers=?, payable_rial=?, body=?, submitted_s=?, "
                     "idem_key=?, status=? WHERE id=?", (*values, list_id))
    else:
        ref = f"L{secrets.token_hex(8)}"
        cur = conn.execute("INSERT INTO lists (workshop_code, yy, mm, list_no, n_workers, "
                           "payable_rial, body, status, payment_ref, submitted_s, idem_key) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (*period, *values[:3], status, ref, now_s, key))
        list_id = int(cur.lastrowid or 0)
    if taken is not None:
        replica, rest_s = taken
        conn.execute("INSERT OR REPLACE INTO list_jobs (list_id, replica, rest_s, next_s) "
                     "VALUES (?, ?, ?, ?)", (list_id, replica, rest_s, now_s))
    else:  # the request's own attempt goes first; the worker leaves the job alone meanwhile
        conn.execute("INSERT OR REPLACE INTO payment_jobs (list_id, next_s) VALUES (?, ?)",
                     (list_id, now_s + 30.0))
    row = conn.execute("SELECT * FROM lists WHERE id=?", (list_id,)).fetchone()
    return PaymentOrder(list_id, ref, h.DSK_ID, payable_rial(h)), _summary(row)


async def _submit(ctx: PortalContext, user: Principal, key: str, lst: InsuranceList,
                  rest_s: float | None) -> JSONResponse:
    """Check, commit and answer a list; `rest_s` (under `list_queue`): the service time left
    for the list queue, which then pays it."""
    require_role(user, "employer")
    try:
        check_list(lst)
    except ListError as exc:
        raise Unprocessable(str(exc)) from exc
    digest = idempotency.fingerprint("list", lst.model_dump_json())
    now = ctx.clock.now()

    def tx(conn: sqlite3.Connection) -> tuple[idempotency.StoredResponse, PaymentOrder | None]:
        hit = idempotency.lookup(conn, user.national_id, key, digest)
        if hit is not None:
            return hit, None
        taken = None if rest_s is None else (ctx.settings.replica_id, rest_s)
        order, summary = _record(conn, user, key, lst, now_s=now, taken=taken)
        stored = idempotency.StoredResponse(202, summary.model_dump())
        idempotency.record(conn, user.national_id, key, digest, response=stored, now_s=now)
        return stored, order

    stored, order = await ctx.db.awrite(tx)
    if order is None:
        return JSONResponse(stored.body, stored.status, headers={"Idempotent-Replayed": "true"})
    if rest_s is not None:
        ctx.metrics.events.labels("list_accepted").inc()
        ctx.lists_waiting.set()
        return JSONResponse(stored.body, 202)
    queue = ctx.policies.payment_queue
    deadline = now + ctx.settings.list_sync_payment_s if queue else None
    result = await pay(ctx, order, deadline)
    done = ctx.clock.now()
    if result.receipt is not None:
        paid = {**stored.body, "status": "paid", "receipt": result.receipt}
        receipt = result.receipt

        def settle(conn: sqlite3.Connection) -> None:
            mark_paid(conn, order.list_id, receipt, done)
            idempotency.record(conn, user.national_id, key, digest,
                               response=idempotency.StoredResponse(201, paid), now_s=done)

        await ctx.db.awrite(settle)
        return JSONResponse(paid, 201)
    if queue and not result.permanent:
        ctx.metrics.events.labels("list_queued").inc()
        await ctx.db.awrite(lambda c: c.execute(
            "UPDATE payment_jobs SET next_s=? WHERE list_id=? AND done=0", (done, order.list_id)))
        return JSONResponse(stored.body, 202)

    def withdraw(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE lists SET status='payment_failed' WHERE id=? AND status='queued'",
                     (order.list_id,))
        conn.execute("UPDATE payment_jobs SET done=1 WHERE list_id=?", (order.list_id,))
        idempotency.forget(conn, user.national_id, key)

    await ctx.db.awrite(withdraw)
    raise Unavailable(f"the payment gateway failed ({result.reason}); the list was not "
                      "submitted, send it again", upstream_reason(result.reason), retry_after_s=10)


@router.post("", status_code=201, response_model=ListOut,
             responses={**SUBMITTED, **SUBMIT_ERRORS})
async def submit_rows(body: InsuranceList, key: idempotency.IdempotencyKey, user: CurrentUser,
                      ctx: Ctx) -> JSONResponse:
    """Submit a list as JSON rows (DBF field names)."""
    async with _taking(ctx) as rest_s:
        return await _submit(ctx, user, key, body, rest_s)


@asynccontextmanager
async def _taking(ctx: PortalContext) -> AsyncIterator[float | None]:
    """A list's service demand on the request path: all of it (None), or under `list_queue`
    its `accept_share`, yielding the service time left for the list queue."""
    if ctx.policies.list_queue is None:
        async with ctx.demand.serve("submit_list"):
            yield None
        return
    drawn = ctx.demand.draw("submit_list")
    if drawn is None:  # no demand: only the real work
        async with ctx.demand.serve("submit_list"):
            yield 0.0
        return
    accept_s = drawn * ctx.demand.list_accept_share
    async with ctx.demand.serve("submit_list", service_s=accept_s):
        yield drawn - accept_s


def _decode(name: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unprocessable(f"{name} is not valid base64") from exc


@router.post("/dbf", status_code=201, response_model=ListOut,
             responses={**SUBMITTED, **SUBMIT_ERRORS})
async def submit_dbf(body: DbfUpload, key: idempotency.IdempotencyKey, user: CurrentUser,
                     ctx: Ctx) -> JSONResponse:
    """Submit a list as the DSKKAR00/DSKWOR00 pair (base64 in JSON)."""
    require_role(user, "employer")
    async with _taking(ctx) as rest_s:
        kar, wor = _decode("dskkar_b64", body.dskkar_b64), _decode("dskwor_b64", body.dskwor_b64)
        try:
            lst = await to_thread.run_sync(parse_dbf_pair, kar, wor, ctx.settings.max_list_workers)
        except ListError as exc:
            raise Unprocessable(str(exc)) from exc
        return await _submit(ctx, user, key, lst, rest_s)


@router.get("/{list_id:int}", responses=responses(404, s404="No such list among the caller's"))
async def status(list_id: Annotated[int, Path(ge=1, le=2**62)], user: CurrentUser,
                 ctx: Ctx) -> ListOut:
    """A submitted list's status (its employer only)."""
    row = await ctx.db.aread(lambda c: c.execute(
        "SELECT l.*, w.employer_id FROM lists l JOIN workshops w ON w.code = l.workshop_code "
        "WHERE l.id=?", (list_id,)).fetchone())
    if row is None or row["employer_id"] != user.national_id:
        raise NotFound(f"no list {list_id} among your workshops' lists")
    return _summary(row)
