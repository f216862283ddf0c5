"""Retry: when another attempt is worth making, and after how long.

One frozen config, in tenacity's three axes: *stop* (`max_attempts`, `max_total_s`), *wait*
(`backoff`, bounded below by the server's Retry-After up to `max_retry_after_s`) and *retry*
(`classifier`: which errors and statuses). A write is retried only when the caller marks the
call idempotent (it carries an idempotency key) unless `retry_non_idempotent` says otherwise.
The decision itself is made by `pipeline.Call`, together with the budget and the breaker.
"""

from __future__ import annotations

import random

from pydantic import Field

from policies.backoff import BackoffPolicy
from policies.config import PolicyConfig
from policies.outcome import Classifier, Outcome


class RetryPolicy(PolicyConfig):
    """Config of retries for one logical call.

    max_attempts: attempts in all, the first included (1 = no retry); max_total_s: no retry
    starts after this long since the call began (None = no limit); honour_retry_after: wait
    at least the server's Retry-After, but never more than max_retry_after_s.
    """

    max_attempts: int = Field(default=3, ge=1, le=1000)
    backoff: BackoffPolicy = BackoffPolicy()
    classifier: Classifier = Classifier()
    retry_non_idempotent: bool = False
    honour_retry_after: bool = True
    max_retry_after_s: float = Field(default=30.0, ge=0.0, allow_inf_nan=False)
    max_total_s: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)

    def wait_s(self, retry_index: int, previous_s: float, outcome: Outcome,
               rng: random.Random) -> float:
        """The wait before retry `retry_index` (0-based) after `outcome`."""
        delay = self.backoff.delay(retry_index, previous_s, rng)
        advised = outcome.retry_after_s
        if self.honour_retry_after and advised is not None and advised > delay:
            delay = min(advised, max(self.max_retry_after_s, delay))
        return delay
