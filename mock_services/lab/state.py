"""The lab's map: every address of a running lab, saved in the run directory as `lab.json`.

It is written before the first process starts, so `lab down` after a crash of the supervisor
still knows which proxies to delete; `lab status`, the live runner and the tests read it to
find the services.

A map may also name hosts other than 127.0.0.1: `addresses` gives each service's and each
proxy's `host:port` (the compose lab's map, `deploy/lab.json`, names container hosts as seen
inside the compose network), and `docker_project` says that the processes are containers of
that compose project, supervised through the Docker engine rather than by pid.

The policy set is recorded three ways: `policies`, the human label (a preset name or the file
given); `policies_file`, the resolved set every process of the lab was handed
(`<run_dir>/policies.json`); `policies_digest`, its sha256. A map without a file (the compose
lab's: its services resolve the preset name they were started with) resolves the label.

Every lab started by `lab up` has an id (`lab_id`, 8 hex characters from `secrets`), and
every proxy it creates is named `<lab_id>-<link>` ("3f9a12c0-client-portal-a"), so two labs
can share one Toxiproxy: each creates, heals and deletes only its own proxies. Scenarios,
faults and the topology name links by their logical name ("client-portal-a"); `proxy_name`
is the one place that maps a link to its proxy. A map without an id names its proxies by
their links alone: the compose lab's (its Toxiproxy container is its own and loads those
fixed names from deploy/toxiproxy.json) and maps written before labs had ids.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mock_services.lab.ports import HOST
from mock_services.lab.topology import (
    CLIENT,
    LabTopology,
    LinkSpec,
    ServiceSpec,
    topology_from_mapping,
)
from policies.presets import PolicySet
from policies.resolve import load_policies, policies_digest, resolve_policies

STATE_FILE = "lab.json"
LAB_ID_BYTES = 4  # 8 hex characters: two labs on one Toxiproxy never draw the same
_LAB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")  # a valid prefix of a proxy name


def new_lab_id() -> str:
    """A fresh lab id, unguessable and short enough to read in a proxy's name."""
    return secrets.token_hex(LAB_ID_BYTES)


class NoLab(RuntimeError):
    """The run directory holds no lab map."""


@dataclass(frozen=True, slots=True)
class LabState:
    """A lab with every port resolved: the topology, the proxy API and the policy set."""

    run_dir: Path
    topology: LabTopology
    toxiproxy_url: str
    embedded_proxy: bool
    policies: str
    supervisor_pid: int
    # service or proxy name -> "host:port"; a name missing is on 127.0.0.1 at its port
    addresses: Mapping[str, str] = field(default_factory=dict)
    docker_project: str = ""  # "": processes with pid files; else that compose project
    policies_file: str = ""  # the resolved set handed to every process; "": resolve the label
    policies_digest: str = ""  # sha256 of that file's text
    lab_id: str = ""  # "": proxies named by their links alone (the compose lab, old maps)

    def policy_set(self) -> PolicySet:
        """The lab's resolved policy set (`PolicyConfigError` when it cannot be read)."""
        if self.policies_file:
            return load_policies(Path(self.policies_file))
        return resolve_policies(self.policies)

    def digest(self) -> str:
        """The sha256 of the lab's resolved policy set."""
        return self.policies_digest or policies_digest(self.policy_set())

    def url(self, service: str) -> str:
        """The direct address of `service` (bypassing every proxy): for admin and readiness."""
        port = self.topology.service(service).port
        return f"http://{self.addresses.get(service, f'{HOST}:{port}')}"

    def link(self, source: str, target: str) -> LinkSpec:
        """The link from `source` to `target`."""
        for link in self.topology.links:
            if link.source == source and link.target == target:
                return link
        raise KeyError(f"no link {source}->{target}")

    def proxy_name(self, link: str) -> str:
        """The name of the Toxiproxy proxy carrying `link` (a link's logical name, as the
        topology, faults and scenarios name it): `<lab_id>-<link>`."""
        return f"{self.lab_id}-{link}" if self.lab_id else link

    def proxy_names(self) -> list[str]:
        """The names of every proxy of the lab, in link order: all it may create or delete."""
        return [self.proxy_name(x.name) for x in self.topology.links]

    def proxied_url(self, source: str, target: str) -> str:
        """The address `source` uses to reach `target`: the listen address of their proxy."""
        link = self.link(source, target)
        return f"http://{self.addresses.get(link.name, f'{HOST}:{link.listen_port}')}"

    def portal_urls(self) -> dict[str, str]:
        """Each portal replica's client-facing address (through its client proxy)."""
        return {p.name: self.proxied_url(CLIENT, p.name) for p in self.topology.portals()}

    def data_dir(self, service: ServiceSpec) -> Path:
        """Where `service` keeps its SQLite files; portal replicas share one directory."""
        return self.run_dir / "data" / ("portal" if service.kind == "portal" else service.name)

    def save(self) -> None:
        """Write `lab.json` atomically."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.run_dir / (STATE_FILE + ".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(self.run_dir / STATE_FILE)

    def to_json(self) -> str:
        """The text of `lab.json` (the optional keys only when set, so old maps stay as they
        were)."""
        data: dict[str, Any] = {
            "topology": asdict(self.topology), "toxiproxy_url": self.toxiproxy_url,
            "embedded_proxy": self.embedded_proxy, "policies": self.policies,
            "supervisor_pid": self.supervisor_pid}
        if self.lab_id:
            data["lab_id"] = self.lab_id
        if self.addresses:
            data["addresses"] = dict(self.addresses)
        if self.docker_project:
            data["docker_project"] = self.docker_project
        if self.policies_file:
            data["policies_file"] = self.policies_file
            data["policies_digest"] = self.policies_digest
        return json.dumps(data, indent=2) + "\n"

    def with_supervisor(self, pid: int) -> LabState:
        """The same lab, owned by supervisor `pid`."""
        return replace(self, supervisor_pid=pid)

    def describe(self) -> str:
        """The human map printed by `lab up` and `lab status`: every service's address."""
        t = self.topology
        lines = [f"toxiproxy  {self.toxiproxy_url}"
                 f"{' (embedded)' if self.embedded_proxy else ' (external)'}"
                 f"{f'  lab id {self.lab_id}' if self.lab_id else ''}"]
        for rack in t.racks:
            for s in t.rack_services(rack):
                lines.append(f"{s.name:<10} {self.url(s.name):<24} {rack}  ({s.kind})")
        for switch in t.switches:
            for link in t.switch_links(switch):
                listen = self.proxied_url(link.source, link.target).removeprefix("http://")
                target = self.url(link.target).removeprefix("http://")
                lines.append(f"{self.proxy_name(link.name):<28} {listen:<16} -> {target}  "
                             f"{switch}")
        lines.append(f"run dir    {self.run_dir}")
        return "\n".join(lines)


