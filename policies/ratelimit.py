"""Rate limiting per key (account, source address): one token bucket per key.

A bucket holds up to `burst` tokens and refills at `rate_per_s`; a request takes one token
or is rejected with the time until a token is back as its Retry-After. Buckets are refilled
lazily from the time of their last use, so an idle key costs nothing; when more than
`max_keys` are held, full buckets (indistinguishable from new ones) are dropped. A bucket that
is not full is never dropped — forgetting it would hand its key a fresh burst, which is what an
attacker rotating source addresses wants — so `max_keys` is a soft bound: beyond it memory
grows only with the keys active within one refill time (burst / rate).
"""

from __future__ import annotations

from policies.decisions import ADMIT, Admission, Reject
from policies.errors import PolicyConfigError, check_int_at_least, check_positive


class KeyedTokenBucket:
    """Token buckets keyed by a string; `take(key, now)` admits or rejects."""

    __slots__ = ("_buckets", "burst", "max_keys", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate_per_s = check_positive("ratelimit.rate_per_s", rate_per_s)
        self.burst = check_positive("ratelimit.burst", burst)
        if self.burst < 1.0:
            raise PolicyConfigError(f"ratelimit.burst must be >= 1 (got {burst!r})")
        self.max_keys = check_int_at_least("ratelimit.max_keys", max_keys, 1)
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, last refill time]

    def tokens(self, key: str, now: float) -> float:
        """The tokens `key` would have at `now` (burst for an unknown key)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return self.burst
        return min(self.burst, bucket[0] + (now - bucket[1]) * self.rate_per_s)

    def take(self, key: str, now: float, cost: float = 1.0) -> Admission:
        """Take `cost` tokens from `key`'s bucket, or reject with the wait until they exist."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = [self.burst, now]
        tokens = bucket[0] + max(0.0, now - bucket[1]) * self.rate_per_s
        tokens = min(tokens, self.burst)
        bucket[1] = max(now, bucket[1])
        if tokens >= cost:
            bucket[0] = tokens - cost
            return ADMIT
        bucket[0] = tokens
        return Reject("rate_limited", (cost - tokens) / self.rate_per_s)

    def _prune(self, now: float) -> None:
        full = [k for k, b in self._buckets.items()
                if b[0] + (now - b[1]) * self.rate_per_s >= self.burst]
        for key in full:
            del self._buckets[key]
