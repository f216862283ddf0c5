"""The few Toxiproxy HTTP API calls the lab makes: version, populate, list, heal, delete.

The lab only creates, heals and removes its own proxies, always by name: several labs may
share one Toxiproxy (`TOXIPROXY_URL`), so nothing here acts on the whole server (no
`POST /reset`, no replacing a proxy of the same name). Faults (toxics, disabling) are the
injector's business in faults/. A plain httpx client keeps this independent of any client
library.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
    """Create every proxy of the list, enabled and without toxics.

    A name already on the server is refused, not replaced: the lab's names carry its id, so
    a proxy of that name belongs to someone else (`/populate` would silently rewire it).
    """
    body = [{"name": p.name, "listen": p.listen, "upstream": p.upstream, "enabled": True}
            for p in proxies]
    try:
        with _client(url, timeout_s) as c:
            taken = sorted(set(_listing(c, url)) & {p.name for p in proxies})
            if taken:
                raise ProxyApiError(f"Toxiproxy at {url} already has a proxy named "
                                    f"{taken[0]!r}; expected none of the lab's proxy names "
                                    "taken (another lab with the same id?)")
            r = c.post("/populate", json=body)
    except (httpx.HTTPError, ValueError) as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer POST /populate: {exc}") from None
    if r.status_code != 201:
        raise ProxyApiError(f"Toxiproxy at {url} refused the lab's proxies: {r.text.strip()}")


def _listing(c: httpx.Client, url: str) -> dict[str, Any]:
    """`GET /proxies`: every proxy on the server by name; `ProxyApiError` on an error status."""
    r = c.get("/proxies")
    if r.status_code != 200:
        raise ProxyApiError(f"Toxiproxy at {url} answered {r.status_code} to GET /proxies")
    body = r.json()
    if not isinstance(body, dict):
        raise ProxyApiError(f"Toxiproxy at {url} answered GET /proxies with no JSON object")
    return body


def names(url: str, timeout_s: float = 2.0) -> list[str]:
    """The names of every proxy on the server (every lab's), sorted."""
    try:
        with _client(url, timeout_s) as c:
            return sorted(_listing(c, url))
    except (httpx.HTTPError, ValueError) as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer GET /proxies: {exc}") from None


def delete(url: str, proxy_names: list[str], timeout_s: float = 2.0) -> None:
    """Delete the named proxies (a missing one is fine)."""
    try:
        with _client(url, timeout_s) as c:
            for name in proxy_names:
                c.delete(f"/proxies/{name}")
    except httpx.HTTPError as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer DELETE: {exc}") from None


def reset(url: str, proxy_names: Iterable[str], timeout_s: float = 2.0) -> None:
    """Remove every toxic of the named proxies and enable them again: `POST /reset` for
    these proxies alone (the server-wide call would heal every other lab's faults too)."""
    try:
        with _client(url, timeout_s) as c:
            for name in proxy_names:
                _heal(c, url, name)
    except (httpx.HTTPError, ValueError) as exc:
        raise ProxyApiError(f"Toxiproxy at {url} did not answer while healing the lab's "
                            f"proxies: {exc}") from None


def _heal(c: httpx.Client, url: str, name: str) -> None:
    """Toxics off first, then enable: a re-enabled proxy never carries a stale toxic."""
    r = c.get(f"/proxies/{name}")
    if r.status_code == 404:
        raise ProxyApiError(f"Toxiproxy at {url} has no proxy {name!r}; expected every proxy "
                            "of the lab (deleted by hand, or the server restarted?)")
    if r.status_code != 200:
        raise ProxyApiError(f"Toxiproxy at {url} answered {r.status_code} to GET /proxies/{name}")
    proxy = r.json()
    for toxic in proxy.get("toxics") or []:
        gone = c.delete(f"/proxies/{name}/toxics/{toxic['name']}")
        if gone.status_code not in (204, 404):  # 404: removed meanwhile, as good
            raise ProxyApiError(f"Toxiproxy at {url} answered {gone.status_code} to DELETE "
                                f"/proxies/{name}/toxics/{toxic['name']}")
    if not proxy.get("enabled", True):
        r = c.post(f"/proxies/{name}", json={"enabled": True})
        if r.status_code != 200:
            raise ProxyApiError(f"Toxiproxy at {url} answered {r.status_code} to enabling "
                                f"proxy {name!r}")


def server_argv(port: int) -> tuple[str, ...]:
    """How to start the embedded proxy: `toxiproxy-server` when on PATH, else ours."""
    binary = shutil.which("toxiproxy-server")
    if binary:
        return (binary, "-host", "127.0.0.1", "-port", str(port))
    return (sys.executable, "-m", "chaoslab", "proxy", "--host", "127.0.0.1", "--port",
            str(port))
