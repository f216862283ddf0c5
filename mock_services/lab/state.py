"""The lab's map: every address of a running lab, saved in the run directory as `lab.json`.

It is written before the first process starts, so `lab down` after a crash of the supervisor
still knows which proxies to delete; `lab status`, the live runner and the tests read it to
find the services.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mock_services.lab.ports import HOST
from mock_services.lab.topology import (
    CLIENT,
    LinkSpec,
    ServiceSpec,
    Topology,
    topology_from_mapping,
)

STATE_FILE = "lab.json"


class NoLab(RuntimeError):
    """The run directory holds no lab map."""


@dataclass(frozen=True, slots=True)
class LabState:
    """A lab with every port resolved: the topology, the proxy API and the policy set."""

    run_dir: Path
    topology: Topology
    toxiproxy_url: str
    embedded_proxy: bool
    policies: str
    supervisor_pid: int

    def url(self, service: str) -> str:
        """The direct address of `service` (bypassing every proxy): for admin and readiness."""
        return f"http://{HOST}:{self.topology.service(service).port}"

    def link(self, source: str, target: str) -> LinkSpec:
        """The link from `source` to `target`."""
        for link in self.topology.links:
            if link.source == source and link.target == target:
                return link
        raise KeyError(f"no link {source}->{target}")

    def proxied_url(self, source: str, target: str) -> str:
        """The address `source` uses to reach `target`: the listen address of their proxy."""
        return f"http://{HOST}:{self.link(source, target).listen_port}"

    def portal_urls(self) -> dict[str, str]:
        """Each portal replica's client-facing address (through its client proxy)."""
        return {p.name: self.proxied_url(CLIENT, p.name) for p in self.topology.portals()}

    def data_dir(self, service: ServiceSpec) -> Path:
        """Where `service` keeps its SQLite files; portal replicas share one directory."""
        return self.run_dir / "data" / ("portal" if service.kind == "portal" else service.name)

    def save(self) -> None:
        """Write `lab.json` atomically."""
        data = {"topology": asdict(self.topology), "toxiproxy_url": self.toxiproxy_url,
                "embedded_proxy": self.embedded_proxy, "policies": self.policies,
                "supervisor_pid": self.supervisor_pid}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.run_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.run_dir / STATE_FILE)

    def with_supervisor(self, pid: int) -> LabState:
        """The same lab, owned by supervisor `pid`."""
        return replace(self, supervisor_pid=pid)

    def describe(self) -> str:
        """The human map printed by `lab up` and `lab status`: every service's address."""
        t = self.topology
        lines = [f"toxiproxy  {self.toxiproxy_url}"
                 f"{' (embedded)' if self.embedded_proxy else ' (external)'}"]
        for rack in t.racks:
            for s in t.rack_services(rack):
                lines.append(f"{s.name:<10} {self.url(s.name):<24} {rack}  ({s.kind})")
        for switch in t.switches:
            for link in t.switch_links(switch):
                target = t.service(link.target).port
                lines.append(f"{link.name:<20} {HOST}:{link.listen_port:<6} -> {HOST}:{target}"
                             f"  {switch}")
        lines.append(f"run dir    {self.run_dir}")
        return "\n".join(lines)


def load(run_dir: Path) -> LabState:
    """Read the lab map of `run_dir`; raise `NoLab` when there is none."""
    path = run_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoLab(f"no lab in {run_dir}: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise NoLab(f"{path} is unreadable ({exc}); expected the map written by 'lab up'") from None
    return LabState(run_dir, topology_from_mapping(data["topology"]), str(data["toxiproxy_url"]),
                    bool(data["embedded_proxy"]), str(data["policies"]),
                    int(data["supervisor_pid"]))


def forget(run_dir: Path) -> None:
    """Remove the lab map."""
    (run_dir / STATE_FILE).unlink(missing_ok=True)
