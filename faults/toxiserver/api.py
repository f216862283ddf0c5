"""Toxiproxy's HTTP API as a routing table: (method, path) to a handler returning a Response.

Wire details follow the real server (TOXIPROXY.md): unknown path 404 `404 page not found`,
known path with another method 405 with an empty body, no trailing-slash matching, path
segments URL-decoded, errors as JSON plus a newline in text/plain (but /populate's in
application/json), a browser's User-Agent refused with 403.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from faults.toxiserver import errors
from faults.toxiserver.errors import ApiError
from faults.toxiserver.gojson import BodyError, decode, encode, expect_object, fields, json_kind
from faults.toxiserver.table import PROXY_FIELDS, ProxyTable, parse_proxy

VERSION = "2.12.0"
# the type PopulateJson decodes each entry into, as Go's reflect prints it
POPULATE_ENTRY = 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Response:
    """Status, body and content type of one answer."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())
    routed: bool = True  # False: the router's own answer, before any middleware (no request id)


def json_response(status: int, value: Any) -> Response:
    """A JSON body, as the real server writes it."""
    return Response(status, encode(value), JSON)


def error_response(exc: ApiError) -> Response:
    """Go's http.Error with the JSON of the error: text/plain, trailing newline."""
    body = encode({"error": exc.message, "status": exc.status}) + b"\n"
    return Response(exc.status, body, TEXT, (("X-Content-Type-Options", "nosniff"),))


def _body(raw: bytes) -> Any:
    error = getattr(raw, "error", None)  # a chunked body that broke off (http.BrokenBody)
    if error is not None:
        raise errors.bad_body(error)
    try:
        return decode(raw)
    except BodyError as exc:
        raise errors.bad_body(str(exc)) from None


Handler = Callable[[dict[str, str], bytes], Awaitable[Response]]


