"""Client-side adaptive throttling, from the Google SRE book (ch. 21, "Handling Overload").

Each client keeps, over the last `window_s` (the book uses two minutes), the number of
`requests` it attempted and the number of `accepts` the backend took. A new request is
rejected locally with probability

    p = max(0, (requests - k * accepts) / (requests + 1))

so while the backend accepts everything nothing is throttled, and when it refuses most work
the client sheds it before it leaves. k = 2 is the book's choice (lower = more aggressive).
Locally rejected requests count as requests, which is what makes the throttle recover slowly.

A request that left counts once its answer is known (accepted or refused), not when it
leaves: counted at departure, requests still in flight look like refusals, and a cold
client's opening burst throttled itself (the live year_end_peak: three of its first five
registry calls were rejected locally while the registry had refused nothing).
"""

from __future__ import annotations

import random
from collections import deque

from pydantic import Field

from policies.config import PolicyConfig
from policies.errors import check_at_least, check_positive


class ThrottlePolicy(PolicyConfig):
    """Config of an `AdaptiveThrottle`: multiplier k and the counting window."""

    k: float = Field(default=2.0, ge=1.0, allow_inf_nan=False)
    window_s: float = Field(default=120.0, gt=0.0, allow_inf_nan=False)

    def build(self) -> AdaptiveThrottle:
        """A fresh throttle with this config."""
        return AdaptiveThrottle(self.k, self.window_s)


class AdaptiveThrottle:
    """The stateful throttle of one upstream."""

    __slots__ = ("_accepts", "_requests", "k", "window_s")

    def __init__(self, k: float = 2.0, window_s: float = 120.0) -> None:
        self.k = check_at_least("throttle.k", k, 1.0)
        self.window_s = check_positive("throttle.window_s", window_s)
        self._requests: deque[float] = deque()
        self._accepts: deque[float] = deque()

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        while self._requests and self._requests[0] <= horizon:
            self._requests.popleft()
        while self._accepts and self._accepts[0] <= horizon:
            self._accepts.popleft()

    def reject_probability(self, now: float) -> float:
        """The probability that a request made now is rejected locally."""
        self._expire(now)
        requests = len(self._requests)
        return max(0.0, (requests - self.k * len(self._accepts)) / (requests + 1))

    def allow(self, now: float, rng: random.Random) -> bool:
        """Decide whether a request may leave (draws from `rng` only if p > 0); a rejected
        one counts as a request now, an allowed one when `record_answer` reports it."""
        p = self.reject_probability(now)
        if p <= 0.0 or rng.random() >= p:
            return True
        self._requests.append(now)
        return False

    def record_answer(self, now: float, accepted: bool) -> None:
        """The answer to a request that left: it counts as a request, and as an accept if
        the backend took it."""
        self._requests.append(now)
        if accepted:
            self._accepts.append(now)
