"""A Toxiproxy client bound to one server: toxiproxy-python's calls with its known faults mended.

toxiproxy-python 0.1.1 (import name `toxiproxy`) is the ecosystem's client. We keep its
object model and calls, and mend what it gets wrong (each has a test in
tests/faults/test_client.py):

1. `Proxy.add_toxic` returns nothing: `add_toxic` here returns the toxic the server created,
   read from the same response (no second request, no race).
2. A 500 (e.g. "address already in use") reaches `Proxy(**body)` and surfaces as
   `KeyError: 'name'`: every status >= 400 raises our `ToxiproxyError` with the server's
   message before the library sees the body.
3. `populate` runs client-side and compares the *bound* listen address the server reports with
   the requested one, so a hostname ("localhost:X") or port 0 re-creates the proxy on every
   call (dropping its connections and toxics); it also returns only the proxies it created.
   Here addresses are compared resolved, only changed entries go to the server's own
   `POST /populate`, and every requested proxy is returned in order.
4. The server's host and port are class attributes of `APIConsumer` (process-wide): each
   client here owns an `httpx.Client`, and the library's calls are routed to the client that
   made them through a `ContextVar` (thread- and task-local; see faults/routing.py).
5. Requests have no timeout: ours have one (`timeout_s`) and raise `ToxiproxyTimeout`.

Also: names go into URL paths unquoted in the library, so proxy names are checked here.
The server is `TOXIPROXY_URL` when set, else http://127.0.0.1:8474. This is the project's one
Toxiproxy client: the injector's, and the lab's (mock_services/lab/proxies.py creates, heals
and deletes a lab's own proxies through it).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import toxiproxy
import toxiproxy.exceptions

from faults.errors import (
    FaultError,
    InvalidFault,
    ProxyExists,
    ToxiproxyServerError,
)
from faults.routing import Transport, bound_to
from faults.toxics import ToxicInfo, ToxicSpec

DEFAULT_URL = "http://127.0.0.1:8474"
USER_AGENT = "chaoslab"  # Toxiproxy refuses browser user agents; say who we are
_NAME = re.compile(r"^[A-Za-z0-9_.:>-]+$")


def server_url() -> str:
    """The Toxiproxy API URL everything uses: `TOXIPROXY_URL` when set, else the default."""
    return os.environ.get("TOXIPROXY_URL", "").strip() or DEFAULT_URL


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    """A proxy as the server reports it (`listen` is the bound address when enabled)."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class ProxySpec:
    """A proxy to create or keep: the entries of `populate`."""

    name: str
    upstream: str
    listen: str = "127.0.0.1:0"
    enabled: bool = True



