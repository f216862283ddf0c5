"""The injector on in-memory ports: faults applied, recorded, and always healed."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator, Sequence

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from faults.actions import Deploy
from faults.admin import HttpUpstreamAdmin, RecordingAdmin
from faults.catalog import (
    DegradedReplica,
    DeploymentWindow,
    Fault,
    NetworkLoss,
    PeakLoad,
    PowerLoss,
    RawToxic,
    RefreshStorm,
    ReplicaFailure,
    SlowUpstream,
    SwitchFailure,
    UpstreamOutage,
)
from faults.client import ProxySpec, ToxiproxyClient
from faults.errors import AdminError, FaultError, HealError, ProxyNotFound, SupervisorError
from faults.injector import DeployHandle, Injector
from faults.proxies import MemoryProxies
from faults.schedule import Window, fixed_schedule, random_schedule
from faults.supervisor import RecordingSupervisor, Supervisor
from faults.topology import FaultTopology, Link
from faults.toxics import ToxicSpec
from scenario.history import FAULT_START, FAULT_STOP, History
from tests.faults.test_catalog import TOPOLOGY


class ManualClock:
    """A run clock that only moves when told."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s

    def wait_until(self, time_s: float) -> None:
        self.now_s = max(self.now_s, time_s)


class Lab:
    """An injector wired to in-memory proxies, supervisor and admin routes."""

    def __init__(self, topology: FaultTopology = TOPOLOGY, fail: frozenset[str] = frozenset()):
        self.clock = ManualClock()
        self.history = History()
        self.proxies = MemoryProxies(link.proxy for link in topology.links.values())
        self.supervisor = RecordingSupervisor(topology.racks, fail=fail)
        self.admin = RecordingAdmin()
        self.injector = Injector(topology, self.history, self.clock, self.proxies,
                                 supervisor=self.supervisor, admin=self.admin)

    def faults(self) -> list[tuple[str, str, str, float]]:
        return [(op.f, op.value, op.key, op.time_s) for op in self.history]

    def healed(self) -> bool:
        return (self.proxies.healthy() and not self.injector.active
                and all(mode == "ok" for mode in self.admin.modes.values())
                and self.supervisor.up == {p for procs in TOPOLOGY.racks.values() for p in procs})


@pytest.fixture
def lab() -> Iterator[Lab]:
    yield Lab()


def test_a_switch_failure_is_applied_recorded_and_healed(lab: Lab) -> None:
    lab.clock.now_s = 12.5
    applied = lab.injector.apply(SwitchFailure(switch="sw-b"))
    assert lab.proxies.enabled == {"citizens_portal": True, "pharmacy_portal": False,
                                   "portal_shahkar": True, "portal_payment": False}
    lab.clock.now_s = 40.0
    lab.injector.heal(applied)
    lab.injector.heal(applied)  # healing twice is a no-op
    assert lab.faults() == [(FAULT_START, "switch_failure", "sw-b", 12.5),
                            (FAULT_STOP, "switch_failure", "sw-b", 40.0)]
    assert lab.healed()


def test_the_context_manager_heals_when_the_body_raises(lab: Lab) -> None:
    with pytest.raises(RuntimeError, match="boom"), \
         lab.injector.fault(SlowUpstream(link="portal->shahkar")):
        assert lab.proxies.toxics["portal_shahkar"]
        raise RuntimeError("boom")
    assert lab.healed()
    assert [f for f, *_ in lab.faults()] == [FAULT_START, FAULT_STOP]


def test_the_context_manager_heals_on_keyboard_interrupt(lab: Lab) -> None:
    with pytest.raises(KeyboardInterrupt), lab.injector.fault(PowerLoss(rack="rack-1")):
        assert "portal-1" not in lab.supervisor.up
        raise KeyboardInterrupt
    assert lab.healed()
    assert lab.supervisor.calls == [("kill_rack", "rack-1"), ("restart_rack", "rack-1")]