def load(run_dir: Path) -> LabState:
    """Read the lab map of `run_dir` (or the map file `run_dir` names: its directory is then
    the run directory); raise `NoLab` when there is none or it is malformed."""
    path = run_dir if run_dir.suffix == ".json" else run_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoLab(f"no lab in {run_dir}: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise NoLab(f"{path} is unreadable ({exc}); expected the map written by 'lab up'") from None
    if not isinstance(data, dict):
        kind = {list: "array", str: "string", bool: "boolean"}.get(type(data), "number")
        raise NoLab(f"{path} is not a lab map (a JSON {'null' if data is None else kind}); "
                    "expected the JSON object written by 'lab up'")
    try:
        lab_state = LabState(
            path.parent, topology_from_mapping(data["topology"]), str(data["toxiproxy_url"]),
            bool(data["embedded_proxy"]), str(data["policies"]), int(data["supervisor_pid"]),
            {str(k): str(v) for k, v in dict(data.get("addresses", {})).items()},
            str(data.get("docker_project", "")),
            policies_file=str(data.get("policies_file", "")),
            policies_digest=str(data.get("policies_digest", "")),
            lab_id=str(data.get("lab_id", "")))
    except KeyError as exc:
        raise NoLab(f"{path}: missing key {exc.args[0]!r}; expected the map written by "
                    "'lab up' or 'python -m chaoslab.compose'") from None
    except (TypeError, ValueError) as exc:  # LabTopologyError is a ValueError
        raise NoLab(f"{path}: {exc}") from None
    _check_addresses(lab_state, path)
    if lab_state.lab_id and not _LAB_ID.fullmatch(lab_state.lab_id):
        raise NoLab(f"{path}: lab_id is {lab_state.lab_id!r}; expected 1 to 32 letters, digits, "
                    "'_', '.' or '-', starting with a letter or digit")
    return lab_state


def _check_addresses(lab: LabState, path: Path) -> None:
    """Every named address is `host:port` of a known service or proxy."""
    known = {s.name for s in lab.topology.services} | {x.name for x in lab.topology.links}
    for name, address in lab.addresses.items():
        host, sep, port = address.rpartition(":")
        if name not in known:
            raise NoLab(f"{path}: addresses names {name!r}, which is no service or proxy of "
                        f"the topology; expected one of {', '.join(sorted(known))}")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise NoLab(f"{path}: addresses.{name} is {address!r}; expected HOST:PORT with "
                        "a port 1..65535")


def forget(run_dir: Path) -> None:
    """Remove the lab map."""
    (run_dir / STATE_FILE).unlink(missing_ok=True)
