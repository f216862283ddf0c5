"""Electronic prescriptions (doctors), dispensing (pharmacies), and paper ones registered later.

A pharmacy sees a prescription only when the patient presents it: the tracking code together
with the patient's national ID; once dispensed, only the pharmacy that dispensed it sees it.
A paper prescription is registered once per (pharmacy, control number). Prescribing and
dispensing each ask the registry whether the patient is insured (`checks.insured`), with the
worker slot held; a registry that gives no answer fails the write, unwritten, with 502 (503
when the breaker refused). A paper prescription asks nobody: it is what a pharmacy does
when it cannot reach the portal.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone
from typing import Annotated, Literal, TypeVar

import jdatetime
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.convertors import StringConvertor, register_url_convertor

from mock_services.common import idempotency
from mock_services.common.access import client_identity
from mock_services.common.errors import Conflict, Gone, NotFound, TooManyRequests, responses
from mock_services.domain.insurance_list import Date8
from mock_services.domain.national_id import NationalId
from mock_services.portal import checks
from mock_services.portal.auth import CurrentUser, require_role
from mock_services.portal.context import Ctx, PortalContext
from mock_services.portal.limits import Limit
from mock_services.portal.security import new_tracking_code

T = TypeVar("T")

router = APIRouter(prefix="/prescriptions", tags=["prescriptions"], responses=responses(
    401, 403, 503, s403="Not the role this needs (a doctor prescribes, a pharmacy dispenses)"))
NOT_PRESENTED = "No such prescription for this patient available to the caller (a miss)"
WRITE_422 = ("The body breaks the schema (detail says where), the registry has no insured "
             "person with the national ID, or the Idempotency-Key was already used with "
             "another body")
TRACKING = r"^\d{12}$"
DAY_S = 86_400.0
# Presenting a code that matches nothing is a guess: each costs a token per account and per
# source (shared by the replicas); a pharmacy mistyping now and then never runs dry, a guesser
# gets 10 misses, then one a minute (a code is one of 9e11, from `secrets`).
MISSES_PER_ACCOUNT = Limit("lookup:account", rate_per_s=1 / 60, burst=10.0)
MISSES_PER_SOURCE = Limit("lookup:source", rate_per_s=1 / 30, burst=20.0)
TEHRAN = timezone(timedelta(hours=3, minutes=30))  # Iran Standard Time, no DST since 2022


class _Digits(StringConvertor):
    """A path segment of digits only. A tracking code is digits, so `/prescriptions/paper`
    is no tracking code: `GET /prescriptions/paper` is a 405 naming POST, as the document
    says, not a lookup of the code "paper"."""

    regex = "[0-9]+"


register_url_convertor("digits", _Digits())


class Item(BaseModel):
    """One drug line."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    drug_code: Annotated[str, Field(pattern=r"^[A-Z0-9]{3,12}$")]
    quantity: Annotated[int, Field(ge=1, le=1000)]


Items = Annotated[list[Item], Field(min_length=1, max_length=20)]


class PrescriptionIn(BaseModel):
    """POST /prescriptions: a doctor prescribes with the patient's national ID alone."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    patient_national_id: NationalId
    items: Items


class DispenseIn(BaseModel):
    """POST /prescriptions/{code}/dispense: the national ID the patient presented."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    patient_national_id: NationalId


