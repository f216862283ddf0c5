"""How a lab is started (`LabConfig`), its error, and the resolution of every port.

`resolve` checks everything that can be checked before a process starts: the topology, the
fixed ports (free?), and fills every port 0 with a free loopback port.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from faults.client import ProxySpec
from mock_services.lab import ports
from mock_services.lab.state import LabState, new_lab_id
from mock_services.lab.topology import (
    LabTopology,
    LabTopologyError,
    LinkSpec,
    ServiceSpec,
    default_topology,
)
from policies.errors import PolicyConfigError
from policies.presets import DEFAULT_PRESET, PolicySet
from policies.resolve import resolve_policies

PROXY = "toxiproxy"  # the process name of the embedded proxy server
TOXIPROXY_URL_ENV = "TOXIPROXY_URL"


class LabError(RuntimeError):
    """The lab could not be started or operated; the message is one sentence (plus a log tail).

    `bad_input` is True when the cause is the user's input (exit 2), False for a failure (1).
    """

    def __init__(self, message: str, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


@dataclass(frozen=True, slots=True)
class LabConfig:
    """How to start a lab: where, what, with which policies and deadlines.

    policies: what a person typed (a preset name, a policy TOML file, a resolved .json file),
    kept as the lab's label; policy_set: the set already resolved from it (a scenario's
    overrides included), None: resolve `policies` alone.
    """

    run_dir: Path
    topology: LabTopology = field(default_factory=default_topology)
    policies: str = DEFAULT_PRESET
    toxiproxy_url: str | None = None  # None: $TOXIPROXY_URL, else the embedded proxy
    ready_timeout_s: float = 20.0
    stop_grace_s: float = 10.0
    policy_set: PolicySet | None = None

    def resolved_policies(self) -> PolicySet:
        """The set the lab's processes run; `LabError` (bad input, one sentence) otherwise."""
        if self.policy_set is not None:
            return self.policy_set
        try:
            return resolve_policies(self.policies)
        except PolicyConfigError as exc:
            raise LabError(f"--policies: {exc}", bad_input=True) from None


def resolve(config: LabConfig) -> LabState:
    """Fill every port 0 with a free port, after checking the fixed ones are free."""
    t = config.topology
    try:
        t.validate()
    except LabTopologyError as exc:
        raise LabError(str(exc), bad_input=True) from None
    fixed = [s.port for s in t.services if s.port] + [x.listen_port for x in t.links
                                                       if x.listen_port]
    try:
        for s in t.services:
            if s.port:
                ports.check_free(s.port, f"service {s.name!r}")
        for link in t.links:
            if link.listen_port:
                ports.check_free(link.listen_port, f"link {link.name!r}")
    except ports.PortInUse as exc:
        raise LabError(f"topology: {exc}", bad_input=True) from None
    url = config.toxiproxy_url or os.environ.get(TOXIPROXY_URL_ENV) or None
    need = sum(1 for s in t.services if not s.port) + sum(1 for x in t.links if not x.listen_port)
    free = ports.allocate(fixed, need + (0 if url else 1))
    services = tuple(s if s.port else _with_port(s, free.pop()) for s in t.services)
    links = tuple(x if x.listen_port else LinkSpec(x.source, x.target, x.switch, free.pop())
                  for x in t.links)
    resolved = LabTopology(services, links, t.racks, t.switches)
    embedded = url is None
    if url is None:
        url = f"http://{ports.HOST}:{free.pop()}"
    return LabState(config.run_dir.resolve(), resolved, url.rstrip("/"), embedded,
                    config.policies, os.getpid(), lab_id=new_lab_id())


def _with_port(s: ServiceSpec, port: int) -> ServiceSpec:
    return ServiceSpec(s.name, s.kind, s.rack, port, s.replica_id)


def proxy_defs(lab: LabState) -> list[ProxySpec]:
    """One proxy per link, named with the lab's id (`LabState.proxy_name`)."""
    return [ProxySpec(lab.proxy_name(x.name),
                      upstream=f"{ports.HOST}:{lab.topology.service(x.target).port}",
                      listen=f"{ports.HOST}:{x.listen_port}")
            for x in lab.topology.links]
