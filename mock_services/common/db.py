"""SQLite the way every service uses it: WAL, synchronous=FULL, busy timeout, off the event loop.

Each worker thread keeps its own connection. Writes run in `BEGIN IMMEDIATE` transactions so
several processes sharing one file (portal replicas) serialise their writers instead of
failing on lock upgrades; COMMIT with synchronous=FULL returns only once the WAL is fsync'd,
which is what lets a route acknowledge a write.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from anyio import to_thread

T = TypeVar("T")
BUSY_TIMEOUT_MS = 15_000


def _retry_locked(step: Callable[[], object]) -> None:
    """Run a setup step, retrying while another process holds the lock it needs.

    Two replicas opening a new shared file race to convert it to WAL; SQLite answers the loser
    "database is locked" at once, without calling the busy handler, so the wait is ours: a poll
    with the busy timeout as its deadline.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Database:
    """One SQLite file with its schema; `read`/`write` run a function on a connection."""

    def __init__(self, path: Path, schema: str, synchronous: str = "FULL") -> None:
        """`synchronous`: FULL for anything acknowledged; NORMAL (still crash-consistent in
        WAL) only for state whose last moments may be forgotten (shared rate limits)."""
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous {synchronous!r}: expected FULL or NORMAL")
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._generation = 0  # bumped by close(): threads then reconnect instead of failing
        path.parent.mkdir(parents=True, exist_ok=True)
        # executescript commits as it goes; CREATE ... IF NOT EXISTS makes a race harmless.
        _retry_locked(lambda: self._conn().executescript(schema))

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "generation", -1) != self._generation:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._local.conn, self._local.generation = conn, self._generation
            with self._lock:
                self._all.append(conn)
        return conn

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a read transaction (a consistent snapshot)."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a write transaction; committed (and fsync'd) when this returns."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def aread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`read` in a worker thread, so the event loop keeps serving."""
        return await to_thread.run_sync(partial(self.read, fn))

    async def awrite(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`write` in a worker thread, so the event loop keeps serving."""
        return await to_thread.run_sync(partial(self.write, fn))

    def close(self) -> None:
        """Close every thread's connection (at shutdown; a later use reconnects)."""
        with self._lock:
            self._generation += 1
            for conn in self._all:
                conn.close()
            self._all.clear()
