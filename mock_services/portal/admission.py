"""Admission control in front of the portal's routes: priority classes, 503 + Retry-After.

Classes (the history's `priority`): 0 prescriptions and dispensing; 1 logins, list
submissions and other writes; 2 browsing (history, pay slips). The controller (a policy)
sheds the lower classes first. Ops routes are never shed: a load balancer must still see them.

Each admitted request is a sample for the limit when it ends: its latency and whether it
failed. A 502/503 the portal gave for an upstream or its database frees the slot without a
sample; so does the client's own error, any 4xx (a 429 of the login rate limit, a wrong
password's 401: `policies.shedding.says_nothing_of_capacity`); a 503 of the
emulated waiting room being full (`QueueFull`) is a failed sample of latency 0, as the
simulator's gate counts QUEUE_FULL.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_services.common.clock import Clock
from mock_services.common.emulation import queue_full_refused
from mock_services.common.metrics import Metrics
from mock_services.common.reasons import Reason
from policies.decisions import Reject
from policies.shedding import AdmissionController, says_nothing_of_capacity

EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/admin", "/openapi.json", "/docs")
PRIORITY_BY_PREFIX = (("/prescriptions", 0), ("/auth", 1), ("/lists", 1), ("/workshops", 1),
                      ("/drafts", 1), ("/citizens", 2))
BROWSING = 2
DEPENDENCY_FAILED = frozenset({502, 503})  # no sample for the limit (AdmissionController),
# except the 503 of a full waiting room (queue_full_refused)


def priority_of(path: str) -> int:
    """The priority class of a request path."""
    for prefix, priority in PRIORITY_BY_PREFIX:
        if path.startswith(prefix):
            return priority
    return BROWSING


class AdmissionMiddleware:
    """Asks the controller before each request and tells it how the request went."""

    def __init__(self, app: ASGIApp, controller: AdmissionController, clock: Clock,
                 metrics: Metrics) -> None:
        self.app, self.controller, self.clock, self.metrics = app, controller, clock, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        priority = priority_of(path)
        started = self.clock.now()
        decision = self.controller.admit(started, priority)
        if isinstance(decision, Reject):
            self.metrics.events.labels(f"shed_p{priority}").inc()
            await self._shed(send, decision.retry_after_s or 1.0)
            return
        status = 500
        scope.setdefault("state", {})  # shared with the request's state: QueueFull marks it

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            now = self.clock.now()
            if queue_full_refused(scope):
                # the replica's own queue refused it: a failed sample of latency 0, as the
                # sim's gate releases QUEUE_FULL (an overload signal, never ignored)
                self.controller.release(now, 0.0, ok=False)
            else:
                # 502/503: the portal answering for an upstream (or its database) that failed
                self.controller.release(now, now - started, ok=status < 500,
                                        ignore=status in DEPENDENCY_FAILED
                                        or says_nothing_of_capacity(status))

    @staticmethod
    async def _shed(send: Send, retry_after_s: float) -> None:
        seconds = max(1, round(retry_after_s))
        body = json.dumps({"error": f"the portal is overloaded; retry after {seconds} s",
                           "reason": Reason.SHED.value, "shed": True}).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"),
                                (b"retry-after", str(seconds).encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
