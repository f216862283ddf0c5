"""Upstream servers on loopback threads, and helpers to reach a proxy with real sockets."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

IO_TIMEOUT_S = 5.0  # every socket operation in these tests gives up after this


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(IO_TIMEOUT_S)
        try:
            while data := sock.recv(65536):
                sock.sendall(data)
        except OSError:
            pass


class _Goodbye(socketserver.BaseRequestHandler):
    """Sends b"bye" and closes at once."""

    def handle(self) -> None:
        self.request.sendall(b"bye")


SOURCE_BYTES = 4 * 1000 * 1000  # what a `source` upstream sends to each client


class _Source(socketserver.BaseRequestHandler):
    """Sends SOURCE_BYTES at once and closes."""

    def handle(self) -> None:
        self.request.sendall(bytes(range(250)) * (SOURCE_BYTES // 250))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def upstream(kind: str = "echo") -> Iterator[str]:
    """An upstream on 127.0.0.1 for the block: `echo`, `goodbye` or `source`; yields host:port."""
    handler = {"echo": _Echo, "goodbye": _Goodbye, "source": _Source}[kind]
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def create_proxy(api: httpx.Client, name: str, upstream_address: str, **extra: object) -> str:
    """Create an enabled proxy on a free loopback port; its listen address."""
    response = api.post("/proxies", json={"name": name, "listen": "127.0.0.1:0",
                                          "upstream": upstream_address, **extra})
    assert response.status_code == 201, response.text
    listen: str = response.json()["listen"]
    return listen


def connect(listen: str) -> socket.socket:
    """A client socket connected to a proxy's listen address."""
    host, port = listen.rsplit(":", 1)
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=IO_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """`size` bytes, or fewer if the peer closes first."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        data = sock.recv(min(65536, size - got))
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def recv_until_closed(sock: socket.socket) -> bytes:
    """Everything until the peer closes (ConnectionResetError passes through)."""
    parts: list[bytes] = []
    while data := sock.recv(65536):
        parts.append(data)
    return b"".join(parts)


def start_reader(sock: socket.socket, received: bytearray, size: int) -> threading.Thread:
    """A daemon thread appending what `sock` receives to `received` until `size` bytes or EOF."""
    def pump() -> None:
        while len(received) < size:
            data = sock.recv(65536)
            if not data:
                return
            received.extend(data)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    return reader


def round_trip_s(sock: socket.socket, payload: bytes = b"ping") -> float:
    """Seconds for `payload` to come back through an echo upstream."""
    started = time.perf_counter()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - started


def wait_closed(sock: socket.socket, deadline_s: float) -> float:
    """Seconds until the peer closes `sock` (EOF or reset); AssertionError after the deadline."""
    started = time.perf_counter()
    sock.settimeout(deadline_s)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"connection still open after {deadline_s} s") from None
    return time.perf_counter() - started
