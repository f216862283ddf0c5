"""Bulkhead: at most `max_concurrent` calls at once, others wait at most `max_wait_s`.

resilience4j's SemaphoreBulkhead (maxConcurrentCalls, maxWaitDuration), sans-IO. `enter`
answers `Admit` (a slot is yours), `Reject("bulkhead_full")` (no slot and no waiting allowed)
or `Queued(ticket, until_s)`: the driver parks the caller until `release` hands that ticket a
slot, or until `until_s`, when it calls `cancel(ticket)`. Waiters are served first come,
first served, and a slot is never handed to a waiter whose wait has expired.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from pydantic import Field

from policies.config import PolicyConfig
from policies.decisions import ADMIT, Admit, Reject
from policies.errors import check_int_at_least, check_non_negative

FULL = Reject("bulkhead_full", None)


@dataclass(frozen=True, slots=True)
class Queued:
    """Wait for `ticket` to be granted by a `release`, at most until `until_s`."""

    ticket: int
    until_s: float


class BulkheadPolicy(PolicyConfig):
    """Config of a `Bulkhead`."""

    max_concurrent: int = Field(default=25, ge=1)
    max_wait_s: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)

    def build(self) -> Bulkhead:
        """A fresh bulkhead with this config."""
        return Bulkhead(self.max_concurrent, self.max_wait_s)


class Bulkhead:
    """The stateful bulkhead: slots in use and the queue of waiters."""

    __slots__ = ("_expired", "_live", "_next_ticket", "_waiters", "active", "max_concurrent",
                 "max_wait_s", "rejected")

    def __init__(self, max_concurrent: int, max_wait_s: float = 0.0) -> None:
        self.max_concurrent = check_int_at_least("bulkhead.max_concurrent", max_concurrent, 1)
        self.max_wait_s = check_non_negative("bulkhead.max_wait_s", max_wait_s)
        self.active = 0
        self.rejected = 0
        self._next_ticket = 0
        self._waiters: deque[tuple[int, float]] = deque()
        self._live: set[int] = set()  # tickets queued and neither granted nor cancelled
        self._expired: set[int] = set()  # skipped by `release`, their cancel still to come

    @property
    def waiting(self) -> int:
        """Waiters not cancelled (some may have expired without telling yet)."""
        return len(self._live)

    def enter(self, now: float) -> Admit | Reject | Queued:
        """Take a slot, queue for one, or be rejected."""
        if self.active < self.max_concurrent and self.waiting <= 0:
            self.active += 1
            return ADMIT
        if self.max_wait_s <= 0.0:
            self.rejected += 1
            return FULL
        ticket = self._next_ticket
        self._next_ticket += 1
        until = now + self.max_wait_s
        self._waiters.append((ticket, until))
        self._live.add(ticket)
        return Queued(ticket, until)

    def release(self, now: float) -> int | None:
        """Free a slot; returns the ticket of the waiter that now holds it, if any."""
        waiters, live = self._waiters, self._live
        while waiters:
            ticket, until = waiters.popleft()
            if ticket not in live:
                continue
            live.discard(ticket)
            if until < now:  # expired: never granted; its driver's cancel will say so
                self._expired.add(ticket)
                continue
            return ticket  # the slot passes to the waiter: `active` is unchanged
        self.active -= 1
        return None

    def cancel(self, ticket: int) -> bool:
        """The waiter gave up (timed out); True if it was still waiting (not yet granted)."""
        if ticket in self._live or ticket in self._expired:
            self._live.discard(ticket)
            self._expired.discard(ticket)
            self.rejected += 1
            return True
        return False
