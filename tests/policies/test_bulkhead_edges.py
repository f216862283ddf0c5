"""The bulkhead at its edges: its config, the refusal messages, the rejected count, expiry."""

from __future__ import annotations

import re

import pytest

from policies.bulkhead import Bulkhead, BulkheadPolicy, Queued
from policies.decisions import Admit, Reject
from policies.errors import PolicyConfigError


def test_the_policy_builds_a_bulkhead_that_queues_for_its_max_wait() -> None:
    bh = BulkheadPolicy(max_concurrent=1, max_wait_s=2.0).build()
    assert bh.enter(3.0) == Admit()
    waiting = bh.enter(3.0)
    assert isinstance(waiting, Queued) and waiting.until_s == 5.0
    assert bh.release(5.0) == waiting.ticket  # granted at the very end of its wait


def test_without_a_max_wait_a_full_bulkhead_rejects_at_once() -> None:
    bh = Bulkhead(1)
    assert bh.enter(0.0) == Admit()
    assert bh.enter(0.0) == Reject("bulkhead_full", None)
    assert bh.rejected == 1 and bh.waiting == 0


@pytest.mark.parametrize("build,message", [
    (lambda: Bulkhead(0), "bulkhead.max_concurrent must be an integer >= 1 (got 0)"),
    (lambda: Bulkhead(2.0), "bulkhead.max_concurrent must be an integer >= 1 (got 2.0)"),  # type: ignore[arg-type]
    (lambda: Bulkhead(2, -1.0), "bulkhead.max_wait_s must be a finite number >= 0 (got -1.0)"),
    (lambda: Bulkhead(2, float("inf")),
     "bulkhead.max_wait_s must be a finite number >= 0 (got inf)"),
])
def test_bad_parameters_are_refused_in_one_sentence(build: object, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=re.escape(message) + "$"):
        build()  # type: ignore[operator]


def test_rejected_counts_each_refusal_and_each_abandoned_wait_once() -> None:
    full = Bulkhead(1)
    full.enter(0.0)
    for _ in range(3):
        full.enter(0.0)
    assert full.rejected == 3
    bh = Bulkhead(1, 1.0)
    assert bh.rejected == 0
    bh.enter(0.0)
    a, b = bh.enter(0.0), bh.enter(0.0)
    assert isinstance(a, Queued) and isinstance(b, Queued) and a.ticket != b.ticket
    assert bh.cancel(a.ticket) is True and bh.cancel(b.ticket) is True
    assert bh.cancel(a.ticket) is False
    assert bh.rejected == 2 and bh.waiting == 0


def test_an_expired_waiter_is_skipped_and_cancels_exactly_once() -> None:
    bh = Bulkhead(1, 1.0)
    bh.enter(0.0)
    late = bh.enter(0.0)
    assert isinstance(late, Queued)
    assert bh.release(1.5) is None  # its wait ended at 1.0: the slot is free, not handed on
    assert bh.active == 0 and bh.waiting == 0
    assert bh.cancel(late.ticket) is True  # its driver times out: it got nothing
    assert bh.cancel(late.ticket) is False  # and only once
    assert bh.rejected == 1
    assert bh.enter(2.0) == Admit()


def test_a_granted_waiter_cannot_cancel() -> None:
    bh = Bulkhead(1, 1.0)
    bh.enter(0.0)
    first, second = bh.enter(0.0), bh.enter(0.5)
    assert isinstance(first, Queued) and isinstance(second, Queued)
    assert bh.release(0.8) == first.ticket  # first come, first served
    assert bh.cancel(first.ticket) is False  # it holds the slot now
    assert bh.rejected == 0 and bh.waiting == 1 and bh.active == 1


def test_a_cancelled_waiter_at_the_head_is_skipped_and_the_next_one_is_served() -> None:
    bh = Bulkhead(1, 5.0)
    bh.enter(0.0)
    gone, next_up = bh.enter(0.0), bh.enter(0.1)
    assert isinstance(gone, Queued) and isinstance(next_up, Queued)
    assert bh.cancel(gone.ticket) is True  # the first waiter gave up
    assert bh.release(1.0) == next_up.ticket  # the slot passes over it to the live waiter
    assert bh.active == 1 and bh.waiting == 0
    assert bh.release(2.0) is None and bh.active == 0


def test_an_expired_waiter_at_the_head_is_skipped_and_the_next_one_is_served() -> None:
    bh = Bulkhead(1, 1.0)
    bh.enter(0.0)
    late, next_up = bh.enter(0.0), bh.enter(0.8)
    assert isinstance(late, Queued) and isinstance(next_up, Queued)
    assert bh.release(1.5) == next_up.ticket  # late's wait ended at 1.0, next_up's at 1.8
    assert bh.cancel(late.ticket) is True and bh.cancel(next_up.ticket) is False
    assert bh.active == 1 and bh.waiting == 0 and bh.rejected == 1
