"""One logical client call to the portal: attempts through the user policy, with failover.

With failover (the client policy's `failover`, true in `resilient`), every attempt goes to a
ready replica, a different one from the attempt that just failed (failover across switches);
without it (`baseline`'s users), every attempt goes to the user's home replica, as in the
simulator. The policy pipeline decides timeouts, retries and backoff. The
result is classified in the history's vocabulary: `ok`, `fail` (it certainly did not happen)
or `info` (a write whose fate is unknown: a timeout or a dropped connection after it left).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from mock_services.common.clock import AsyncSleep, Now
from mock_services.common.reasons import Reason, reason_of
from mock_services.lab.clients.replicas import Replica, ReplicaSet
from policies.aio import run_call
from policies.outcome import Outcome
from policies.pipeline import ClientPipeline
from scenario.history import ACCEPTED, OpType
from scenario.names import STALE, stale_value


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What one operation sends: method, path, JSON body, headers (Idempotency-Key...)."""

    method: str
    path: str
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    write: bool = False


@dataclass(frozen=True, slots=True)
class Completion:
    """How a logical call ended, in history terms, with the last response (if any)."""

    type: OpType
    value: str = ""
    error: str = ""
    response: httpx.Response | None = None
    attempts: int = 0


def retry_after(resp: httpx.Response) -> float | None:
    """The answer's Retry-After in seconds (None: none, or not a number)."""
    text = resp.headers.get("retry-after")
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


async def send(client: httpx.AsyncClient, replicas: ReplicaSet, req: HttpRequest,
               timeout_s: float, *, avoid: str | None, clock: Now,
               pinned: Replica | None = None, start: int | None = None
               ) -> tuple[Outcome, httpx.Response | None, str]:
    """One attempt on one replica (`pinned`, else the first ready one from `start` other
    than `avoid`): (outcome, response, the replica's name)."""
    replica = pinned if pinned is not None else replicas.pick(avoid, start)
    started = clock()
    try:
        resp = await client.request(req.method, replica.url + req.path, json=req.json,
                                    headers=dict(req.headers), timeout=timeout_s)
    except httpx.ConnectTimeout:
        error = "connect_timeout"
    except httpx.ConnectError:
        error = "refused"
    except httpx.TimeoutException:
        error = "timeout"
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        error = "reset"  # the link or the replica dropped the connection mid-request
    else:
        ok = 200 <= resp.status_code < 300
        return (Outcome(ok, resp.status_code, None, retry_after(resp), clock() - started),
                resp, replica.name)
    if error != "timeout":
        replicas.mark_failed(replica.name)
    return Outcome(False, None, error, None, clock() - started), None, replica.name


def stale_age_of(response: httpx.Response) -> float | None:
    """How old a stale answer is, in seconds: its body's `age_s` (to the millisecond, as the
    portal's records routes give it), else the standard `Age` header (whole seconds); None
    when neither is a finite number >= 0 (a stale read of unknown age, which stale_reads
    cannot judge)."""
    try:
        body = response.json()
    except ValueError:  # not JSON: the header alone
        body = None
    for given in (body.get("age_s") if isinstance(body, dict) else None,
                  response.headers.get("age")):
        try:
            age = float(given) if given is not None and not isinstance(given, bool) else None
        except (TypeError, ValueError):
            age = None
        if age is not None and math.isfinite(age) and age >= 0:
            return age
    return None


def classify(ok: bool, outcome: Outcome | None, response: httpx.Response | None, *,
             write: bool, reason: str, attempts: int) -> Completion:
    """The history completion of a call that ended with `outcome` (`reason` when it gave up)."""
    if ok and response is not None:
        value = ACCEPTED if response.status_code == 202 else ""
        if response.headers.get("x-stale", "").lower() == "true":
            age = stale_age_of(response)  # as the simulator labels it: "stale:42.5"
            value = STALE if age is None else stale_value(age)
        return Completion("ok", value, "", response, attempts)
    if outcome is None or (outcome.error is None and outcome.status is None):
        # gave up before any attempt left (open breaker, budget): certainly not applied
        return Completion("fail", "", reason or "breaker_open", None, attempts)
    if outcome.error is not None:
        if outcome.error in ("refused", "connect_timeout"):
            return Completion("fail", "", "refused", None, attempts)
        error = "timeout" if outcome.error == "timeout" else "refused"
        # a write may have been applied before the answer was lost: its fate is unknown
        return Completion("info" if write else "fail", "", error, None, attempts)
    return Completion("fail", "", status_error(outcome.status or 0, response), response,
                      attempts)


# The 503 reasons the history records as the portal shedding the request: its admission
# control refused it, or its database stayed locked (the portal sparing itself, as a shed).
SHED_REASONS = frozenset({Reason.SHED, Reason.DATABASE_BUSY})


def status_error(status: int, response: httpx.Response | None) -> str:
    """The history error of an HTTP failure status; a 503's from the `reason` of its body
    (mock_services/common/reasons.py), never from the words of its sentence."""
    if status == 429:
        return "rate_limited"
    if status == 401:
        return "unauthorized"
    if status == 503 and response is not None:
        reason = reason_of(response.content)
        if reason is Reason.BREAKER_OPEN:
            return "breaker_open"
        if reason in SHED_REASONS:
            return "shed"
    return f"http_{status}"


def with_attempt_key(req: HttpRequest, attempt: int, stable_keys: bool) -> HttpRequest:
    """`req` as attempt `attempt` sends it: the same Idempotency-Key when keys are stable,
    else a fresh one per attempt (a client without idempotency: a retry is a new write)."""
    key = req.headers.get("Idempotency-Key")
    if key is None or stable_keys or attempt == 1:
        return req
    return replace(req, headers={**req.headers, "Idempotency-Key": f"{key}:a{attempt}"})


async def call(client: httpx.AsyncClient, replicas: ReplicaSet, pipeline: ClientPipeline,
               req: HttpRequest, *, clock: Now, rng: random.Random, sleep: AsyncSleep,
               deadline_s: float | None = None, stable_keys: bool = True,
               home: int | None = None, failover: bool | None = None) -> Completion:
    """Run `req` as one logical call through `pipeline`.

    `failover` (default: the pipeline policy's) sends attempt k (from 0) to the first ready
    replica from `home + k` other than the one that just failed, as the simulator does;
    without it every attempt goes to the home replica of user `home`. `home` None: the next
    replica in turn (once for the whole call when pinned)."""
    if failover is None:
        failover = pipeline.policy.failover
    pinned = None if failover else replicas.home(home)
    last: dict[str, Any] = {"avoid": None, "response": None, "n": 0}

    async def attempt(timeout_s: float) -> tuple[Outcome, httpx.Response | None]:
        last["n"] += 1
        this = with_attempt_key(req, last["n"], stable_keys)
        outcome, resp, name = await send(client, replicas, this, timeout_s,
                                        avoid=last["avoid"], clock=clock, pinned=pinned,
                                        start=None if home is None else home + last["n"] - 1)
        last["avoid"] = None if outcome.ok else name
        last["response"] = resp
        return outcome, resp

    idempotent = (not req.write) or stable_keys
    result = await run_call(pipeline, attempt, clock=clock, rng=rng, sleep=sleep,
                            deadline_s=deadline_s, idempotent=idempotent)
    return classify(result.ok, result.outcome, last["response"], write=req.write,
                    reason=result.reason, attempts=result.attempts)
