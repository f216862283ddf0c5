"""One proxy: a listener, its open connections and its toxics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from faults.toxiserver.collection import ToxicCollection
from faults.toxiserver.connection import Connection
from faults.toxiserver.link import Link
from faults.toxiserver.listen import ListenError, bound_address, listen, resolve, split_host_port
from faults.toxiserver.metrics import ProxyMetrics
from faults.toxiserver.relay import RelayReader, open_relay_connection, relay_protocol

log = logging.getLogger("faults.toxiserver")


class Proxy:
    """Accepts clients on `listen` and relays each to `upstream` through the toxics."""

    def __init__(self, name: str, listen: str, upstream: str, seed: int,
                 metrics: ProxyMetrics | None) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics = ToxicCollection(self._links)
        self.connections: set[Connection] = set()
        self._seed = seed
        self._metrics = metrics
        self._server: asyncio.Server | None = None
        self._accepted = 0  # numbers connections, so toxicity draws replay

    def to_json(self) -> dict[str, Any]:
        """The wire form of the proxy."""
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},  # the real Proxy's *zerolog.Logger, marshalled (no exported field)
            "toxics": [e.to_json() for e in self.toxics.all()],
        }

    def _links(self, direction: str) -> list[Link]:
        return [c.links[direction] for c in list(self.connections) if not c.closed]

    async def start(self) -> None:
        """Bind `listen` and accept; `listen` becomes the bound address. ListenError."""
        if self.enabled:
            return
        sock = await listen(self.listen)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(relay_protocol(self._accept), sock=sock)
        self.listen = bound_address(sock)
        self.enabled = True
        log.info("proxy started", extra={"proxy": self.name, "listen": self.listen,
                                         "upstream": self.upstream})

    async def stop(self) -> None:
        """Stop accepting and close every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.close()
        if self.enabled:
            log.info("proxy stopped", extra={"proxy": self.name})
        self.enabled = False

    async def update(self, listen: str, upstream: str, enabled: bool) -> None:
        """Apply a PATCH: restart only if the resolved listen or the upstream changed."""
        resolved = str(await resolve(listen))  # ListenError: Go's ResolveTCPAddr text
        if self.listen != resolved or self.upstream != upstream:
            await self.stop()
            self.listen = listen
            self.upstream = upstream
        if enabled != self.enabled:
            if enabled:
                await self.start()
            else:
                await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert isinstance(reader, RelayReader)
        self._accepted += 1
        key = f"{self._seed}/{self.name}/{self._accepted}"
        try:
            host, port = split_host_port(self.upstream)
            up_reader, up_writer = await open_relay_connection(host, int(port))
        except (OSError, ValueError, ListenError) as exc:
            log.info("upstream dial failed", extra={"proxy": self.name, "error": str(exc)})
            writer.close()
            return
        if not self.enabled:
            writer.close()
            up_writer.close()
            return
        conn = Connection(key, (reader, writer), (up_reader, up_writer),
                          self.toxics.snapshot(), self._closed)
        self.connections.add(conn)
        conn.start()

    def _closed(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if self._metrics is not None:
            for direction, link in conn.links.items():
                self._metrics.add(direction, self, link.received_bytes, link.sent_bytes)


async def close_quietly(proxy: Proxy) -> None:
    """Stop `proxy`, ignoring errors (used at shutdown)."""
    with contextlib.suppress(Exception):
        await proxy.stop()
