"""Calls from the portal to one upstream, always through the policy pipeline (asyncio driver).

Each attempt is one httpx request bounded by the attempt timeout the policy decided; its
result becomes an `Outcome` the pipeline classifies. Every attempt that left the portal is
counted in /metrics and written to the replica's event log, as are breaker transitions and
the logical calls the policies answered without an attempt (short circuits).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass
from typing import Any

import httpx

from mock_services.common.clock import Clock
from mock_services.common.emulation import EMULATED_HEADER, hop_overhead, upstream_time
from mock_services.common.metrics import Metrics
from mock_services.portal.events import EventLog
from policies.aio import run_call
from policies.outcome import Outcome
from policies.pipeline import ClientPipeline
from scenario.history import SHORT_CIRCUIT
from scenario.names import upstream_process

# 4xx other than these are answers (a 404 is the registry saying "no such person"), not
# failures of the upstream: the call succeeds and the caller reads the status.
_FAILING_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Reply:
    """What a logical call produced: ok with status and body, or not ok with the reason."""

    ok: bool
    status: int | None = None
    body: Any = None
    reason: str = ""
    retry_after_s: float | None = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


class UpstreamClient:
    """One upstream's base URL, HTTP client and policy pipeline (breaker, budget, throttle)."""

    def __init__(self, name: str, http: httpx.AsyncClient, pipeline: ClientPipeline, *,
                 clock: Clock, rng: random.Random, metrics: Metrics, events: EventLog,
                 replica_id: str = "r0") -> None:
        self.name, self.http, self.pipeline = name, http, pipeline
        self.clock, self.rng, self.metrics, self.events = clock, rng, metrics, events
        self._process = upstream_process(name)  # its attempts' process in the history
        # each logical call's id, on its attempts in the event log: attempts per call is the
        # amplification the checkers bound (unique across replicas, which share no counter)
        self._call_ids = (f"{replica_id}:{name}:{n}" for n in itertools.count(1))

    async def call(self, method: str, path: str, *, json: Any = None,
                   headers: dict[str, str] | None = None, deadline_s: float | None = None,
                   idempotent: bool = True) -> Reply:
        """One logical call: the attempts, waits and give-ups the policy decides."""
        call_id = next(self._call_ids)

        async def attempt(timeout_s: float) -> tuple[Outcome, tuple[int, Any] | None]:
            started = self.clock.now()
            answer: tuple[int, Any] | None = None
            try:
                response = await self.http.request(method, path, json=json, headers=headers,
                                                   timeout=timeout_s)
                code = response.status_code
                body = response.json() if response.content else None
            except httpx.TimeoutException:
                outcome = Outcome(False, error="timeout")
            except httpx.ConnectError:
                outcome = Outcome(False, error="refused")
            except (httpx.TransportError, ValueError):  # cut off, or a garbled body
                outcome = Outcome(False, error="reset")
            except asyncio.CancelledError:  # the driver's own timeout cut the attempt
                self._record_attempt(Outcome(False, error="timeout"), call_id)
                raise
            else:
                ok = code < 400 or (code < 500 and code not in _FAILING_4XX)
                outcome = Outcome(ok, status=code, retry_after_s=_retry_after(response))
                answer = (code, body)
                emulated = _seconds(response.headers.get(EMULATED_HEADER))
                if emulated is not None:  # the hops around it are the portal's own work
                    hop_overhead(self.clock.now() - started - emulated)
            outcome = Outcome(outcome.ok, outcome.status, outcome.error, outcome.retry_after_s,
                              self.clock.now() - started)
            self._record_attempt(outcome, call_id)
            return outcome, answer

        with upstream_time(self.clock.now):  # not the portal's own work (its service time)
            result = await run_call(self.pipeline, attempt, clock=self.clock.now, rng=self.rng,
                                    sleep=self.clock.sleep, deadline_s=deadline_s,
                                    idempotent=idempotent)
        if result.attempts == 0:  # offered load the policies kept off the upstream
            self.events.write(self.clock.now(), self._process, SHORT_CIRCUIT,
                              call_id, result.reason)
        for event in self.pipeline.drain_events():
            self.events.write(event.time_s, "policy", event.policy, event.key, event.value)
            self.metrics.events.labels(f"{event.policy}:{event.key}:{event.value}").inc()
        if result.ok and result.value is not None:
            status, body = result.value
            return Reply(True, status, body)
        last = result.outcome
        return Reply(False, last.status if last else None, None, result.reason or "error",
                     last.retry_after_s if last else None)

    def _record_attempt(self, outcome: Outcome, call_id: str) -> None:
        label = outcome.label
        value = "ok" if outcome.ok else ("timeout" if label == "timeout" else "fail")
        self.metrics.upstream.labels(self.name, label).inc()
        self.events.write(self.clock.now(), self._process, "call", call_id, value)


def _seconds(text: str | None) -> float | None:
    """A header's number of seconds (None: absent, or not a finite number >= 0)."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value < float("inf") else None
