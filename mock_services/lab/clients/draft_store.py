"""The local half of draft autosave: every typed version of a form, durable in SQLite.

A version is committed locally (WAL, synchronous=FULL) before the typist's next keystroke is
accepted, so a killed process loses nothing it showed as typed. `server_version` remembers
the newest version the portal acknowledged, so a restart knows what still has to be uploaded.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS drafts (
    draft_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    saved_s REAL NOT NULL,
    server_version INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True, slots=True)
class LocalDraft:
    """The newest local version of a draft, and the newest the server has acknowledged."""

    draft_id: str
    version: int
    body: dict[str, Any]
    server_version: int

    @property
    def unsynced(self) -> bool:
        """True when the server lags behind what was typed."""
        return self.server_version < self.version


class DraftStore:
    """Local drafts, one row per draft (its newest version)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=15.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def save(self, draft_id: str, version: int, body: dict[str, Any], now_s: float) -> None:
        """Keep `version` of the draft if it is newer than what is stored."""
        self._db.execute(
            "INSERT INTO drafts (draft_id, version, body, saved_s) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (draft_id) DO UPDATE SET version = excluded.version, "
            "body = excluded.body, saved_s = excluded.saved_s "
            "WHERE excluded.version > drafts.version",
            (draft_id, version, json.dumps(body, ensure_ascii=False, sort_keys=True), now_s))

    def acknowledged(self, draft_id: str, version: int) -> None:
        """The server holds `version` (or a newer one)."""
        self._db.execute("UPDATE drafts SET server_version = MAX(server_version, ?) "
                         "WHERE draft_id = ?", (version, draft_id))

    def load(self, draft_id: str) -> LocalDraft | None:
        """The newest local version, or None."""
        row = self._db.execute("SELECT version, body, server_version FROM drafts "
                               "WHERE draft_id = ?", (draft_id,)).fetchone()
        if row is None:
            return None
        return LocalDraft(draft_id, int(row[0]), json.loads(row[1]), int(row[2]))