def clean_path(path: str) -> str:
    """gorilla/mux's cleanPath: Go's path.Clean, rooted, keeping a trailing slash."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    clean = "/" + "/".join(parts)
    return clean + "/" if path.endswith("/") and clean != "/" else clean


class Api:
    """The routes of the real server, served from one ProxyTable under one lock."""

    def __init__(self, table: ProxyTable, metrics_enabled: bool) -> None:
        self.table = table
        self.lock = asyncio.Lock()  # API calls change shared state one at a time
        routes: list[tuple[tuple[str, ...], dict[str, Handler]]] = [
            (("reset",), {"POST": self.reset}),
            (("proxies",), {"GET": self.proxy_index, "POST": self.proxy_create}),
            (("populate",), {"POST": self.populate}),
            (("proxies", "{proxy}"), {"GET": self.proxy_show, "POST": self.proxy_update,
                                      "PATCH": self.proxy_update, "DELETE": self.proxy_delete}),
            (("proxies", "{proxy}", "toxics"), {"GET": self.toxic_index,
                                                "POST": self.toxic_create}),
            (("proxies", "{proxy}", "toxics", "{toxic}"), {
                "GET": self.toxic_show, "POST": self.toxic_update, "PATCH": self.toxic_update,
                "DELETE": self.toxic_delete}),
            (("version",), {"GET": self.version}),
        ]
        if metrics_enabled:
            routes.append((("metrics",), {m: self.metrics for m in ("GET", "HEAD", "POST")}))
        self.routes = routes

    async def handle(self, method: str, target: str, user_agent: str, body: bytes) -> Response:
        """Answer one request (`target`: path and query, still URL-encoded) as gorilla/mux does
        in front of the real server's middleware: an unclean path is redirected, an unknown
        path is 404 and a known one with another method 405, all three without the middleware
        (no request id, no browser check: mux.go Router.Match builds the chain on a match)."""
        raw_path, sep, query = target.partition("?")
        path = unquote(raw_path, errors="replace")
        clean = clean_path(path)
        if clean != path:
            location = quote(clean, safe="$&+,/:;=@") + sep + query
            return Response(301, headers=(("Location", location),), routed=False)
        found = self._match(path)
        if found is None:
            return Response(404, b"404 page not found\n", TEXT,
                            (("X-Content-Type-Options", "nosniff"),), routed=False)
        methods, params = found
        handler = methods.get(method)
        if handler is None:
            return Response(405, routed=False)
        if user_agent.startswith("Mozilla/"):
            return Response(403, b"User agent not allowed\n", TEXT,
                            (("X-Content-Type-Options", "nosniff"),))
        async with self.lock:
            try:
                return await handler(params, body)
            except ApiError as exc:
                return error_response(exc)

    def _match(self, path: str) -> tuple[dict[str, Handler], dict[str, str]] | None:
        if not path.startswith("/"):
            return None
        segments = path[1:].split("/")
        for pattern, methods in self.routes:
            if len(pattern) != len(segments):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, segments, strict=True):
                if want.startswith("{"):
                    if not got:
                        break
                    params[want[1:-1]] = got
                elif want != got:
                    break
            else:
                return methods, params
        return None

    # -- handlers --------------------------------------------------------------------------

    async def version(self, params: dict[str, str], body: bytes) -> Response:
        body = f'{{"version": "{VERSION}"}}\n'.encode()
        return Response(200, body, "application/json;charset=utf-8")

    async def metrics(self, params: dict[str, str], body: bytes) -> Response:
        metrics = self.table.metrics
        assert metrics is not None
        return Response(200, metrics.render(), metrics.content_type)

    async def reset(self, params: dict[str, str], body: bytes) -> Response:
        await self.table.reset()
        return Response(204)

    async def proxy_index(self, params: dict[str, str], body: bytes) -> Response:
        proxies = self.table.proxies
        return json_response(200, {n: proxies[n].to_json() for n in sorted(proxies)})

    async def proxy_create(self, params: dict[str, str], body: bytes) -> Response:
        proxy = await self.table.create(parse_proxy(_body(body)))
        return json_response(201, proxy.to_json())

    async def populate(self, params: dict[str, str], body: bytes) -> Response:
        try:
            value = _body(body)
            if value is None:  # Go decodes null into the slice as nothing
                value = []
            if not isinstance(value, list):
                raise errors.bad_body(f"json: cannot unmarshal {json_kind(value)} into Go value"
                                      f" of type []{POPULATE_ENTRY}")
            for item in value:  # Go decodes the whole array before checking any entry
                try:
                    # Go <= 1.23 names a promoted field without its embedded struct (".name");
                    # 1.24 added it (".Proxy.name")
                    fields(expect_object(item, POPULATE_ENTRY), PROXY_FIELDS, "")
                except BodyError as exc:
                    raise errors.bad_body(str(exc)) from None
            specs = [parse_proxy(item, f" at proxy {i}") for i, item in enumerate(value, 1)]
        except ApiError as exc:
            return json_response(exc.status, {"error": exc.message, "status": exc.status,
                                              "proxies": None})
        done, failure = await self.table.populate(specs)
        listed = [p.to_json() for p in done] or None
        if failure is not None:
            return json_response(failure.status, {"error": failure.message,
                                                  "status": failure.status, "proxies": listed})
        return json_response(201, {"proxies": listed})

    async def proxy_show(self, params: dict[str, str], body: bytes) -> Response:
        return json_response(200, self.table.get(params["proxy"]).to_json())

    async def proxy_update(self, params: dict[str, str], body: bytes) -> Response:
        proxy = self.table.get(params["proxy"])
        value = _body(body)
        try:
            obj = expect_object(value, "toxiproxy.Proxy")
        except BodyError as exc:
            raise errors.bad_body(str(exc)) from None
        await self.table.update(proxy, obj)
        return json_response(200, proxy.to_json())

    async def proxy_delete(self, params: dict[str, str], body: bytes) -> Response:
        await self.table.delete(params["proxy"])
        return Response(204)

    async def toxic_index(self, params: dict[str, str], body: bytes) -> Response:
        proxy = self.table.get(params["proxy"])
        return json_response(200, [e.to_json() for e in proxy.toxics.all()])

    async def toxic_create(self, params: dict[str, str], body: bytes) -> Response:
        proxy = self.table.get(params["proxy"])
        entry = await self.table.add_toxic(proxy, _body(body))
        return json_response(200, entry.to_json())

    async def toxic_show(self, params: dict[str, str], body: bytes) -> Response:
        proxy = self.table.get(params["proxy"])
        return json_response(200, self.table.get_toxic(proxy, params["toxic"]).to_json())

    async def toxic_update(self, params: dict[str, str], body: bytes) -> Response:
        proxy = self.table.get(params["proxy"])
        self.table.get_toxic(proxy, params["toxic"])
        entry = await self.table.update_toxic(proxy, params["toxic"], _body(body))
        return json_response(200, entry.to_json())

    async def toxic_delete(self, params: dict[str, str], body: bytes) -> Response:
        proxy = self.table.get(params["proxy"])
        await self.table.remove_toxic(proxy, params["toxic"])
        return Response(204)
