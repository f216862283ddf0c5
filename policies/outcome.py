"""The outcome of one attempt, as a driver saw it, and how policies classify it.

Classification is one small frozen strategy (`Classifier`) shared by retry, breaker and
throttle, so "what counts as a failure" is decided once per `ClientPolicy`, the way
resilience4j's `recordExceptions` / `ignoreExceptions` and tenacity's `retry_if_*` do.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from policies.config import PolicyConfig

# 408 timeout, 425 too early, 429 too many requests, 5xx server trouble other than 501/505:
# the statuses a retry can fix (RFC 9110 semantics, as Polly's HttpRetryStrategyOptions).
DEFAULT_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
DEFAULT_RETRY_ERRORS = frozenset({"timeout", "refused", "reset", "connect_timeout"})
# Statuses that mean "the server refused to work" for adaptive throttling (SRE book ch. 21).
OVERLOAD_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt.

    ok: the attempt succeeded; status: the HTTP status if a response came back;
    error: transport failure ("timeout", "refused", "reset"); retry_after_s: the server's
    Retry-After, if any; duration_s: how long the attempt took (slow-call detection).
    """

    ok: bool
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    duration_s: float = 0.0

    @property
    def label(self) -> str:
        """The outcome in the history's error vocabulary: "ok", "timeout", "http_503", ..."""
        if self.ok:
            return "ok"
        if self.error is not None:
            return self.error
        if self.status is not None:
            return f"http_{self.status}"
        return "error"


class Classifier(PolicyConfig):
    """Which failed outcomes a retry may fix and which count against an upstream's health.

    retry_statuses / retry_errors: outcomes worth another attempt. failure_statuses: statuses
    the breaker records as failures (4xx other than 408/429 are the caller's fault and count
    as successes, as resilience4j's ignore-exceptions); every transport error is a failure.
    """

    retry_statuses: frozenset[int] = Field(default=DEFAULT_RETRY_STATUSES)
    retry_errors: frozenset[str] = Field(default=DEFAULT_RETRY_ERRORS)
    failure_statuses: frozenset[int] = Field(
        default=frozenset({408, 429, 500, 502, 503, 504}))

    def is_retryable(self, outcome: Outcome) -> bool:
        """True if another attempt could succeed where this one failed."""
        if outcome.ok:
            return False
        if outcome.error is not None:
            return outcome.error in self.retry_errors
        return outcome.status in self.retry_statuses

    def is_failure(self, outcome: Outcome) -> bool:
        """True if the outcome counts against the upstream's health (breaker)."""
        if outcome.ok:
            return False
        if outcome.error is not None:
            return True
        return outcome.status is None or outcome.status in self.failure_statuses

    @staticmethod
    def is_overload(outcome: Outcome) -> bool:
        """True if the upstream refused the work (counts as not accepted by the throttle)."""
        return (not outcome.ok) and (outcome.error == "refused"
                                     or outcome.status in OVERLOAD_STATUSES)
