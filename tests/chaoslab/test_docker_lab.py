"""The compose lab's container calls, against an in-memory engine and against real sockets.

The fake engine (httpx.MockTransport) keeps containers with labels, a running flag and a pid
and records every call, so the tests check what reaches the engine: SIGKILL for a kill, every
replica signalled before any is waited for on a stop, a new pid after a restart, one sentence
for an engine error. A real Unix-socket server checks that a supervisor leaves no connection
open; the docker-marked tests run real containers where an engine and an image are at hand
(`make compose-test` runs them after it builds the images).
"""

from __future__ import annotations

import gc
import http.server
import json
import secrets
import socketserver
import subprocess
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from chaoslab import docker_lab
from chaoslab.docker_lab import DockerSupervisor, engine_available
from faults.errors import SupervisorError, UnknownTarget


@dataclass
class FakeEngine:
    containers: dict[str, dict[str, str]]  # id -> labels
    running: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    fail_on: str = ""
    stubborn: set[str] = field(default_factory=set)  # ignore SIGTERM
    paused: set[str] = field(default_factory=set)
    pids: dict[str, int] = field(default_factory=dict)
    next_pid: int = 100

    def __post_init__(self) -> None:
        for cid in self.containers:
            self._start(cid)

    def _start(self, cid: str) -> None:
        if cid not in self.running:
            self.running.add(cid)
            self.next_pid += 1
            self.pids[cid] = self.next_pid

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1.41")
        call = f"{request.method} {path}"
        if self.fail_on and self.fail_on in call:
            return httpx.Response(500, text="engine is sad")
        if path == "/containers/json":
            labels = json.loads(request.url.params["filters"])["label"]
            # the engine's label filter: "key=value" matches that value, "key" any value
            wanted = [label.partition("=") for label in labels]
            found = [{"Id": cid, "Labels": lab,
                      "State": "running" if cid in self.running else "exited"}
                     for cid, lab in self.containers.items()
                     if all(k in lab and (not eq or lab[k] == v) for k, eq, v in wanted)]
            return httpx.Response(200, json=found)
        self.calls.append(call + (f"?{request.url.query.decode()}" if request.url.query else ""))
        cid = path.split("/")[2]
        if path.endswith("/kill"):
            if cid not in self.running:
                return httpx.Response(409, text=f"container {cid} is not running")
            if request.url.params["signal"] == "SIGKILL" or cid not in self.stubborn:
                self.running.discard(cid)
        elif path.endswith("/start"):
            self._start(cid)
        elif path.endswith("/pause") or path.endswith("/unpause"):
            frozen = path.endswith("/pause")
            if (cid in self.paused) == frozen:  # what dockerd 20.10 answers
                return httpx.Response(500, json={"message": f"Container {cid} is "
                                                 f"{'already' if frozen else 'not'} paused"})
            (self.paused.add if frozen else self.paused.discard)(cid)
        elif path.endswith("/json"):
            up = cid in self.running
            return httpx.Response(200, json={"State": {"Running": up, "Paused": cid in self.paused,
                                                       "Pid": self.pids[cid] if up else 0}})
        return httpx.Response(204)


def posts(engine: FakeEngine) -> list[str]:
    """The calls that change something (the GETs are the supervisor's polls)."""
    return [c for c in engine.calls if not c.startswith("GET")]


def labels(service: str, rack: str) -> dict[str, str]:
    return {"chaoslab.service": service, "chaoslab.rack": rack,
            "com.docker.compose.project": "chaoslab"}


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine({"c-pa": labels("portal-a", "rack-a"), "c-sh": labels("shahkar", "rack-a"),
                       "c-pb": labels("portal-b", "rack-b")})


def no_wait(predicate: Callable[[], bool], deadline_s: float, what: str) -> None:
    if not predicate():
        raise SupervisorError(f"{what} within {deadline_s:g} s")


def supervisor(engine: FakeEngine) -> DockerSupervisor:
    client = httpx.Client(transport=httpx.MockTransport(engine.handler))
    return DockerSupervisor(client, wait=no_wait)


