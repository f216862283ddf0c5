"""The compose lab's supervisor against an in-memory Docker engine (httpx.MockTransport).

The fake keeps containers with labels and a running flag and records every call, so the
tests check what reaches the engine: SIGKILL for power loss, one replica at a time for a
rolling deploy, all at once for a naive one, one sentence for an engine error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from chaoslab.docker_lab import DockerSupervisor
from faults.errors import SupervisorError, UnknownTarget


@dataclass
class FakeEngine:
    containers: dict[str, dict[str, str]]  # id -> labels
    running: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    fail_on: str = ""
    sick: set[str] = field(default_factory=set)  # started, but the healthcheck never passes

    def __post_init__(self) -> None:
        self.running = set(self.containers)

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
        if path.endswith("/kill") and cid not in self.running:
            return httpx.Response(409, text=f"container {cid} is not running")
        if path.endswith("/kill") or path.endswith("/stop"):
            self.running.discard(cid)
        elif path.endswith("/start") and path.startswith("/containers"):
            self.running.add(cid)
        elif path.endswith("/json") and path.startswith("/containers"):
            healthy = cid in self.running and cid not in self.sick
            health = {"Status": "healthy" if healthy else "unhealthy"}
            return httpx.Response(200, json={"State": {"Running": cid in self.running,
                                                       "Health": health}})
        elif path.endswith("/exec"):
            return httpx.Response(201, json={"Id": f"exec-{cid}"})
        elif path.startswith("/exec") and path.endswith("/json"):
            return httpx.Response(200, json={"ExitCode": 0})
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


def test_power_loss_kills_exactly_the_rack_with_sigkill(engine: FakeEngine) -> None:
    sup = supervisor(engine)
    sup.kill_rack("rack-a")
    assert engine.running == {"c-pb"}
    assert sorted(engine.calls) == ["POST /containers/c-pa/kill?signal=SIGKILL",
                                    "POST /containers/c-sh/kill?signal=SIGKILL"]
    sup.restart_rack("rack-a")
    assert engine.running == {"c-pa", "c-sh", "c-pb"}


def test_rolling_deploy_takes_one_replica_at_a_time(engine: FakeEngine) -> None:
    supervisor(engine).rolling_deploy("portal", ["portal-a", "portal-b"], drain_s=5)
    steps = [c for c in engine.calls if not c.startswith("GET")]
    assert steps == [
        "POST /containers/c-pa/exec", "POST /exec/exec-c-pa/start",
        "POST /containers/c-pa/stop?t=5", "POST /containers/c-pa/start",
        "POST /containers/c-pa/exec", "POST /exec/exec-c-pa/start",
        "POST /containers/c-pb/exec", "POST /exec/exec-c-pb/start",
        "POST /containers/c-pb/stop?t=5", "POST /containers/c-pb/start",
        "POST /containers/c-pb/exec", "POST /exec/exec-c-pb/start",
    ]


def test_naive_deploy_restarts_all_at_once_without_draining(engine: FakeEngine) -> None:
    supervisor(engine).naive_deploy("portal", ["portal-a", "portal-b"])
    assert engine.calls == ["POST /containers/c-pa/restart?t=0",
                            "POST /containers/c-pb/restart?t=0"]


def test_engine_errors_and_unknown_targets_are_one_sentence(engine: FakeEngine) -> None:
    with pytest.raises(UnknownTarget, match="no container of project 'chaoslab' is on 'rack-z'"):
        supervisor(engine).kill_rack("rack-z")
    engine.fail_on = "/kill"
    with pytest.raises(SupervisorError, match="answered 500 engine is sad"):
        supervisor(engine).kill_rack("rack-a")


def test_a_container_that_never_gets_healthy_is_named(engine: FakeEngine) -> None:
    engine.sick = {"c-pb"}
    sup = supervisor(engine)
    sup.kill_rack("rack-b")
    with pytest.raises(SupervisorError, match="container c-pb of rack-b did not become healthy"):
        sup.restart_rack("rack-b")
    with pytest.raises(SupervisorError, match="portal replica portal-b did not become healthy"):
        sup.rolling_deploy("portal", ["portal-b"], drain_s=1)


def test_per_service_calls_kill_start_stop_and_report_running(engine: FakeEngine) -> None:
    sup = supervisor(engine)
    assert sup.running() == {"portal-a": True, "shahkar": True, "portal-b": True}
    sup.kill(["portal-a"])
    sup.kill(["portal-a"])  # already dead: the engine's 409 is what a kill wants
    assert sup.running()["portal-a"] is False
    sup.start(["portal-a"])
    sup.stop(["portal-b"], grace_s=7)
    assert posts(engine) == ["POST /containers/c-pa/kill?signal=SIGKILL",
                             "POST /containers/c-pa/kill?signal=SIGKILL",
                             "POST /containers/c-pa/start", "POST /containers/c-pb/stop?t=7"]
    # each kill waited for the engine to report the container stopped
    assert engine.calls.count("GET /containers/c-pa/json") == 2
    assert sup.running() == {"portal-a": True, "shahkar": True, "portal-b": False}
    with pytest.raises(UnknownTarget, match="no container of project 'chaoslab' runs 'nope'"):
        sup.start(["nope"])


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
