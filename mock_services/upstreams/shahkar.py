"""Shahkar: answers whether a mobile number belongs to a national ID (match true/false)."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from mock_services.common.access import split_admin
from mock_services.common.clock import Clock
from mock_services.common.http_faults import Faults
from mock_services.common.settings import ServiceSettings
from mock_services.domain.mobile import Mobile
from mock_services.domain.national_id import NationalId
from mock_services.upstreams.base import Db, errors, seed_once, upstream_app

SCHEMA = """
CREATE TABLE IF NOT EXISTS ownership (
    national_id TEXT NOT NULL, mobile TEXT NOT NULL, PRIMARY KEY (national_id, mobile)
);
"""


class MatchQuery(BaseModel):
    """POST /shahkar: does `mobile` belong to `national_code`?"""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    mobile: Mobile
    national_code: NationalId


class MatchAnswer(BaseModel):
    """Shahkar's whole answer."""

    matched: bool


def create_app(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    """The Shahkar service, seeded with every demo person's mobile."""
    app = upstream_app("shahkar", settings, SCHEMA, clock)
    people = settings.population().people()

    def fill(conn: sqlite3.Connection) -> None:
        conn.executemany("INSERT OR IGNORE INTO ownership VALUES (?, ?)",
                         [(p.national_id, p.mobile) for p in people])

    seed_once(app.state.db, f"seed:{settings.seed}", fill)

    @app.post("/shahkar", tags=["shahkar"], responses=errors(400, 413))
    async def match(query: MatchQuery, db: Db, faults: Faults) -> MatchAnswer:
        """Whether the mobile is registered to the national ID."""
        row = await db.aread(lambda c: c.execute(
            "SELECT 1 FROM ownership WHERE national_id=? AND mobile=?",
            (query.national_code, query.mobile)).fetchone())
        await faults.after_commit()
        return MatchAnswer(matched=row is not None)

    return split_admin(app)
