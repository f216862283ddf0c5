"""Load shedding / admission control for a server: an adaptive concurrency limit with priorities.

A request of priority class p (0 = most important) is admitted while
in-flight < limit * priority_shares[p], so lower classes are shed first and class 0 may use
the whole limit. Each time class p is shed, every lower class (a larger number) is shed too
for `shed_hold_s` from then: an instant's headroom, opened by a completion or a limit that
grew, goes to the class that was refused rather than to browsing, so a higher class is never
shed while a lower one is still being served (criticality-based shedding, Google SRE book
ch. 21). A request shed only because a higher class holds it back counts too: a login held
behind a refused prescription holds browsing for `shed_hold_s` after the login's refusal,
not just until the prescription's hold ends (before, month_end_lists under resilient let
56-64 history reads a seed in within 1 s of a login shed at the same replica). A held
refusal passes the hold one class down, so holds cannot latch: class k is free at most
k * shed_hold_s after the last refusal, on its own account, of any class above it. A shed
request is rejected at once — never queued to stall — with a
Retry-After estimated from the current backlog: (in flight + shed in the current second)
* mean latency / limit, rounded up to whole seconds and clamped to [min_retry_after_s,
max_retry_after_s]; the mean latency starts at latency_target_s / 2 and each completion
moves it 10 % of the way to its latency.

The limit adapts after each completed request (Netflix concurrency-limits):
- "fixed": stays at initial_limit;
- "aimd" (after AIMDLimit): a failure or a latency over `latency_target_s` multiplies it by
  `backoff_ratio` ** (1 / limit), so a window's worth of them (limit samples) multiplies it
  by `backoff_ratio` once, TCP's multiplicative decrease per window: the reaction to a burst
  does not grow with the request rate. Per sample, as AIMDLimit does it, it did: at the
  portal's 1:1 scale, the reads that waited on a dead registry at power_loss's rack cut
  (then served stale: slow successes) took the surviving replica's limit from 29 to its
  floor of 4 in seconds, with 16 threads free, where 1:8 stayed near 8, and there it stayed
  (the next requests ended at the registry's open breaker: no sample); availability 0.41 at
  1:1 against 0.58 at 1:8, and 0.62 at both with the decrease per window;
  a success while at least half the limit is in use (the completing
  request included) adds 1, up to max_limit;
A failure of a dependency (see `release`) adapts neither.
- "gradient" (Gradient2Limit): gradient = clamp(tolerance * long_rtt / rtt, 0.5, 1);
  new = limit * gradient + sqrt(limit); limit moves towards it by `smoothing`. long_rtt is a
  slow average of latency, so queueing delay (rtt above it) pulls the limit down: the first
  sample sets it, each one moves it 1/600 of the way, and while it is over twice the sample
  (the load dropped) it also decays by 5 %. A failure sets the gradient to 0.5.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

from pydantic import Field, model_validator

from policies.config import PolicyConfig
from policies.decisions import ADMIT, Admission, Reject


def says_nothing_of_capacity(status: int | None) -> bool:
    """Whether an answer of HTTP `status` is the client's own doing (any 4xx: a wrong
    password's 401, the login rate limit's 429, a duplicate's 409), which says nothing of
    the server's capacity: its slot is freed without a sample (`release(ignore=True)`).

    Counted as a failure, an attacker's wrong passwords cut the limit: credential_stuffing
    at the portal's 1:1 scale (16 addresses, 2 admitted logins a second each, every one a
    401) drove resilient's AIMD limit from 29 to 7 with 16 threads free, and the portal shed
    a fifth of its real users (availability 0.77). Counted as a fast success, the same
    answers raise the limit towards max_limit. Both runners ask this one function."""
    return status is not None and 400 <= status < 500


class AdmissionPolicy(PolicyConfig):
    """Config of an `AdmissionController` (see the module doc for the algorithms)."""

    algorithm: Literal["fixed", "aimd", "gradient"] = "aimd"
    initial_limit: int = Field(default=50, ge=1)
    min_limit: int = Field(default=4, ge=1)
    max_limit: int = Field(default=1000, ge=1)
    priority_shares: tuple[float, ...] = (1.0, 0.9, 0.7)
    latency_target_s: float = Field(default=1.0, gt=0.0, allow_inf_nan=False)
    backoff_ratio: float = Field(default=0.9, gt=0.0, lt=1.0)
    tolerance: float = Field(default=1.5, ge=1.0, allow_inf_nan=False)
    smoothing: float = Field(default=0.2, gt=0.0, le=1.0)
    min_retry_after_s: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    shed_hold_s: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    max_retry_after_s: float = Field(default=60.0, gt=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> AdmissionPolicy:
        if not self.min_limit <= self.initial_limit <= self.max_limit:
            raise ValueError("initial_limit must lie in [min_limit, max_limit]")
        shares = self.priority_shares
        if not shares or any(not 0.0 < s <= 1.0 for s in shares):
            raise ValueError("priority_shares must be non-empty, each in (0, 1]")
        if any(b > a for a, b in itertools.pairwise(shares)):
            raise ValueError("priority_shares must not increase with the class number")
        if self.max_retry_after_s < self.min_retry_after_s:
            raise ValueError("max_retry_after_s must be >= min_retry_after_s")
        return self


class AdmissionController:
    """The stateful limiter of one server: `admit` before work, `release` after."""

    __slots__ = (
        "_cfg",
        "_hold_end_s",
        "_holds",
        "_long_rtt_s",
        "_mean_latency_s",
        "_shares",
        "_shed_epoch",
        "_shed_in_epoch",
        "in_flight",
        "limit",
        "shed",
    )

    def __init__(self, config: AdmissionPolicy | None = None) -> None:
        self._cfg = config or AdmissionPolicy()
        self._shares = self._cfg.priority_shares
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Forget what the limit learned: back to the initial limit, nothing shed or held
        (requests in flight stay counted)."""
        self.limit = float(self._cfg.initial_limit)
        self.shed = 0
        self._mean_latency_s = self._cfg.latency_target_s / 2.0
        self._long_rtt_s = 0.0
        self._shed_epoch = -1
        self._shed_in_epoch = 0
        # class -> until when the classes below it are held back (its last refusal + hold)
        self._holds: dict[int, float] = {}
        self._hold_end_s = -math.inf  # the latest of those: no class is held from then on

    def would_admit(self, now: float, priority: int = 0) -> bool:
        """Whether a request of class `priority` would be admitted at `now` (no state change)."""
        shares = self._shares
        share = shares[priority] if 0 <= priority < len(shares) else shares[-1]
        return not self._held(now, priority) and self.in_flight < self.limit * share

    def _held(self, now: float, priority: int) -> bool:
        """Whether a higher class than `priority` was refused within the hold."""
        if now >= self._hold_end_s:  # the common case, out of any hold: one comparison
            return False
        return any(refused < priority and now < until
                   for refused, until in self._holds.items())

    def admit(self, now: float, priority: int = 0) -> Admission:
        """Admit a request of class `priority` or reject it at once with a Retry-After."""
        if self.would_admit(now, priority):
            self.in_flight += 1
            return ADMIT
        self._hold_below(now, priority)
        self.shed += 1
        epoch = int(now)
        if epoch != self._shed_epoch:
            self._shed_epoch, self._shed_in_epoch = epoch, 0
        self._shed_in_epoch += 1
        return Reject("shed", self.retry_after_s())

    def _hold_below(self, now: float, priority: int) -> None:
        """Class `priority` was refused at `now`: hold every lower class back until now +
        shed_hold_s, whether it was refused on its own account or held behind a higher one
        (held, it is still a higher class refused, so browsing must not get in after it)."""
        until = now + self._cfg.shed_hold_s
        if until > self._holds.get(priority, -math.inf):
            self._holds[priority] = until
            self._hold_end_s = max(self._hold_end_s, until)

    def retry_after_s(self) -> float:
        """The advised wait: the time to drain the current backlog at the current limit."""
        cfg = self._cfg
        backlog = self.in_flight + self._shed_in_epoch
        estimate = math.ceil(backlog * self._mean_latency_s / self.limit)
        return float(min(cfg.max_retry_after_s, max(cfg.min_retry_after_s, estimate)))

    def release(self, now: float, latency_s: float, ok: bool = True,
                ignore: bool = False) -> None:
        """A request admitted earlier completed after `latency_s`; adapt the limit.

        `ignore`: the request failed because something behind this server did (an upstream
        down, its breaker open): its slot is freed but the sample says nothing about this
        server's own queue, so the limit is left alone (concurrency-limits' `onIgnore`).
        Counted as failures, a refresh storm against an open breaker (150 fast 503s) cut the
        live portal's limit to its minimum of 4, where it stayed on a quiet portal (the
        additive increase needs half the limit in use) and shed the next burst of logins.
        """
        if self.in_flight > 0:
            self.in_flight -= 1
        if ignore:
            return
        self._mean_latency_s += 0.1 * (latency_s - self._mean_latency_s)
        cfg = self._cfg
        if cfg.algorithm == "aimd":
            if not ok or latency_s > cfg.latency_target_s:  # one window's worth: x ratio
                self.limit = max(float(cfg.min_limit),
                                 self.limit * cfg.backoff_ratio ** (1.0 / self.limit))
            elif (self.in_flight + 1) * 2 >= self.limit:
                self.limit = min(float(cfg.max_limit), self.limit + 1.0)
        elif cfg.algorithm == "gradient":
            self._gradient(latency_s, ok)

    def _gradient(self, rtt_s: float, ok: bool) -> None:
        cfg = self._cfg
        if self._long_rtt_s <= 0.0:
            self._long_rtt_s = rtt_s
        self._long_rtt_s += (rtt_s - self._long_rtt_s) / 600.0
        if self._long_rtt_s > 2.0 * rtt_s:  # the load dropped: forget the old, higher rtt
            self._long_rtt_s *= 0.95
        rtt = max(rtt_s, 1e-9)
        gradient = max(0.5, min(1.0, cfg.tolerance * self._long_rtt_s / rtt))
        if not ok:
            gradient = 0.5
        target = self.limit * gradient + math.sqrt(self.limit)
        limit = self.limit * (1.0 - cfg.smoothing) + target * cfg.smoothing
        self.limit = min(float(cfg.max_limit), max(float(cfg.min_limit), limit))
