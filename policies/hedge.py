"""Hedged requests for read-only lookups ("The Tail at Scale", Dean & Barroso, CACM 2013).

A lookup goes to the upstream; if no answer came within the hedge delay, a second copy goes
too, and the first success wins (the others are abandoned). The delay is `delay_s` until
`min_samples` latencies are known, then their `quantile` (the paper hedges at the 95th
percentile, costing about 5 % extra load). A failed attempt launches the next hedge at once
(as Polly's hedging strategy does). Hedges are capped by a budget — at most `max_ratio` of
requests over `window_s` — so a slow upstream is not sent twice the load when it can least
take it; no mainstream library bounds hedging this way.

Sans-IO like the rest: `HedgedCall.next(now)` answers `Attempt` (launch one more, concurrently;
the driver numbers them 0, 1, ...), `Sleep(s)` (wait `s` or until an attempt completes,
whichever is first; `s` may be infinite), `Done` or `GiveUp`; the driver reports each
completion with `record(now, index, outcome)`.
"""

from __future__ import annotations

import math

from pydantic import Field

from policies.budget import RetryBudget
from policies.config import PolicyConfig
from policies.decisions import DONE, Attempt, CallDecision, GiveUp, Sleep
from policies.outcome import Outcome


class HedgePolicy(PolicyConfig):
    """Config of a `Hedger` (see the module doc)."""

    delay_s: float = Field(default=0.5, gt=0.0, allow_inf_nan=False)
    quantile: float | None = Field(default=0.95, gt=0.0, lt=1.0)
    min_samples: int = Field(default=20, ge=1)
    max_hedges: int = Field(default=1, ge=1, le=10)
    max_ratio: float = Field(default=0.1, ge=0.0, le=1.0)
    window_s: float = Field(default=10.0, gt=0.0, allow_inf_nan=False)
    attempt_timeout_s: float = Field(default=2.0, gt=0.0, allow_inf_nan=False)

    def build(self) -> Hedger:
        """A fresh hedger with this config."""
        return Hedger(self)


class Hedger:
    """The state shared by hedged lookups to one upstream: latencies and the hedge budget."""

    __slots__ = ("_budget", "_latencies", "_pos", "cfg", "hedges")

    _RING = 256

    def __init__(self, cfg: HedgePolicy) -> None:
        self.cfg = cfg
        self._budget = RetryBudget(cfg.max_ratio, cfg.window_s, 0.0)
        self._latencies: list[float] = []
        self._pos = 0
        self.hedges = 0

    def delay_s(self) -> float:
        """The current hedge delay: the latency quantile once known, else `delay_s`."""
        cfg = self.cfg
        if cfg.quantile is None or len(self._latencies) < cfg.min_samples:
            return cfg.delay_s
        ordered = sorted(self._latencies)
        return ordered[min(len(ordered) - 1, int(cfg.quantile * len(ordered)))]

    def observe(self, latency_s: float) -> None:
        """Remember the latency of a successful attempt."""
        if len(self._latencies) < self._RING:
            self._latencies.append(latency_s)
        else:
            self._latencies[self._pos] = latency_s
            self._pos = (self._pos + 1) % self._RING

    def start(self, now: float, deadline_s: float | None = None) -> HedgedCall:
        """Begin one hedged lookup."""
        self._budget.record_request(now)
        return HedgedCall(self, now, deadline_s)


class HedgedCall:
    """One hedged lookup: launches, waits, and the first success."""

    __slots__ = ("_cap", "_h", "_next_at", "deadline_s", "failed", "launched",
                 "result_outcome", "winner")

    def __init__(self, hedger: Hedger, now: float, deadline_s: float | None) -> None:
        self._h = hedger
        self.deadline_s = math.inf if deadline_s is None else deadline_s
        self.launched = 0
        self._cap = 1 + hedger.cfg.max_hedges  # attempts allowed; the budget may lower it
        self.failed = 0
        self.winner: int | None = None
        self.result_outcome: Outcome | None = None
        self._next_at = now

    def _can_launch_more(self) -> bool:
        return self.launched < self._cap

    def next(self, now: float) -> CallDecision:
        """The next thing the driver must do."""
        if self.winner is not None:
            return DONE
        left = self.deadline_s - now
        if left <= 0.0:
            return GiveUp(self._label("deadline"), "deadline")
        more = self._can_launch_more()
        if more and now >= self._next_at:
            if self.launched == 0 or self._h._budget.try_retry(now):
                if self.launched:
                    self._h.hedges += 1
                self.launched += 1
                self._next_at = now + self._h.delay_s()
                timeout = self._h.cfg.attempt_timeout_s
                return Attempt(timeout if timeout < left else left)
            # budget spent: no more hedges, but `launched` stays the true count, so the
            # lookup still gives up once the attempts in flight have all failed
            self._cap = self.launched
            more = False
        if self.failed >= self.launched:
            return GiveUp(self._label("error"), "hedges_exhausted")
        wait = (self._next_at - now) if more else math.inf
        return Sleep(min(wait, left))

    def _label(self, default: str) -> str:
        return default if self.result_outcome is None else self.result_outcome.label

    def record(self, now: float, index: int, outcome: Outcome) -> None:
        """Attempt number `index` (0-based, in launch order) completed with `outcome`."""
        if self.winner is not None:
            return
        self.result_outcome = outcome
        if outcome.ok:
            self.winner = index
            self._h.observe(outcome.duration_s)
        else:
            self.failed += 1
            self._next_at = now  # a failure launches the next hedge at once