class ToxiproxyClient:
    """A client of one Toxiproxy server (`url`, default `server_url()`), safe across threads.

    Every method raises a `ToxiproxyError` subclass with one sentence on failure.
    `transport` lets unit tests use an `httpx.MockTransport`.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or server_url()).rstrip("/")
        if not re.match(r"^https?://[^/\s]+$", self.url):
            raise InvalidFault(
                f"Toxiproxy URL {self.url!r} is invalid; expected http://HOST:PORT"
            )
        if timeout_s <= 0:
            raise InvalidFault(f"Toxiproxy timeout_s {timeout_s} is invalid; expected > 0")
        self.timeout_s = timeout_s
        self._http = httpx.Client(base_url=self.url + "/", timeout=timeout_s,
                                  transport=transport, headers={"User-Agent": USER_AGENT})
        self._server = toxiproxy.Toxiproxy()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _library(self) -> Iterator[Transport]:
        """Route the library's calls to this server; turn its parsing crashes into ours."""
        try:
            with bound_to(self._http) as transport:
                yield transport
        except FaultError:
            raise
        except toxiproxy.exceptions.ProxyExists as exc:
            # The library checks names client-side before it asks the server.
            raise ProxyExists(f"Toxiproxy at {self.url} already has that proxy: {exc}.",
                              409) from exc
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ToxiproxyServerError(
                f"Toxiproxy at {self.url} answered with something that is not Toxiproxy's "
                f"JSON ({type(exc).__name__}: {exc})."
            ) from exc

    def _handle(self, name: str) -> Any:
        """The library's handle for proxy `name` (it only uses the name to build paths)."""
        _check_name(name)
        return toxiproxy.Proxy(name=name, upstream="", enabled=True, listen="")

    def version(self) -> str:
        """The server's version string, e.g. "2.12.0"."""
        with self._library() as transport:
            body = transport.request("GET", "/version").json()
            return str(body["version"]) if isinstance(body, dict) else str(body)

    def proxies(self) -> dict[str, ProxyInfo]:
        """Every proxy on the server, by name."""
        with self._library() as transport:
            body = transport.request("GET", "/proxies").json()
            return {name: _proxy_info(value) for name, value in sorted(body.items())}

    def get_proxy(self, name: str) -> ProxyInfo:
        """One proxy; `ProxyNotFound` when it does not exist."""
        _check_name(name)
        with self._library() as transport:
            return _proxy_info(transport.request("GET", f"/proxies/{name}").json())

    def create_proxy(self, spec: ProxySpec) -> ProxyInfo:
        """Create a proxy; `ProxyExists` if taken, `ToxiproxyServerError` on bind errors."""
        _check_name(spec.name)
        with self._library():
            proxy = self._server.create(upstream=spec.upstream, name=spec.name,
                                        listen=spec.listen, enabled=spec.enabled)
            return ProxyInfo(proxy.name, proxy.listen, proxy.upstream, bool(proxy.enabled))

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy (its connections are closed)."""
        with self._library():
            self._handle(name).destroy()

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a proxy; disabling drops its connections and refuses new ones."""
        with self._library():
            handle = self._handle(name)
            if enabled:
                handle.enable()
            else:
                handle.disable()

    def add_toxic(self, proxy: str, spec: ToxicSpec) -> ToxicInfo:
        """Add a toxic and return it as the server created it (fault 1 mended)."""
        fields: dict[str, Any] = {"type": spec.type, "stream": spec.stream,
                                  "toxicity": spec.toxicity,
                                  "attributes": spec.attributes_dict()}
        if spec.name:
            _check_name(spec.name)
            fields["name"] = spec.name
        with self._library() as transport:
            self._handle(proxy).add_toxic(**fields)
            assert transport.last is not None  # add_toxic made exactly one request
            return _toxic_info(transport.last.json())

    def toxics(self, proxy: str) -> tuple[ToxicInfo, ...]:
        """The toxics of a proxy, upstream first, each stream in insertion order."""
        with self._library() as transport:
            self._handle(proxy).toxics()
            assert transport.last is not None
            return tuple(_toxic_info(t) for t in transport.last.json())

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        """Remove a toxic; `ProxyNotFound` when the proxy or the toxic does not exist."""
        _check_name(toxic)
        with self._library():
            self._handle(proxy).destroy_toxic(toxic)

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        with self._library():
            self._server.reset()

    def populate(self, specs: Sequence[ProxySpec]) -> tuple[ProxyInfo, ...]:
        """Make the server hold these proxies, keeping those already right (fault 3 mended).

        A proxy is kept untouched (connections, toxics, enabled state) when its upstream is
        the same and its bound listen address is the requested one once resolved (a
        hostname resolves, port 0 matches any port). Returns every requested proxy in order.
        """
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise InvalidFault(f"populate lists a proxy name twice: {sorted(names)}")
        for name in names:
            _check_name(name)
        existing = self.proxies()
        changed = [spec for spec in specs if not _same_proxy(existing.get(spec.name), spec)]
        if changed:
            body = [{"name": s.name, "listen": s.listen, "upstream": s.upstream,
                     "enabled": s.enabled} for s in changed]
            with self._library() as transport:
                transport.request("POST", "/populate", body)
            existing = self.proxies()
        return tuple(existing[name] for name in names)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidFault(
            f"proxy or toxic name {name!r} is invalid; expected letters, digits and _ . : > -"
        )


def _toxic_info(body: Any) -> ToxicInfo:
    attributes = tuple(sorted((str(k), float(v)) for k, v in body["attributes"].items()))
    return ToxicInfo(str(body["name"]), str(body["type"]), str(body["stream"]),
                     float(body["toxicity"]), attributes)


def _proxy_info(body: Any) -> ProxyInfo:
    return ProxyInfo(str(body["name"]), str(body["listen"]), str(body["upstream"]),
                     bool(body["enabled"]),
                     tuple(_toxic_info(t) for t in body.get("toxics") or ()))


def _same_proxy(existing: ProxyInfo | None, spec: ProxySpec) -> bool:
    return (existing is not None and existing.upstream == spec.upstream
            and _same_listen(existing.listen, spec.listen))


def _same_listen(bound: str, wanted: str) -> bool:
    """Whether a proxy bound at `bound` satisfies a request to listen at `wanted`."""
    if bound == wanted:
        return True
    bound_host, _, bound_port = bound.rpartition(":")
    wanted_host, _, wanted_port = wanted.rpartition(":")
    if wanted_port not in ("0", bound_port):
        return False
    return _resolve(bound_host) == _resolve(wanted_host)


def _resolve(host: str) -> str:
    host = host.strip("[]")
    if host in ("", "::", "0.0.0.0"):
        return "*"  # every interface
    try:
        return str(socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0])
    except (OSError, IndexError):
        return host
