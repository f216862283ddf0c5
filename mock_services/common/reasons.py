"""Why a service answered 503: the `reason` field of its error body, from a fixed vocabulary.

The `error` sentence is for people and may be reworded at will; a client that acts on why it
was refused (the lab's users record a shed or an open breaker as such) reads `reason`, never
the sentence. This module needs only the standard library, so clients read the vocabulary
without the services' web stack.
"""

from __future__ import annotations

import json
from enum import StrEnum


class Reason(StrEnum):
    """The `reason` of a 503 body (mock_services/common/errors.py `Unavailable`)."""

    SHED = "shed"  # the portal's admission control refused the request: it is overloaded
    DATABASE_BUSY = "database_busy"  # the database stayed locked past its busy timeout
    QUEUE_FULL = "queue_full"  # the replica's waiting room is full (the sim's QUEUE_FULL)
    BREAKER_OPEN = "breaker_open"  # a circuit breaker kept the call off a failing upstream
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"  # an upstream failed, throttled or unknown
    OUT_OF_ROTATION = "out_of_rotation"  # the replica was taken out of the balancer's rotation
    INJECTED = "injected"  # an upstream's admin fault (mock_services/common/http_faults.py)


def reason_of(body: bytes | str) -> Reason | None:
    """The `reason` of an error body as received; None when the body is not JSON, states
    none, or states one not in the vocabulary (a proxy's page, another server's error)."""
    try:
        value = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None
    reason = value.get("reason") if isinstance(value, dict) else None
    try:
        return Reason(reason) if isinstance(reason, str) else None
    except ValueError:
        return None


def upstream_reason(label: str) -> Reason:
    """The reason of a 503 the portal gives for an upstream call that ended with `label` (the
    policy's give-up reason, e.g. "breaker_open", "throttled", "http_503")."""
    return Reason.BREAKER_OPEN if label == "breaker_open" else Reason.UPSTREAM_UNAVAILABLE
