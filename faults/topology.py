"""The view of the lab's topology that faults need: links, switches, racks and services.

Pure data, no I/O (the simulator imports it). The lab builds one from the scenario; faults
name its links, switches, racks and services, and the injector resolves those names here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from faults.errors import InvalidFault, UnknownTarget

LinkKind = Literal["client", "upstream"]


@dataclass(frozen=True, slots=True)
class Link:
    """One network link, carried by one Toxiproxy proxy.

    kind: "client" (users, clinics, pharmacies -> portal) or "upstream" (portal -> Shahkar,
    registry, payment, SMS). switch: the server switch the link crosses. admin_url: for an
    upstream link, the upstream's own address (not through the proxy), where
    `POST /admin/fault` makes HTTP-level faults; "" when it has none.
    """

    proxy: str
    switch: str
    kind: LinkKind
    admin_url: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("client", "upstream"):
            raise InvalidFault(f"link kind {self.kind!r} is invalid; expected client|upstream")
        if not self.proxy or not self.switch:
            raise InvalidFault("a link needs a proxy name and a switch name")


def _frozen(mapping: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class FaultTopology:
    """Links by name, the processes of each rack, and the replicas of each service."""

    links: Mapping[str, Link] = field(default_factory=dict)
    racks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    services: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Read-only views: a frozen topology must not change under a running injector.
        object.__setattr__(self, "links", _frozen(self.links))
        object.__setattr__(self, "racks", _frozen({k: tuple(v) for k, v in self.racks.items()}))
        object.__setattr__(
            self, "services", _frozen({k: tuple(v) for k, v in self.services.items()})
        )
        proxies = [link.proxy for link in self.links.values()]
        if len(set(proxies)) != len(proxies):
            raise InvalidFault(f"two links share one proxy in the topology: {sorted(proxies)}")

    def link(self, name: str, kind: LinkKind | None = None) -> Link:
        """The link `name`, checked to be of `kind` when given."""
        link = self.links.get(name)
        if link is None:
            raise UnknownTarget(
                f"link {name!r} is not in the topology; expected one of {sorted(self.links)}"
            )
        if kind is not None and link.kind != kind:
            raise UnknownTarget(f"link {name!r} is a {link.kind} link; expected kind {kind!r}")
        return link

    @property
    def switches(self) -> frozenset[str]:
        """Every switch some link crosses."""
        return frozenset(link.switch for link in self.links.values())

    def proxies_on_switch(self, switch: str) -> tuple[str, ...]:
        """The proxies of every link crossing `switch`, sorted."""
        proxies = sorted(link.proxy for link in self.links.values() if link.switch == switch)
        if not proxies:
            raise UnknownTarget(
                f"switch {switch!r} is not in the topology; expected one of "
                f"{sorted(self.switches)}"
            )
        return tuple(proxies)

    def rack(self, name: str) -> tuple[str, ...]:
        """The processes of rack `name`."""
        if name not in self.racks:
            raise UnknownTarget(
                f"rack {name!r} is not in the topology; expected one of {sorted(self.racks)}"
            )
        return self.racks[name]

    def service(self, name: str) -> tuple[str, ...]:
        """The replica processes of service `name`."""
        if name not in self.services:
            raise UnknownTarget(
                f"service {name!r} is not in the topology; expected one of "
                f"{sorted(self.services)}"
            )
        return self.services[name]
