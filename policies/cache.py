"""Stale-if-error cache for reads (RFC 5861's stale-if-error, in process).

An entry is *fresh* for `ttl_s` after it was stored: `get` serves it. When the origin fails,
`get_stale` still serves it up to `max_staleness_s` after it was stored, and the hit says it
is stale so the response can be marked (the history's "stale" value). At most `max_entries`
are kept, least recently stored dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from policies.errors import PolicyConfigError, check_int_at_least, check_non_negative

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheHit(Generic[V]):
    """A cached value, its age in seconds, and whether it is past its freshness."""

    value: V
    age_s: float
    stale: bool


class StaleIfErrorCache(Generic[V]):
    """Keyed values with a freshness lifetime and a longer stale-if-error lifetime."""

    __slots__ = ("_entries", "max_entries", "max_staleness_s", "ttl_s")

    def __init__(self, ttl_s: float, max_staleness_s: float, max_entries: int = 100_000) -> None:
        self.ttl_s = check_non_negative("cache.ttl_s", ttl_s)
        self.max_staleness_s = check_non_negative("cache.max_staleness_s", max_staleness_s)
        if self.max_staleness_s < self.ttl_s:
            raise PolicyConfigError(
                f"cache.max_staleness_s must be >= ttl_s ({ttl_s!r}) (got {max_staleness_s!r})")
        self.max_entries = check_int_at_least("cache.max_entries", max_entries, 1)
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()

    def put(self, key: str, value: V, now: float) -> None:
        """Store `value` for `key`, fresh from `now`."""
        entries = self._entries
        if key in entries:
            del entries[key]
        elif len(entries) >= self.max_entries:
            entries.popitem(last=False)
        entries[key] = (value, now)

    def get(self, key: str, now: float) -> CacheHit[V] | None:
        """The entry if it is still fresh, else None (go to the origin)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = now - entry[1]
        return CacheHit(entry[0], age, False) if age <= self.ttl_s else None

    def get_stale(self, key: str, now: float) -> CacheHit[V] | None:
        """On an origin error: the entry if within max staleness, flagged stale once past ttl."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = now - entry[1]
        if age > self.max_staleness_s:
            return None
        return CacheHit(entry[0], age, age > self.ttl_s)

    def __len__(self) -> int:
        return len(self._entries)
