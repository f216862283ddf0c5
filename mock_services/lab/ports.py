"""Loopback ports: pick free ones, and refuse a port in use before anything starts."""

from __future__ import annotations

import errno
import socket

HOST = "127.0.0.1"


class PortInUse(OSError):
    """A fixed port of the topology is already taken on 127.0.0.1."""


def free_port() -> int:
    """A port the kernel reports free on 127.0.0.1 now (bound and released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def check_free(port: int, what: str) -> None:
    """Raise `PortInUse` naming `what` when `port` cannot be bound on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR as the services use it: a port in TIME_WAIT is free for them too
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"{what}: port {port} on {HOST} is already in use; "
                                "expected a free port (or 0 to pick one)") from None
            raise


def allocate(fixed: list[int], count: int) -> list[int]:
    """`count` distinct free ports, none of them in `fixed`."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and port not in fixed:
            ports.append(port)
    return ports
