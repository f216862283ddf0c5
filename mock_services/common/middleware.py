"""Pure-ASGI middleware every service runs: body-size limit and request metrics.

Pure ASGI rather than BaseHTTPMiddleware: it costs little per request, which matters for the
saturation benchmark, and it can refuse an oversized chunked body while it streams in.
"""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_services.common.metrics import Metrics


class _TooLarge(Exception):
    pass


def _error_message(status: int, message: str) -> tuple[Message, Message]:
    body = json.dumps({"error": message}).encode()
    start: Message = {"type": "http.response.start", "status": status,
                      "headers": [(b"content-type", b"application/json"),
                                  (b"content-length", str(len(body)).encode())]}
    return start, {"type": "http.response.body", "body": body}


class ServiceMiddleware:
    """Refuses bodies over `max_body_bytes` with 413; counts and times every request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._reject(send, limit)
                return
        seen = 0
        status = 500
        started = over = False

        async def limited_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                over = True
                raise _TooLarge
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, started
            if over and not started:
                return  # the app's answer to a body cut short (FastAPI's 400): ours is 413
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, limited_receive, counting_send)
        except _TooLarge:
            if started:
                raise
        if over and not started:  # a chunked body over the limit, however the app took it
            status = 413
            await self._reject(send, limit)
        route = scope.get("route")
        path = getattr(route, "path", "unmatched")
        self.metrics.requests.labels(path, scope["method"], str(status)).inc()
        self.metrics.latency.labels(path).observe(time.perf_counter() - t0)

    @staticmethod
    async def _reject(send: Send, limit: int) -> None:
        start, body = _error_message(413, f"request body exceeds the {limit}-byte limit")
        await send(start)
        await send(body)
