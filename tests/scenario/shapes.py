"""Histories shaped like the `baseline` and the `resilient` policy sets under each fault of
DESIGN.md's table, small but realistic (many processes, interleaved, seeded).

Each function takes `resilient` and a seed and returns a `History`; the shapes follow what
each policy set does, not what a checker looks for: baseline retries at once without
idempotency, has no breaker, no cache, no shedding and no quota; resilient fails over,
opens its breaker, serves stale reads, queues payments, sheds low priorities first.
"""

from __future__ import annotations

from scenario.history import History
from tests.scenario.builder import Builder

SHAHKAR_A = "shahkar@portal-a"


def switch_failure(resilient: bool, seed: int = 1) -> History:
    """Employers submit lists to replicas on two switches; switch-a fails 40..70 s."""
    b = Builder(seed)
    b.fault("switch_failure", "switch-a", 40.0, 70.0)
    applied: dict[str, int] = {}
    for i in range(20):
        proc, on_a = f"employer-{i}", i % 2 == 0
        t = b.rng.uniform(0, 3)
        while t < 110:
            key = b.key("list")
            start = max(t, b.free_at(proc))
            if on_a and 40 <= start <= 70:
                if resilient:  # timeout of 1 s, then failover to the other switch, same key
                    b.call(proc, "submit_list", start, b.rng.uniform(1.1, 2.5), key=key,
                           value="200", priority=1)
                    applied[key] = 1
                else:  # blind retries after each 10 s timeout; the server does not dedupe
                    n, s = 0, start
                    while 40 <= s <= 70:
                        b.call(proc, "submit_list", s, 10.0, "info", key=key,
                               error="timeout", priority=1)
                        n += b.rng.random() < 0.5
                        s += 10.0
                    b.call(proc, "submit_list", s, 0.2, key=key, value="200", priority=1)
                    applied[key] = n + 1
            else:
                _, end = b.call(proc, "submit_list", start, b.rng.uniform(0.05, 0.3), key=key,
                                value="200", priority=1)
                # baseline acknowledges before the write reaches the other switch: lost
                applied[key] = 0 if (on_a and not resilient and 37 <= end < 40) else 1
            t = b.free_at(proc) + b.rng.uniform(1, 4)
    for i in range(10):
        proc, t = f"citizen-{i}", b.rng.uniform(0, 2)
        while t < 110:
            if i % 2 == 0 and 40 <= t <= 70 and not resilient:
                b.call(proc, "read_history", t, 0.01, "fail", error="refused", priority=2)
            else:
                b.call(proc, "read_history", t, b.rng.uniform(0.02, 0.2), priority=2)
            t = b.free_at(proc) + b.rng.uniform(0.5, 3)
    for key, n in applied.items():
        b.final(key, n, 120.0)
    return b.history()


def slow_upstream(resilient: bool, seed: int = 1) -> History:
    """Citizens log in through portal-a, whose link to Shahkar answers in 3-30 s from 100 to
    250 s; its breaker and attempts name the replica ("shahkar@portal-a").
    """
    b = Builder(seed)
    b.fault("slow_upstream", "portal-a-shahkar", 100.0, 250.0)
    open_at, closed_at = 104.0, 0.0
    if resilient:  # opens after the first slow calls; probes every 10 s; closes once healthy
        b.breaker(SHAHKAR_A, open_at, "closed->open")
        t = open_at + 10
        while t < 260:
            b.breaker(SHAHKAR_A, t, "open->half_open")
            healthy = t > 250
            for n in range(2):
                b.upstream(SHAHKAR_A, t + (0.4 if healthy else 2.0) + n * 0.01,
                           "ok" if healthy else "timeout", f"probe-{t:g}-{n}")
            b.breaker(SHAHKAR_A, t + 2.1, "half_open->closed" if healthy else "half_open->open")
            if healthy:
                break
            t += 10
        closed_at = t + 2.1
    logins = 0
    for i in range(30):
        proc, t = f"citizen-{i}", b.rng.uniform(0, 5)
        while t < 330:
            logins += 1
            lid = f"login-{logins}"
            start = max(t, b.free_at(proc))
            slow = 100 <= start <= 250
            if resilient and open_at <= start < closed_at:  # breaker open: cached verification
                b.call(proc, "login", start, b.rng.uniform(0.03, 0.1), priority=1)
            elif not slow:
                lat = b.rng.uniform(0.2, 0.8)
                b.upstream(SHAHKAR_A, start + lat - 0.01, "ok", lid)
                b.call(proc, "login", start, lat, priority=1)
            elif resilient:  # 2 s timeout, then the cached verification
                b.upstream(SHAHKAR_A, start + 2.0, "timeout", lid)
                b.call(proc, "login", start, 2.0 + b.rng.uniform(0.03, 0.1), priority=1)
            else:  # no timeout, no breaker: wait for Shahkar however long it takes
                lat = b.rng.uniform(3, 30)
                b.upstream(SHAHKAR_A, start + lat - 0.01, "ok", lid)
                b.call(proc, "login", start, lat, priority=1)
            t = b.free_at(proc) + b.rng.uniform(3, 8)
    return b.history()


