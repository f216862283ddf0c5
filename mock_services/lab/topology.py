"""The lab's topology: one frozen model of services, racks, switches, links and ports.

It is the single source the supervisor starts from, the docker-compose files are generated
from, and the live runner maps scenario targets with (a rack -> its processes, a switch -> its
proxies, a link -> one proxy). Port 0 means "a free loopback port chosen at `lab up`".

Rack and switch membership follow the portal's real failure domains: a rack loses power as a
whole (every process on it), a switch carries the client->portal link of its replica and that
replica's portal->upstream links, so a switch failure cuts one replica off entirely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SERVICE_KINDS: tuple[str, ...] = ("portal", "shahkar", "registry", "payment", "sms")
UPSTREAM_KINDS: tuple[str, ...] = ("shahkar", "registry", "payment", "sms")
CLIENT = "client"  # the source of client->portal links: the load driver and the other clients


class LabTopologyError(ValueError):
    """A topology that cannot be started; the message says what, where and what was expected."""


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service process: its kind (what `python -m mock_services KIND` runs) and its rack."""

    name: str
    kind: str
    rack: str
    port: int = 0
    replica_id: str = ""


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """One network link, carried by a Toxiproxy proxy on a switch.

    source is `CLIENT` or a portal service; target the service it reaches.
    """

    source: str
    target: str
    switch: str
    listen_port: int = 0

    @property
    def name(self) -> str:
        """The proxy's name: `source-target` ("client-portal-a", "portal-a-shahkar")."""
        return f"{self.source}-{self.target}"


@dataclass(frozen=True, slots=True)
class LabTopology:
    """The whole lab: services, the racks and switches they sit on, and the links."""

    services: tuple[ServiceSpec, ...]
    links: tuple[LinkSpec, ...]
    racks: tuple[str, ...]
    switches: tuple[str, ...]

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `LabTopologyError` naming the first inconsistency."""
        names = [s.name for s in self.services]
        for s in self.services:
            if names.count(s.name) > 1:
                raise LabTopologyError(f"topology: service {s.name!r} is defined twice")
            if s.kind not in SERVICE_KINDS:
                raise LabTopologyError(
                    f"topology: service {s.name!r} has unknown kind {s.kind!r}; "
                    f"expected one of {', '.join(SERVICE_KINDS)}")
            if s.rack not in self.racks:
                raise LabTopologyError(
                    f"topology: service {s.name!r} is on unknown rack {s.rack!r}; "
                    f"expected one of {', '.join(self.racks)}")
            _check_port(s.port, f"service {s.name!r}")
        link_names = [link.name for link in self.links]
        for link in self.links:
            if link.source != CLIENT and link.source not in names:
                raise LabTopologyError(
                    f"topology: link {link.name!r} names unknown service {link.source!r}; "
                    f"expected {CLIENT!r} or one of {', '.join(names)}")
            if link.target not in names:
                raise LabTopologyError(
                    f"topology: link {link.name!r} names unknown service {link.target!r}; "
                    f"expected one of {', '.join(names)}")
            if link.switch not in self.switches:
                raise LabTopologyError(
                    f"topology: link {link.name!r} is on unknown switch {link.switch!r}; "
                    f"expected one of {', '.join(self.switches)}")
            if link_names.count(link.name) > 1:
                raise LabTopologyError(f"topology: link {link.name!r} is defined twice")
            _check_port(link.listen_port, f"link {link.name!r}")
        fixed = [s.port for s in self.services if s.port] + [
            link.listen_port for link in self.links if link.listen_port]
        for port in fixed:
            if fixed.count(port) > 1:
                raise LabTopologyError(f"topology: port {port} is assigned twice")
        if not self.portals():
            raise LabTopologyError("topology: no portal service; expected at least one")

    def service(self, name: str) -> ServiceSpec:
        """The service called `name`."""
        for s in self.services:
            if s.name == name:
                return s
        raise LabTopologyError(f"topology: unknown service {name!r}")

    def portals(self) -> tuple[ServiceSpec, ...]:
        """The portal replicas, in order."""
        return tuple(s for s in self.services if s.kind == "portal")

    def upstreams(self) -> tuple[ServiceSpec, ...]:
        """Every service that is not a portal."""
        return tuple(s for s in self.services if s.kind != "portal")

    def rack_services(self, rack: str) -> tuple[ServiceSpec, ...]:
        """The services that lose power with `rack`."""
        if rack not in self.racks:
            raise LabTopologyError(f"topology: unknown rack {rack!r}; expected one of "
                                f"{', '.join(self.racks)}")
        return tuple(s for s in self.services if s.rack == rack)

    def switch_links(self, switch: str) -> tuple[LinkSpec, ...]:
        """The links cut when `switch` fails."""
        if switch not in self.switches:
            raise LabTopologyError(f"topology: unknown switch {switch!r}; expected one of "
                                f"{', '.join(self.switches)}")
        return tuple(link for link in self.links if link.switch == switch)

    def links_from(self, source: str) -> tuple[LinkSpec, ...]:
        """The links whose source is `source` (a portal, or `CLIENT`)."""
        return tuple(link for link in self.links if link.source == source)


def _check_port(port: int, where: str) -> None:
    if not 0 <= port <= 65535:
        raise LabTopologyError(f"topology: {where} has port {port}; expected 0..65535")


def default_topology() -> LabTopology:
    """Two switches, two racks, two portal replicas (one per switch and rack), four upstreams."""
    services = (
        ServiceSpec("portal-a", "portal", "rack-a", replica_id="a"),
        ServiceSpec("portal-b", "portal", "rack-b", replica_id="b"),
        ServiceSpec("shahkar", "shahkar", "rack-a"),
        ServiceSpec("sms", "sms", "rack-a"),
        ServiceSpec("registry", "registry", "rack-b"),
        ServiceSpec("payment", "payment", "rack-b"),
    )
    links: list[LinkSpec] = []
    for portal, switch in (("portal-a", "switch-a"), ("portal-b", "switch-b")):
        links.append(LinkSpec(CLIENT, portal, switch))
        links.extend(LinkSpec(portal, up, switch) for up in UPSTREAM_KINDS)
    return LabTopology(services, tuple(links), ("rack-a", "rack-b"), ("switch-a", "switch-b"))


def topology_from_mapping(data: Mapping[str, Any]) -> LabTopology:
    """Build a topology from plain data (a TOML table), raising `LabTopologyError` on bad input."""
    try:
        services = tuple(
            ServiceSpec(str(s["name"]), str(s["kind"]), str(s["rack"]), int(s.get("port", 0)),
                        str(s.get("replica_id", ""))) for s in data["services"])
        links = tuple(
            LinkSpec(str(link["source"]), str(link["target"]), str(link["switch"]),
                     int(link.get("listen_port", 0))) for link in data["links"])
        racks = tuple(str(r) for r in data["racks"])
        switches = tuple(str(w) for w in data["switches"])
    except KeyError as exc:
        raise LabTopologyError(f"topology: missing key {exc.args[0]!r}; expected services, links, "
                            "racks and switches with their fields") from None
    except (TypeError, ValueError) as exc:
        raise LabTopologyError(f"topology: malformed entry ({exc}); expected tables of "
                            "names, kinds and integer ports") from None
    return LabTopology(services, links, racks, switches)
