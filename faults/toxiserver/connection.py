"""One proxied TCP connection: the client socket, the upstream socket and a link each way."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable

from faults.toxiserver.entry import DOWNSTREAM, UPSTREAM, ToxicEntry
from faults.toxiserver.link import Link
from faults.toxiserver.relay import RelayReader


class Connection:
    """Both directions of one client's connection; the end of either closes both."""

    def __init__(
        self,
        key: str,
        client: tuple[RelayReader, asyncio.StreamWriter],
        upstream: tuple[RelayReader, asyncio.StreamWriter],
        chains: dict[str, list[ToxicEntry]],
        on_closed: Callable[[Connection], None],
    ) -> None:
        self.key = key
        self._writers = (client[1], upstream[1])
        self._on_closed = on_closed
        self.closed = False
        self.links = {
            UPSTREAM: Link(f"{key}/upstream", client[0], client[1].transport, upstream[1],
                           entries=chains[UPSTREAM], on_end=self.close),
            DOWNSTREAM: Link(f"{key}/downstream", upstream[0], upstream[1].transport, client[1],
                             entries=chains[DOWNSTREAM], on_end=self.close),
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
