"""The proxy table: every proxy by name, and the operations of the API on it.

Operations raise `ApiError` with the real server's status and message; a failed operation
leaves the table as it was (no half-created proxy), except where the real server keeps
partial work on purpose (`populate` keeps the entries before a bind error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faults.toxiserver import errors
from faults.toxiserver.entry import DOWNSTREAM, UPSTREAM, ToxicEntry
from faults.toxiserver.errors import ApiError
from faults.toxiserver.gojson import BodyError, expect_object, fields
from faults.toxiserver.listen import ListenError
from faults.toxiserver.metrics import ProxyMetrics
from faults.toxiserver.proxy import Proxy, close_quietly
from faults.toxiserver.toxics import REGISTRY, Toxic

PROXY_FIELDS: dict[str, Any] = {"name": "string", "listen": "string", "upstream": "string",
                                "enabled": "bool", "Logger": "struct:zerolog.Logger"}
# AddToxicJson decodes the wrapper first with a NoopToxic for its attributes, then the
# attributes into the toxic of the type
TOXIC_FIELDS: dict[str, Any] = {"name": "string", "type": "string", "stream": "string",
                                "toxicity": "float32", "attributes": "struct:toxics.NoopToxic"}
# 2.12's UpdateToxicJson decodes into an anonymous struct holding the live toxic
UPDATE_TYPE = ('struct { Attributes interface {} "json:\\"attributes\\""; '
               'Toxicity float32 "json:\\"toxicity\\"" }')


@dataclass(frozen=True, slots=True)
class ProxySpec:
    """A validated proxy body: name, listen, upstream, enabled."""

    name: str
    listen: str
    upstream: str
    enabled: bool


def parse_proxy(value: Any, where: str = "") -> ProxySpec:
    """A proxy body; ApiError 400 for wrong types or a missing name or upstream."""
    try:
        f = fields(expect_object(value, "toxiproxy.Proxy"), PROXY_FIELDS, "Proxy")
    except BodyError as exc:
        raise errors.bad_body(str(exc)) from None
    spec = ProxySpec(f.get("name", ""), f.get("listen", ""), f.get("upstream", ""),
                     f.get("enabled", True))
    if not spec.name:
        raise errors.missing_field(f"name{where}")
    if not spec.upstream:
        raise errors.missing_field(f"upstream{where}")
    return spec


def build_toxic(cls: type[Toxic], base: Toxic | None, given: dict[str, Any] | None) -> Toxic:
    """`cls` with `given` attributes merged over `base`; ApiError 400 when they cannot run."""
    spec: dict[str, Any] = dict.fromkeys(cls.attribute_names(), cls.go_int)
    try:
        changes = fields(given or {}, spec, f"{cls.__name__}.attributes")
    except BodyError as exc:
        raise errors.bad_body(str(exc)) from None
    toxic = (base or cls()).with_attributes(changes)
    problem = toxic.problem()
    if problem is not None:
        raise errors.bad_body(problem)
    return toxic


class ProxyTable:
    """The proxies of one server, keyed by name."""

    def __init__(self, seed: int, metrics: ProxyMetrics | None) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.seed = seed
        self.metrics = metrics

    def get(self, name: str) -> Proxy:
        """The proxy called `name`; 404 otherwise."""
        proxy = self.proxies.get(name)
        if proxy is None:
            raise errors.PROXY_NOT_FOUND
        return proxy

    def _new(self, spec: ProxySpec) -> Proxy:
        return Proxy(spec.name, spec.listen, spec.upstream, self.seed, self.metrics)

    async def create(self, spec: ProxySpec) -> Proxy:
        """POST /proxies: 409 if the name exists, 500 with Go's text if it cannot bind."""
        if spec.name in self.proxies:
            raise errors.PROXY_EXISTS
        proxy = self._new(spec)
        if spec.enabled:
            await _start(proxy)
        self.proxies[spec.name] = proxy
        return proxy

    async def populate(self, specs: list[ProxySpec]) -> tuple[list[Proxy], ApiError | None]:
        """POST /populate: keep identical proxies, replace the others; stop at a bind error."""
        done: list[Proxy] = []
        for spec in specs:
            existing = self.proxies.get(spec.name)
            if existing is not None:
                if existing.listen == spec.listen and existing.upstream == spec.upstream:
                    done.append(existing)
                    continue
                await existing.stop()
            proxy = self._new(spec)
            if spec.enabled:
                try:
                    await _start(proxy)
                except ApiError as exc:
                    return done, exc
            self.proxies[spec.name] = proxy
            done.append(proxy)
        return done, None

    async def update(self, proxy: Proxy, body: dict[str, Any]) -> None:
        """PATCH /proxies/{p}: omitted fields keep their values; 500 on resolve/bind errors."""
        try:
            f = fields(body, PROXY_FIELDS, "Proxy")
        except BodyError as exc:
            raise errors.bad_body(str(exc)) from None
        try:
            await proxy.update(f.get("listen", proxy.listen), f.get("upstream", proxy.upstream),
                               f.get("enabled", proxy.enabled))
        except ListenError as exc:
            raise ApiError(500, str(exc)) from None

    async def delete(self, name: str) -> None:
        """DELETE /proxies/{p}: stop it and forget it."""
        proxy = self.get(name)
        del self.proxies[name]
        await proxy.stop()

    async def reset(self) -> None:
        """POST /reset: every proxy enabled again, every toxic removed."""
        for proxy in list(self.proxies.values()):
            await _start(proxy)
            await proxy.toxics.reset()

    async def shutdown(self) -> None:
        """Stop every proxy (server shutdown)."""
        for proxy in self.proxies.values():
            await close_quietly(proxy)

    async def add_toxic(self, proxy: Proxy, value: Any) -> ToxicEntry:
        """POST /proxies/{p}/toxics, checked in the real server's order."""
        try:
            f = fields(expect_object(value, "toxics.ToxicWrapper"), TOXIC_FIELDS, "ToxicWrapper")
        except BodyError as exc:
            raise errors.bad_body(str(exc)) from None
        stream = f.get("stream", DOWNSTREAM)
        if stream.lower() not in (UPSTREAM, DOWNSTREAM):
            raise errors.INVALID_STREAM
        type_ = f.get("type", "")
        name = f.get("name") or f"{type_}_{stream}"
        cls = REGISTRY.get(type_)
        if cls is None:
            raise errors.INVALID_TOXIC_TYPE
        if proxy.toxics.find(name) is not None:
            raise errors.TOXIC_EXISTS
        toxic = build_toxic(cls, None, f.get("attributes"))
        # `fields` has rounded the toxicity to the float32 the real server keeps
        entry = ToxicEntry(name, type_, stream, f.get("toxicity", 1.0), toxic)
        await proxy.toxics.add(entry)
        return entry

    def get_toxic(self, proxy: Proxy, name: str) -> ToxicEntry:
        """The toxic `name` of `proxy`; 404 otherwise."""
        entry = proxy.toxics.find(name)
        if entry is None:
            raise errors.TOXIC_NOT_FOUND
        return entry

    async def update_toxic(self, proxy: Proxy, name: str, body: Any) -> ToxicEntry:
        """PATCH a toxic: merge attributes, keep toxicity unless given, ignore the rest."""
        entry = self.get_toxic(proxy, name)
        spec = {"attributes": f"struct:toxics.{type(entry.toxic).__name__}",
                "toxicity": "float32"}
        try:
            f = fields(expect_object(body, UPDATE_TYPE), spec, "")
        except BodyError as exc:
            raise errors.bad_body(str(exc)) from None
        toxic = build_toxic(type(entry.toxic), entry.toxic, f.get("attributes"))
        entry.toxic, entry.toxicity = toxic, f.get("toxicity", entry.toxicity)
        await proxy.toxics.update(entry)
        return entry

    async def remove_toxic(self, proxy: Proxy, name: str) -> None:
        """DELETE a toxic; 404 if absent."""
        await proxy.toxics.remove(self.get_toxic(proxy, name))


async def _start(proxy: Proxy) -> None:
    try:
        await proxy.start()
    except ListenError as exc:
        raise ApiError(500, str(exc)) from None
