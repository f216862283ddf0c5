"""Policy events: state changes a runner drains into the history."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PolicyEvent:
    """One state change of a policy, e.g. the breaker of "shahkar" going "closed->open".

    policy: "breaker", "throttle", "admission", ...; key: the upstream or resource name;
    value: what changed ("closed->open", "limit=40").
    """

    time_s: float
    policy: str
    key: str
    value: str
