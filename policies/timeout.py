"""Timeouts and deadline propagation.

A logical call may carry a deadline (absolute, on the caller's clock). Each attempt gets the
smaller of the per-attempt timeout and the budget left; a call with `min_budget_s` or less
left is not made at all (it could only time out and add load). Across a hop the
*remaining budget* travels, not the absolute deadline, because the two hosts' clocks differ:
`encode_budget` / `decode_budget` put it in the `BUDGET_HEADER` request header (gRPC's
`grpc-timeout` does the same).
"""

from __future__ import annotations

import math

from pydantic import Field

from policies.config import PolicyConfig

BUDGET_HEADER = "X-Request-Budget-Ms"


class TimeoutPolicy(PolicyConfig):
    """Per-attempt timeout and deadline handling.

    attempt_timeout_s: the longest one attempt may take; min_budget_s: with this remaining
    budget or less no attempt is started; propagate_deadline: send the remaining budget
    downstream.
    """

    attempt_timeout_s: float = Field(default=30.0, gt=0.0, allow_inf_nan=False)
    min_budget_s: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    propagate_deadline: bool = True


def remaining_s(now: float, deadline_s: float | None) -> float:
    """Seconds left until `deadline_s` (infinite without a deadline; may be negative)."""
    return math.inf if deadline_s is None else deadline_s - now


def attempt_timeout(now: float, attempt_timeout_s: float, deadline_s: float | None,
                    min_budget_s: float = 0.0) -> float | None:
    """The timeout for an attempt started now, or None if the budget left is too small."""
    left = remaining_s(now, deadline_s)
    if left <= min_budget_s or left <= 0.0:
        return None
    return attempt_timeout_s if attempt_timeout_s < left else left


def encode_budget(remaining: float) -> str:
    """The header value for a remaining budget: whole milliseconds, at least 0."""
    return str(max(0, int(remaining * 1000.0)))


def decode_budget(value: str | None, now: float) -> float | None:
    """The local deadline for a received budget header, or None if absent or malformed."""
    if value is None or not value.isdigit() or len(value) > 12:
        return None
    return now + int(value) / 1000.0
