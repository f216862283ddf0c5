"""A portal replica breaks down for real (`replica_failure`, faults/catalog.py), through the
injector and the lab's `Breakdowns` port: real signals on the replica's real process, real
requests through its client proxy.

Logins are given an emulated service time of SERVICE_S (the scenario's demand), so a request
is surely in service when the replica breaks down. The time assertions are lower bounds that
the emulated hold itself guarantees (a slow machine only makes the request later): they
show that the time stood broken down is not counted as service, which a bare SIGSTOP (a
stopped process's clock runs on) would fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from chaoslab.pytest_plugin import lab_injector
from faults.actions import BreakdownWork
from faults.catalog import ReplicaFailure
from faults.errors import SupervisorError, UnknownTarget
from mock_services.common.demand import Demand
from mock_services.lab import procs
from mock_services.lab.breakdowns import LabBreakdowns
from mock_services.lab.demand import apply_demand, clear_demand
from mock_services.lab.supervisor import Lab
from mock_services.seed import Person, demo_population

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]
REPLICA = "portal-a"
SERVICE_S = 4.0  # each login's emulated service time: far above the ms a breakdown takes
STOPPED_S = 5.0  # longer than a login's service: a bare SIGSTOP would count it as service
CITIZENS = demo_population().citizens
Login = Future[tuple[httpx.Response, float]]  # a login under way: its response, when it came


@pytest.fixture
def slow_logins(healthy_lab: Lab) -> Iterator[Lab]:
    """The healthy lab whose logins take SERVICE_S of emulated service on two workers."""
    demand = Demand.model_validate({
        "seed": 1, "kinds": {"login": {"dist": "deterministic", "value": f"{SERVICE_S}s"}},
        "replicas": {REPLICA: {"workers": 2, "max_queue": 20}}})
    apply_demand(healthy_lab, demand)
    try:
        yield healthy_lab
    finally:
        clear_demand(healthy_lab)


def _login(lab: Lab, person: Person, address: str) -> tuple[httpx.Response, float]:
    """One login through the replica's client proxy (from its own signed address, clear of
    the per-source limit) -> the response and when it arrived (monotonic)."""
    url = lab.state.portal_urls()[REPLICA] + "/auth/login"
    r = httpx.post(url, json={"national_id": person.national_id, "password": person.password},
                   headers=lab.admin().client_headers(address), timeout=60.0)
    return r, time.monotonic()


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    """Poll `condition` with a deadline (a poll interval, not a synchronisation)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout_s} s"
        time.sleep(0.01)


def _in_service(lab: Lab) -> int:
    """Logins holding one of the replica's emulated worker slots now."""
    busy: int = lab.admin().get(REPLICA, "/admin/demand").json()["busy"]
    return busy


def _accept_queue(port: int) -> int:
    """Connections the kernel accepted for the listener on 127.0.0.1:`port` that the process
    has not taken yet (a LISTEN socket's rx_queue in /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # 0A: LISTEN
            return int(fields[4].split(":")[1], 16)
    return 0


def _paused(lab: Lab, work: BreakdownWork) -> tuple[float, float, float, Login, Login]:
    """One login in service when the replica pauses (`work`), a second one sent while it
    stands stopped; STOPPED_S later it is repaired. -> (first sent, stopped by, repaired
    from, first, second)."""
    pid = lab.pid(REPLICA)
    assert pid is not None
    port = lab.state.topology.service(REPLICA).port
    with ThreadPoolExecutor(2) as pool, lab_injector(lab) as injector:
        sent = time.monotonic()
        first = pool.submit(_login, lab, CITIZENS[0], "10.77.0.1")
        _until(lambda: _in_service(lab) == 1, "the first login in service")
        applied = injector.apply(ReplicaFailure(replica=REPLICA, work=work))
        stopped = time.monotonic()
        assert procs.state(pid) == "T"  # stopped by SIGSTOP, not killed
        second = pool.submit(_login, lab, CITIZENS[1], "10.77.0.2")
        _until(lambda: _accept_queue(port) >= 1, "the second login queued in the kernel")
        time.sleep(STOPPED_S)  # the breakdown itself
        # nothing answers while the replica stands stopped
        assert not first.done() and not second.done()
        repaired = time.monotonic()
        injector.heal(applied)
        first.result(timeout=60)
        second.result(timeout=60)
    assert lab.pid(REPLICA) == pid and procs.state(pid) != "T"  # the same process, running
    return sent, stopped, repaired, first, second


def test_a_paused_replica_queues_connections_and_resumes_its_work(slow_logins: Lab) -> None:
    sent, stopped, repaired, first, second = _paused(slow_logins, "resume")
    (r1, done1), (r2, _) = first.result(), second.result()
    assert (r1.status_code, r2.status_code) == (200, 200), (r1.text, r2.text)
    # the first had at most (stopped - sent) of service before it stopped: the rest after
    assert done1 - repaired >= SERVICE_S - (stopped - sent)


def test_a_restarted_replica_serves_its_work_again_from_the_beginning(
        slow_logins: Lab) -> None:
    _, _, repaired, first, second = _paused(slow_logins, "restart")
    (r1, done1), (r2, _) = first.result(), second.result()
    assert (r1.status_code, r2.status_code) == (200, 200), (r1.text, r2.text)
    assert done1 - repaired >= SERVICE_S  # its whole service again, after the repair


def test_a_dropped_replica_loses_its_work_and_refuses_until_repaired(slow_logins: Lab) -> None:
    lab = slow_logins
    pid = lab.pid(REPLICA)
    assert pid is not None
    with ThreadPoolExecutor(1) as pool, lab_injector(lab) as injector:
        first = pool.submit(_login, lab, CITIZENS[2], "10.77.0.3")
        _until(lambda: _in_service(lab) == 1, "the login in service")
        with injector.fault(ReplicaFailure(replica=REPLICA, work="drop")):
            assert not procs.alive(pid)  # SIGKILLed
            lost = first.exception(timeout=60)
            assert isinstance(lost, httpx.TransportError), lost  # the in-flight login is lost
            with pytest.raises(httpx.ConnectError):  # refused while it is down
                httpx.get(lab.state.url(REPLICA) + "/healthz", timeout=5.0)
        # repaired: a new process, ready, serving
        assert lab.pid(REPLICA) not in (None, pid)
        r, _ = _login(lab, CITIZENS[2], "10.77.0.3")
        assert r.status_code == 200, r.text


def test_the_port_names_what_it_cannot_break(healthy_lab: Lab) -> None:
    port = LabBreakdowns(healthy_lab)
    with pytest.raises(UnknownTarget, match="'shahkar' is not a portal replica of this lab; "
                       "expected one of portal-a, portal-b"):
        port.stop_replica("shahkar", "resume")
    with pytest.raises(SupervisorError, match="work 'melt'; expected one of drop, resume"):
        port.stop_replica(REPLICA, "melt")
    assert healthy_lab.running()[REPLICA]