def upstream_outage(resilient: bool, seed: int = 1) -> History:
    """The registry and the payment service are down from 60 to 160 s."""
    b = Builder(seed)
    b.fault("upstream_outage", "portal-a-registry", 60.0, 160.0)
    b.fault("upstream_outage", "portal-a-payment", 60.0, 160.0)
    n = 0
    for i in range(20):
        proc, t, fresh_at = f"citizen-{i}", b.rng.uniform(0, 2), 0.0
        while t < 240:
            n += 1
            rid = f"read-{n}"
            down = 60 <= t <= 160
            if not down:
                b.upstream("registry", t + 0.05, "ok", rid)
                if b.rng.random() < 0.03:  # a rare retry, within any budget
                    b.upstream("registry", t + 0.06, "ok", rid)
                _, fresh_at = b.call(proc, "read_history", t, 0.08, priority=2)
            elif resilient:  # stale-if-error; the breaker soon stops the attempts
                if t < 65:
                    b.upstream("registry", t + 0.01, "fail", rid)
                else:
                    b.short_circuit("registry", t + 0.001, rid, "breaker_open")
                b.call(proc, "read_history", t, 0.02, value=f"stale:{t - fresh_at:.1f}",
                       priority=2)
            else:  # three immediate attempts, then an error to the user
                for k in range(3):
                    b.upstream("registry", t + 0.01 * (k + 1), "fail", rid)
                b.call(proc, "read_history", t, 0.05, "fail", error="http_503", priority=2)
            t = b.free_at(proc) + b.rng.uniform(1, 4)
    for i in range(10):
        proc, t = f"employer-{i}", b.rng.uniform(0, 5)
        while t < 220:
            key = b.key("pay")
            if not 60 <= t <= 160:
                b.upstream("payment", t + 0.1, "ok", key)
                b.call(proc, "submit_list", t, 0.15, key=key, value="200", priority=1)
                b.final(key, 1, 250.0)
            elif resilient:  # the durable queue answers 202 and pays once after recovery
                b.call(proc, "submit_list", t, 0.03, key=key, value="accepted", priority=1)
                b.upstream("payment", 161.0 + b.rng.uniform(0, 5), "ok", key)
                b.final(key, 1, 250.0)
            else:  # the payment applies but its answer is lost; each retry pays again
                for k in range(3):
                    b.upstream("payment", t + 5.0 * (k + 1), "timeout", key)
                b.call(proc, "submit_list", t, 15.0, "info", key=key, error="timeout",
                       priority=1)
                b.final(key, 3, 250.0)
            t = b.free_at(proc) + b.rng.uniform(4, 9)
    return b.history()


