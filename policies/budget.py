"""Retry budget: retries at most a ratio of requests over a sliding window, plus a floor.

The Google SRE book (ch. 22, "Addressing Cascading Failures") caps retries per client at
10 % of requests; Finagle's `RetryBudget` adds a minimum number of retries per second so a
quiet client may still retry. Here a retry is allowed at time t iff

    retries in (t - window_s, t]  +  1  <=  ratio * requests in (t - window_s, t]
                                           + min_per_s * window_s

so the budget holds over every window that ends at a retry. Requests and retries are kept as
timestamps in deques: exact, and O(1) amortised per call.
"""

from __future__ import annotations

from collections import deque

from pydantic import Field

from policies.config import PolicyConfig


class RetryBudgetPolicy(PolicyConfig):
    """Config of a `RetryBudget`: ratio of requests, window, floor of retries per second."""

    ratio: float = Field(default=0.1, ge=0.0, le=1.0, allow_inf_nan=False)
    window_s: float = Field(default=10.0, gt=0.0, allow_inf_nan=False)
    min_per_s: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)

    def build(self) -> RetryBudget:
        """A fresh budget with this config."""
        return RetryBudget(self.ratio, self.window_s, self.min_per_s)


class RetryBudget:
    """The stateful budget, shared by all calls to one upstream."""

    __slots__ = ("_floor", "_requests", "_retries", "ratio", "window_s")

    def __init__(self, ratio: float, window_s: float, min_per_s: float) -> None:
        RetryBudgetPolicy(ratio=ratio, window_s=window_s, min_per_s=min_per_s)  # validates
        self.ratio = ratio
        self.window_s = window_s
        self._floor = min_per_s * window_s
        self._requests: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        requests, retries = self._requests, self._retries
        while requests and requests[0] <= horizon:
            requests.popleft()
        while retries and retries[0] <= horizon:
            retries.popleft()

    def record_request(self, now: float) -> None:
        """Count one first attempt (a logical request)."""
        self._requests.append(now)

    def try_retry(self, now: float) -> bool:
        """Withdraw one retry if the budget allows it now; False leaves the budget as it was."""
        self._expire(now)
        if len(self._retries) + 1 <= self.ratio * len(self._requests) + self._floor:
            self._retries.append(now)
            return True
        return False

    def counts(self, now: float) -> tuple[int, int]:
        """(requests, retries) in the window ending now."""
        self._expire(now)
        return len(self._requests), len(self._retries)
