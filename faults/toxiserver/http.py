"""A small HTTP/1.1 server for the API: keep-alive, Content-Length and chunked bodies.

Hand-written rather than an ASGI stack because the wire details of the real server (404 text,
405 empty body, mux's clean-path redirects, the request-id header on routed answers, Go's own
answers to a request it cannot parse) are the point, and the API is a dozen routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus

from faults.toxiserver.api import Response

MAX_HEADER_BYTES = (1 << 20) + 4096  # Go's http.Server default, with its 4096 bytes of slack
MAX_BODY_BYTES = 16 << 20  # far above any real API body; larger ones get 413
IDLE_TIMEOUT_S = 60.0  # as the real server's IdleTimeout

log = logging.getLogger("faults.toxiserver")
App = Callable[[str, str, str, bytes], Awaitable[Response]]


class BadRequest(Exception):
    """A request Go's server refuses before any handler: its status, and the reason Go puts
    in the status line for some (a `statusError` in net/http)."""

    def __init__(self, why: str, status: int = 400, told: str | None = None) -> None:
        super().__init__(why)
        self.status, self.told = status, told


_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class RequestIds:
    """Request ids as the real server's hlog makes them: xid's 12 bytes (seconds, machine,
    process, counter) in 20 characters of base32hex. They grant nothing, so not `secrets`."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._machine_pid = os.urandom(3) + (os.getpid() & 0xFFFF).to_bytes(2, "big")
        self._counter = itertools.count(int.from_bytes(os.urandom(3), "big"))

    def next(self) -> str:
        """A fresh id."""
        raw = (int(self._clock()) & 0xFFFFFFFF).to_bytes(4, "big") + self._machine_pid + (
            next(self._counter) & 0xFFFFFF).to_bytes(3, "big")
        number = int.from_bytes(raw, "big") << 4  # 96 bits, padded to 100 = 20 x 5
        return "".join(_BASE32HEX[(number >> shift) & 31] for shift in range(95, -1, -5))


class BrokenBody(bytes):
    """A chunked body that broke off: what Go's handler reads is an error, which the API
    reports as `bad request body: <it>` (net/http/internal/chunked.go's texts)."""

    error: str


def _broken(why: str) -> BrokenBody:
    body = BrokenBody()
    body.error = why
    return body


def _chunk_size(line: bytes) -> int | str:
    """Go's parseHexUint of a size line (extension cut, trailing blanks trimmed), or its error."""
    digits = line.rstrip(b" \t\r\n").split(b";", 1)[0]  # trimmed before the cut, not after
    size = 0
    for i, c in enumerate(digits):
        if chr(c) not in "0123456789abcdefABCDEF":
            return "invalid byte in chunk length"
        if i == 16:
            return "http chunk length too large"
        size = size * 16 + int(chr(c), 16)
    return size


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size = _chunk_size(await reader.readuntil(b"\r\n"))
        if isinstance(size, str):
            return _broken(size)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers are ignored
            return b"".join(parts)
        total += size
        if total > MAX_BODY_BYTES:
            raise BadRequest("body too large", 413)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            return _broken("malformed chunked encoding")


