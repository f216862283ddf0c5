"""The admission controller against the checker that judges it: one replica's decisions under
an overload, written as a history, pass `priority_shedding`; the same controller with its hold
switched off (a policy that sheds by shares alone) fails it, so the checker can fail on what
it is meant to catch.

The replica is the controller itself driven by a seeded arrival process: each arrival is
admitted or shed at once, an admitted request completes after an exponential service time and
releases its slot. Every request is one attempt, so the history's times are the controller's
own (no client retries, no second replica between the decision and the record).
"""

from __future__ import annotations

import heapq
import random

import pytest

from policies.decisions import Admit
from policies.shedding import AdmissionController, AdmissionPolicy
from scenario.checkers.load import PriorityParams, priority_shedding
from scenario.history import History, Op

ARRIVALS = 3000
RATE_PER_S = 50.0  # offered: 50/s against 4 slots of 0.1 s (40/s), a fifth over capacity
SERVICE_PER_S = 10.0  # mean service 0.1 s
SHARES = (1.0, 0.85, 0.6)  # resilient's


def overload(seed: int, **policy: float) -> History:
    """ARRIVALS requests of classes 0-2 at one fixed-limit controller, one op each."""
    ctl = AdmissionController(AdmissionPolicy(
        algorithm="fixed", initial_limit=4, min_limit=1, priority_shares=SHARES, **policy))
    rng = random.Random(seed)
    now, busy, ops = 0.0, [], []
    for n in range(ARRIVALS):
        now += rng.expovariate(RATE_PER_S)
        while busy and busy[0] <= now:
            ctl.release(heapq.heappop(busy), 0.1)
        priority, process = rng.randrange(len(SHARES)), f"user-{n}"
        ops.append(Op("invoke", process, "read_history", now, "", "", "", priority))
        if isinstance(ctl.admit(now, priority), Admit):
            end = now + rng.expovariate(SERVICE_PER_S)
            heapq.heappush(busy, end)
            ops.append(Op("ok", process, "read_history", end, "", "", "", priority))
        else:
            ops.append(Op("fail", process, "read_history", now, "", "", "shed", priority))
    ops.sort(key=lambda op: op.time_s)
    return History(ops)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_controller_passes_priority_shedding_and_fails_it_without_its_hold(
        seed: int) -> None:
    check = priority_shedding(PriorityParams(interval_s=1.0))  # = the default shed_hold_s
    held = check(overload(seed))
    assert held.valid is True, held.detail
    assert not held.detail.startswith("0 of 0 ")  # it shed: the verdict judged something
    unheld = check(overload(seed, shed_hold_s=0.0))
    assert unheld.valid is False, unheld.detail
