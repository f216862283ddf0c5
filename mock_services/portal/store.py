"""The portal's database: schema, demo seeding, and the final-state read of applied writes.

Every business table keeps the Idempotency-Key of the write that created the row, so the
chaos suite can count how many times each acknowledged write is applied.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mock_services.common import idempotency
from mock_services.common.db import Database
from mock_services.portal.security import hash_password
from mock_services.seed import Population

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    national_id TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    mobile TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
    mobile_verified_s REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, national_id TEXT NOT NULL, role TEXT NOT NULL,
    expires_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS otps (
    id TEXT PRIMARY KEY, national_id TEXT NOT NULL, purpose TEXT NOT NULL,
    code TEXT NOT NULL, expires_s REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS workshops (
    code TEXT PRIMARY KEY, employer_id TEXT NOT NULL, name TEXT NOT NULL,
    created_s REAL NOT NULL, idem_key TEXT
);
CREATE TABLE IF NOT EXISTS lists (
    id INTEGER PRIMARY KEY AUTOINCREMENT, workshop_code TEXT NOT NULL, yy INTEGER NOT NULL,
    mm INTEGER NOT NULL, list_no TEXT NOT NULL, n_workers INTEGER NOT NULL,
    payable_rial INTEGER NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL,
    payment_ref TEXT NOT NULL, receipt TEXT, submitted_s REAL NOT NULL, paid_s REAL,
    idem_key TEXT NOT NULL, UNIQUE (workshop_code, yy, mm, list_no)
);
CREATE TABLE IF NOT EXISTS payment_jobs (
    list_id INTEGER PRIMARY KEY, attempts INTEGER NOT NULL DEFAULT 0, next_s REAL NOT NULL,
    lease_until_s REAL NOT NULL DEFAULT 0, lease_owner TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS payment_jobs_due ON payment_jobs (done, next_s);
CREATE TABLE IF NOT EXISTS list_jobs (
    list_id INTEGER PRIMARY KEY, replica TEXT NOT NULL, rest_s REAL NOT NULL,
    next_s REAL NOT NULL, taken INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS list_jobs_due ON list_jobs (replica, done, taken, list_id);
CREATE TABLE IF NOT EXISTS prescriptions (
    tracking_code TEXT PRIMARY KEY, doctor_id TEXT NOT NULL, patient_id TEXT NOT NULL,
    items TEXT NOT NULL, created_s REAL NOT NULL, expires_s REAL NOT NULL,
    idem_key TEXT NOT NULL, dispensed_by TEXT, dispensed_s REAL, dispense_key TEXT
);
CREATE TABLE IF NOT EXISTS paper_prescriptions (
    pharmacy_id TEXT NOT NULL, control_no TEXT NOT NULL, patient_id TEXT NOT NULL,
    items TEXT NOT NULL, dispensed_on TEXT NOT NULL, registered_s REAL NOT NULL,
    idem_key TEXT NOT NULL, PRIMARY KEY (pharmacy_id, control_no)
);
CREATE TABLE IF NOT EXISTS trusted_sources (
    national_id TEXT NOT NULL, source TEXT NOT NULL, until_s REAL NOT NULL,
    PRIMARY KEY (national_id, source)
);
CREATE TABLE IF NOT EXISTS draft_versions (
    owner_id TEXT NOT NULL, form_id TEXT NOT NULL, version INTEGER NOT NULL,
    data TEXT NOT NULL, saved_s REAL NOT NULL, idem_key TEXT NOT NULL,
    PRIMARY KEY (owner_id, form_id, version)
);
""" + idempotency.SCHEMA

# (table, key column, which rows) of every write, for GET /admin/applied: a list accepted
# into the list queue (`list_queue`) is applied once it is processed
APPLIED_SOURCES = (("workshops", "idem_key", ""), ("lists", "idem_key", "status != 'accepted'"),
                   ("prescriptions", "idem_key", ""), ("prescriptions", "dispense_key", ""),
                   ("paper_prescriptions", "idem_key", ""), ("draft_versions", "idem_key", ""))


def open_database(data_dir: Path) -> Database:
    """The portal's shared database file (every replica opens the same one)."""
    return Database(data_dir / "portal.sqlite3", SCHEMA)


def seed(db: Database, population: Population, scrypt_n: int) -> None:
    """Insert the demo population once per file; hashing happens before the write lock."""
    marker = f"seed:{population.seed}:{len(population.citizens)}"
    if db.read(lambda c: c.execute("SELECT 1 FROM meta WHERE k=?", (marker,)).fetchone()):
        return
    users = [(p.national_id, p.role, hash_password(p.password, scrypt_n), p.mobile,
              p.first_name, p.last_name) for p in population.people()]
    shops = [(w.code, w.employer_id, w.name) for w in population.workshops]

    def fill(conn: sqlite3.Connection) -> None:
        if conn.execute("SELECT 1 FROM meta WHERE k=?", (marker,)).fetchone():
            return  # another replica seeded meanwhile
        conn.executemany("INSERT OR IGNORE INTO users VALUES (?, ?, ?, ?, ?, ?, NULL)", users)
        conn.executemany("INSERT OR IGNORE INTO workshops VALUES (?, ?, ?, 0, NULL)", shops)
        conn.execute("INSERT INTO meta VALUES (?, '1')", (marker,))

    db.write(fill)


def applied_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many times each write's Idempotency-Key is applied (1 is right; 2+ is a duplicate)."""
    counts: dict[str, int] = {}
    for table, column, which in APPLIED_SOURCES:
        where = f"{column} IS NOT NULL" + (f" AND {which}" if which else "")
        rows = conn.execute(f"SELECT {column} AS k, COUNT(*) AS n FROM {table} "  # noqa: S608
                            f"WHERE {where} GROUP BY {column}").fetchall()
        for row in rows:
            counts[row["k"]] = counts.get(row["k"], 0) + row["n"]
    return counts