def test_kill_start_and_running_per_service(engine: FakeEngine) -> None:
    sup = supervisor(engine)
    assert sup.running() == {"portal-a": True, "shahkar": True, "portal-b": True}
    sup.kill(["portal-a"])
    sup.kill(["portal-a"])  # already dead: the engine's 409 is what a kill wants
    assert sup.running()["portal-a"] is False
    sup.start(["portal-a"])
    assert posts(engine) == ["POST /containers/c-pa/kill?signal=SIGKILL",
                             "POST /containers/c-pa/kill?signal=SIGKILL",
                             "POST /containers/c-pa/start"]
    # each kill waited for the engine to report the container stopped
    assert engine.calls.count("GET /containers/c-pa/json") == 2
    assert sup.running() == {"portal-a": True, "shahkar": True, "portal-b": True}
    with pytest.raises(UnknownTarget, match="no container of project 'chaoslab' runs 'nope'"):
        sup.start(["nope"])


def test_stop_signals_every_replica_before_waiting_for_any(engine: FakeEngine) -> None:
    """All at once means all at once: the engine's blocking `stop`, one container after the
    other, left the second replica serving while the first drained."""
    supervisor(engine).stop(["portal-a", "portal-b"], grace_s=7)
    assert engine.calls[:2] == ["POST /containers/c-pa/kill?signal=SIGTERM",
                                "POST /containers/c-pb/kill?signal=SIGTERM"]
    assert all(c.startswith("GET") for c in engine.calls[2:])
    assert engine.running == {"c-sh"}


def test_a_replica_that_outlives_its_grace_is_killed(engine: FakeEngine) -> None:
    engine.stubborn = {"c-pb"}
    supervisor(engine).stop(["portal-a", "portal-b"], grace_s=1)
    assert posts(engine) == ["POST /containers/c-pa/kill?signal=SIGTERM",
                             "POST /containers/c-pb/kill?signal=SIGTERM",
                             "POST /containers/c-pb/kill?signal=SIGKILL"]
    assert engine.running == {"c-sh"}


def test_pid_is_the_containers_and_changes_on_restart(engine: FakeEngine) -> None:
    sup = supervisor(engine)
    before = sup.pid("portal-a")
    assert isinstance(before, int)
    sup.stop(["portal-a"], grace_s=1)
    assert sup.pid("portal-a") is None
    sup.start(["portal-a"])
    after = sup.pid("portal-a")
    assert after is not None and after != before
    assert sup.pid("portal-b") != after


def test_freeze_and_thaw_tolerate_a_container_already_so(engine: FakeEngine) -> None:
    sup = supervisor(engine)
    sup.freeze(["portal-a"], False)  # not paused: dockerd 20.10 answers 500, which is fine
    sup.freeze(["portal-a"], True)
    sup.freeze(["portal-a"], True)
    assert engine.paused == {"c-pa"}
    sup.freeze(["portal-a"], False)
    assert engine.paused == set()
    engine.fail_on = "/pause"  # a refusal that leaves the container as it was is an error
    with pytest.raises(SupervisorError, match="answered 500 engine is sad"):
        sup.freeze(["portal-a"], True)


def test_engine_errors_are_one_sentence(engine: FakeEngine) -> None:
    engine.fail_on = "/kill"
    with pytest.raises(SupervisorError, match="answered 500 engine is sad"):
        supervisor(engine).kill(["portal-a"])
    with pytest.raises(SupervisorError, match=r"GET /containers/json failed \(no socket at "
                                              r"/nonexistent/docker.sock\); expected a running "
                                              "engine on its socket"):
        DockerSupervisor(socket=Path("/nonexistent/docker.sock")).running()


def test_a_kill_the_engine_never_completes_is_named(engine: FakeEngine) -> None:
    original = engine.handler

    def stuck(request: httpx.Request) -> httpx.Response:
        response = original(request)
        if request.url.path.endswith("/kill"):
            engine.running.add(request.url.path.split("/")[3])  # the state never says exited
        return response

    engine.handler = stuck  # type: ignore[method-assign]
    with pytest.raises(SupervisorError, match="container c-pa did not stop after SIGKILL"):
        supervisor(engine).kill(["portal-a"])


# -- a real socket -----------------------------------------------------------------------------


