"""The slice of Toxiproxy the injector drives, and an in-memory version of it for unit tests.

`faults.client.ToxiproxyClient` implements `ProxyControl` against a real server;
`MemoryProxies` keeps the same state in dictionaries and records every call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from faults.errors import ProxyExists, ProxyNotFound
from faults.toxics import ToxicInfo, ToxicSpec


class ProxyControl(Protocol):
    """Enables and disables proxies and adds and removes toxics; raises `ToxiproxyError`."""

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable proxy `name`."""

    def add_toxic(self, proxy: str, spec: ToxicSpec) -> ToxicInfo:
        """Add a toxic to `proxy` and return it."""

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        """Remove toxic `toxic` from `proxy`; `ProxyNotFound` if either is missing."""


class MemoryProxies:
    """An in-memory `ProxyControl` over a fixed set of proxy names."""

    def __init__(self, names: Iterable[str]) -> None:
        self.enabled: dict[str, bool] = dict.fromkeys(names, True)
        self.toxics: dict[str, dict[str, ToxicSpec]] = {name: {} for name in self.enabled}
        self.calls: list[tuple[str, ...]] = []

    def _proxy(self, name: str) -> dict[str, ToxicSpec]:
        if name not in self.toxics:
            raise ProxyNotFound(f"proxy {name!r} not found", 404)
        return self.toxics[name]

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.calls.append(("set_enabled", name, str(enabled)))
        self._proxy(name)
        self.enabled[name] = enabled

    def add_toxic(self, proxy: str, spec: ToxicSpec) -> ToxicInfo:
        self.calls.append(("add_toxic", proxy, spec.name))
        toxics = self._proxy(proxy)
        name = spec.name or f"{spec.type}_{spec.stream}"
        if name in toxics:
            raise ProxyExists(f"toxic {name!r} already exists on {proxy!r}", 409)
        toxics[name] = spec
        attributes = tuple((k, float(v)) for k, v in spec.attributes)
        return ToxicInfo(name, spec.type, spec.stream, spec.toxicity, attributes)

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self.calls.append(("remove_toxic", proxy, toxic))
        if self._proxy(proxy).pop(toxic, None) is None:
            raise ProxyNotFound(f"toxic {toxic!r} not found on {proxy!r}", 404)

    def healthy(self) -> bool:
        """Whether every proxy is enabled and free of toxics."""
        return all(self.enabled.values()) and not any(self.toxics.values())
