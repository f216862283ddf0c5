"""Load-shaped histories for the tests: a month-end peak, a refresh storm and credential
stuffing, under the `baseline` and the `resilient` policy sets (see shapes.py).
"""

from __future__ import annotations

from scenario.history import History
from tests.scenario.builder import Builder

CAPACITY_PER_S = 20.0
SERVICE_S = 1 / CAPACITY_PER_S
_KINDS = (("prescribe", 0), ("prescribe", 0), ("login", 1), ("submit_list", 1),
          ("read_history", 2), ("read_history", 2), ("read_payslip", 2), ("read_history", 2),
          ("read_payslip", 2), ("read_history", 2))


def peak(resilient: bool, seed: int = 1) -> History:
    """Offered load 12/s, then 40/s from 60 to 120 s, on a portal serving 20/s.

    baseline: one FIFO queue with a bounded accept backlog; beyond it connections are
    refused at random, whatever their priority. resilient: admission control sheds
    priority 2 once the queue holds more than 0.5 s of work, never priority 0 or 1.
    """
    b = Builder(seed)
    b.fault("peak_load", "portal", 60.0, 120.0)
    t, busy_until, n = 0.0, 0.0, 0
    while t < 180:
        rate = 40.0 if 60 <= t < 120 else 12.0
        t += b.rng.expovariate(rate)
        n += 1
        f, prio = _KINDS[b.rng.randrange(len(_KINDS))]
        proc = f"user-{n}"
        wait = max(0.0, busy_until - t)
        key = b.key("w") if f in ("prescribe", "submit_list") else ""
        if resilient and prio == 2 and wait > 0.5:
            b.call(proc, f, t, 0.004, "fail", key=key, error="shed", priority=prio)
        elif not resilient and wait > 7.5:  # accept backlog full
            b.call(proc, f, t, 0.002, "fail", key=key, error="refused", priority=prio)
        else:
            busy_until = max(busy_until, t) + SERVICE_S
            b.call(proc, f, t, busy_until - t, key=key, priority=prio)
        if n % 40 == 0:
            b.gauge("queue_length", "portal-1", t, wait / SERVICE_S)
    return b.history()


def refresh_storm(resilient: bool, seed: int = 1) -> History:
    """Users retry without pause while the portal stalls from 60 to 90 s.

    baseline: the retries keep the portal saturated long after the trigger (metastable);
    resilient: retry budget and Retry-After let it recover within seconds.
    """
    b = Builder(seed)
    b.fault("refresh_storm", "portal", 60.0, 90.0)
    recovered_at = 95.0 if resilient else float("inf")
    for i in range(30):
        proc, t = f"citizen-{i}", b.rng.uniform(0, 2)
        while t < 240:
            degraded = 60 <= t < recovered_at
            if degraded and b.rng.random() < 0.9:
                if resilient:
                    b.call(proc, "read_history", t, 0.01, "fail", error="shed", priority=2)
                    t = b.free_at(proc) + b.rng.uniform(2, 4)  # honours Retry-After
                else:
                    b.call(proc, "read_history", t, 10.0, "info", error="timeout", priority=2)
                    t = b.free_at(proc)  # refreshes at once
                continue
            b.call(proc, "read_history", t, b.rng.uniform(0.05, 0.2) + (3 if degraded else 0),
                   priority=2)
            t = b.free_at(proc) + b.rng.uniform(0.5, 2.0)
    return b.history()


def credential_stuffing(resilient: bool, seed: int = 1, *, breach: bool = False) -> History:
    """Attackers try leaked passwords from 30 to 150 s while citizens log in.

    `breach`: one wrong-password login is accepted (a portal that fails open).
    """
    b = Builder(seed)
    b.fault("credential_stuffing", "login", 30.0, 150.0)
    for i in range(10):
        proc, t = f"attacker-{i}", 30.0 + b.rng.uniform(0, 1)
        while t < 150:
            if resilient:
                b.call(proc, "login", t, 0.002, "fail", error="rate_limited", priority=1)
            else:
                b.call(proc, "login", t, b.rng.uniform(1, 4), "fail", error="unauthorized",
                       priority=1)
            t = b.free_at(proc) + b.rng.uniform(0.05, 0.1)
    if breach:
        b.call("attacker-0", "login", 151.0, 0.3, value="200", priority=1)
    for i in range(20):
        proc, t = f"citizen-{i}", b.rng.uniform(0, 3)
        while t < 200:
            attacked = 30 <= t <= 150 and not resilient
            lat = b.rng.uniform(4, 8) if attacked else b.rng.uniform(0.2, 0.6)
            b.call(proc, "login", t, lat, value="200", priority=1)
            t = b.free_at(proc) + b.rng.uniform(2, 5)
    return b.history()
