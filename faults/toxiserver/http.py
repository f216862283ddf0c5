"""A small HTTP/1.1 server for the API: keep-alive, Content-Length and chunked bodies.

Hand-written rather than an ASGI stack because the wire details of the real server (404 text,
405 empty body, no slash redirects, the request-id header on every answer) are the point, and
the API is a dozen routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus

from faults.toxiserver.api import Response

MAX_HEADER_BYTES = 1 << 20  # as Go's http.Server default
MAX_BODY_BYTES = 16 << 20  # far above any real API body; larger ones get 413
IDLE_TIMEOUT_S = 60.0  # as the real server's IdleTimeout

log = logging.getLogger("faults.toxiserver")
App = Callable[[str, str, str, bytes], Awaitable[Response]]


class BadRequest(Exception):
    """A request that is not HTTP/1.x as we read it."""


class RequestIds:
    """Request ids like the real server's: 20 characters, unique per process."""

    def __init__(self) -> None:
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(1)

    def next(self) -> str:
        """A fresh id."""
        return f"{self._prefix}{next(self._counter):08x}"


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest("bad chunk size") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers are ignored
            return b"".join(parts)
        total += size
        if total > MAX_BODY_BYTES:
            raise BadRequest("body too large")
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _render(response: Response, request_id: str, keep_alive: bool,
            head_only: bool = False) -> bytes:
    phrase = HTTPStatus(response.status).phrase
    lines = [f"HTTP/1.1 {response.status} {phrase}"]
    if response.content_type is not None:
        lines.append(f"Content-Type: {response.content_type}")
    lines.extend(f"{k}: {v}" for k, v in response.headers)
    lines.append(f"X-Toxiproxy-Request-Id: {request_id}")
    lines.append(f"Date: {formatdate(time.time(), usegmt=True)}")
    if response.status != 204:
        lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = "\r\n".join(lines) + "\r\n\r\n"
    bodyless = head_only or response.status == 204  # HEAD answers carry headers only
    return head.encode("latin-1") + (b"" if bodyless else response.body)


class HttpServer:
    """Serves `app(method, path, user_agent, body)` over HTTP/1.1."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._ids = RequestIds()
        self._clients: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[object]] = set()

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Listen on host:port (port 0: any free port)."""
        return await asyncio.start_server(self._serve, host, port, limit=MAX_HEADER_BYTES)

    async def close_clients(self, deadline_s: float = 2.0) -> None:
        """Close every open API connection and wait for their handlers (shutdown)."""
        for writer in list(self._clients):
            writer.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=deadline_s)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            while await self._one(reader, writer):
                pass
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request_id = self._ids.next()
        try:
            async with asyncio.timeout(IDLE_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                await self._reject(writer, request_id, 400)
            return False
        except asyncio.LimitOverrunError:
            await self._reject(writer, request_id, 431)
            return False
        try:
            method, target, version, headers = _parse_head(head)
            if headers.get("expect", "").lower() == "100-continue":  # curl, for big bodies
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await _read_body(reader, headers)
        except BadRequest as exc:
            await self._reject(writer, request_id, 413 if "large" in str(exc) else 400)
            return False
        connection = headers.get("connection", "").lower()
        keep_alive = (version == "HTTP/1.1" and connection != "close") or connection == "keep-alive"
        path = target.split("?", 1)[0]
        if "://" in path:  # absolute-form target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        try:
            response = await self._app(method, path, headers.get("user-agent", ""), body)
        except Exception:
            log.exception("request failed", extra={"request_id": request_id})
            response = Response(500, b"internal error\n", "text/plain; charset=utf-8")
        writer.write(_render(response, request_id, keep_alive, method == "HEAD"))
        await writer.drain()
        log.info("request", extra={"request_id": request_id, "method": method, "path": path,
                                   "status": response.status})
        return keep_alive

    async def _reject(self, writer: asyncio.StreamWriter, request_id: str, status: int) -> None:
        text = f"{status} {HTTPStatus(status).phrase}".encode()
        response = Response(status, text, "text/plain; charset=utf-8")
        with contextlib.suppress(OSError):
            writer.write(_render(response, request_id, keep_alive=False))
            await writer.drain()


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:
        raise BadRequest("undecodable head") from None
    request_line, *header_lines = text[:-4].split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise BadRequest(f"bad request line {request_line!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"bad header line {line!r}")
        headers[name.lower()] = value.strip()
    return parts[0], parts[1], parts[2], headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length_text = headers.get("content-length", "0") or "0"
    if not length_text.isdigit():
        raise BadRequest("bad content-length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise BadRequest("body too large")
    return await reader.readexactly(length) if length else b""
