"""The decisions a policy returns; a driver (asyncio or SimPy) carries them out.

A policy never sleeps or calls anything: it answers `Attempt` (make one attempt with this
timeout), `Sleep` (wait, then ask again), `GiveUp` (the logical call fails), or, for
admission-style policies, `Admit` / `Reject`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Attempt:
    """Make one attempt now, abandoning it after `timeout_s` seconds."""

    timeout_s: float


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait `seconds`, then ask the call for its next decision."""

    seconds: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The logical call fails.

    reason: what the user sees, in the history's error vocabulary ("timeout", "refused",
        "http_503", "breaker_open", "deadline", "throttled", "bulkhead_full").
    cause: which policy ended the call ("max_attempts", "not_retryable", "retry_budget",
        "time_limit", "deadline", "breaker", "throttle"); "" when the reason says it all.
    """

    reason: str
    cause: str = ""


@dataclass(frozen=True, slots=True)
class Done:
    """The logical call succeeded; `next()` answers this after a successful attempt."""


@dataclass(frozen=True, slots=True)
class Admit:
    """The request may proceed."""


@dataclass(frozen=True, slots=True)
class Reject:
    """The request is refused; `retry_after_s` is the advice for the client, if any."""

    reason: str
    retry_after_s: float | None = None


ADMIT = Admit()
DONE = Done()
CallDecision = Attempt | Sleep | GiveUp | Done
Admission = Admit | Reject
