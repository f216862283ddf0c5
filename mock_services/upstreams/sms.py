"""The SMS gateway: accepts messages for delivery and keeps an outbox tests and drivers can read."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common import idempotency
from mock_services.common.access import AdminOnly, split_admin
from mock_services.common.clock import Clock
from mock_services.common.http_faults import Faults
from mock_services.common.settings import ServiceSettings
from mock_services.domain.mobile import MOBILE_PATTERN, Mobile, normalise_mobile
from mock_services.upstreams.base import ClockDep, Db, errors, upstream_app

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, mobile TEXT NOT NULL, text TEXT NOT NULL,
    sent_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_mobile ON outbox (mobile, id);
"""


class SmsIn(BaseModel):
    """POST /sms: send `text` to `mobile`."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    mobile: Mobile
    text: Annotated[str, Field(min_length=1, max_length=500)]


class SmsOut(BaseModel):
    """A message accepted for delivery."""

    message_id: int
    mobile: str


class Message(BaseModel):
    """A message in the outbox."""

    message_id: int
    mobile: str
    text: str
    sent_s: float


class Messages(BaseModel):
    """Messages sent to one mobile, newest first."""

    messages: list[Message]


def _send(conn: sqlite3.Connection, body: SmsIn, now_s: float) -> idempotency.StoredResponse:
    cur = conn.execute("INSERT INTO outbox (mobile, text, sent_s) VALUES (?, ?, ?)",
                       (body.mobile, body.text, now_s))
    return idempotency.StoredResponse(202, {"message_id": cur.lastrowid, "mobile": body.mobile})


def create_app(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    """The SMS gateway."""
    app = upstream_app("sms", settings, SCHEMA, clock)

    @app.post("/sms", tags=["sms"], status_code=202, response_model=SmsOut,
              responses=errors(400, 413, 422, s422=idempotency.IDEMPOTENCY_422))
    async def send(body: SmsIn, key: idempotency.IdempotencyKey, db: Db, clock: ClockDep,
                   faults: Faults) -> JSONResponse:
        """Accept a message once per key."""
        digest = idempotency.fingerprint("sms", body.model_dump_json())
        now = clock.now()
        stored, _ = await db.awrite(lambda c: idempotency.run_once(
            c, "sms", key, digest, now_s=now, apply=lambda conn: _send(conn, body, now)))
        await faults.after_commit()
        return JSONResponse(stored.body, status_code=stored.status)

    @app.get("/admin/messages", tags=["admin"])
    async def messages(mobile: Annotated[str, Query(pattern=MOBILE_PATTERN)], db: Db,
                       _: AdminOnly, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> Messages:
        """What the phone with this number received (loopback only): drivers read codes here."""
        number = normalise_mobile(mobile)
        rows = await db.aread(lambda c: c.execute(
            "SELECT * FROM outbox WHERE mobile=? ORDER BY id DESC LIMIT ?",
            (number, limit)).fetchall())
        return Messages(messages=[Message(message_id=r["id"], mobile=r["mobile"], text=r["text"],
                                          sent_s=r["sent_s"]) for r in rows])

    return split_admin(app)
