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
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.errors import Conflict, Gone, NotFound
from mock_services.domain.insurance_list import Date8
from mock_services.domain.national_id import NationalId
from mock_services.portal import checks
from mock_services.portal.auth import CurrentUser, require_role
from mock_services.portal.context import Ctx

router = APIRouter(prefix="/prescriptions", tags=["prescriptions"])
TRACKING = r"^\d{12}$"
DAY_S = 86_400.0


class Item(BaseModel):
    """One drug line."""

    model_config = ConfigDict(extra="forbid")
    drug_code: Annotated[str, Field(pattern=r"^[A-Z0-9]{3,12}$")]
    quantity: Annotated[int, Field(ge=1, le=1000)]


Items = Annotated[list[Item], Field(min_length=1, max_length=20)]


class PrescriptionIn(BaseModel):
    """POST /prescriptions: a doctor prescribes with the patient's national ID alone."""

    model_config = ConfigDict(extra="forbid")
    patient_national_id: NationalId
    items: Items


class DispenseIn(BaseModel):
    """POST /prescriptions/{code}/dispense: the national ID the patient presented."""

    model_config = ConfigDict(extra="forbid")
    patient_national_id: NationalId


class PaperIn(BaseModel):
    """POST /prescriptions/paper: a paper prescription dispensed during an outage."""

    model_config = ConfigDict(extra="forbid")
    control_no: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-]{4,20}$")]
    patient_national_id: NationalId
    items: Items
    dispensed_on: Annotated[Date8, Field(min_length=8)]


def _view(row: sqlite3.Row) -> dict[str, Any]:
    return {"tracking_code": row["tracking_code"], "patient_national_id": row["patient_id"],
            "items": json.loads(row["items"]), "expires_s": row["expires_s"],
            "dispensed": row["dispensed_by"] is not None}


def _respond(stored: idempotency.StoredResponse, replayed: bool) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(stored.body, status_code=stored.status, headers=headers)


@router.post("", status_code=201)
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
            while True:  # a random code; the primary key catches the rare repeat
                code = f"{ctx.rng.randrange(10**11, 10**12)}"
                if conn.execute("SELECT 1 FROM prescriptions WHERE tracking_code=?",
                                (code,)).fetchone() is None:
                    break
            conn.execute("INSERT INTO prescriptions (tracking_code, doctor_id, patient_id, items, "
                         "created_s, expires_s, idem_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (code, user.national_id, body.patient_national_id, items, now, expires,
                          key))
            return idempotency.StoredResponse(201, {"tracking_code": code, "expires_s": expires})

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


@router.get("/{tracking_code}")
async def lookup(tracking_code: Annotated[str, Path(pattern=TRACKING)],
                 patient_national_id: Annotated[str, Query(pattern=r"^\d{10}$")],
                 user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """A pharmacy reads the prescription the patient presents (code + national ID)."""
    require_role(user, "pharmacy")
    row = await ctx.db.aread(lambda c: _presented(c, tracking_code, patient_national_id,
                                                  user.national_id))
    return _view(row)


def _dispensable(conn: sqlite3.Connection, code: str, patient: str, pharmacy: str, *,
                 now_s: float, valid_days: int) -> None:
    """The presented prescription can be dispensed now: 404, 409 or 410 if not."""
    row = _presented(conn, code, patient, pharmacy)
    if row["dispensed_by"] is not None:
        raise Conflict(f"prescription {code} was already dispensed")
    if row["expires_s"] <= now_s:
        raise Gone(f"prescription {code} expired (valid {valid_days} days)")


@router.post("/{tracking_code}/dispense")
async def dispense(tracking_code: Annotated[str, Path(pattern=TRACKING)], body: DispenseIn,
                   key: idempotency.IdempotencyKey, user: CurrentUser, ctx: Ctx) -> JSONResponse:
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
        await ctx.db.aread(lambda c: _dispensable(c, tracking_code, patient, user.national_id,
                                                  now_s=started, valid_days=days))
        await checks.insured(ctx, patient)  # 502/503/422: nothing written
        now = ctx.clock.now()

        def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
            _dispensable(conn, tracking_code, patient, user.national_id, now_s=now,
                         valid_days=days)
            conn.execute("UPDATE prescriptions SET dispensed_by=?, dispensed_s=?, dispense_key=? "
                         "WHERE tracking_code=?", (user.national_id, now, key, tracking_code))
            return idempotency.StoredResponse(200, {"tracking_code": tracking_code,
                                                    "status": "dispensed"})

        stored, replayed = await ctx.db.awrite(lambda c: idempotency.run_once(
            c, user.national_id, key, digest, now_s=now, apply=apply))
        return _respond(stored, replayed)


@router.post("/paper", status_code=201)
async def register_paper(body: PaperIn, key: idempotency.IdempotencyKey, user: CurrentUser,
                         ctx: Ctx) -> JSONResponse:
    """Register, after an outage, a prescription dispensed on paper (once per control number)."""
    require_role(user, "pharmacy")
    digest = idempotency.fingerprint("paper", body.model_dump_json())
    now = ctx.clock.now()
    items = json.dumps([i.model_dump() for i in body.items])

    def apply(conn: sqlite3.Connection) -> idempotency.StoredResponse:
        if conn.execute("SELECT 1 FROM paper_prescriptions WHERE pharmacy_id=? AND control_no=?",
                        (user.national_id, body.control_no)).fetchone():
            raise Conflict(f"paper prescription {body.control_no} is already registered")
        conn.execute("INSERT INTO paper_prescriptions VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (user.national_id, body.control_no, body.patient_national_id, items,
                      body.dispensed_on, now, key))
        return idempotency.StoredResponse(201, {"control_no": body.control_no,
                                                "status": "registered"})

    stored, replayed = await ctx.db.awrite(lambda c: idempotency.run_once(
        c, user.national_id, key, digest, now_s=now, apply=apply))
    return _respond(stored, replayed)


@router.get("/claims/{period}")
async def claim(period: Annotated[str, Path(pattern=r"^1[34]\d\d(0[1-9]|1[0-2])$")],
                user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """The pharmacy's claim for a Solar Hijri month (YYYYMM): electronic, paper, paper share."""
    require_role(user, "pharmacy")

    def counts(conn: sqlite3.Connection) -> tuple[int, int]:
        paper = conn.execute("SELECT COUNT(*) FROM paper_prescriptions WHERE pharmacy_id=? "
                             "AND substr(dispensed_on, 1, 6)=?",
                             (user.national_id, period)).fetchone()[0]
        electronic = conn.execute("SELECT COUNT(*) FROM prescriptions WHERE dispensed_by=?",
                                  (user.national_id,)).fetchone()[0]
        return int(electronic), int(paper)

    electronic, paper = await ctx.db.aread(counts)
    total = electronic + paper
    return {"period": period, "electronic": electronic, "paper": paper,
            "paper_share": paper / total if total else 0.0}
