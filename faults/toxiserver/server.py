"""The embedded Toxiproxy-compatible server: API listener plus proxy table, as one object.

    async with serve("127.0.0.1", 0, seed=7) as server:
        httpx.get(f"{server.url}/version")

`run` is what `chaoslab proxy` calls: it serves until SIGINT or SIGTERM, then stops every
proxy and exits cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from faults.toxiserver.api import Api
from faults.toxiserver.http import HttpServer
from faults.toxiserver.metrics import ProxyMetrics
from faults.toxiserver.table import ProxyTable

log = logging.getLogger("faults.toxiserver")


class ConfigError(Exception):
    """A --config file that cannot be loaded; the message is one sentence."""


@dataclass
class ToxiServer:
    """A running server: its API address and its proxy table."""

    host: str
    port: int
    table: ProxyTable
    api: Api

    @property
    def url(self) -> str:
        """The API's base URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def populate(self, body: bytes) -> None:
        """Create proxies from a JSON array like /populate; ConfigError on failure."""
        response = await self.api.handle("POST", "/populate", "", body)
        if response.status != 201:
            raise ConfigError(response.body.decode("utf-8", errors="replace").strip())


@contextlib.asynccontextmanager
async def serve(host: str = "127.0.0.1", port: int = 0, *, seed: int = 0,
                metrics: bool = False) -> AsyncIterator[ToxiServer]:
    """Run a server on host:port (0: a free port) for the block; stop everything after."""
    table = ProxyTable(seed, ProxyMetrics() if metrics else None)
    api = Api(table, metrics_enabled=metrics)
    http = HttpServer(api.handle)
    listener = await http.start(host, port)
    bound = next(s for s in listener.sockets if s.family in (socket.AF_INET, socket.AF_INET6))
    server = ToxiServer(host, int(bound.getsockname()[1]), table, api)
    log.info("API listening", extra={"address": server.url, "seed": seed})
    try:
        yield server
    finally:
        listener.close()
        await http.close_clients()
        await table.shutdown()
        log.info("API stopped", extra={"address": server.url})


def raise_open_files_limit() -> None:
    """Lift the soft limit of open files to the hard one, as Go's runtime does at start."""
    # A proxied connection on the splice path holds ten descriptors (two sockets and, per
    # direction, a duplicate of each and a pipe's two ends): a soft limit of 1024 would
    # cap it at about a hundred connections. Beyond the limit, links fall back to relaying.
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def run(host: str, port: int, *, seed: int = 0, metrics: bool = False,
              config: bytes | None = None, config_name: str = "--config") -> None:
    """Serve until SIGINT or SIGTERM (what `chaoslab proxy` runs); ConfigError for `config`."""
    raise_open_files_limit()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(host, port, seed=seed, metrics=metrics) as server:
        if config is not None:
            try:
                await server.populate(config)
            except ConfigError as exc:
                message = f"{config_name}: {exc}; expected a JSON array of proxies"
                raise ConfigError(message) from None
        await stop.wait()
        log.info("signal received; shutting down")
