"""What the four upstream apps share: their SQLite file, clock, fault injector and seeding."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from mock_services.common import idempotency
from mock_services.common.app import base_app
from mock_services.common.clock import Clock, SystemClock
from mock_services.common.db import Database
from mock_services.common.emulation import Emulator, install
from mock_services.common.errors import responses
from mock_services.common.http_faults import FaultInjector, fault_router
from mock_services.common.settings import ServiceSettings

VERSION = "1.0.0"
META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"


def errors(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` of an upstream route: `statuses`, and what every route with the
    `Faults` dependency may answer: 503 (an injected outage, the database busy) and 504 (an
    injected lost response)."""
    return responses(*statuses, 503, 504, **descriptions)


def seed_once(db: Database, marker: str, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Run `fill` once per database file, even when several processes start together."""

    def tx(conn: sqlite3.Connection) -> None:
        if conn.execute("SELECT 1 FROM meta WHERE k=?", (marker,)).fetchone():
            return
        fill(conn)
        conn.execute("INSERT INTO meta VALUES (?, '1')", (marker,))

    db.write(tx)


def upstream_app(name: str, settings: ServiceSettings, schema: str,
                 clock: Clock | None) -> FastAPI:
    """A service app with `name`.sqlite3 in the data dir, fault injection, the emulated
    latency of the scenario's demand (when `settings.demand` names one) and ops routes."""
    db = Database(settings.data_dir / f"{name}.sqlite3", META_SCHEMA + idempotency.SCHEMA + schema)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        db.close()

    app = base_app(name, VERSION, settings.max_body_bytes,
                   lab_secrets=settings.lab_secrets(), lifespan=lifespan)
    the_clock = clock or SystemClock()
    app.state.db = db
    app.state.clock = the_clock
    app.state.faults = FaultInjector(the_clock)
    app.include_router(fault_router())
    install(app, Emulator(name, settings.demand, the_clock.sleep, upstream=name))
    return app


async def _db(request: Request) -> Database:  # async: no thread hop
    db: Database = request.app.state.db
    return db


async def _clock(request: Request) -> Clock:  # async: no thread hop
    clock: Clock = request.app.state.clock
    return clock


Db = Annotated[Database, Depends(_db)]
ClockDep = Annotated[Clock, Depends(_clock)]
