"""The compose lab's containers, driven through the Docker Engine API: kill, start, stop, pid.

`chaoslab.compose_lab.ComposeLab` builds the lab's process operations on these per-service
calls, so power loss and deploys run the embedded lab's own logic
(`mock_services.lab.operations`) on containers: power loss is `kill` (SIGKILL) of the rack's
containers and `start` after the outage; a deploy is `stop` and `start` of the portal's.

It speaks the Engine API over the Unix socket with httpx (no docker SDK dependency). Each call
opens and closes its own connection unless a client is injected: a supervisor that outlives
its test run leaves no socket open (with warnings as errors, an unclosed socket found by the
garbage collector fails a pytest run in which every test passed). Tests inject an
`httpx.MockTransport` client, or point `socket` at a real engine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from faults.errors import SupervisorError, UnknownTarget

DOCKER_SOCKET = Path("/var/run/docker.sock")
API = "http://docker/v1.41"  # Engine API 1.41 (Docker 20.10+): every call used here exists there
KILL_TIMEOUT_S = 10.0  # a SIGKILLed container is gone in well under a second
CALL_TIMEOUT_S = 30.0
SERVICE_LABEL = "chaoslab.service"
POLL_S = 0.2


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
    """Kills, starts and stops a compose project's containers by service; a call returns when
    the engine reports it done.

    `wait` is the injected poll: `wait(predicate, deadline_s, what)` returns when predicate()
    is true or raises SupervisorError saying `what` did not happen in time ("container X did
    not stop after SIGKILL"); the default polls every 0.2 s.
    """

    def __init__(self, client: httpx.Client | None = None, project: str = "chaoslab",
                 wait: Callable[[Callable[[], bool], float, str], None] | None = None,
                 socket: Path | None = None) -> None:
        self.client = client
        self.socket = socket or DOCKER_SOCKET
        self.project = project
        self.wait = wait or _poll
        self._lock = threading.Lock()  # the injector may deploy from a second thread

    def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        if self.client is not None:
            return self.client.request(method, f"{API}{path}", **kwargs)  # type: ignore[arg-type]
        if not self.socket.exists():  # httpcore 1.0 leaks the socket of a failed Unix connect
            raise httpx.ConnectError(f"no socket at {self.socket}")
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(transport=transport, timeout=CALL_TIMEOUT_S) as client:
            return client.request(method, f"{API}{path}", **kwargs)  # type: ignore[arg-type]

    def _call(self, method: str, path: str, *, tolerate: tuple[int, ...] = (),
              **kwargs: object) -> httpx.Response:
        try:
            response = self._request(method, path, **kwargs)
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

    def _state(self, cid: str) -> dict[str, object]:
        state: dict[str, object] = self._call("GET", f"/containers/{cid}/json").json()["State"]
        return state

    def _stopped_probe(self, cids: Sequence[str]) -> Callable[[], bool]:
        return lambda: not any(self._state(cid).get("Running") for cid in cids)

    def _signal(self, cids: Sequence[str], signal: str) -> None:
        for cid in cids:  # 409: the container is not running, which is what a signal wants
            self._call("POST", f"/containers/{cid}/kill", params={"signal": signal},
                       tolerate=(409,))

    def _kill(self, cids: Sequence[str]) -> None:
        self._signal(cids, "SIGKILL")
        # the engine answers the kill before the state says exited
        self.wait(self._stopped_probe(cids), KILL_TIMEOUT_S,
                  f"container {', '.join(c[:12] for c in cids)} did not stop after SIGKILL")

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

    def pid(self, service: str) -> int | None:
        """The host pid of the container's main process; None while it is not running.

        A restarted container has a new one: this is how a deploy shows it was redeployed.
        """
        state = self._state(self._one(service))
        pid = state.get("Pid")
        return pid if state.get("Running") and isinstance(pid, int) and pid > 0 else None

    def kill(self, services: Sequence[str]) -> None:
        """SIGKILL the containers of `services` and wait until none runs (one already stopped
        is fine)."""
        with self._lock:
            self._kill([self._one(name) for name in services])

    def start(self, services: Sequence[str]) -> None:
        """Start the containers of `services` (not waiting for their healthcheck)."""
        with self._lock:
            for cid in [self._one(name) for name in services]:
                self._call("POST", f"/containers/{cid}/start")

    def freeze(self, services: Sequence[str], frozen: bool) -> None:
        """Freeze (the engine's `pause`: every process of the container stopped at once, as
        SIGSTOP stops an embedded lab's process group) or thaw the containers of `services`;
        one already so, or not running, is fine."""
        verb = "pause" if frozen else "unpause"
        with self._lock:
            for cid in [self._one(name) for name in services]:
                # an engine refuses one already so: 409 today, 500 in 20.10 ("is not paused")
                r = self._call("POST", f"/containers/{cid}/{verb}", tolerate=(409, 500))
                if r.status_code in (409, 500):
                    state = self._state(cid)
                    if state.get("Running") and bool(state.get("Paused")) != frozen:
                        raise SupervisorError(f"docker engine: POST /containers/{cid}/{verb} "
                                              f"answered {r.status_code} {r.text.strip()}")

    def stop(self, services: Sequence[str], grace_s: float) -> None:
        """SIGTERM the containers of `services` all at once, wait until every one has exited,
        and SIGKILL those still running after `grace_s`.

        Every container is signalled before any is waited for: the engine's own `stop` blocks
        until its container exits, so stopping replicas one after another would leave the
        last serving while the first drains, and "all at once" would not be.
        """
        with self._lock:
            cids = [self._one(name) for name in services]
            self._signal(cids, "SIGTERM")
            try:
                self.wait(self._stopped_probe(cids), grace_s,
                          f"containers of {', '.join(services)} did not stop after SIGTERM")
            except SupervisorError:  # outlived the grace period: cut them, as `stop` does
                self._kill([c for c in cids if self._state(c).get("Running")])


def _poll(predicate: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise SupervisorError(f"{what} within {deadline_s:g} s")
        time.sleep(POLL_S)  # a poll interval with a deadline, not synchronisation