def power_loss(resilient: bool, seed: int = 1) -> History:
    """Citizens type forms (drafts autosaved); rack-1 loses power from 100 to 160 s."""
    b = Builder(seed)
    b.fault("power_loss", "rack-1", 100.0, 160.0)
    for i in range(15):
        proc, draft = f"citizen-{i}", f"draft-{i}"
        t = b.rng.uniform(5, 40)
        while t < 95:  # autosave every few seconds while typing
            b.call(proc, "save_draft", t, b.rng.uniform(0.02, 0.1), key=draft, priority=2)
            t = b.free_at(proc) + b.rng.uniform(3, 8)
        t = b.rng.uniform(110, 150)  # tries during the outage, then comes back later
        b.call(proc, "restore_draft", t, 0.01, "fail", key=draft, error="refused", priority=2)
        t = b.rng.uniform(170, 240)
        if resilient:
            b.call(proc, "restore_draft", t, 0.05, key=draft, priority=2)
        else:  # drafts lived in the portal's memory only
            b.call(proc, "restore_draft", t, 0.05, "fail", key=draft, error="not_found",
                   priority=2)
        b.final(draft, 1 if resilient else 0, 260.0)
    return b.history()


def pharmacy_network(resilient: bool, seed: int = 1) -> History:
    """Three pharmacies dispense; pharmacy-1 loses its link from 200 to 600 s."""
    b = Builder(seed)
    b.fault("network_loss", "pharmacy-1-portal", 200.0, 600.0)
    papers: list[tuple[str, str]] = []
    counts = {"paper": 0, "all": 0}
    for ph in range(1, 4):
        for w in range(2):
            proc, t = f"pharmacy-{ph}/{w}", b.rng.uniform(0, 5)
            while t < 800:
                offline = ph == 1 and 200 <= t <= 600
                if not offline:
                    b.call(proc, "dispense", t, b.rng.uniform(0.1, 0.5), key=b.key("rx"),
                           priority=0)
                    counts["all"] += ph == 1
                elif not resilient or (counts["paper"] + 1) <= 0.2 * (counts["all"] + 1):
                    control = b.key("C")
                    b.call(proc, "paper_record", t, 0.01, key=control, priority=0)
                    papers.append((proc, control))
                    counts["paper"] += 1
                    counts["all"] += 1
                else:  # over the quota: the patient is asked to come back after recovery
                    b.call(proc, "paper_record", t, 0.0, "fail", key=b.key("C"),
                           error="deferred", priority=0)
                t = b.free_at(proc) + b.rng.uniform(4, 8)
    for n, (proc, control) in enumerate(papers):
        t = 610.0 + n * 0.5
        if resilient:
            b.call(proc, "reconcile", t, 0.1, key="reconcile:" + control, priority=0)
            b.final("reconcile:" + control, 1, 900.0)
        else:  # no idempotent reconciliation: some are sent twice, some forgotten
            draw = b.rng.random()
            applied = 0 if draw < 0.05 else (2 if draw < 0.2 else 1)
            if applied:
                b.call(proc, "reconcile", t, 0.1, key="reconcile:" + control, priority=0)
            b.final("reconcile:" + control, applied, 900.0)
        b.final(control, 1, 900.0)
    return b.history()


def deploy(resilient: bool, seed: int = 1) -> History:
    """Citizens browse and log in during a rolling deploy from 60 to 120 s."""
    b = Builder(seed)
    b.fault("deployment_window", "portal", 60.0, 120.0)
    for i in range(30):
        proc, t = f"citizen-{i}", b.rng.uniform(0, 2)
        while t < 180:
            f = "login" if b.rng.random() < 0.3 else "read_history"
            if 60 <= t <= 120 and b.rng.random() < 0.15:  # hit a replica being restarted
                if resilient:  # retried on another replica
                    b.call(proc, f, t, b.rng.uniform(0.1, 0.4), priority=2)
                else:
                    b.call(proc, f, t, 0.005, "fail", error="refused", priority=2)
            else:
                b.call(proc, f, t, b.rng.uniform(0.03, 0.3), priority=2)
            t = b.free_at(proc) + b.rng.uniform(1, 4)
    return b.history()
