"""Fixtures of the proxy tests: an echo upstream for the session, our server in this process."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator

import httpx
import pytest

from faults.testing import clear
from faults.toxiserver import serve
from tests.faults.toxiserver.support import upstream

START_DEADLINE_S = 10.0  # the in-process server binds loopback at once; this is a hang guard


@pytest.fixture(scope="session")
def echo() -> Iterator[str]:
    """host:port of an echo server on loopback."""
    with upstream("echo") as address:
        yield address


@pytest.fixture(scope="session")
def inproc_api() -> Iterator[httpx.Client]:
    """An API client on our server running in this process, on an event loop in a thread.

    `toxiproxy` starts the server as a subprocess (it is the conformance suite, run against
    the real Toxiproxy too), where coverage and mutation tools, which record in the pytest
    process, never see a toxic run. Here the toxics run in this process, on real sockets.
    Stopped and joined at the end of the session: no thread, socket or task outlives it.
    """
    started: queue.Queue[tuple[str, asyncio.AbstractEventLoop, asyncio.Event] | BaseException]
    started = queue.Queue()

    async def main() -> None:
        stop = asyncio.Event()
        try:
            async with serve("127.0.0.1", 0, seed=0) as server:
                started.put((server.url, asyncio.get_running_loop(), stop))
                await stop.wait()
        except BaseException as exc:
            started.put(exc)
            raise

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="inproc-toxiserver")
    thread.start()
    ready = started.get(timeout=START_DEADLINE_S)
    if isinstance(ready, BaseException):
        thread.join(START_DEADLINE_S)
        raise ready
    url, loop, stop = ready
    try:
        with httpx.Client(base_url=url, timeout=10.0) as client:
            yield client
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(START_DEADLINE_S)
        assert not thread.is_alive(), "the in-process proxy did not stop"


@pytest.fixture
def inproc_proxy(inproc_api: httpx.Client) -> Iterator[httpx.Client]:
    """`inproc_api` with no proxies; cleaned again after the test (as `toxiproxy` is)."""
    clear(inproc_api)
    try:
        yield inproc_api
    finally:
        clear(inproc_api)
