"""The embedded Toxiproxy-compatible server: API listener plus proxy table, as one object.

    async with serve("127.0.0.1", 0, seed=7) as server:
        httpx.get(f"{server.url}/version")

`run` is what `chaoslab proxy` calls: it serves until SIGINT or SIGTERM, then stops every
proxy and exits cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import re
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

    async def populate(self, body: bytes, name: str = "--config") -> None:
        """Create proxies from a JSON array like /populate; ConfigError (one sentence, naming
        `name`, the file) on failure."""
        names = _names(body)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"{name}: proxy name {twice[0]!r} appears more than once; "
                              "expected each proxy once")
        response = await self.api.handle("POST", "/populate", "", body)
        if response.status == 201:
            return
        answer = json.loads(response.body)
        problem = _config_problem(str(answer.get("error", "")))
        if response.status == 500:  # a bind error: the entries before it were created
            n = len(answer.get("proxies") or []) + 1
            label = f"proxy {n}" + (f" ({names[n - 1]!r})" if n <= len(names) else "")
            raise ConfigError(f"{name}: {label}: {problem}; expected a free listen address on "
                              "this machine")
        if "expected" not in problem:
            problem += "; expected a JSON array of proxies, each {name, listen, upstream, enabled?}"
        raise ConfigError(f"{name}: {problem}")


def _names(body: bytes) -> list[str]:
    """The proxy names of a config, where it is a JSON array of objects (else none)."""
    try:
        value = json.loads(body)
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [str(e.get("name")) for e in value if isinstance(e, dict) and "name" in e]


_GO_KINDS = {"string": "a string", "bool": "true or false", "int": "a whole number",
             "zerolog.Logger": "an object"}


def _config_problem(error: str) -> str:
    """The API's error for a config, in the file's terms rather than Go's types."""
    text = error.removeprefix("bad request body: ")
    if m := re.fullmatch(r"json: cannot unmarshal (\w+)(?: \S+)? into Go value of type \[\].*",
                         text):
        return f"the file holds a JSON {m[1]}, not an array"
    if m := re.fullmatch(r"json: cannot unmarshal (\w+)(?: \S+)? into Go value of type "
                         r"struct \{ toxiproxy\.Proxy;.*", text):
        return f"an entry is a JSON {m[1]}, not an object"
    if m := re.fullmatch(r"json: cannot unmarshal (\w+)(?: \S+)? into Go struct field "
                         r"\.(?:Proxy\.)?(\w+) of type ([\w.]+)", text):
        return f"field {m[2]} is a JSON {m[1]}, expected {_GO_KINDS.get(m[3], m[3])}"
    if text != error:
        return f"not valid JSON ({text})"
    return text


@contextlib.asynccontextmanager
async def serve(host: str = "127.0.0.1", port: int = 0, *, seed: int = 0,
                metrics: bool = False, config: bytes | None = None,
                config_name: str = "--config") -> AsyncIterator[ToxiServer]:
    """Run a server on host:port (0: a free port) for the block; stop everything after.

    `config`, a JSON array like /populate's body, is loaded before the server says it is
    listening (ConfigError, and nothing logged about the API, if it cannot be)."""
    table = ProxyTable(seed, ProxyMetrics() if metrics else None)
    api = Api(table, metrics_enabled=metrics)
    http = HttpServer(api.handle)
    listener = await http.start(host, port)
    bound = next(s for s in listener.sockets if s.family in (socket.AF_INET, socket.AF_INET6))
    server = ToxiServer(host, int(bound.getsockname()[1]), table, api)
    listening = False
    try:
        if config is not None:
            await server.populate(config, config_name)
        log.info("API listening", extra={"address": server.url, "seed": seed})
        listening = True
        yield server
    finally:
        listener.close()
        await http.close_clients()
        await table.shutdown()
        if listening:
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


def freeze_heap() -> None:
    """Keep what start-up made out of every later garbage collection.

    A full collection scans every tracked object, and the server's are mostly its start-up's
    (about 35,000: modules, classes, the API's tables): 10.7 ms measured under load, paid by
    whichever chunk was due then. After `gc.freeze()` the same collection took 0.2 ms. A
    first collection keeps start-up's garbage out of the frozen set.
    """
    gc.collect()
    gc.freeze()
    log.info("start-up heap frozen", extra={"objects": gc.get_freeze_count()})


async def run(host: str, port: int, *, seed: int = 0, metrics: bool = False,
              config: bytes | None = None, config_name: str = "--config") -> None:
    """Serve until SIGINT or SIGTERM (what `chaoslab proxy` runs); ConfigError for `config`."""
    raise_open_files_limit()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(host, port, seed=seed, metrics=metrics, config=config,
                     config_name=config_name):
        freeze_heap()  # start-up is over: what exists now lives as long as the server
        await stop.wait()
        log.info("signal received; shutting down")
