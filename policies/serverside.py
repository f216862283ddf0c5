"""Configs of the server-side policies that are built from plain parameters.

`LoginLimitPolicy` builds the two login rate limiters (per account, per source address);
`CachePolicy` builds the stale-if-error cache; `ListQueuePolicy` says how employers' lists are
taken off the request path. Kept apart from the hot-path classes so the
presets can name them without importing every policy's state.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from policies.cache import StaleIfErrorCache
from policies.config import PolicyConfig
from policies.ratelimit import KeyedTokenBucket


class LoginLimitPolicy(PolicyConfig):
    """Login rate limits: a token bucket per account and one per source address.

    The defaults let a person mistype a few times (burst 5) and then try every 10 s, while
    a credential-stuffing source is held to 2 attempts a second.
    """

    per_account_rate_per_s: float = Field(default=0.1, gt=0.0, allow_inf_nan=False)
    per_account_burst: float = Field(default=5.0, ge=1.0, allow_inf_nan=False)
    per_source_rate_per_s: float = Field(default=2.0, gt=0.0, allow_inf_nan=False)
    per_source_burst: float = Field(default=20.0, ge=1.0, allow_inf_nan=False)

    def build(self) -> tuple[KeyedTokenBucket, KeyedTokenBucket]:
        """(per-account limiter, per-source limiter)."""
        return (KeyedTokenBucket(self.per_account_rate_per_s, self.per_account_burst),
                KeyedTokenBucket(self.per_source_rate_per_s, self.per_source_burst))


class CachePolicy(PolicyConfig):
    """Stale-if-error cache config: freshness, and how stale a read may be on error."""

    ttl_s: float = Field(default=60.0, ge=0.0, allow_inf_nan=False)
    max_staleness_s: float = Field(default=86_400.0, ge=0.0, allow_inf_nan=False)
    max_entries: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _staleness_covers_ttl(self) -> CachePolicy:
        if self.max_staleness_s < self.ttl_s:
            raise ValueError("max_staleness_s must be >= ttl_s")
        return self

    def build(self) -> StaleIfErrorCache[object]:
        """A fresh cache with this config."""
        return StaleIfErrorCache(self.ttl_s, self.max_staleness_s, self.max_entries)


class ListQueuePolicy(PolicyConfig):
    """Employers' lists answered 202 once durably recorded, processed off the request path.

    A submission holds a worker thread only for the part of its service time that takes the
    list (the scenario kind's `accept_share`: parse, check, record) and is answered 202
    ("accepted"). Background loops, `worker_share` of the replica's worker threads (at least
    one), then work through that replica's durable queue oldest first, each on one of the
    same threads: the rest of the service time, then the list's payment. The list counts as
    applied once processed; a crash or a power loss redoes the list it was working on after
    the restart, never loses it. Two fifths of the threads: the last evening of Esfand brings
    lists worth ~9 of a replica pair's 32 threads, and the rest must keep the prescriptions
    and logins within their SLO.
    """

    worker_share: float = Field(default=0.4, gt=0.0, le=1.0, allow_inf_nan=False)

    def loops(self, workers: int) -> int:
        """How many background loops a replica with `workers` threads runs."""
        return max(1, int(self.worker_share * workers))
