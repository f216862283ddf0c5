"""The identity registry and records store: who a person is, their insurance history, pay slips,
whether they are insured (the eligibility a prescription needs) and a workshop's standing."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import FastAPI, Path
from pydantic import BaseModel

from mock_services.common.access import split_admin
from mock_services.common.clock import Clock
from mock_services.common.errors import NotFound
from mock_services.common.http_faults import Faults
from mock_services.common.settings import ServiceSettings
from mock_services.domain.insurance_list import INSURED_SHARE_PCT, pct
from mock_services.domain.national_id import NationalIdPath
from mock_services.domain.records import HistoryRecord, Payslip
from mock_services.seed import insurance_history
from mock_services.upstreams.base import Db, errors, seed_once, upstream_app

SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
    national_id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    national_id TEXT NOT NULL, year INTEGER NOT NULL, month INTEGER NOT NULL,
    workshop_code TEXT NOT NULL, days INTEGER NOT NULL, wage_rial INTEGER NOT NULL,
    PRIMARY KEY (national_id, year, month, workshop_code)
);
CREATE INDEX IF NOT EXISTS history_by_workshop ON history (workshop_code);
"""
PAYSLIP_MONTHS = 6
NO_PERSON = errors(404, s404="No person with this national ID in the registry")


WorkshopPath = Annotated[str, Path(pattern=r"^\d{10}$")]


class PersonOut(BaseModel):
    """A person as the registry knows them."""

    national_id: str
    first_name: str
    last_name: str


class HistoryOut(BaseModel):
    """A person's insurance history, oldest month first."""

    national_id: str
    records: list[HistoryRecord]


class PayslipsOut(BaseModel):
    """A person's recent pay slips, newest first."""

    national_id: str
    payslips: list[Payslip]


class EligibilityOut(BaseModel):
    """Whether the person is insured: `covered_through` is their last insured month (YYYYMM)."""

    national_id: str
    eligible: bool
    covered_through: str | None


class WorkshopStandingOut(BaseModel):
    """What the registry holds on a workshop code: the people insured under it, and the last
    month any of them was (YYYYMM; none for a workshop the registry has no records of)."""

    code: str
    insured_people: int
    last_period: str | None


def _period(year: int, month: int) -> str:
    return f"{year:04d}{month:02d}"


def _eligibility(conn: sqlite3.Connection, nid: str) -> EligibilityOut:
    if conn.execute("SELECT 1 FROM persons WHERE national_id=?", (nid,)).fetchone() is None:
        raise NotFound(f"no person with national ID {nid} in the registry")
    last = conn.execute("SELECT year, month FROM history WHERE national_id=? AND days > 0 "
                        "ORDER BY year DESC, month DESC LIMIT 1", (nid,)).fetchone()
    return EligibilityOut(national_id=nid, eligible=last is not None,
                          covered_through=_period(last["year"], last["month"]) if last else None)


def _standing(conn: sqlite3.Connection, code: str) -> WorkshopStandingOut:
    row = conn.execute("SELECT COUNT(DISTINCT national_id) AS n, MAX(year * 100 + month) AS last "
                       "FROM history WHERE workshop_code=?", (code,)).fetchone()
    last = row["last"]
    return WorkshopStandingOut(code=code, insured_people=int(row["n"]),
                               last_period=f"{int(last):06d}" if last is not None else None)


def _history(conn: sqlite3.Connection, nid: str) -> list[HistoryRecord]:
    if conn.execute("SELECT 1 FROM persons WHERE national_id=?", (nid,)).fetchone() is None:
        raise NotFound(f"no person with national ID {nid} in the registry")
    rows = conn.execute("SELECT year, month, workshop_code, days, wage_rial FROM history "
                        "WHERE national_id=? ORDER BY year, month", (nid,)).fetchall()
    return [HistoryRecord(**dict(r)) for r in rows]


def create_app(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    """The registry, seeded with the demo population and its deterministic insurance history."""
    app = upstream_app("registry", settings, SCHEMA, clock)
    population = settings.population()

    def fill(conn: sqlite3.Connection) -> None:
        people = population.people()
        conn.executemany("INSERT OR IGNORE INTO persons VALUES (?, ?, ?)",
                         [(p.national_id, p.first_name, p.last_name) for p in people])
        conn.executemany(
            "INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?, ?, ?)",
            [(c.national_id, r.year, r.month, r.workshop_code, r.days, r.wage_rial)
             for c in population.citizens
             for r in insurance_history(population.seed, c.national_id)])

    seed_once(app.state.db, f"seed:{settings.seed}", fill)

    @app.get("/persons/{national_id}", tags=["registry"], responses=NO_PERSON)
    async def person(national_id: NationalIdPath, db: Db, faults: Faults) -> PersonOut:
        """Who holds this national ID."""
        row = await db.aread(lambda c: c.execute(
            "SELECT * FROM persons WHERE national_id=?", (national_id,)).fetchone())
        await faults.after_commit()
        if row is None:
            raise NotFound(f"no person with national ID {national_id} in the registry")
        return PersonOut(**dict(row))

    @app.get("/persons/{national_id}/history", tags=["registry"], responses=NO_PERSON)
    async def history(national_id: NationalIdPath, db: Db, faults: Faults) -> HistoryOut:
        """The person's monthly insurance records."""
        records = await db.aread(lambda c: _history(c, national_id))
        await faults.after_commit()
        return HistoryOut(national_id=national_id, records=records)

    @app.get("/persons/{national_id}/payslips", tags=["registry"], responses=NO_PERSON)
    async def payslips(national_id: NationalIdPath, db: Db, faults: Faults) -> PayslipsOut:
        """The person's last pay slips, derived from their insured wages."""
        records = await db.aread(lambda c: _history(c, national_id))
        await faults.after_commit()
        slips = [Payslip(year=r.year, month=r.month, gross_rial=r.wage_rial,
                         insurance_rial=pct(r.wage_rial, INSURED_SHARE_PCT),
                         net_rial=r.wage_rial - pct(r.wage_rial, INSURED_SHARE_PCT))
                 for r in reversed(records[-PAYSLIP_MONTHS:])]
        return PayslipsOut(national_id=national_id, payslips=slips)

    @app.get("/persons/{national_id}/eligibility", tags=["registry"], responses=NO_PERSON)
    async def eligibility(national_id: NationalIdPath, db: Db, faults: Faults) -> EligibilityOut:
        """Whether the person is insured (a prescription and its dispensing need it)."""
        answer = await db.aread(lambda c: _eligibility(c, national_id))
        await faults.after_commit()
        return answer

    @app.get("/workshops/{code}", tags=["registry"], responses=errors())
    async def workshop(code: WorkshopPath, db: Db, faults: Faults) -> WorkshopStandingOut:
        """The registry's records under a workshop code (none yet for a new workshop)."""
        answer = await db.aread(lambda c: _standing(c, code))
        await faults.after_commit()
        return answer

    return split_admin(app)
