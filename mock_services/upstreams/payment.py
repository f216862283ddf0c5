"""The payment gateway: charges an employer's list once per payment ID, idempotently."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Annotated

from fastapi import FastAPI, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.access import AdminOnly, split_admin
from mock_services.common.clock import Clock
from mock_services.common.errors import NotFound
from mock_services.common.http_faults import Faults
from mock_services.common.settings import ServiceSettings
from mock_services.upstreams.base import ClockDep, Db, errors, upstream_app

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY, payer TEXT NOT NULL, amount_rial INTEGER NOT NULL,
    receipt TEXT NOT NULL, paid_s REAL NOT NULL
);
"""
PaymentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:\-]{1,80}$")]


class PaymentIn(BaseModel):
    """POST /payments: charge `amount_rial` to `payer` for `payment_id`."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    payment_id: PaymentId
    payer: Annotated[str, Field(pattern=r"^\d{10}$")]
    amount_rial: Annotated[int, Field(gt=0, le=10**15)]


class PaymentOut(BaseModel):
    """A payment made: its receipt number."""

    payment_id: str
    payer: str
    amount_rial: int
    receipt: str
    status: str = "paid"


class PaymentsOut(BaseModel):
    """Every payment made (the final-state read of the chaos suite)."""

    payments: list[PaymentOut]


def _pay(conn: sqlite3.Connection, body: PaymentIn, now_s: float) -> idempotency.StoredResponse:
    row = conn.execute("SELECT * FROM payments WHERE payment_id=?", (body.payment_id,)).fetchone()
    if row is None:
        receipt = hashlib.sha256(body.payment_id.encode()).hexdigest()[:12]
        conn.execute("INSERT INTO payments VALUES (?, ?, ?, ?, ?)",
                     (body.payment_id, body.payer, body.amount_rial, receipt, now_s))
        out = PaymentOut(receipt=receipt, **body.model_dump())
        return idempotency.StoredResponse(201, out.model_dump())
    # A second request for a paid ID (another key) is answered with the first payment: one charge.
    out = PaymentOut(payment_id=row["payment_id"], payer=row["payer"],
                     amount_rial=row["amount_rial"], receipt=row["receipt"])
    return idempotency.StoredResponse(200, out.model_dump())


def create_app(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    """The payment gateway."""
    app = upstream_app("payment", settings, SCHEMA, clock)

    @app.post("/payments", tags=["payment"], status_code=201, response_model=PaymentOut,
              responses={200: {"model": PaymentOut, "description": "Already paid (under another "
                               "key): the first payment, nothing charged again"},
                         **errors(400, 413, 422, s422=idempotency.IDEMPOTENCY_422)})
    async def pay(body: PaymentIn, key: idempotency.IdempotencyKey, db: Db, clock: ClockDep,
                  faults: Faults) -> JSONResponse:
        """Charge once; a retry with the same key (or the same payment ID) charges nothing more."""
        digest = idempotency.fingerprint("pay", body.model_dump_json())
        now = clock.now()
        stored, replayed = await db.awrite(lambda c: idempotency.run_once(
            c, "payments", key, digest, now_s=now, apply=lambda conn: _pay(conn, body, now)))
        await faults.after_commit()
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(stored.body, status_code=stored.status, headers=headers)

    @app.get("/payments/{payment_id}", tags=["payment"],
             responses=errors(404, s404="No payment with this ID"))
    async def get_payment(payment_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:\-]{1,80}$")],
                          db: Db, faults: Faults) -> PaymentOut:
        """One payment's status (how a caller resolves a lost response)."""
        row = await db.aread(lambda c: c.execute(
            "SELECT * FROM payments WHERE payment_id=?", (payment_id,)).fetchone())
        if row is None:
            raise NotFound(f"no payment with ID {payment_id}")
        return PaymentOut(payment_id=row["payment_id"], payer=row["payer"],
                          amount_rial=row["amount_rial"], receipt=row["receipt"])

    @app.get("/admin/payments", tags=["admin"])
    async def all_payments(db: Db, _: AdminOnly) -> PaymentsOut:
        """Every payment made, for the chaos suite's final-state check (loopback only)."""
        rows = await db.aread(lambda c: c.execute("SELECT * FROM payments").fetchall())
        return PaymentsOut(payments=[PaymentOut(payment_id=r["payment_id"], payer=r["payer"],
                                                amount_rial=r["amount_rial"], receipt=r["receipt"])
                                     for r in rows])

    return split_admin(app)