def _render(response: Response, request_id: str, keep_alive: bool,
            head_only: bool = False, version: str = "HTTP/1.1") -> bytes:
    """The answer as Go writes it: in the request's version; HTTP/1.1 says when it closes,
    HTTP/1.0 when it keeps the connection."""
    phrase = HTTPStatus(response.status).phrase
    lines = [f"{version} {response.status} {phrase}"]
    if response.content_type is not None:
        lines.append(f"Content-Type: {response.content_type}")
    lines.extend(f"{k}: {v}" for k, v in response.headers)
    if response.routed:
        lines.append(f"X-Toxiproxy-Request-Id: {request_id}")
    lines.append(f"Date: {formatdate(time.time(), usegmt=True)}")
    if response.status != 204 and (response.body or not head_only):
        lines.append(f"Content-Length: {len(response.body)}")  # Go: none on an empty HEAD
    if version == "HTTP/1.0" and keep_alive:
        lines.append("Connection: keep-alive")
    elif version != "HTTP/1.0" and not keep_alive:
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
                await self._reject(writer, 400)
            return False
        except asyncio.LimitOverrunError:
            await self._reject(writer, 431)
            return False
        try:
            method, target, version, headers = _parse_head(head)
            expect = headers.get("expect", "").lower()
            if expect and expect != "100-continue":
                writer.write(f"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: "
                             f"{formatdate(time.time(), usegmt=True)}\r\nContent-Length: 0\r\n"
                             "\r\n".encode())
                return False
            if expect:  # curl, for big bodies
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await _read_body(reader, headers)
        except BadRequest as exc:
            await self._reject(writer, exc.status, exc.told)
            return False
        connection = headers.get("connection", "").lower()
        keep_alive = (version == "HTTP/1.1" and connection != "close") or connection == "keep-alive"
        keep_alive = keep_alive and not isinstance(body, BrokenBody)
        if "://" in target.split("?", 1)[0]:  # absolute-form target
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path = target.split("?", 1)[0]
        if _BAD_ESCAPE.search(path):  # Go's url parsing fails: the server's own 400
            await self._reject(writer, 400)
            return False
        try:
            if method == "OPTIONS" and target == "*":  # Go's serverHandler answers it itself
                response = Response(200, routed=False)
            elif method == "CONNECT" and not target.startswith("/"):  # an authority: no path,
                # which gorilla/mux cleans to "/" and redirects to (with the host it parsed)
                response = Response(301, headers=(("Location", f"//{target}/"),), routed=False)
            else:
                response = await self._app(method, target, headers.get("user-agent", ""), body)
        except Exception:
            log.exception("request failed", extra={"request_id": request_id})
            response = Response(500, b"internal error\n", "text/plain; charset=utf-8")
        writer.write(_render(response, request_id, keep_alive, method == "HEAD",
                             "HTTP/1.0" if version == "HTTP/1.0" else "HTTP/1.1"))
        await writer.drain()
        log.info("request", extra={"request_id": request_id, "method": method, "path": path,
                                   "status": response.status})
        return keep_alive

    async def _reject(self, writer: asyncio.StreamWriter, status: int,
                      told: str | None = None) -> None:
        """Go's answer to a request it cannot read, written before any handler: no length,
        no date, no request id (net/http server.go `serve`)."""
        text = f"{status} {HTTPStatus(status).phrase}" + (f": {told}" if told else "")
        body = "Unsupported transfer encoding" if status == 501 else text
        with contextlib.suppress(OSError):
            writer.write(f"HTTP/1.1 {text}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         f"Connection: close\r\n\r\n{body}".encode())
            await writer.drain()


_VERSION = re.compile(r"HTTP/(\d)\.(\d)")
_HOST = re.compile(r"[A-Za-z0-9!$%&'()*+,\-.:;=\[\]_~]*")  # httpguts.ValidHostHeader's bytes


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Method, target, version and headers (lower-case names), refused as Go refuses them."""
    request_line, *header_lines = head.decode("latin-1")[:-4].split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0].isalpha():
        raise BadRequest(f"bad request line {request_line!r}")
    method, target, version = parts
    matched = _VERSION.fullmatch(version)
    if matched is None:
        raise BadRequest(f"malformed HTTP version {version!r}")
    if matched[1] != "1":
        raise BadRequest("unsupported version", 505, "unsupported protocol version")
    if not (target.startswith("/") or target == "*" or "://" in target or method == "CONNECT"):
        raise BadRequest(f"bad target {target!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        if line[:1] in (" ", "\t") and headers:  # obs-fold: continues the previous header
            last = next(reversed(headers))
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"bad header line {line!r}")
        name, value = name.lower(), value.strip()
        if name in ("host", "content-length") and name in headers and (
                name == "host" or headers[name] != value):
            raise BadRequest(f"more than one {name}")
        headers[name] = value
    if version == "HTTP/1.1" and "host" not in headers:
        raise BadRequest("no host", 400, "missing required Host header")
    if not _HOST.fullmatch(headers.get("host", "")):
        raise BadRequest("bad host", 400, "malformed Host header")
    encoding = headers.get("transfer-encoding", "").lower()
    if encoding and encoding != "chunked":
        raise BadRequest("transfer encoding", 501)
    return method, target, version, headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding"):
        return await _read_chunked(reader)
    length_text = headers.get("content-length", "0") or "0"
    if not length_text.isdigit():
        raise BadRequest("bad content-length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise BadRequest("body too large", 413)
    return await reader.readexactly(length) if length else b""
