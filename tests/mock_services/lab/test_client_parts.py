"""The clients' pure parts: replica choice, result classification, user patience, keys."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import pytest

from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.http import Completion, HttpRequest, classify, with_attempt_key
from mock_services.lab.clients.replicas import ReplicaSet
from mock_services.lab.clients.user import Behaviour, perform
from policies.outcome import Outcome
from scenario.history import History


def test_pick_prefers_ready_replicas_and_fails_over() -> None:
    rs = ReplicaSet({"portal-a": "http://a", "portal-b": "http://b"})
    assert {rs.pick().name for _ in range(4)} == {"portal-a", "portal-b"}  # round robin
    assert all(rs.pick(avoid="portal-a").name == "portal-b" for _ in range(4))
    rs.mark_failed("portal-b")
    # an out-of-rotation replica is not worth an attempt, even to fail over
    assert all(rs.pick(avoid="portal-a").name == "portal-a" for _ in range(4))


def _resp(status: int, headers: dict[str, str] | None = None, text: str = "") -> httpx.Response:
    return httpx.Response(status, headers=headers, text=text)


def _body(error: str, reason: str) -> str:
    return json.dumps({"error": error, "reason": reason})


@pytest.mark.parametrize(
    ("ok", "outcome", "response", "write", "expected"),
    [
        (True, Outcome(True, 200), _resp(200), False, ("ok", "", "")),
        (True, Outcome(True, 202), _resp(202), True, ("ok", "accepted", "")),
        (True, Outcome(True, 200), _resp(200, {"X-Stale": "true"}), False, ("ok", "stale", "")),
        # a stale answer's age, as the simulator records it: the body's, else the Age header's
        (True, Outcome(True, 200), _resp(200, {"X-Stale": "true", "Age": "42"},
                                         json.dumps({"age_s": 42.312})), False,
         ("ok", "stale:42.3", "")),
        (True, Outcome(True, 200), _resp(200, {"X-Stale": "true", "Age": "42"}), False,
         ("ok", "stale:42.0", "")),
        (True, Outcome(True, 200), _resp(200, {"X-Stale": "true", "Age": "soon"},
                                         json.dumps({"age_s": "NaN"})), False,
         ("ok", "stale", "")),
        (False, Outcome(False, error="refused"), None, True, ("fail", "", "refused")),
        (False, Outcome(False, error="timeout"), None, True, ("info", "", "timeout")),
        (False, Outcome(False, error="timeout"), None, False, ("fail", "", "timeout")),
        (False, Outcome(False, error="reset"), None, True, ("info", "", "refused")),
        (False, Outcome(False, 429), _resp(429), False, ("fail", "", "rate_limited")),
        (False, Outcome(False, 503), _resp(503, text=_body("the portal is overloaded", "shed")),
         True, ("fail", "", "shed")),
        (False, Outcome(False, 503), _resp(503, text=_body("the database is busy",
                                                           "database_busy")),
         False, ("fail", "", "shed")),
        (False, Outcome(False, 503), _resp(503, text=_body("registry is unavailable",
                                                           "breaker_open")),
         False, ("fail", "", "breaker_open")),
        (False, Outcome(False, 503), _resp(503, text=_body("the queue is full", "queue_full")),
         False, ("fail", "", "http_503")),
        # the sentence is for people: its words decide nothing, only `reason` does
        (False, Outcome(False, 503), _resp(503, text=_body("busy: the breaker shed it",
                                                           "upstream_unavailable")),
         False, ("fail", "", "http_503")),
        (False, Outcome(False, 503), _resp(503, text='{"error": "overloaded, shed"}'), False,
         ("fail", "", "http_503")),
        (False, Outcome(False, 503), _resp(503, text=_body("shed", "no_such_reason")), False,
         ("fail", "", "http_503")),
        (False, Outcome(False, 503), _resp(503, text="<html>shed</html>"), False,
         ("fail", "", "http_503")),
        (False, Outcome(False, 409), _resp(409), True, ("fail", "", "http_409")),
        (False, None, None, True, ("fail", "", "breaker_open")),
    ],
)
def test_classify_speaks_the_history_vocabulary(
        ok: bool, outcome: Outcome | None, response: httpx.Response | None, write: bool,
        expected: tuple[str, str, str]) -> None:
    c = classify(ok, outcome, response, write=write, reason="", attempts=1)
    assert (c.type, c.value, c.error) == expected


def test_a_client_without_idempotency_sends_a_fresh_key_per_attempt() -> None:
    req = HttpRequest("POST", "/x", {}, {"Idempotency-Key": "k1"}, write=True)
    assert with_attempt_key(req, 2, stable_keys=True).headers["Idempotency-Key"] == "k1"
    assert with_attempt_key(req, 1, stable_keys=False).headers["Idempotency-Key"] == "k1"
    assert with_attempt_key(req, 3, stable_keys=False).headers["Idempotency-Key"] == "k1:a3"
    assert api.applied_by_logical_key({"k1": 1, "k1:a3": 1, "k2": 1}) == {"k1": 2, "k2": 1}


def test_otp_is_read_from_the_newest_message() -> None:
    body = {"messages": [{"text": "Tamin code: 123456"}, {"text": "Tamin code: 654321"}]}
    assert api.otp_from_messages(body) == "123456"
    assert api.otp_from_messages({"messages": []}) is None


def _run_user(delays_s: list[float], behaviour: Behaviour, write: bool) -> History:
    history = History()
    calls = iter(delays_s)

    async def submit() -> Completion:
        await asyncio.sleep(next(calls))  # a portal that takes this long to answer
        return Completion("ok")

    async def main() -> None:
        clock = asyncio.get_running_loop().time
        await perform(history, "citizen-1", "submit_list", key="k", priority=1,
                      submit=submit, behaviour=behaviour, rng=random.Random(3), clock=clock,
                      write=write)

    asyncio.run(main())
    return history


def test_a_slow_answer_makes_the_user_refresh_then_succeed() -> None:
    b = Behaviour(refresh_after_s=0.05, refresh_probability=1.0, min_refresh_pause_s=0.01,
                  max_refresh_pause_s=0.02, max_refreshes=2, patience_s=0.5)
    history = _run_user([10.0, 0.0], b, write=True)
    types = [(op.type, op.value, op.error) for op in history]
    assert types == [("invoke", "", ""), ("info", "refreshed", "timeout"),
                     ("invoke", "", ""), ("ok", "", "")]
    assert {op.key for op in history} == {"k"}  # the resubmitted form carries the same key


def test_an_unanswered_user_abandons_at_their_patience() -> None:
    b = Behaviour(refresh_after_s=0.05, refresh_probability=0.0, min_refresh_pause_s=0.01,
                  max_refresh_pause_s=0.02, patience_s=0.15)
    history = _run_user([10.0], b, write=False)
    last = history.ops[-1]
    assert (last.type, last.value, last.error) == ("fail", "abandoned", "timeout")
    assert 0.14 <= last.time_s - history.ops[0].time_s < 1.0


def test_bad_behaviours_are_refused() -> None:
    with pytest.raises(ValueError, match="refresh_probability"):
        Behaviour(refresh_probability=1.5)
    with pytest.raises(ValueError, match="refresh pauses"):
        Behaviour(min_refresh_pause_s=5.0, max_refresh_pause_s=1.0)


def test_drain_counts_user_requests_only() -> None:
    from prometheus_client import generate_latest

    from mock_services.common.metrics import Metrics
    from mock_services.lab.operations import served

    metrics = Metrics("portal")
    metrics.requests.labels("/readyz", "GET", "200").inc(40)  # health polls never end
    metrics.requests.labels("/metrics", "GET", "200").inc(3)
    metrics.requests.labels("/admin/ready", "POST", "200").inc()
    assert served(generate_latest(metrics.registry).decode()) == 0
    metrics.requests.labels("/citizens/{national_id}/history", "GET", "200").inc(2)
    metrics.requests.labels("/lists", "POST", "202").inc()
    assert served(generate_latest(metrics.registry).decode()) == 3
