"""Rate limits every replica shares: token buckets kept in SQLite next to the portal's data.

A limit kept in each replica's memory gave an attacker one burst per replica (issue #21, item
6). Here every bucket is a row of `portal-limits.sqlite3` in the shared data directory, taken
in a `BEGIN IMMEDIATE` transaction, so the replicas serialise on it and see one count. The
file runs with synchronous=NORMAL (WAL): a power cut may forget the last few takes, a fresh
burst at worst, which is cheaper than an fsync on every refused attempt of a flood.

The arithmetic is `policies.ratelimit.KeyedTokenBucket.take`'s (refilled lazily from the
last use, capped at the burst; a refusal says how long until a token is back), so the
simulator's per-key limits and these agree attempt by attempt (a test checks it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mock_services.common.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    scope TEXT NOT NULL, key TEXT NOT NULL, tokens REAL NOT NULL, updated_s REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """One keyed limit: its scope (what it counts) and its bucket's shape."""

    scope: str
    rate_per_s: float
    burst: float


def _tokens(conn: sqlite3.Connection, limit: Limit, key: str, now_s: float
            ) -> tuple[float, float]:
    row = conn.execute("SELECT tokens, updated_s FROM buckets WHERE scope=? AND key=?",
                       (limit.scope, key)).fetchone()
    tokens, last = (limit.burst, now_s) if row is None else (row[0], row[1])
    return min(limit.burst, tokens + max(0.0, now_s - last) * limit.rate_per_s), last


def peek(conn: sqlite3.Connection, limit: Limit, key: str, now_s: float) -> float | None:
    """None when `key` has a token now, else the seconds until it has one (nothing taken)."""
    tokens, _ = _tokens(conn, limit, key, now_s)
    return None if tokens >= 1.0 else (1.0 - tokens) / limit.rate_per_s


def take(conn: sqlite3.Connection, limit: Limit, key: str, now_s: float,
         cost: float = 1.0) -> float | None:
    """Take `cost` tokens from `key`'s bucket: None when admitted, else the seconds until
    they exist. Call in a write transaction."""
    tokens, last = _tokens(conn, limit, key, now_s)
    admitted = tokens >= cost
    left = tokens - cost if admitted else tokens
    conn.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?, ?)",
                 (limit.scope, key, left, max(now_s, last)))
    return None if admitted else (cost - tokens) / limit.rate_per_s


class SharedLimits:
    """The buckets of every replica, in one SQLite file of the shared data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.db = Database(data_dir / "portal-limits.sqlite3", SCHEMA, synchronous="NORMAL")

    async def take_all(self, checks: list[tuple[Limit, str]], now_s: float
                       ) -> tuple[Limit, float] | None:
        """Take one token from each (limit, key) in one transaction, in order; the first
        refusal (limit, retry after) stops there (later buckets are not charged)."""

        def tx(conn: sqlite3.Connection) -> tuple[Limit, float] | None:
            for limit, key in checks:
                wait = take(conn, limit, key, now_s)
                if wait is not None:
                    return limit, wait
            return None

        return await self.db.awrite(tx)

    async def peek_all(self, checks: list[tuple[Limit, str]], now_s: float
                       ) -> tuple[Limit, float] | None:
        """The first (limit, retry after) of `checks` whose bucket is empty; nothing taken."""

        def read(conn: sqlite3.Connection) -> tuple[Limit, float] | None:
            for limit, key in checks:
                wait = peek(conn, limit, key, now_s)
                if wait is not None:
                    return limit, wait
            return None

        return await self.db.aread(read)

    async def charge(self, checks: list[tuple[Limit, str]], now_s: float) -> None:
        """Take a token from each (a miss that counts), refusal or not."""

        def tx(conn: sqlite3.Connection) -> None:
            for limit, key in checks:
                take(conn, limit, key, now_s)

        await self.db.awrite(tx)

    def clear(self, scopes: tuple[str, ...] | None = None) -> None:
        """Every bucket full again (of `scopes`, or all): the chaos suite's reset."""
        if scopes is None:
            self.db.write(lambda c: c.execute("DELETE FROM buckets"))
            return
        marks = ",".join("?" * len(scopes))
        self.db.write(lambda c: c.execute(
            f"DELETE FROM buckets WHERE scope IN ({marks})", scopes))  # noqa: S608

    def close(self) -> None:
        """Close the file's connections (at shutdown)."""
        self.db.close()
