"""The services' SQLite idempotency store: a key replays its response, or is refused if reused.

A write's business change and its idempotency record are committed in the same transaction,
so a key is either unused or bound to exactly one applied change and its response — never
applied twice, whatever replica the retry reaches. Keys are scoped by the caller, so one
user's key never replays another user's response.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header

from mock_services.common.db import Database
from mock_services.common.errors import Conflict as ConflictError
from mock_services.common.errors import Unprocessable
from policies.idempotency import IN_PROGRESS, NEW, PAYLOAD_MISMATCH, Conflict, New, Replay

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, created_s REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
"""
_PENDING = 0  # status of a key claimed by SqliteIdempotencyStore.begin, not finished yet
KEY_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"


@dataclass(frozen=True)
class StoredResponse:
    """The response a write gave, kept to replay it for a retry with the same key."""

    status: int
    body: dict[str, Any]


def fingerprint(operation: str, canonical_body: str) -> str:
    """A digest of what the request asks for; equal bodies (canonical JSON) give equal digests."""
    return hashlib.sha256(f"{operation}\n{canonical_body}".encode()).hexdigest()


def lookup(conn: sqlite3.Connection, scope: str, key: str, digest: str) -> StoredResponse | None:
    """The recorded response for (scope, key); Unprocessable if the key came with another body."""
    row = conn.execute("SELECT fingerprint, status, body FROM idempotency WHERE scope=? AND key=?",
                       (scope, key)).fetchone()
    if row is None:
        return None
    if row["fingerprint"] != digest:
        raise Unprocessable(f"Idempotency-Key {key} was already used with a different request body")
    if row["status"] == _PENDING:
        raise ConflictError(f"a request with Idempotency-Key {key} is still in progress")
    return StoredResponse(row["status"], json.loads(row["body"]))


def record(conn: sqlite3.Connection, scope: str, key: str, digest: str, *,
           response: StoredResponse, now_s: float) -> None:
    """Bind (scope, key) to its response, inside the transaction that applied the change."""
    conn.execute("INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                 (scope, key, digest, response.status, json.dumps(response.body), now_s))


def forget(conn: sqlite3.Connection, scope: str, key: str) -> None:
    """Release a key whose write did not happen (so a retry runs it again)."""
    conn.execute("DELETE FROM idempotency WHERE scope=? AND key=?", (scope, key))


async def replay(db: Database, scope: str, key: str, digest: str) -> StoredResponse | None:
    """`lookup` in a read of its own: a write that asks upstreams before it commits answers a
    retry of an applied write from here, without asking them again (`run_once` checks again
    in the write's transaction, for a retry that raced the first)."""
    return await db.aread(lambda c: lookup(c, scope, key, digest))


def run_once(conn: sqlite3.Connection, scope: str, key: str, digest: str, *, now_s: float,
             apply: Callable[[sqlite3.Connection], StoredResponse]) -> tuple[StoredResponse, bool]:
    """Apply the write unless the key is bound already; (response, replayed). Call in a write tx."""
    hit = lookup(conn, scope, key, digest)
    if hit is not None:
        return hit, True
    response = apply(conn)
    if response.status < 300:
        record(conn, scope, key, digest, response=response, now_s=now_s)
    return response, False


IDEMPOTENCY_422 = ("The body breaks the schema (detail says where) or a rule of the domain, "
                   "or the Idempotency-Key was already used with another body")


async def _require_key(  # async: FastAPI would run a def in its thread pool
    idempotency_key: Annotated[str, Header(
        max_length=128, pattern=KEY_PATTERN,
        description="the write's key: a retry with the same key and body gets the recorded "
                    "answer (Idempotent-Replayed: true), never a second write")],
) -> str:
    return idempotency_key  # missing or malformed: a 400 (a header problem) naming it


IdempotencyKey = Annotated[str, Depends(_require_key)]
"""A route parameter: the write's Idempotency-Key header, required (the OpenAPI document says
so), 400 when missing or malformed."""


class SqliteIdempotencyStore:
    """policies' `IdempotencyStore` protocol over this table, for one scope.

    The routes bind a key and apply its change in one transaction (`run_once`), which needs
    no pending state; this adapter offers the protocol's two-step begin/finish for work
    that spans transactions, with the same answers as `MemoryIdempotencyStore`.
    """

    def __init__(self, db: Database, scope: str, clock: Callable[[], float]) -> None:
        self.db, self.scope, self.clock = db, scope, clock

    def begin(self, key: str, fingerprint: str) -> New | Replay[StoredResponse] | Conflict:
        """Claim `key`: New, Replay(response), or Conflict (422 other payload, 409 pending)."""

        def tx(conn: sqlite3.Connection) -> New | Replay[StoredResponse] | Conflict:
            row = conn.execute("SELECT fingerprint, status, body FROM idempotency "
                               "WHERE scope=? AND key=?", (self.scope, key)).fetchone()
            if row is None:
                conn.execute("INSERT INTO idempotency VALUES (?, ?, ?, ?, '', ?)",
                             (self.scope, key, fingerprint, _PENDING, self.clock()))
                return NEW
            if row["fingerprint"] != fingerprint:
                return PAYLOAD_MISMATCH
            if row["status"] == _PENDING:
                return IN_PROGRESS
            return Replay(StoredResponse(row["status"], json.loads(row["body"])))

        return self.db.write(tx)

    def finish(self, key: str, response: StoredResponse) -> None:
        """Record the response of the request that claimed `key`."""

        def tx(conn: sqlite3.Connection) -> None:
            cur = conn.execute("UPDATE idempotency SET status=?, body=? WHERE scope=? AND key=? "
                               "AND status=?", (response.status, json.dumps(response.body),
                                                self.scope, key, _PENDING))
            if cur.rowcount != 1:
                raise KeyError(f"idempotency key {key!r} was not claimed with begin()")

        self.db.write(tx)

    def abandon(self, key: str) -> None:
        """Release a claim whose work failed without effect."""
        self.db.write(lambda c: c.execute(
            "DELETE FROM idempotency WHERE scope=? AND key=? AND status=?",
            (self.scope, key, _PENDING)) and None)
