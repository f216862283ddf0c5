"""The few Toxiproxy HTTP API calls the lab makes: version, populate, list, delete.

The lab only creates and removes its proxies; faults (toxics, disabling) are the injector's
business in faults/. A plain httpx client keeps this independent of any client library.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass

import httpx

USER_AGENT = "chaoslab-lab"  # Toxiproxy refuses browser user agents; say who we are


class ProxyApiError(RuntimeError):
    """The Toxiproxy API answered with an error or could not be reached."""


@dataclass(frozen=True, slots=True)
class ProxyDef:
    """One proxy to create: name, listen address, upstream address."""

    name: str
    listen: str
    upstream: str


def _client(url: str, timeout_s: float) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=timeout_s, headers={"User-Agent": USER_AGENT})


def version(url: str, timeout_s: float = 1.0) -> str:
    """The server's version; raises `ProxyApiError` when it does not answer."""
    try:
        with _client(url, timeout_s) as c:
            r = c.get("/version")
    except httpx.HTTPError as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer: {exc}") from None
    if r.status_code != 200:
        raise ProxyApiError(f"Toxiproxy at {url} answered {r.status_code} to GET /version")
    return str(r.json().get("version", ""))


def populate(url: str, proxies: list[ProxyDef], timeout_s: float = 5.0) -> None:
    """Create (or replace) every proxy of the list, enabled and without toxics."""
    body = [{"name": p.name, "listen": p.listen, "upstream": p.upstream, "enabled": True}
            for p in proxies]
    try:
        with _client(url, timeout_s) as c:
            for p in proxies:  # a stale proxy of a crashed lab may keep its toxics: start clean
                c.delete(f"/proxies/{p.name}")
            r = c.post("/populate", json=body)
    except httpx.HTTPError as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer POST /populate: {exc}") from None
    if r.status_code != 201:
        raise ProxyApiError(f"Toxiproxy at {url} refused the lab's proxies: {r.text.strip()}")


def names(url: str, timeout_s: float = 2.0) -> list[str]:
    """The names of every proxy on the server."""
    try:
        with _client(url, timeout_s) as c:
            r = c.get("/proxies")
    except httpx.HTTPError as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer: {exc}") from None
    return sorted(r.json()) if r.status_code == 200 else []


def delete(url: str, proxy_names: list[str], timeout_s: float = 2.0) -> None:
    """Delete the named proxies (a missing one is fine)."""
    try:
        with _client(url, timeout_s) as c:
            for name in proxy_names:
                c.delete(f"/proxies/{name}")
    except httpx.HTTPError as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer DELETE: {exc}") from None


def reset(url: str, timeout_s: float = 2.0) -> None:
    """Enable every proxy and remove every toxic (`POST /reset`)."""
    try:
        with _client(url, timeout_s) as c:
            r = c.post("/reset")
    except httpx.HTTPError as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer POST /reset: {exc}") from None
    if r.status_code != 204:
        raise ProxyApiError(f"Toxiproxy at {url} answered {r.status_code} to POST /reset")


def server_argv(port: int) -> tuple[str, ...]:
    """How to start the embedded proxy: `toxiproxy-server` when on PATH, else ours."""
    binary = shutil.which("toxiproxy-server")
    if binary:
        return (binary, "-host", "127.0.0.1", "-port", str(port))
    return (sys.executable, "-m", "chaoslab", "proxy", "--host", "127.0.0.1", "--port",
            str(port))
