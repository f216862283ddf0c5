"""One proxied TCP connection: the client socket, the upstream socket and a link each way."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable

from faults.toxiserver.entry import DOWNSTREAM, UPSTREAM, ToxicEntry
from faults.toxiserver.link import Link

STREAM_LIMIT_BYTES = 1024 * 1024  # StreamReader buffer: big reads keep the copy loop cheap


class Connection:
    """Both directions of one client's connection; the end of either closes both."""

    def __init__(
        self,
        key: str,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        chains: dict[str, list[ToxicEntry]],
        on_closed: Callable[[Connection], None],
    ) -> None:
        self.key = key
        self._writers = (client[1], upstream[1])
        self._on_closed = on_closed
        self.closed = False
        self.links = {
            UPSTREAM: Link(f"{key}/upstream", client[0], upstream[1], chains[UPSTREAM], self.close),
            DOWNSTREAM: Link(
                f"{key}/downstream", upstream[0], client[1], chains[DOWNSTREAM], self.close
            ),
        }
        if any(e.toxic.resets_at_connect for chain in chains.values() for e in chain):
            # Toxiproxy sets SO_LINGER 0 on both sockets when reset_peer is there at
            # connect, so its close is a TCP RST; a reset_peer added later closes plainly.
            linger = struct.pack("ii", 1, 0)
            for writer in self._writers:
                sock: socket.socket | None = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)

    def start(self) -> None:
        """Start moving bytes both ways."""
        for link in self.links.values():
            link.start()

    def close(self) -> None:
        """Close both sockets and stop both links (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for link in self.links.values():
            link.cancel()
        for writer in self._writers:
            writer.close()
        self._on_closed(self)
