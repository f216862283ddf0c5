"""Attaching to a lab that is already running, from its map, instead of starting processes.

`attach(path)` reads a lab map (`lab.json`, or the directory holding it). A map that names a
compose project (`docker_project`, as `deploy/lab.json` does) gives a `ComposeLab`: the same
`Lab` interface the live runner, the injector and the chaos fixtures use, whose processes are
that project's containers — killed, started and stopped through the Docker engine
(`chaoslab.docker_lab.DockerSupervisor`), so power loss and deploys run the embedded lab's own
logic (`mock_services.lab.operations`) on containers. Any other map gives the embedded lab a
`chaoslab lab up --detach` left running.

An attached lab is never torn down by its attacher: `docker compose down` (or `chaoslab lab
down`) stops it.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from chaoslab.docker_lab import DockerSupervisor
from faults.errors import UnknownTarget
from mock_services.lab.config import LabConfig, LabError
from mock_services.lab.readiness import NotReady, wait_ready
from mock_services.lab.state import LabState
from mock_services.lab.supervisor import Lab

LAB_ENV = "CHAOSLAB_LAB"  # the map to attach to (the compose lab's chaos and load services)
POLICIES_ENV = "CHAOSLAB_LAB_POLICIES"  # the policy set the attached lab's services run
READY_TIMEOUT_S = 60.0  # a container restart plus the portal's seeding on a loaded machine


class ComposeLab(Lab):
    """A compose lab attached from its map: its processes are the project's containers."""

    def __init__(self, lab_state: LabState, engine: DockerSupervisor | None = None,
                 ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        super().__init__(lab_state, LabConfig(lab_state.run_dir, lab_state.topology,
                                              lab_state.policies, lab_state.toxiproxy_url,
                                              ready_timeout_s=ready_timeout_s))
        self.engine = engine or DockerSupervisor(project=lab_state.docker_project)

    def pid(self, name: str) -> int | None:
        """The host pid of the service container's main process (None while it is stopped):
        a new one after a restart, as a restarted process of the embedded lab has."""
        try:
            return self.engine.pid(name)
        except UnknownTarget:
            return None

    def start(self, names: list[str]) -> None:
        """Start the named services' containers (not waiting for readiness)."""
        self.engine.start(names)

    def kill(self, names: list[str]) -> None:
        """SIGKILL the named services' containers (a power cut)."""
        self.engine.kill(names)

    def pause(self, names: list[str]) -> None:
        """Freeze the named services' containers (a replica breaks down, its work paused):
        the engine's `pause`, not a signal to a host pid this container cannot see."""
        self.engine.freeze(names, True)

    def resume(self, names: list[str]) -> None:
        """Thaw the named services' containers (harmless on a running one)."""
        self.engine.freeze(names, False)

    def stop(self, names: list[str]) -> None:
        """SIGTERM the named services' containers; the engine SIGKILLs after the grace."""
        self.engine.stop(names, self.config.stop_grace_s)

    def wait_ready(self, names: list[str]) -> None:
        """Wait until every named service answers /readyz on the compose network."""
        deadline = time.monotonic() + self.config.ready_timeout_s
        try:
            wait_ready({n: self.state.url(n) for n in names}, deadline, {})
        except NotReady as exc:
            raise LabError(f"service {exc.name!r} is not ready: {exc} (see `docker compose "
                           f"logs {exc.name}`)") from None

    def running(self) -> dict[str, bool]:
        """Every service of the topology -> whether its container runs."""
        found = self.engine.running()
        return {s.name: found.get(s.name, False) for s in self.state.topology.services}

    def down(self) -> None:
        """Nothing: the compose project owns the containers (`docker compose down`)."""


def lab_path() -> Path | None:
    """The map named by $CHAOSLAB_LAB, if any."""
    value = os.environ.get(LAB_ENV, "").strip()
    return Path(value) if value else None


def attach(path: Path, policies: str | None = None,
           engine: DockerSupervisor | None = None) -> Lab:
    """The running lab whose map is `path` (a lab.json, or its directory).

    `policies` (default $CHAOSLAB_LAB_POLICIES, else the map's) names the policy set its
    services were started with: a compose lab runs whatever CHAOSLAB_POLICIES said at `up`
    (its map has no resolved file: `LabState.policy_set()` resolves that name).
    Raises `LabError` (bad input, one sentence) when the map is missing or malformed.
    """
    lab = Lab.attach(path)
    chosen = policies or os.environ.get(POLICIES_ENV, "").strip() or lab.state.policies
    lab_state = lab.state
    if chosen != lab_state.policies:  # the map's resolved file, if any, no longer applies
        lab_state = replace(lab_state, policies=chosen, policies_file="", policies_digest="")
    if lab_state.docker_project:
        return ComposeLab(lab_state, engine)
    return Lab(lab_state, replace(lab.config, policies=chosen))
