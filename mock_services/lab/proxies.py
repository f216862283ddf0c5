"""The lab's own proxies on a Toxiproxy it may share: create, heal and delete them, by name.

Every call goes through the one Toxiproxy client, `faults.client.ToxiproxyClient`, handed in
by the caller (who closes it; a test hands one on an `httpx.MockTransport`). What is the
lab's here is the rule, not the wire: several labs may share one Toxiproxy (`TOXIPROXY_URL`),
so nothing acts on the whole server (no `POST /reset`), and a proxy name already taken is
refused, never replaced (the lab's names carry its id: that proxy is someone else's). Faults
(toxics, disabling) are the injector's business in faults/.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterable, Sequence

from faults.client import ProxySpec, ToxiproxyClient
from faults.errors import ProxyExists, ProxyNotFound

VERSION_TIMEOUT_S = 1.0  # is a Toxiproxy there at all (before `lab up` starts anything)
CREATE_TIMEOUT_S = 5.0  # binding every listen address of the lab
TIMEOUT_S = 2.0  # listing, healing, deleting


def create(client: ToxiproxyClient, specs: Sequence[ProxySpec]) -> None:
    """Create every proxy of `specs`; `ProxyExists` (creating none) if a name is taken."""
    taken = sorted(set(client.proxies()) & {spec.name for spec in specs})
    if taken:
        raise ProxyExists(f"Toxiproxy at {client.url} already has a proxy named {taken[0]!r}; "
                          "expected none of the lab's proxy names taken (another lab with "
                          "the same id?)", 409)
    client.populate(specs)


def names(client: ToxiproxyClient) -> list[str]:
    """The names of every proxy on the server (every lab's), sorted."""
    return sorted(client.proxies())


def delete(client: ToxiproxyClient, proxy_names: Iterable[str]) -> None:
    """Delete the named proxies (a missing one is fine: gone already)."""
    for name in proxy_names:
        with contextlib.suppress(ProxyNotFound):
            client.delete_proxy(name)


def heal(client: ToxiproxyClient, proxy_names: Iterable[str]) -> None:
    """Remove every toxic of the named proxies and enable them again: `POST /reset` for these
    proxies alone (the server-wide call would heal every other lab's faults too)."""
    for name in proxy_names:
        _heal(client, name)


def _heal(client: ToxiproxyClient, name: str) -> None:
    """Toxics off first, then enable: a re-enabled proxy never carries a stale toxic."""
    try:
        proxy = client.get_proxy(name)
    except ProxyNotFound:
        raise ProxyNotFound(f"Toxiproxy at {client.url} has no proxy {name!r}; expected every "
                            "proxy of the lab (deleted by hand, or the server restarted?)",
                            404) from None
    for toxic in proxy.toxics:
        with contextlib.suppress(ProxyNotFound):  # removed meanwhile: as good
            client.remove_toxic(name, toxic.name)
    if not proxy.enabled:
        client.set_enabled(name, True)


def server_argv(port: int) -> tuple[str, ...]:
    """How to start the embedded proxy: `toxiproxy-server` when on PATH, else ours."""
    binary = shutil.which("toxiproxy-server")
    if binary:
        return (binary, "-host", "127.0.0.1", "-port", str(port))
    return (sys.executable, "-m", "chaoslab", "proxy", "--host", "127.0.0.1", "--port",
            str(port))
