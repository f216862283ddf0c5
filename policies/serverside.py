"""Configs of the server-side policies that are built from plain parameters.

`LoginLimitPolicy` builds the two login rate limiters (per account, per source address);
`CachePolicy` builds the stale-if-error cache. Kept apart from the hot-path classes so the
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
