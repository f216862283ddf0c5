"""Circuit breaker with resilience4j's semantics, sans-IO.

States: closed, open, half_open, forced_open, disabled (resilience4j's CircuitBreaker.State).
In *closed* every outcome goes into a sliding window — count-based (the last `window_size`
calls) or time-based (the calls of the last `window_size` whole seconds, aggregated per
second like resilience4j's SlidingTimeWindowMetrics). Once the window holds at least
`minimum_calls` (capped at the window size for a count window, as resilience4j does), the
breaker opens when the failure rate >= `failure_rate_threshold` or the slow-call rate >=
`slow_call_rate_threshold`; a call is slow when it took longer than `slow_call_duration_s`.
*Open* rejects calls for `wait_open_s`, growing by `wait_open_multiplier` with each
consecutive open up to `max_wait_open_s` (resilience4j's IntervalBiFunction). Then
*half_open* permits exactly `half_open_calls` calls; when they have all completed it closes
(rates below the thresholds) or opens again; after `max_wait_half_open_s` (0 = no limit) it
opens without waiting for the stragglers. Every state change is a `PolicyEvent`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from policies.backoff import exponential
from policies.config import PolicyConfig
from policies.events import PolicyEvent

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
FORCED_OPEN, DISABLED = "forced_open", "disabled"
_FAIL, _SLOW = 1, 2


class CircuitBreakerPolicy(PolicyConfig):
    """Config of a `CircuitBreaker` (resilience4j's CircuitBreakerConfig, durations in s)."""

    window_type: Literal["count", "time"] = "count"
    window_size: int = Field(default=100, ge=1)
    minimum_calls: int = Field(default=20, ge=1)
    failure_rate_threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    slow_call_rate_threshold: float = Field(default=1.0, gt=0.0, le=1.0)
    slow_call_duration_s: float = Field(default=60.0, gt=0.0, allow_inf_nan=False)
    wait_open_s: float = Field(default=30.0, gt=0.0, allow_inf_nan=False)
    wait_open_multiplier: float = Field(default=1.0, ge=1.0, allow_inf_nan=False)
    max_wait_open_s: float = Field(default=300.0, gt=0.0, allow_inf_nan=False)
    half_open_calls: int = Field(default=10, ge=1)
    max_wait_half_open_s: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _cap_covers_the_wait(self) -> CircuitBreakerPolicy:
        if self.max_wait_open_s < self.wait_open_s:
            raise ValueError(f"max_wait_open_s must be >= wait_open_s ({self.wait_open_s})")
        return self

    def build(self, key: str = "", events: list[PolicyEvent] | None = None) -> CircuitBreaker:
        """A fresh breaker named `key`, appending its state changes to `events`."""
        return CircuitBreaker(self, key, events)


class CircuitBreaker:
    """The stateful breaker of one upstream. Call `try_acquire` before, `on_result` after."""

    __slots__ = (
        "_calls", "_cfg", "_consecutive_opens", "_count_ring", "_fails", "_half_calls",
        "_half_fails", "_half_permits", "_half_since", "_half_slows", "_head_epoch", "_pos",
        "_slows", "_time_buckets", "events", "key", "open_until", "opens", "rejected", "state")

    def __init__(self, cfg: CircuitBreakerPolicy, key: str = "",
                 events: list[PolicyEvent] | None = None) -> None:
        self._cfg = cfg
        self.key = key
        self.events: list[PolicyEvent] = [] if events is None else events
        self.state = CLOSED
        self.opens = 0
        self.rejected = 0
        self.open_until = 0.0
        self._consecutive_opens = 0
        self._half_permits = self._half_calls = self._half_fails = self._half_slows = 0
        self._half_since = 0.0
        self._reset_window()

    # -- the sliding window of the closed state -------------------------------------------
    def _reset_window(self) -> None:
        self._calls = self._fails = self._slows = 0
        self._pos = 0
        self._head_epoch = -(2**62)
        size = self._cfg.window_size
        self._count_ring = [0] * size if self._cfg.window_type == "count" else []
        # time buckets: [calls, fails, slows] per second of the window, second e at e % size
        self._time_buckets = ([[0, 0, 0] for _ in range(size)]
                              if self._cfg.window_type == "time" else [])

    def _record_count(self, code: int) -> None:
        ring, pos = self._count_ring, self._pos
        if self._calls == len(ring):
            old = ring[pos]
            self._fails -= old & _FAIL
            self._slows -= (old & _SLOW) >> 1
        else:
            self._calls += 1
        ring[pos] = code
        self._fails += code & _FAIL
        self._slows += (code & _SLOW) >> 1
        self._pos = (pos + 1) % len(ring)

    def _advance(self, epoch: int) -> None:
        """Drop the seconds that fell out of a time window ending in second `epoch`."""
        head, size = self._head_epoch, len(self._time_buckets)
        if epoch <= head:
            return
        for e in range(max(head + 1, epoch - size + 1), epoch + 1):
            # second e's bucket last held second e - size (or nothing): it left the window
            bucket = self._time_buckets[e % size]
            self._calls -= bucket[0]
            self._fails -= bucket[1]
            self._slows -= bucket[2]
            bucket[0] = bucket[1] = bucket[2] = 0
        self._head_epoch = epoch

    def _record_time(self, now: float, code: int) -> None:
        epoch = int(now // 1)
        self._advance(epoch)
        bucket = self._time_buckets[max(epoch, self._head_epoch) % len(self._time_buckets)]
        bucket[0] += 1
        bucket[1] += code & _FAIL
        bucket[2] += (code & _SLOW) >> 1
        self._calls += 1
        self._fails += code & _FAIL
        self._slows += (code & _SLOW) >> 1

    def window_counts(self, now: float | None = None) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the closed-state window (ending at `now`)."""
        if now is not None and self._time_buckets:
            self._advance(int(now // 1))
        return self._calls, self._fails, self._slows

    # -- transitions --------------------------------------------------------------------
    def _transition(self, now: float, new: str) -> None:
        old, self.state = self.state, new
        if new == OPEN:
            cfg = self._cfg
            self._consecutive_opens += 1
            self.opens += 1
            self.open_until = now + exponential(self._consecutive_opens - 1, cfg.wait_open_s,
                                                cfg.wait_open_multiplier, cfg.max_wait_open_s)
        elif new == HALF_OPEN:
            self._half_permits = self._half_calls = self._half_fails = self._half_slows = 0
            self._half_since = now
        elif new in (CLOSED, DISABLED):
            self._consecutive_opens = 0
            self._reset_window()
        self.events.append(PolicyEvent(now, "breaker", self.key, f"{old}->{new}"))

    def transition_to_open(self, now: float) -> None:
        """Open now, as if the thresholds had been crossed."""
        self._transition(now, OPEN)

    def transition_to_forced_open(self, now: float) -> None:
        """Reject every call until told otherwise (an operator's switch)."""
        self._transition(now, FORCED_OPEN)

    def transition_to_disabled(self, now: float) -> None:
        """Permit every call and record nothing until told otherwise."""
        self._transition(now, DISABLED)

    def reset(self, now: float) -> None:
        """Back to closed with an empty window."""
        self._transition(now, CLOSED)

    # -- the hot path -------------------------------------------------------------------
    def try_acquire(self, now: float) -> bool:
        """May a call go out now? True takes a permit (in half-open, one of the few)."""
        state = self.state
        if state in (CLOSED, DISABLED):
            return True
        if state == OPEN:
            if now < self.open_until:
                self.rejected += 1
                return False
            self._transition(now, HALF_OPEN)
        elif state == FORCED_OPEN:
            self.rejected += 1
            return False
        cfg = self._cfg
        if cfg.max_wait_half_open_s and now - self._half_since >= cfg.max_wait_half_open_s:
            self._transition(now, OPEN)
            self.rejected += 1
            return False
        if self._half_permits < cfg.half_open_calls:
            self._half_permits += 1
            return True
        self.rejected += 1
        return False

    def release(self, now: float) -> None:
        """Give back a permit whose call produced no outcome (cancelled before it left)."""
        if self.state == HALF_OPEN and self._half_permits > self._half_calls:
            self._half_permits -= 1

    def on_result(self, now: float, duration_s: float, failure: bool) -> None:
        """Record the outcome of a permitted call and change state if a threshold is crossed."""
        state = self.state
        if state not in (CLOSED, HALF_OPEN):
            return
        cfg = self._cfg
        code = (_FAIL if failure else 0) | (_SLOW if duration_s > cfg.slow_call_duration_s else 0)
        if state == HALF_OPEN:
            if self._half_calls >= self._half_permits:
                return  # a straggler permitted before the last transition
            self._half_calls += 1
            self._half_fails += code & _FAIL
            self._half_slows += (code & _SLOW) >> 1
            n = self._half_calls
            if n >= cfg.half_open_calls:
                tripped = (self._half_fails / n >= cfg.failure_rate_threshold
                           or self._half_slows / n >= cfg.slow_call_rate_threshold)
                self._transition(now, OPEN if tripped else CLOSED)
            return
        if self._count_ring:
            self._record_count(code)
            minimum = min(cfg.minimum_calls, cfg.window_size)
        else:
            self._record_time(now, code)
            minimum = cfg.minimum_calls
        calls = self._calls
        # rates by division, as resilience4j compares percentages: 3/10 >= 0.3 holds exactly
        if calls >= minimum and (self._fails / calls >= cfg.failure_rate_threshold
                                 or self._slows / calls >= cfg.slow_call_rate_threshold):
            self._transition(now, OPEN)
