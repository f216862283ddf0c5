"""The pharmacy agent's durable local queue: one SQLite file that survives SIGKILL.

Every prescription the pharmacy handles is one row, committed (WAL, synchronous=FULL) before
the agent acts on the decision, so a killed agent restarts from exactly where it was:

- `electronic`: dispensed through the portal, nothing left to do;
- `paper`: recorded on paper during an outage, `registered_s` NULL until the portal has
  acknowledged its registration (its control number is the idempotency key, so a
  registration repeated after a crash is applied once by the portal);
- `deferred`: over the 20 % paper quota; served electronically after recovery
  (`registered_s` set once dispensed).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["electronic", "paper", "deferred"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS prescriptions (
    control_no TEXT PRIMARY KEY,
    tracking_code TEXT NOT NULL,
    national_id TEXT NOT NULL,
    period TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('electronic', 'paper', 'deferred')),
    created_s REAL NOT NULL,
    registered_s REAL
);
CREATE INDEX IF NOT EXISTS pending ON prescriptions (kind, registered_s);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """One prescription the pharmacy handled."""

    control_no: str
    tracking_code: str
    national_id: str
    period: str
    kind: Kind
    registered: bool


class PharmacyStore:
    """The queue; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=15.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an acknowledged row survives power loss
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def add(self, control_no: str, tracking_code: str, national_id: str, *, period: str,
            kind: Kind, now_s: float) -> bool:
        """Record a decision; False if that control number is already recorded."""
        registered = now_s if kind == "electronic" else None
        cur = self._db.execute(
            "INSERT OR IGNORE INTO prescriptions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (control_no, tracking_code, national_id, period, kind, now_s, registered))
        return cur.rowcount == 1

    def mark_registered(self, control_no: str, now_s: float) -> None:
        """The portal acknowledged this paper or deferred prescription."""
        self._db.execute("UPDATE prescriptions SET registered_s = ? WHERE control_no = ? "
                         "AND registered_s IS NULL", (now_s, control_no))

    def pending(self, kind: Kind) -> list[Entry]:
        """Paper prescriptions still to register, or deferred ones still to serve, oldest first."""
        rows = self._db.execute(
            "SELECT control_no, tracking_code, national_id, period, kind FROM prescriptions "
            "WHERE kind = ? AND registered_s IS NULL ORDER BY created_s, control_no",
            (kind,)).fetchall()
        return [Entry(r[0], r[1], r[2], r[3], r[4], False) for r in rows]

    def counts(self, period: str) -> dict[str, int]:
        """How many prescriptions of each kind the period holds."""
        rows = self._db.execute("SELECT kind, COUNT(*) FROM prescriptions WHERE period = ? "
                                "GROUP BY kind", (period,)).fetchall()
        out = {"electronic": 0, "paper": 0, "deferred": 0}
        out.update({str(k): int(n) for k, n in rows})
        return out

    def all(self) -> list[Entry]:
        """Every row, in the order they were recorded."""
        rows = self._db.execute(
            "SELECT control_no, tracking_code, national_id, period, kind, registered_s "
            "FROM prescriptions ORDER BY created_s, control_no").fetchall()
        return [Entry(r[0], r[1], r[2], r[3], r[4], r[5] is not None) for r in rows]