class PaperIn(BaseModel):
    """POST /prescriptions/paper: a paper prescription dispensed during an outage."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    control_no: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-]{4,20}$")]
    patient_national_id: NationalId
    items: Items
    dispensed_on: Annotated[Date8, Field(min_length=8)]


class PrescribedOut(BaseModel):
    """A prescription registered: the code the patient presents at a pharmacy."""

    tracking_code: str
    expires_s: float


class PrescriptionOut(BaseModel):
    """A prescription as the presenting pharmacy sees it."""

    tracking_code: str
    patient_national_id: str
    items: list[Item]
    expires_s: float
    dispensed: bool


class DispensedOut(BaseModel):
    """A prescription dispensed (once)."""

    tracking_code: str
    status: Literal["dispensed"]


class PaperOut(BaseModel):
    """A paper prescription registered (once per pharmacy and control number)."""

    control_no: str
    status: Literal["registered"]


class ClaimOut(BaseModel):
    """A pharmacy's claim for a Solar Hijri month: how many prescriptions it dispensed
    electronically and on paper, and the paper share (0.0 for none at all)."""

    period: str
    electronic: int
    paper: int
    paper_share: float


def _view(row: sqlite3.Row) -> PrescriptionOut:
    return PrescriptionOut(tracking_code=row["tracking_code"],
                           patient_national_id=row["patient_id"],
                           items=json.loads(row["items"]), expires_s=row["expires_s"],
                           dispensed=row["dispensed_by"] is not None)


def _respond(stored: idempotency.StoredResponse, replayed: bool) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(stored.body, status_code=stored.status, headers=headers)


@router.post("", status_code=201, response_model=PrescribedOut,
             responses=responses(400, 413, 422, 502, s422=WRITE_422))
async def prescribe(body: PrescriptionIn, key: idempotency.IdempotencyKey, user: CurrentUser,
                    ctx: Ctx) -> JSONResponse:
    """A doctor registers a prescription for an insured patient (the registry confirms the
    coverage first); the answer carries its 12-digit tracking code."""
    require_role(user, "doctor")
    async with ctx.demand.serve("prescribe"):
        digest = idempotency.fingerprint("prescribe", body.model_dump_json())
        applied = await idempotency.replay(ctx.db, user.national_id, key, digest)
        if applied is not None:  # a retry of an applied write: no second eligibility check
            return _respond(applied, True)
        await checks.insured(ctx, body.patient_national_id)  # 502/503/422: nothing written
        now = ctx.clock.now()
        expires = now + ctx.settings.prescription_valid_days * DAY_S
        items = json.dumps([i.model_dump() for i in body.items])

        def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
            while True:  # a code from `secrets`; the primary key catches the rare repeat
                code = new_tracking_code()
                if conn.execute("SELECT 1 FROM prescriptions WHERE tracking_code=?",
                                (code,)).fetchone() is None:
                    break
            conn.execute("INSERT INTO prescriptions (tracking_code, doctor_id, patient_id, items, "
                         "created_s, expires_s, idem_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (code, user.national_id, body.patient_national_id, items, now, expires,
                          key))
            out = PrescribedOut(tracking_code=code, expires_s=expires)
            return idempotency.StoredResponse(201, out.model_dump())

        stored, replayed = await ctx.db.awrite(lambda c: idempotency.run_once(
            c, user.national_id, key, digest, now_s=now, apply=apply))
        return _respond(stored, replayed)


def _presented(conn: sqlite3.Connection, code: str, patient: str, pharmacy: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM prescriptions WHERE tracking_code=?", (code,)).fetchone()
    if (row is None or row["patient_id"] != patient
            or row["dispensed_by"] not in (None, pharmacy)):
        raise NotFound(f"no prescription {code} for national ID {patient} available to you")
    found: sqlite3.Row = row
    return found


async def _guarded(ctx: PortalContext, request: Request, pharmacy: str,
                  read: Callable[[sqlite3.Connection], T]) -> T:
    """`read` a presented prescription, unless this account or source has used up its misses
    (429); a miss (404) costs one of each."""
    checks = [(MISSES_PER_ACCOUNT, pharmacy), (MISSES_PER_SOURCE, client_identity(request))]
    refused = await ctx.limits.peek_all(checks, ctx.clock.now())
    if refused is not None:
        ctx.metrics.events.labels("lookup_rate_limited").inc()
        raise TooManyRequests("too many unknown prescriptions presented; wait and retry",
                              retry_after_s=max(1.0, refused[1]))
    try:
        return await ctx.db.aread(read)
    except NotFound:
        await ctx.limits.charge(checks, ctx.clock.now())
        raise


@router.get("/{tracking_code:digits}", responses=responses(404, 429, s404=NOT_PRESENTED))
async def lookup(tracking_code: Annotated[str, Path(pattern=TRACKING)],
                 patient_national_id: Annotated[str, Query(pattern=r"^\d{10}$")],
                 request: Request, user: CurrentUser, ctx: Ctx) -> PrescriptionOut:
    """A pharmacy reads the prescription the patient presents (code + national ID); misses
    are rate-limited per account and per source."""
    require_role(user, "pharmacy")
    row = await _guarded(ctx, request, user.national_id, lambda c: _presented(
        c, tracking_code, patient_national_id, user.national_id))
    return _view(row)


def _dispensable(conn: sqlite3.Connection, code: str, patient: str, pharmacy: str, *,
                 now_s: float, valid_days: int) -> None:
    """The presented prescription can be dispensed now: 404, 409 or 410 if not."""
    row = _presented(conn, code, patient, pharmacy)
    if row["dispensed_by"] is not None:
        raise Conflict(f"prescription {code} was already dispensed")
    if row["expires_s"] <= now_s:
        raise Gone(f"prescription {code} expired (valid {valid_days} days)")


@router.post("/{tracking_code:digits}/dispense", response_model=DispensedOut, responses=responses(
    400, 404, 409, 410, 413, 422, 429, 502, s404=NOT_PRESENTED, s422=WRITE_422,
    s409="Already dispensed", s410="Expired"))
async def dispense(tracking_code: Annotated[str, Path(pattern=TRACKING)], body: DispenseIn,
                   *, key: idempotency.IdempotencyKey, request: Request, user: CurrentUser,
                   ctx: Ctx) -> JSONResponse:
    """A pharmacy dispenses a presented prescription, once, to a patient the registry still
    finds insured on the day of dispensing."""
    require_role(user, "pharmacy")
    async with ctx.demand.serve("dispense"):
        digest = idempotency.fingerprint(f"dispense:{tracking_code}", body.model_dump_json())
        applied = await idempotency.replay(ctx.db, user.national_id, key, digest)
        if applied is not None:  # a retry of an applied write: no second eligibility check
            return _respond(applied, True)
        patient, days = body.patient_national_id, ctx.settings.prescription_valid_days
        # what the pharmacy's own records refuse is refused before the registry is asked
        started = ctx.clock.now()
        await _guarded(ctx, request, user.national_id, lambda c: _dispensable(
            c, tracking_code, patient, user.national_id, now_s=started, valid_days=days))
        await checks.insured(ctx, patient)  # 502/503/422: nothing written
        now = ctx.clock.now()

        def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
            _dispensable(conn, tracking_code, patient, user.national_id, now_s=now,
                         valid_days=days)
            conn.execute("UPDATE prescriptions SET dispensed_by=?, dispensed_s=?, dispense_key=? "
                         "WHERE tracking_code=?", (user.national_id, now, key, tracking_code))
            out = DispensedOut(tracking_code=tracking_code, status="dispensed")
            return idempotency.StoredResponse(200, out.model_dump())

        stored, replayed = await ctx.db.awrite(lambda c: idempotency.run_once(
            c, user.national_id, key, digest, now_s=now, apply=apply))
        return _respond(stored, replayed)


@router.post("/paper", status_code=201, response_model=PaperOut, responses=responses(
    400, 409, 413, 422, 502, s409="This pharmacy registered this control number already",
    s422=WRITE_422))
async def register_paper(body: PaperIn, key: idempotency.IdempotencyKey, user: CurrentUser,
                         ctx: Ctx) -> JSONResponse:
    """Register, after an outage, a prescription dispensed on paper (once per control number).

    It costs what a dispense costs, as the simulator prices it (a "reconcile" is a dispense's
    service with the registry's eligibility check): the patient must still be insured, and a
    registry that gives no answer fails the registration, unwritten, for the pharmacy to retry."""
    require_role(user, "pharmacy")
    async with ctx.demand.serve("dispense"):
        digest = idempotency.fingerprint("paper", body.model_dump_json())
        applied = await idempotency.replay(ctx.db, user.national_id, key, digest)
        if applied is not None:  # a retry of an applied registration: no second check
            return _respond(applied, True)
        await checks.insured(ctx, body.patient_national_id)  # 502/503/422: nothing written
        return await _register_paper(body, key, user, ctx, digest)


async def _register_paper(body: PaperIn, key: str, user: CurrentUser, ctx: Ctx,
                          digest: str) -> JSONResponse:
    now = ctx.clock.now()
    items = json.dumps([i.model_dump() for i in body.items])

    def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
        if conn.execute("SELECT 1 FROM paper_prescriptions WHERE pharmacy_id=? AND control_no=?",
                        (user.national_id, body.control_no)).fetchone():
            raise Conflict(f"paper prescription {body.control_no} is already registered")
        conn.execute("INSERT INTO paper_prescriptions VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (user.national_id, body.control_no, body.patient_national_id, items,
                      body.dispensed_on, now, key))
        out = PaperOut(control_no=body.control_no, status="registered")
        return idempotency.StoredResponse(201, out.model_dump())

    stored, replayed = await ctx.db.awrite(lambda c: idempotency.run_once(
        c, user.national_id, key, digest, now_s=now, apply=apply))
    return _respond(stored, replayed)


def month_bounds_s(period: str) -> tuple[float, float]:
    """[start, end) of Solar Hijri month YYYYMM in seconds since the epoch, Tehran time."""
    yy, mm = int(period[:4]), int(period[4:])
    first = jdatetime.date(yy, mm, 1).togregorian()
    after = (jdatetime.date(yy + 1, 1, 1) if mm == 12 else jdatetime.date(yy, mm + 1, 1)
             ).togregorian()
    return (datetime.combine(first, time(), TEHRAN).timestamp(),
            datetime.combine(after, time(), TEHRAN).timestamp())


@router.get("/claims/{period}")
async def claim(period: Annotated[str, Path(pattern=r"^1[34]\d\d(0[1-9]|1[0-2])$")],
                user: CurrentUser, ctx: Ctx) -> ClaimOut:
    """The pharmacy's claim for a Solar Hijri month (YYYYMM): electronic (dispensed in that
    month, Tehran time), paper (dispensed_on in it), paper share."""
    require_role(user, "pharmacy")

    start_s, end_s = month_bounds_s(period)

    def counts(conn: sqlite3.Connection) -> tuple[int, int]:
        paper = conn.execute("SELECT COUNT(*) FROM paper_prescriptions WHERE pharmacy_id=? "
                             "AND substr(dispensed_on, 1, 6)=?",
                             (user.national_id, period)).fetchone()[0]
        electronic = conn.execute("SELECT COUNT(*) FROM prescriptions WHERE dispensed_by=? "
                                  "AND dispensed_s >= ? AND dispensed_s < ?",
                                  (user.national_id, start_s, end_s)).fetchone()[0]
        return int(electronic), int(paper)

    electronic, paper = await ctx.db.aread(counts)
    total = electronic + paper
    return ClaimOut(period=period, electronic=electronic, paper=paper,
                    paper_share=paper / total if total else 0.0)