class _EngineHandler(http.server.BaseHTTPRequestHandler):
    """Answers /containers/json with one container, over keep-alive HTTP/1.1 (as dockerd)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps([{"Id": "c1", "State": "running",
                            "Labels": {"chaoslab.service": "portal-a"}}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def unix_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A minimal engine on a real Unix socket, made the supervisor's default socket."""
    path = tmp_path / "docker.sock"
    server = _UnixServer(str(path), _EngineHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(docker_lab, "DOCKER_SOCKET", path)
    yield path
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.network
def test_a_supervisor_leaves_no_connection_open(unix_engine: Path) -> None:
    """A supervisor of the chaos session is dropped at exit, never closed: an open keep-alive
    socket then becomes a ResourceWarning, which fails a run in which every test passed."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sup = DockerSupervisor()
        assert sup.running() == {"portal-a": True}
        assert sup.running() == {"portal-a": True}
        del sup
        gc.collect()
    leaks = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
    assert not leaks, leaks


# -- a real engine ------------------------------------------------------------------------------

IMAGES = ("chaoslab:local", "chaoslab-base:bookworm", "python:3.11-slim")
# Each container, on SIGTERM, says so in the shared directory and exits 0 once every other
# container has said so too; it gives up after 20 s with exit 3. Stopped one after another,
# the first would wait for a SIGTERM the second only gets once the first has exited.
RENDEZVOUS = """
import os, signal, sys, time
me, peers = sys.argv[1], sys.argv[2:]
def term(*_):
    open(f"/shared/{me}", "w").close()
    end = time.monotonic() + 20
    while not all(os.path.exists(f"/shared/{p}") for p in peers):
        if time.monotonic() > end:
            os._exit(3)
        time.sleep(0.05)
    os._exit(0)
signal.signal(signal.SIGTERM, term)
open(f"/shared/{me}.up", "w").close()
while True:
    signal.pause()
"""


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def _image() -> str | None:
    if not engine_available():
        return None
    for image in IMAGES:
        if _docker("image", "inspect", image).returncode == 0:
            return image
    return None


@pytest.fixture
def real_replicas(tmp_path: Path) -> Iterator[tuple[DockerSupervisor, Path, list[str]]]:
    """Two containers of a throwaway project on a real engine, removed at teardown."""
    image = _image()
    if image is None:
        pytest.skip(f"needs a Docker engine and one of {', '.join(IMAGES)} "
                    "(make compose-test builds chaoslab:local)")
    project = f"chaoslab-test-{secrets.token_hex(4)}"
    names = ["replica-a", "replica-b"]
    ids: list[str] = []
    try:
        for name in names:
            peers = [n for n in names if n != name]
            proc = _docker("run", "-d", "--user", "0", "--entrypoint", "python",
                           "--label", f"com.docker.compose.project={project}",
                           "--label", f"chaoslab.service={name}",
                           "-v", f"{tmp_path}:/shared", image, "-c", RENDEZVOUS, name, *peers)
            assert proc.returncode == 0, proc.stderr
            ids.append(proc.stdout.strip())
        yield DockerSupervisor(project=project), tmp_path, names
    finally:
        if ids:
            _docker("rm", "-f", *ids)


def _exit_code(project: str, name: str) -> object:
    proc = _docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                   "--filter", f"label=chaoslab.service={name}", "--format", "{{.ID}}")
    return json.loads(_docker("inspect", proc.stdout.strip()).stdout)[0]["State"]["ExitCode"]


@pytest.mark.docker
@pytest.mark.slow
def test_real_replicas_stop_together_and_restart_with_new_pids(
        real_replicas: tuple[DockerSupervisor, Path, list[str]]) -> None:
    sup, shared, names = real_replicas
    sup.wait(lambda: all((shared / f"{n}.up").exists() for n in names), 30,
             "the replicas did not install their SIGTERM handlers")
    before = {n: sup.pid(n) for n in names}
    assert all(isinstance(p, int) for p in before.values()), before
    sup.stop(names, grace_s=30)  # the rendezvous gives up after 20 s: no SIGKILL in between
    assert sup.running() == dict.fromkeys(names, False)
    assert [_exit_code(sup.project, n) for n in names] == [0, 0]  # each saw the other's TERM
    assert {n: sup.pid(n) for n in names} == dict.fromkeys(names)
    for name in names:
        (shared / name).unlink()
    sup.start(names)
    after = {n: sup.pid(n) for n in names}
    assert all(after[n] is not None and after[n] != before[n] for n in names), (before, after)
