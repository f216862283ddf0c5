"""The faults' supervisor interface for the docker-compose lab, through the Docker Engine API.

Power loss is `kill` (SIGKILL) of every container labelled with the rack and `start` after the
outage; a rolling deploy takes one portal container at a time out of rotation (its loopback-only
admin route, reached with `exec` inside the container), drains, stops it with SIGTERM, starts it
and waits for its healthcheck; a naive deploy restarts every replica at once.

It speaks the Engine API over the Unix socket with httpx (no docker SDK dependency); tests
give it an `httpx.MockTransport`, and the docker-marked tests a real engine.

Besides the faults' interface it offers the per-service calls (`kill`, `start`, `stop`,
`running`) that `chaoslab.compose_lab.ComposeLab` builds the lab's process operations on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from faults.errors import SupervisorError, UnknownTarget

DOCKER_SOCKET = Path("/var/run/docker.sock")
API = "http://docker/v1.41"  # Engine API 1.41 (Docker 20.10+): every call used here exists there
KILL_TIMEOUT_S = 10.0  # a SIGKILLed container is gone in well under a second
SERVICE_LABEL = "chaoslab.service"
RACK_LABEL = "chaoslab.rack"
READY_SCRIPT = ("import json, urllib.request; urllib.request.urlopen(urllib.request.Request("
                "'http://127.0.0.1:8000/admin/ready', data=json.dumps({{'ready': {ready}}})"
                ".encode(), headers={{'Content-Type': 'application/json'}}), timeout=5)")


def engine_available(socket: Path = DOCKER_SOCKET) -> bool:
    """True when a Docker engine answers on `socket` (the docker-marked tests skip otherwise)."""
    if not socket.exists():
        return False
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), timeout=2) as c:
            return c.get(f"{API}/_ping").status_code == 200
    except httpx.HTTPError:
        return False


class DockerSupervisor:
    """Kills, restarts and redeploys the compose lab's containers; one call returns when done.

    `wait` is the injected poll: `wait(predicate, deadline_s, what)` returns when predicate()
    is true or raises SupervisorError saying `what` did not happen in time ("container X of
    rack-a did not become healthy"); the default polls every 0.2 s.
    """

    def __init__(self, client: httpx.Client | None = None, project: str = "chaoslab",
                 ready_timeout_s: float = 60.0,
                 wait: Callable[[Callable[[], bool], float, str], None] | None = None) -> None:
        self.client = client or httpx.Client(
            transport=httpx.HTTPTransport(uds=str(DOCKER_SOCKET)), timeout=30)
        self.project = project
        self.ready_timeout_s = ready_timeout_s
        self.wait = wait or _poll
        self._lock = threading.Lock()  # the injector may deploy from a second thread

    def _call(self, method: str, path: str, *, tolerate: tuple[int, ...] = (),
              **kwargs: object) -> httpx.Response:
        try:
            response = self.client.request(method, f"{API}{path}", **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise SupervisorError(f"docker engine: {method} {path} failed ({exc}); "
                                  "expected a running engine on its socket") from None
        if response.status_code in tolerate:
            return response
        if response.status_code >= 400 and response.status_code != 304:  # 304: already so
            raise SupervisorError(f"docker engine: {method} {path} answered "
                                  f"{response.status_code} {response.text.strip()}")
        return response

    def containers(self, label: str, value: str) -> list[str]:
        """The ids of this project's containers whose `label` is `value`, running or not."""
        filters = {"label": [f"{label}={value}", f"com.docker.compose.project={self.project}"]}
        found = self._call("GET", "/containers/json",
                           params={"all": "1", "filters": json.dumps(filters)}).json()
        return sorted(c["Id"] for c in found)

    def _one(self, service: str) -> str:
        ids = self.containers(SERVICE_LABEL, service)
        if not ids:
            raise UnknownTarget(f"no container of project {self.project!r} runs {service!r}")
        return ids[0]

    def _healthy(self, cid: str) -> bool:
        state = self._call("GET", f"/containers/{cid}/json").json()["State"]
        health = state.get("Health", {}).get("Status")
        return bool(state.get("Running")) and health in (None, "healthy")

    def _health_probe(self, cid: str) -> Callable[[], bool]:
        return lambda: self._healthy(cid)

    def _exec(self, cid: str, argv: Sequence[str]) -> None:
        created = self._call("POST", f"/containers/{cid}/exec",
                             json={"Cmd": list(argv), "AttachStdout": False}).json()
        self._call("POST", f"/exec/{created['Id']}/start", json={"Detach": False})
        exit_code = self._call("GET", f"/exec/{created['Id']}/json").json().get("ExitCode")
        if exit_code not in (0, None):
            raise SupervisorError(f"docker engine: {' '.join(argv)} exited {exit_code} in {cid}")

    def _set_ready(self, cid: str, ready: bool) -> None:
        script = READY_SCRIPT.format(ready="True" if ready else "False")
        self._exec(cid, ["python", "-c", script])

    def kill_rack(self, rack: str) -> None:
        """SIGKILL every container of `rack`."""
        with self._lock:
            ids = self.containers(RACK_LABEL, rack)
            if not ids:
                raise UnknownTarget(f"no container of project {self.project!r} is on {rack!r}")
            for cid in ids:
                self._call("POST", f"/containers/{cid}/kill", params={"signal": "SIGKILL"})

    def restart_rack(self, rack: str) -> None:
        """Start every container of `rack` and wait for each healthcheck."""
        with self._lock:
            ids = self.containers(RACK_LABEL, rack)
            for cid in ids:
                self._call("POST", f"/containers/{cid}/start")
            for cid in ids:
                self.wait(self._health_probe(cid), self.ready_timeout_s,
                          f"container {cid[:12]} of {rack} did not become healthy")

    def rolling_deploy(self, service: str, processes: Sequence[str], *, drain_s: float) -> None:
        """One replica at a time: out of rotation, drain, SIGTERM, start, healthy, back in."""
        with self._lock:
            for name in processes:
                cid = self._one(name)
                self._set_ready(cid, False)
                self._call("POST", f"/containers/{cid}/stop", params={"t": str(int(drain_s))})
                self._call("POST", f"/containers/{cid}/start")
                self.wait(self._health_probe(cid), self.ready_timeout_s,
                          f"{service} replica {name} did not become healthy")
                self._set_ready(cid, True)

    # -- per service: what ComposeLab's process operations are made of ----------------------

    def running(self) -> dict[str, bool]:
        """Every service container of this project (by its service label) -> running or not."""
        filters = {"label": [SERVICE_LABEL, f"com.docker.compose.project={self.project}"]}
        found = self._call("GET", "/containers/json",
                           params={"all": "1", "filters": json.dumps(filters)}).json()
        out: dict[str, bool] = {}
        for c in found:
            name = c.get("Labels", {}).get(SERVICE_LABEL, "")
            if name:
                out[name] = out.get(name, False) or c.get("State") == "running"
        return out

    def kill(self, services: Sequence[str]) -> None:
        """SIGKILL the containers of `services` and wait until none runs (one already stopped
        is fine)."""
        with self._lock:
            ids = [self._one(name) for name in services]
            for cid in ids:
                # 409: the container is not running, which is what a kill wants anyway
                self._call("POST", f"/containers/{cid}/kill", params={"signal": "SIGKILL"},
                           tolerate=(409,))
            for cid in ids:  # the engine answers the kill before the state says exited
                self.wait(self._stopped_probe(cid), KILL_TIMEOUT_S,
                          f"container {cid[:12]} did not stop after SIGKILL")

    def _stopped_probe(self, cid: str) -> Callable[[], bool]:
        return lambda: not self._call("GET", f"/containers/{cid}/json").json()["State"].get(
            "Running")

    def start(self, services: Sequence[str]) -> None:
        """Start the containers of `services` (not waiting for their healthcheck)."""
        with self._lock:
            for cid in [self._one(name) for name in services]:
                self._call("POST", f"/containers/{cid}/start")

    def stop(self, services: Sequence[str], grace_s: float) -> None:
        """SIGTERM the containers of `services`, SIGKILL after `grace_s` (the engine's stop)."""
        with self._lock:
            for cid in [self._one(name) for name in services]:
                self._call("POST", f"/containers/{cid}/stop", params={"t": str(int(grace_s))})

    def naive_deploy(self, service: str, processes: Sequence[str]) -> None:
        """Restart every replica at once: no rotation, no draining, no readiness gate."""
        with self._lock:
            for cid in [self._one(name) for name in processes]:
                self._call("POST", f"/containers/{cid}/restart", params={"t": "0"})


def _poll(predicate: Callable[[], bool], deadline_s: float, what: str) -> None:
    import time

    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise SupervisorError(f"{what} within {deadline_s:g} s")
        time.sleep(0.2)  # a poll interval with a deadline, not synchronisation
