"""The model's rules where a client gives up or a server breaks (issue 20), each on a reduced
model small enough to predict exactly (deterministic times) or by one probability.

Each test fails on the behaviour it replaced: the service time redrawn when a draw was not
below the timeout; `max_queue = 0` refusing every request; patience only ever a timeout over
the whole request; breakdowns that could only drop work; refreshes without backoff.
"""

from __future__ import annotations

import math
from typing import Any

from scenario.history import History
from sim.model import Replication
from sim.validation import reduced, run


def ends(history: History) -> list[tuple[float, float, str, str]]:
    """(invoke time, latency, type, error) of every completed client operation."""
    return [(i.time_s, e.time_s - i.time_s, e.type, e.error)
            for i, e in history.pairs() if e is not None]


def deterministic(name: str, *, rate: float, requests: int, service_s: float,
                  **more: Any) -> Replication:
    """One worker, evenly spaced arrivals, a fixed service time; one attempt, no timeout."""
    workload = {"arrivals": "deterministic", **more.pop("workload", {})}
    kind = {"service": {"dist": "deterministic", "value": f"{service_s}s"}}
    return run(reduced(name, more.pop("servers", 1), rate, requests, workload=workload,
                       kind=kind, **more), 1)


def test_an_attempts_service_time_is_drawn_once() -> None:
    # Exponential service of mean 1 s, an attempt timeout of 0.5 s and free workers: an
    # attempt times out exactly when its one draw exceeds 0.5 s, P = e^-0.5 = 0.607. The old
    # model redrew a draw not below the timeout, so only 0.607^2 = 0.368 timed out. 4000
    # operations: one standard deviation is 0.008, the margin 0.04 is five of them.
    scenario = reduced("redraw", 64, 4.0, 4000, service_s=1.0,
                       policies={"user": {"timeout": {"attempt_timeout_s": 0.5},
                                          "retry": {"max_attempts": 1}, "budget": "off"}})
    done = ends(run(scenario, 1).history)
    timed_out = sum(1 for *_, t, e in done if e == "timeout") / len(done)
    assert abs(timed_out - math.exp(-0.5)) < 0.04


def test_no_waiting_room_still_serves_a_free_worker() -> None:
    # max_queue = 0 is a loss system: one worker busy 10 ms every 10 s is always free
    # (arrivals at 10 s, 20 s, ... before the end at 200 s: 19 of them)
    done = ends(deterministic("loss", rate=0.1, requests=20, service_s=0.01,
                              max_queue=0).history)
    assert len(done) == 19 and all(t == "ok" for *_, t, _ in done)


def test_a_user_who_abandons_the_queue_takes_the_request_with_them() -> None:
    # One worker busy 10 s per request, a request every 2 s, users patient for 1 s of
    # waiting: the request that finds the worker free is served, every other one abandons
    # after 1 s in the queue and is never served.
    rep = deterministic("abandon", rate=0.5, requests=30, service_s=10.0, workload={
        "give_up": "queue", "patience": {"dist": "deterministic", "value": "1s"}})
    done = ends(rep.history)
    ok = [lat for _, lat, t, _ in done if t == "ok"]
    abandoned = [lat for _, lat, t, e in done if e == "abandoned"]
    assert len(ok) + len(abandoned) == len(done)
    assert all(lat == 10.0 for lat in ok)
    assert abandoned and all(abs(lat - 1.0) < 1e-9 for lat in abandoned)
    assert rep.counters.served == len(ok) and rep.counters.wasted == 0


def test_a_client_timeout_leaves_orphaned_work_served_or_dropped_as_the_scenario_says() -> None:
    # Patience of 1 s over the whole request: the clients of queued requests time out, and
    # the replica either still serves their requests (work wasted) or drops them.
    patience = {"give_up": "request", "patience": {"dist": "deterministic", "value": "1s"}}
    served = deterministic("orphans-serve", rate=0.5, requests=30, service_s=10.0,
                           workload=patience, extra={"server": {"orphans": "serve"}})
    dropped = deterministic("orphans-drop", rate=0.5, requests=30, service_s=10.0,
                            workload=patience, extra={"server": {"orphans": "drop"}})
    assert served.counters.wasted > 0
    assert dropped.counters.wasted == 0
    for rep in (served, dropped):
        assert {e for *_, t, e in ends(rep.history) if t != "ok"} == {"timeout"}


def _broken(work: str) -> list[tuple[float, float, str, str]]:
    # One request of 10 s of work, arriving at 50 s; the replica breaks down from 52 s to 55 s.
    fault = {"kind": "replica_failure", "replica": "portal-a", "work": work, "start": "52s",
             "duration": "3s"}
    return ends(deterministic(f"breakdown-{work}", rate=0.02, requests=1, service_s=10.0,
                              extra={"faults": [fault], "duration": "60s"}).history)


def test_a_breakdown_resumes_restarts_or_drops_the_work_in_service() -> None:
    (start, latency, kind, _), = _broken("resume")
    assert start == 50.0 and kind == "ok" and latency == 13.0  # 2 s, 3 s stopped, 8 s
    (_, latency, kind, _), = _broken("restart")
    assert kind == "ok" and latency == 15.0  # 2 s lost, 3 s stopped, 10 s again
    (_, latency, kind, error), = _broken("drop")
    # reset by the kill; a request served inside its client's process (`portal.serve_inline`)
    # reads the reset when its service would have ended
    assert kind == "fail" and error == "refused" and latency in (2.0, 10.0)


def test_a_degraded_replica_serves_at_its_speed() -> None:
    # 1 s of work at half speed from 10 s to 20 s: requests started then take 2 s.
    fault = {"kind": "degraded_replica", "replica": "portal-a", "speed": 0.5, "start": "10s",
             "duration": "10s"}
    done = ends(deterministic("degraded", rate=0.2, requests=6, service_s=1.0,
                              extra={"faults": [fault]}).history)
    assert [(start, lat) for start, lat, _, _ in done] == [
        (5.0, 1.0), (10.0, 2.0), (15.0, 2.0), (20.0, 1.0), (25.0, 1.0)]


def test_refreshes_back_off_exponentially() -> None:
    # The replica is down the whole run: every attempt is refused at once, and the user
    # refreshes 4 times after 1, 2, 4 and 8 s (backoff without jitter): fails at 15 s.
    fault = {"kind": "replica_failure", "replica": "portal-a", "start": "1s",
             "duration": "140s"}
    rep = deterministic("backoff", rate=0.01, requests=1, service_s=0.01, workload={
        "refresh": {"probability": 1.0, "max_refreshes": 4,
                    "backoff": {"base": "1s", "multiplier": 2.0, "jitter": "none"}}},
        extra={"faults": [fault], "duration": "150s"}, policies={"user": {
            "timeout": {"attempt_timeout_s": 30.0}, "retry": {"max_attempts": 1},
            "budget": "off", "failover": False}})
    (_, latency, kind, _), = ends(rep.history)
    assert kind == "fail" and latency == 15.0