def test_heal_all_heals_everything_newest_first(lab: Lab) -> None:
    lab.injector.apply(NetworkLoss(link="pharmacy->portal"))
    lab.injector.apply(UpstreamOutage(link="portal->shahkar", mode="http_503"))
    lab.injector.apply(PowerLoss(rack="rack-2"))
    assert lab.admin.modes == {"portal->shahkar": "unavailable"}
    lab.injector.heal_all()
    assert lab.healed()
    stops = [kind for f, kind, _, _ in lab.faults() if f == FAULT_STOP]
    assert stops == ["power_loss", "upstream_outage", "network_loss"]


def test_a_proxy_held_down_by_two_faults_comes_back_with_the_last(lab: Lab) -> None:
    switch = lab.injector.apply(SwitchFailure(switch="sw-a"))
    outage = lab.injector.apply(UpstreamOutage(link="portal->shahkar"))
    lab.injector.heal(switch)
    assert lab.proxies.enabled["portal_shahkar"] is False
    assert lab.proxies.enabled["citizens_portal"] is True
    lab.injector.heal(outage)
    assert lab.healed()


def test_a_partly_applied_fault_is_undone_and_recorded_as_stopped() -> None:
    # The topology names a proxy the server lacks: the second disable fails.
    lab = Lab()
    del lab.proxies.toxics["portal_shahkar"], lab.proxies.enabled["portal_shahkar"]
    with pytest.raises(ProxyNotFound):
        lab.injector.apply(SwitchFailure(switch="sw-a"))
    assert lab.proxies.enabled["citizens_portal"] is True
    assert [f for f, *_ in lab.faults()] == [FAULT_START, FAULT_STOP]
    assert not lab.injector.active


def test_every_heal_step_runs_even_when_one_fails() -> None:
    lab = Lab(fail=frozenset({"restart_rack"}))
    lab.injector.apply(SwitchFailure(switch="sw-b"))
    lab.injector.apply(PowerLoss(rack="rack-1"))
    with pytest.raises(HealError, match="restart_rack failed for 'rack-1'") as info:
        lab.injector.heal_all()
    assert len(info.value.errors) == 1
    assert lab.proxies.healthy()  # the switch was healed after the failed restart
    assert not lab.injector.active
    assert [f for f, *_ in lab.faults()].count(FAULT_STOP) == 2


def test_a_toxic_already_removed_counts_as_healed(lab: Lab) -> None:
    applied = lab.injector.apply(SlowUpstream(link="portal->payment"))
    lab.proxies.toxics["portal_payment"].clear()  # e.g. someone POSTed /reset
    lab.injector.heal(applied)
    assert lab.healed()


def test_a_proxy_deleted_while_down_counts_as_healed(lab: Lab) -> None:
    applied = lab.injector.apply(SwitchFailure(switch="sw-b"))
    del lab.proxies.enabled["portal_payment"], lab.proxies.toxics["portal_payment"]
    lab.injector.heal(applied)
    assert lab.proxies.enabled["pharmacy_portal"] is True
    assert not lab.injector.active


def test_a_fault_needing_a_missing_port_is_refused_before_it_starts() -> None:
    history = History()
    injector = Injector(TOPOLOGY, history, ManualClock(), MemoryProxies(["citizens_portal"]))
    with pytest.raises(FaultError, match="power_loss on 'rack-1' needs a process supervisor"):
        injector.apply(PowerLoss(rack="rack-1"))
    with pytest.raises(FaultError, match="needs the upstream admin client"):
        injector.apply(UpstreamOutage(link="portal->shahkar", mode="http_503"))
    replicas = FaultTopology(links={"client-portal-1": Link("citizens_portal", "sw-a", "client")})
    bare = Injector(replicas, history, ManualClock(), MemoryProxies(["citizens_portal"]))
    with pytest.raises(FaultError, match="replica_failure on 'portal-1' needs a port that "
                       "breaks replicas down \\(work 'resume'\\)"):
        bare.apply(ReplicaFailure(replica="portal-1", work="resume"))
    assert len(history) == 0


