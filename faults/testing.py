"""pytest fixtures for a Toxiproxy-compatible server, so the same tests run against any of them.

- `toxiproxy_url` (session): TOXIPROXY_URL when set; else a `toxiproxy-server` on PATH,
  started on a free loopback port; else ours (`python -m chaoslab proxy`) in a subprocess.
  Started servers are waited for (GET /version, with a deadline) and stopped at session end.
- `toxiproxy_kind` (session): "external", "binary" or "ours" - tests of our deviations skip
  unless it is "ours" (the real server crashes where ours answers 400).
- `toxiproxy` (function): an httpx.Client on that URL; proxies deleted and /reset before and
  after each test, so tests never see each other's state.

Use it from a conftest.py with `from faults.testing import toxiproxy, toxiproxy_kind,
toxiproxy_url` (pytest_plugins is only honoured in the rootdir conftest).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import httpx
import pytest

from faults.toxiserver import spawn

READY_DEADLINE_S = 15.0


def _kind() -> str:
    if os.environ.get("TOXIPROXY_URL"):
        return "external"
    return "binary" if shutil.which("toxiproxy-server") else "ours"


@pytest.fixture(scope="session")
def toxiproxy_kind() -> str:
    """Which server the session talks to: external, binary or ours."""
    return _kind()


@pytest.fixture(scope="session")
def toxiproxy_url(toxiproxy_kind: str) -> Iterator[str]:
    """The base URL of a Toxiproxy-compatible API for the whole session."""
    if toxiproxy_kind == "external":
        url = os.environ["TOXIPROXY_URL"].rstrip("/")
        _wait_external(url)
        yield url
        return
    binary = shutil.which("toxiproxy-server") if toxiproxy_kind == "binary" else None
    spawned = spawn.start(binary)
    try:
        yield spawned.url
    finally:
        spawned.stop()


def _wait_external(url: str) -> None:
    try:
        response = httpx.get(f"{url}/version", timeout=READY_DEADLINE_S)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"TOXIPROXY_URL={url} does not answer /version: {exc}") from None
    if response.status_code != 200:
        raise RuntimeError(f"TOXIPROXY_URL={url}: /version answered {response.status_code}")


def clear(client: httpx.Client) -> None:
    """Delete every proxy and reset (what each test starts and ends with)."""
    for name in client.get("/proxies").json():
        client.delete(f"/proxies/{name}")
    client.post("/reset")


@pytest.fixture
def toxiproxy(toxiproxy_url: str) -> Iterator[httpx.Client]:
    """An API client on a server with no proxies; cleaned again after the test."""
    with httpx.Client(base_url=toxiproxy_url, timeout=10.0) as client:
        clear(client)
        try:
            yield client
        finally:
            clear(client)
