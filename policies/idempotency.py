"""Idempotency store: an Idempotency-Key maps to the one response its request produced.

Semantics of the IETF draft "The Idempotency-Key HTTP Header Field" (httpapi WG):
`begin(key, fingerprint)` answers
- `New`: first time; do the work, then `finish(key, response)` (or `abandon(key)` if the
  work failed before any effect, so a retry may try again);
- `Replay(response)`: the same key with the same payload finished before: return the
  recorded response, do nothing;
- `Conflict(status=422)`: the same key with another payload — the draft's 422;
- `Conflict(status=409)`: the same key is still being processed by another request.
The services keep an SQLite implementation of the same protocol; this one is in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class New:
    """The key is new: do the work and `finish` it."""


@dataclass(frozen=True, slots=True)
class Replay(Generic[R]):
    """The key finished before with the same payload: answer `response` again."""

    response: R


@dataclass(frozen=True, slots=True)
class Conflict:
    """The key cannot be used now: 422 another payload, 409 still in progress."""

    status: int
    reason: str


NEW = New()
PAYLOAD_MISMATCH = Conflict(422, "idempotency key reused with a different payload")
IN_PROGRESS = Conflict(409, "a request with this idempotency key is still in progress")


def fingerprint(payload: bytes) -> str:
    """A stable fingerprint of a request payload (SHA-256, hex)."""
    return hashlib.sha256(payload).hexdigest()


class IdempotencyStore(Protocol[R]):
    """Key -> recorded response, with payload fingerprints (see module doc)."""

    def begin(self, key: str, fingerprint: str) -> New | Replay[R] | Conflict:
        """Claim `key` for a request with this payload fingerprint."""

    def finish(self, key: str, response: R) -> None:
        """Record the response of the request that claimed `key`."""

    def abandon(self, key: str) -> None:
        """Release a claim whose request failed without effect."""


class MemoryIdempotencyStore(Generic[R]):
    """The in-memory `IdempotencyStore` (tests, the simulator)."""

    __slots__ = ("_done", "_pending")

    def __init__(self) -> None:
        self._pending: dict[str, str] = {}
        self._done: dict[str, tuple[str, R]] = {}

    def begin(self, key: str, fingerprint: str) -> New | Replay[R] | Conflict:
        """Claim `key`; see the module doc for the answers."""
        done = self._done.get(key)
        if done is not None:
            return Replay(done[1]) if done[0] == fingerprint else PAYLOAD_MISMATCH
        claimed = self._pending.get(key)
        if claimed is not None:
            return IN_PROGRESS if claimed == fingerprint else PAYLOAD_MISMATCH
        self._pending[key] = fingerprint
        return NEW

    def finish(self, key: str, response: R) -> None:
        """Record `response` for the claimed `key` (a key not claimed is a programming error)."""
        fp = self._pending.pop(key, None)
        if fp is None:
            raise KeyError(f"idempotency key {key!r} was not claimed with begin()")
        self._done[key] = (fp, response)

    def abandon(self, key: str) -> None:
        """Release the claim on `key` without recording a response."""
        self._pending.pop(key, None)

    def __len__(self) -> int:
        return len(self._done)