class RecordingBreakdowns:
    """A `Breakdowns` port that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def stop_replica(self, replica: str, work: str) -> None:
        self.calls.append(("stop", replica, work))

    def start_replica(self, replica: str, work: str) -> None:
        self.calls.append(("start", replica, work))


def test_a_replica_failure_goes_to_the_breakdowns_port_and_heals() -> None:
    history, port = History(), RecordingBreakdowns()
    replicas = FaultTopology(links={"client-portal-1": Link("citizens_portal", "sw-a", "client")})
    injector = Injector(replicas, history, ManualClock(), MemoryProxies(["citizens_portal"]),
                        breakdowns=port)
    with injector.fault(ReplicaFailure(replica="portal-1", work="restart")):
        assert port.calls == [("stop", "portal-1", "restart")]
    assert port.calls[-1] == ("start", "portal-1", "restart")
    assert [(op.f, op.key) for op in history.ops] == [
        ("fault:start", "portal-1"), ("fault:stop", "portal-1")]


def test_a_degraded_replica_posts_its_speed_to_the_replicas_admin_route() -> None:
    seen: list[tuple[str, dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), json.loads(request.content)))
        return httpx.Response(200)

    replicas = FaultTopology(links={"client-portal-1": Link(
        "citizens_portal", "sw-a", "client", "http://127.0.0.1:9201")})
    admin = HttpUpstreamAdmin(transport=httpx.MockTransport(handler))
    injector = Injector(replicas, History(), ManualClock(), MemoryProxies([]), admin=admin)
    with injector.fault(DegradedReplica(replica="portal-1", speed=0.5)):
        pass
    assert seen == [
        ("http://127.0.0.1:9201/admin/fault",
         {"mode": "ok", "n": 0, "delay_ms": 0, "retry_after_s": 0, "speed": 0.5}),
        ("http://127.0.0.1:9201/admin/fault",
         {"mode": "ok", "n": 0, "delay_ms": 0, "retry_after_s": 0}),
    ]
    admin.close()


def test_deploys_go_to_the_supervisor_and_workload_faults_are_only_recorded(lab: Lab) -> None:
    with lab.injector.fault(DeploymentWindow(service="portal", drain_s=2.0)):
        pass
    with lab.injector.fault(PeakLoad(rate_multiplier=5)), \
         lab.injector.fault(RefreshStorm(max_retries=3)):
        assert lab.injector.active_workload() == (PeakLoad(rate_multiplier=5),
                                                  RefreshStorm(max_retries=3))
    assert lab.injector.active_workload() == ()
    assert lab.supervisor.calls == [("rolling_deploy", "portal", "portal-1", "portal-2")]
    assert [kind for f, kind, _, _ in lab.faults() if f == FAULT_START] == [
        "deployment_window", "peak_load", "refresh_storm"]
    assert lab.proxies.calls == []


class SlowDeploySupervisor(RecordingSupervisor):
    """A supervisor whose rolling deploy takes until `finish` is set, then maybe fails."""

    def __init__(self, fail_deploy: bool) -> None:
        super().__init__(TOPOLOGY.racks)
        self.started, self.finish = threading.Event(), threading.Event()
        self.fail_deploy = fail_deploy

    def rolling_deploy(self, service: str, processes: Sequence[str], *, drain_s: float) -> None:
        self.started.set()
        assert self.finish.wait(timeout=10)
        super().rolling_deploy(service, processes, drain_s=drain_s)
        if self.fail_deploy:
            raise SupervisorError(f"replica {processes[0]} never became ready")


@pytest.mark.parametrize("fail_deploy", [False, True])
def test_a_deploy_runs_alongside_other_faults_and_its_window_waits_for_it(
    fail_deploy: bool,
) -> None:
    lab = Lab()
    supervisor = SlowDeploySupervisor(fail_deploy)
    injector = Injector(TOPOLOGY, lab.history, lab.clock, lab.proxies, supervisor=supervisor)
    deploy = injector.apply(DeploymentWindow(service="portal"))
    assert supervisor.started.wait(timeout=5)
    with injector.fault(SwitchFailure(switch="sw-a")):  # the timeline goes on meanwhile
        assert supervisor.calls == []
    threading.Timer(0.05, supervisor.finish.set).start()
    if fail_deploy:
        with pytest.raises(HealError, match="portal-1 never became ready"):
            injector.heal(deploy)
    else:
        injector.heal(deploy)
    assert supervisor.calls == [("rolling_deploy", "portal", "portal-1", "portal-2")]
    assert [op.value for op in lab.history][-1] == "deployment_window"
    assert not injector.active


class InlineDeploys:
    """A `DeployRunner` that records the deploys it is handed and runs none on a thread."""

    def __init__(self) -> None:
        self.started: list[Deploy] = []
        self.waited = 0

    def start(self, supervisor: Supervisor, action: Deploy) -> DeployHandle:
        self.started.append(action)
        return self

    def wait(self) -> None:
        self.waited += 1


class ShiftLog:
    """A `Workload` port that records every shift."""

    def __init__(self) -> None:
        self.shifts: list[tuple[str, bool]] = []

    def shift(self, fault: PeakLoad | RefreshStorm, on: bool) -> None:
        self.shifts.append((fault.kind, on))


def test_a_deploy_runner_and_a_workload_port_can_be_injected(lab: Lab) -> None:
    deploys, workload = InlineDeploys(), ShiftLog()
    injector = Injector(TOPOLOGY, lab.history, lab.clock, lab.proxies, supervisor=lab.supervisor,
                        deploys=deploys, workload=workload)
    with injector.fault(DeploymentWindow(service="portal", rolling=False)):
        assert deploys.started == [Deploy("portal", ("portal-1", "portal-2"), False, 5.0)]
        assert deploys.waited == 0
    assert deploys.waited == 1
    assert lab.supervisor.calls == []  # the runner, not a thread, called (or not) the supervisor
    with injector.fault(PeakLoad(rate_multiplier=2)), injector.fault(RefreshStorm()):
        assert workload.shifts == [("peak_load", True), ("refresh_storm", True)]
    assert workload.shifts[2:] == [("refresh_storm", False), ("peak_load", False)]
    assert not injector.active


def test_the_http_admin_client_posts_the_contract_body() -> None:
    seen: list[tuple[str, dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), json.loads(request.content)))
        return httpx.Response(200 if len(seen) == 1 else 500, text="nope")

    history = History()
    admin = HttpUpstreamAdmin(transport=httpx.MockTransport(handler))
    injector = Injector(TOPOLOGY, history, ManualClock(), MemoryProxies([]), admin=admin)
    outage = UpstreamOutage(link="portal->shahkar", mode="http_503", retry_after_s=7)
    with pytest.raises(HealError, match="answered HTTP 500: nope") as info, \
         injector.fault(outage):
        pass
    assert isinstance(info.value.errors[0], AdminError)
    assert seen == [
        ("http://127.0.0.1:9101/admin/fault",
         {"mode": "unavailable", "n": 0, "delay_ms": 0, "retry_after_s": 7}),
        ("http://127.0.0.1:9101/admin/fault",
         {"mode": "ok", "n": 0, "delay_ms": 0, "retry_after_s": 0}),
    ]
    admin.close()


def test_replay_follows_the_schedule_on_the_run_clock(lab: Lab) -> None:
    slow = SlowUpstream(link="portal->shahkar")
    schedule = fixed_schedule([Window(5, 20, slow), Window(10, 30, SwitchFailure(switch="sw-b"))],
                              horizon_s=60, heal_s=10)
    lab.injector.replay(schedule, lab.clock.wait_until)
    assert lab.faults() == [
        (FAULT_START, "slow_upstream", "portal->shahkar", 5.0),
        (FAULT_START, "switch_failure", "sw-b", 10.0),
        (FAULT_STOP, "slow_upstream", "portal->shahkar", 20.0),
        (FAULT_STOP, "switch_failure", "sw-b", 30.0),
    ]
    assert lab.clock.now_s == 50.0
    assert lab.healed()


def test_replay_heals_when_interrupted(lab: Lab) -> None:
    schedule = fixed_schedule([Window(5, 40, PowerLoss(rack="rack-2"))], horizon_s=60,
                              heal_s=10)

    def wait_until(time_s: float) -> None:
        if time_s > 5:
            raise KeyboardInterrupt
        lab.clock.wait_until(time_s)

    with pytest.raises(KeyboardInterrupt):
        lab.injector.replay(schedule, wait_until)
    assert lab.healed()


CHOICES: tuple[Fault, ...] = (
    SwitchFailure(switch="sw-a"), SwitchFailure(switch="sw-b"),
    SlowUpstream(link="portal->shahkar"), SlowUpstream(link="portal->payment", mode="bandwidth"),
    UpstreamOutage(link="portal->shahkar", mode="http_503"),
    UpstreamOutage(link="portal->payment", mode="reset_peer"),
    UpstreamOutage(link="portal->shahkar"), UpstreamOutage(link="portal->payment"),
    NetworkLoss(link="citizens->portal"), NetworkLoss(link="pharmacy->portal", mode="cut_upload"),
    PowerLoss(rack="rack-1"), PowerLoss(rack="rack-2"), PeakLoad(),
)


@given(seed=st.integers(0, 2**32))
def test_any_random_schedule_replayed_ends_healed_with_every_start_stopped(seed: int) -> None:
    lab = Lab()
    schedule = random_schedule(seed, CHOICES, horizon_s=600, heal_s=60, mtbf_s=60,
                               mttr_s=30)
    lab.injector.replay(schedule, lab.clock.wait_until)
    assert lab.healed()
    starts = [(kind, key) for f, kind, key, _ in lab.faults() if f == FAULT_START]
    stops = [(kind, key) for f, kind, key, _ in lab.faults() if f == FAULT_STOP]
    assert sorted(starts) == sorted(stops)
    assert len(starts) == len(schedule.windows)
    assert all(t <= schedule.heal_at_s for *_, t in lab.faults())


class InjectorMachine(RuleBasedStateMachine):
    """Random applies and heals against a model: the set of faults in effect."""

    def __init__(self) -> None:
        super().__init__()
        self.lab = Lab()
        self.model: dict[int, Fault] = {}

    @precondition(lambda self: len(self.model) < 6)
    @rule(fault=st.sampled_from(CHOICES))
    def apply(self, fault: Fault) -> None:
        if any(f.target == fault.target for f in self.model.values()):
            return  # schedules never overlap one target; neither does this machine
        self.model[self.lab.injector.apply(fault).seq] = fault

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def heal(self, data: st.DataObject) -> None:
        applied = data.draw(st.sampled_from(self.lab.injector.active))
        self.lab.injector.heal(applied)
        del self.model[applied.seq]

    @rule()
    def heal_all(self) -> None:
        self.lab.injector.heal_all()
        self.model.clear()

    @invariant()
    def the_lab_matches_the_model(self) -> None:
        down = {p for f in self.model.values() if isinstance(f, SwitchFailure)
                for p in TOPOLOGY.proxies_on_switch(f.switch)}
        down |= {TOPOLOGY.link(f.link).proxy for f in self.model.values()
                 if isinstance(f, UpstreamOutage) and f.mode == "disabled"}
        assert {p for p, on in self.lab.proxies.enabled.items() if not on} == down
        toxic_count = sum(len(f.plan(TOPOLOGY, "m")) for f in self.model.values()
                          if isinstance(f, SlowUpstream | NetworkLoss)
                          or (isinstance(f, UpstreamOutage) and f.mode == "reset_peer"))
        assert sum(len(t) for t in self.lab.proxies.toxics.values()) == toxic_count
        racks_down = {f.rack for f in self.model.values() if isinstance(f, PowerLoss)}
        assert self.lab.supervisor.up == {p for r, procs in TOPOLOGY.racks.items()
                                          if r not in racks_down for p in procs}
        outages = {f.link for f in self.model.values()
                   if isinstance(f, UpstreamOutage) and f.mode == "http_503"}
        assert {u for u, m in self.lab.admin.modes.items() if m != "ok"} == outages
        assert len(self.lab.injector.active) == len(self.model)

    def teardown(self) -> None:
        self.lab.injector.heal_all()
        assert self.lab.healed()


TestInjectorMachine = InjectorMachine.TestCase


# --- Live: each network fault through the injector, on a real proxy, on real sockets ---------

ROUND_TRIP_TIMEOUT_S = 2.0  # loopback echo answers in milliseconds; 2 s bounds a stuck test


class EchoHandler(socketserver.BaseRequestHandler):
    """Echo every chunk back until the client closes."""

    def handle(self) -> None:
        self.request.settimeout(10)
        with contextlib.suppress(OSError):
            while chunk := self.request.recv(65536):
                self.request.sendall(chunk)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def echo_address() -> Iterator[str]:
    server = EchoServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host, int(port)


def round_trip(listen: str, payload: bytes = b"ping") -> bytes:
    """Send `payload` through a fresh connection and read the echo (b"" when closed early)."""
    with socket.create_connection(_address(listen), timeout=ROUND_TRIP_TIMEOUT_S) as conn:
        conn.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


class LiveLab:
    """A topology of real proxies (each in front of the echo server) and an injector on it."""

    def __init__(self, url: str, echo: str) -> None:
        self.client = ToxiproxyClient(url, timeout_s=5)
        suffix = uuid.uuid4().hex[:8]
        names = {"citizens->portal": ("sw-a", "client"), "portal->shahkar": ("sw-a", "upstream"),
                 "pharmacy->portal": ("sw-b", "client")}
        self.proxies = {
            link: self.client.create_proxy(ProxySpec(f"{link.replace('->', '_')}_{suffix}", echo))
            for link in names
        }
        self.topology = FaultTopology(links={
            link: Link(self.proxies[link].name, switch, kind)  # type: ignore[arg-type]
            for link, (switch, kind) in names.items()})
        self.history = History()
        self.clock = ManualClock()
        self.injector = Injector(self.topology, self.history, self.clock, self.client)

    def listen(self, link: str) -> str:
        return self.proxies[link].listen

    def close(self) -> None:
        with contextlib.suppress(FaultError):
            self.injector.heal_all()
        for proxy in self.proxies.values():
            with contextlib.suppress(FaultError):
                self.client.delete_proxy(proxy.name)
        self.client.close()


@pytest.fixture
def live(toxiproxy_url: str, echo_address: str) -> Iterator[LiveLab]:
    lab = LiveLab(toxiproxy_url, echo_address)
    yield lab
    lab.close()


@pytest.mark.network
def test_live_switch_failure_refuses_connections_and_heal_restores_them(live: LiveLab) -> None:
    assert round_trip(live.listen("citizens->portal")) == b"ping"
    with live.injector.fault(SwitchFailure(switch="sw-a")):
        for link in ("citizens->portal", "portal->shahkar"):
            with pytest.raises(ConnectionRefusedError):
                round_trip(live.listen(link))
        assert round_trip(live.listen("pharmacy->portal")) == b"ping"  # the other switch
    assert round_trip(live.listen("citizens->portal")) == b"ping"
    assert round_trip(live.listen("portal->shahkar")) == b"ping"


@pytest.mark.network
def test_live_switch_failure_drops_open_connections(live: LiveLab) -> None:
    with socket.create_connection(_address(live.listen("citizens->portal")),
                                  timeout=ROUND_TRIP_TIMEOUT_S) as conn:
        conn.sendall(b"hello")
        assert conn.recv(16) == b"hello"
        with live.injector.fault(SwitchFailure(switch="sw-a")):
            with contextlib.suppress(OSError):
                conn.sendall(b"more")
            try:
                leftover = conn.recv(16)
            except OSError:
                leftover = b""
            assert leftover == b""


@pytest.mark.network
def test_live_faults_heal_when_the_body_raises(live: LiveLab) -> None:
    with pytest.raises(RuntimeError), \
         live.injector.fault(NetworkLoss(link="pharmacy->portal")), \
         live.injector.fault(SwitchFailure(switch="sw-a")):
        raise RuntimeError("the scenario crashed")
    for link in ("citizens->portal", "portal->shahkar", "pharmacy->portal"):
        assert round_trip(live.listen(link)) == b"ping"
        proxy = live.client.get_proxy(live.proxies[link].name)
        assert proxy.enabled and proxy.toxics == ()
    assert [op.f for op in live.history] == [FAULT_START, FAULT_START, FAULT_STOP, FAULT_STOP]


@pytest.mark.network
def test_live_slow_upstream_delays_the_answer(live: LiveLab) -> None:
    link = "portal->shahkar"
    with live.injector.fault(SlowUpstream(link=link, latency_ms=400)):
        started = time.monotonic()
        assert round_trip(live.listen(link)) == b"ping"
        # 400 ms of latency on the answer: a lower bound holds however loaded the machine is.
        assert time.monotonic() - started >= 0.38
    assert live.client.get_proxy(live.proxies[link].name).toxics == ()


@pytest.mark.network
def test_live_upstream_outage_by_reset_peer_closes_the_connection(live: LiveLab) -> None:
    link = "portal->shahkar"
    with live.injector.fault(UpstreamOutage(link=link, mode="reset_peer")):
        try:
            answer = round_trip(live.listen(link))
        except ConnectionResetError:
            answer = b""
        assert answer == b""
    assert round_trip(live.listen(link)) == b"ping"


@pytest.mark.network
def test_live_network_loss_blackholes_then_recovers(live: LiveLab) -> None:
    link = "pharmacy->portal"
    with live.injector.fault(NetworkLoss(link=link)), socket.create_connection(
            _address(live.listen(link)), timeout=0.5) as conn:
        conn.sendall(b"lost")
        # Nothing comes back: the read times out (0.5 s is plenty for a loopback echo).
        with pytest.raises(TimeoutError):
            conn.recv(16)
    assert round_trip(live.listen(link)) == b"ping"


@pytest.mark.network
def test_live_network_loss_cuts_an_upload_midway(live: LiveLab) -> None:
    link = "citizens->portal"
    upload = bytes(range(256)) * 40  # 10 240 bytes
    with live.injector.fault(NetworkLoss(link=link, mode="cut_upload", upload_limit_bytes=1000)):
        try:
            echoed = round_trip(live.listen(link), upload)
        except ConnectionResetError:
            echoed = b""
        assert len(echoed) <= 1000
        assert upload.startswith(echoed)
    assert round_trip(live.listen(link), upload) == upload


@pytest.mark.network
def test_live_upstream_outage_by_disabling_refuses_then_recovers(live: LiveLab) -> None:
    link = "portal->shahkar"
    with live.injector.fault(UpstreamOutage(link=link)):
        with pytest.raises(ConnectionRefusedError):
            round_trip(live.listen(link))
        assert round_trip(live.listen("citizens->portal")) == b"ping"  # same switch, untouched
    assert round_trip(live.listen(link)) == b"ping"


@pytest.mark.network
def test_live_slow_upstream_by_bandwidth_paces_the_answer(live: LiveLab) -> None:
    link = "portal->shahkar"
    payload = b"x" * 5000
    with live.injector.fault(SlowUpstream(link=link, mode="bandwidth", rate_kb_per_s=10)):
        started = time.monotonic()
        assert round_trip(live.listen(link), payload) == payload
        # 5000 bytes at 10 000 bytes/s take 0.5 s; 0.4 s allows for coarse pacing steps.
        assert time.monotonic() - started >= 0.4


@pytest.mark.network
def test_live_a_raw_toxic_acts_as_given(live: LiveLab) -> None:
    link = "pharmacy->portal"
    cut = RawToxic(link=link, toxic=ToxicSpec.of("limit_data", bytes=3))
    with live.injector.fault(cut):
        try:
            echoed = round_trip(live.listen(link), b"abcdef")
        except ConnectionResetError:
            echoed = b""
        assert b"abc".startswith(echoed)
        assert len(echoed) <= 3
    assert round_trip(live.listen(link), b"abcdef") == b"abcdef"
