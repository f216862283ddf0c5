"""How toxiproxy-python's calls reach one server: a per-call transport, routed by a ContextVar.

The library sends every request through the class `APIConsumer`, whose host and port are
class attributes (process-wide) and whose requests have no timeout. Importing this module
rebinds the name `APIConsumer` in the library's proxy.py and server.py to `RoutedConsumer`,
which sends each call through the `Transport` bound by `bound_to` (thread- and task-local:
a ContextVar), with our timeout and our exceptions. Unbound calls keep the library's own
behaviour (`toxiproxy.api.APIConsumer` itself is left untouched).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import httpx
import toxiproxy.api
import toxiproxy.proxy
import toxiproxy.server

from faults.errors import (
    BadToxiproxyRequest,
    ProxyExists,
    ProxyNotFound,
    ToxiproxyError,
    ToxiproxyServerError,
    ToxiproxyTimeout,
    ToxiproxyUnreachable,
)

_STATUS_ERRORS: Mapping[int, type[ToxiproxyError]] = {
    400: BadToxiproxyRequest, 404: ProxyNotFound, 409: ProxyExists,
}


class Transport:
    """One server's HTTP connection pool; raises our errors for every failed request."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.last: httpx.Response | None = None

    def request(self, method: str, path: str, body: object = None) -> httpx.Response:
        where = f"{method} {self.client.base_url}{path.lstrip('/')}"
        try:
            response = self.client.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise ToxiproxyTimeout(f"Toxiproxy did not answer {where} in time ({exc}).") from exc
        except httpx.TransportError as exc:
            raise ToxiproxyUnreachable(f"Toxiproxy is unreachable for {where}: {exc}.") from exc
        self.last = response
        if response.status_code >= 400:
            message = _error_message(response)
            cls = _STATUS_ERRORS.get(response.status_code, ToxiproxyServerError)
            raise cls(f"Toxiproxy refused {where}: {message} (HTTP {response.status_code}).",
                      response.status_code)
        return response


def _error_message(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError):
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, str):
            return " ".join(error.split())
    return " ".join(response.text.split()) or response.reason_phrase


_bound: ContextVar[Transport | None] = ContextVar("toxiproxy_transport", default=None)
_LibraryConsumer: Any = toxiproxy.api.APIConsumer


class RoutedConsumer:
    """Stands in for the library's `APIConsumer`: routes each call to the bound client."""

    @staticmethod
    def get(url: str, params: object = None, **kwargs: Any) -> Any:
        transport = _bound.get()
        if transport is None:
            return _LibraryConsumer.get(url, params=params, **kwargs)
        return transport.request("GET", url)

    @staticmethod
    def post(url: str, data: object = None, json: object = None, **kwargs: Any) -> Any:
        transport = _bound.get()
        if transport is None:
            return _LibraryConsumer.post(url, data=data, json=json, **kwargs)
        return transport.request("POST", url, json)

    @staticmethod
    def delete(url: str, **kwargs: Any) -> Any:
        transport = _bound.get()
        if transport is None:
            return _LibraryConsumer.delete(url, **kwargs)
        return transport.request("DELETE", url)


# The library looks `APIConsumer` up as a module global in proxy.py and server.py.
toxiproxy.proxy.APIConsumer = RoutedConsumer
toxiproxy.server.APIConsumer = RoutedConsumer


@contextlib.contextmanager
def bound_to(client: httpx.Client) -> Iterator[Transport]:
    """Route the library's calls made in this block (this thread or task) to `client`.

    Each block gets its own transport, so `last` is this block's response even when threads
    share one `httpx.Client` (which is itself thread-safe).
    """
    transport = Transport(client)
    token = _bound.set(transport)
    try:
        yield transport
    finally:
        _bound.reset(token)
