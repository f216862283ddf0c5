"""What the supervisor does to a running lab for the faults: power loss and deployments.

- power loss: SIGKILL every process of a rack (nothing flushed, nothing drained), restart them
  after the outage and wait until they are ready again;
- rolling deploy: one portal replica at a time — readiness off, drain, SIGTERM, restart,
  readiness on — so clients that fail over never see every replica gone at once;
- naive deploy: every replica restarted at once, to compare (and to prove the check can fail).

`LabSupervisor` exposes these as the faults' supervisor interface (blocking methods; the live
runner calls them through `asyncio.to_thread`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec

import httpx
from prometheus_client.parser import text_string_to_metric_families

from faults.errors import SupervisorError
from faults.supervisor import Supervisor
from mock_services.lab.supervisor import Lab, LabError
from mock_services.lab.topology import LabTopologyError

P = ParamSpec("P")
OPS_ROUTES = frozenset({"/readyz", "/healthz", "/metrics", "unmatched"})
QUIET_S = 0.2  # no user request answered for this long: nothing left in flight to wait for


@dataclass(frozen=True, slots=True)
class DeployTiming:
    """The timing of a rolling deploy.

    deregister_s: how long clients need to notice readiness off (their health-poll period
    and then some) before the replica stops, like a load balancer's deregistration delay.
    max_drain_s: the longest wait for in-flight requests to finish before SIGTERM (uvicorn
    then drains whatever is still running before it exits).
    """

    deregister_s: float = 0.5
    max_drain_s: float = 5.0


def served(metrics_text: str) -> int:
    """User requests answered so far, from a service's /metrics (health and admin excluded)."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "http_requests":
            continue
        for sample in family.samples:
            route = sample.labels.get("route", "")
            if sample.name.endswith("_total") and route not in OPS_ROUTES \
                    and not route.startswith("/admin"):
                total += sample.value
    return int(total)


def _served(lab: Lab, name: str) -> int | None:
    try:
        r = lab.admin().get(name, "/metrics", timeout_s=1.0)
    except httpx.HTTPError:
        return None
    return served(r.text) if r.status_code == 200 else None


def drain(lab: Lab, name: str, timing: DeployTiming,
          clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait out the deregistration delay, then until the replica has answered no user request
    for `QUIET_S` (its last in-flight requests are done), at most `max_drain_s`."""
    sleep(timing.deregister_s)  # a real-world period clients need to notice, not a sync
    deadline = clock() + timing.max_drain_s
    last = _served(lab, name)
    while last is not None and clock() < deadline:
        sleep(QUIET_S)  # the quiet window itself
        now = _served(lab, name)
        if now == last:
            return
        last = now


def power_off(lab: Lab, rack: str) -> list[str]:
    """Cut the power of `rack`: SIGKILL every process on it. Returns the names killed."""
    names = [s.name for s in lab.state.topology.rack_services(rack)]
    lab.kill(names)
    return names


def power_on(lab: Lab, rack: str) -> list[str]:
    """Restore the power of `rack`: restart its processes and wait until they are ready."""
    names = [s.name for s in lab.state.topology.rack_services(rack)]
    lab.start(names)
    lab.wait_ready(names)
    return names


def rolling_deploy(lab: Lab, processes: Sequence[str],
                   timing: DeployTiming = DeployTiming()) -> None:
    """Restart `processes` one at a time, each out of rotation while it restarts."""
    for name in processes:
        lab.set_ready(name, False)
        drain(lab, name, timing)
        lab.stop([name])
        lab.start([name])
        lab.wait_ready([name])
        lab.set_ready(name, True)


def naive_deploy(lab: Lab, processes: Sequence[str]) -> None:
    """Restart every one of `processes` at once: no readiness gate, no draining."""
    names = list(processes)
    lab.stop(names)
    lab.start(names)
    lab.wait_ready(names)


def _as_supervisor_error(fn: Callable[P, None]) -> Callable[P, None]:
    """The faults' interface speaks `SupervisorError`: translate the lab's own errors."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except (LabError, LabTopologyError, httpx.HTTPError) as exc:
            raise SupervisorError(f"{fn.__name__}: {exc}") from exc
    return wrapper


class LabSupervisor:
    """The faults' `Supervisor` interface (faults/supervisor.py), carried out on a running lab.

    Each method returns when done and raises `SupervisorError` (one sentence) when it cannot.
    """

    def __init__(self, lab: Lab, timing: DeployTiming = DeployTiming()) -> None:
        self.lab = lab
        self.timing = timing

    @_as_supervisor_error
    def kill_rack(self, rack: str) -> None:
        """SIGKILL every process of `rack` (a power loss: no shutdown, no draining)."""
        self._check_rack(rack)
        power_off(self.lab, rack)

    @_as_supervisor_error
    def restart_rack(self, rack: str) -> None:
        """Start every process of `rack` that is not running, and wait until it is ready."""
        self._check_rack(rack)
        running = self.lab.running()
        names = [s.name for s in self.lab.state.topology.rack_services(rack)
                 if not running.get(s.name, False)]
        self.lab.start(names)
        self.lab.wait_ready(names)

    @_as_supervisor_error
    def rolling_deploy(self, service: str, processes: Sequence[str], *, drain_s: float) -> None:
        """One replica at a time: out of rotation, drain up to `drain_s`, SIGTERM, start,
        wait for readiness, back into rotation."""
        names = self._check_processes(service, processes)
        timing = DeployTiming(self.timing.deregister_s, drain_s)
        rolling_deploy(self.lab, names, timing)

    @_as_supervisor_error
    def naive_deploy(self, service: str, processes: Sequence[str]) -> None:
        """Every replica at once, with no draining and no readiness gate."""
        naive_deploy(self.lab, self._check_processes(service, processes))

    def _check_rack(self, rack: str) -> None:
        if rack not in self.lab.state.topology.racks:
            raise LabError(f"unknown rack {rack!r}; expected one of "
                           f"{', '.join(self.lab.state.topology.racks)}", bad_input=True)

    def _check_processes(self, service: str, processes: Sequence[str]) -> list[str]:
        known = {s.name: s.kind for s in self.lab.state.topology.services}
        names = list(processes) or [s.name for s in self.lab.state.topology.services
                                    if s.kind == service]
        for name in names:
            if name not in known:
                raise LabError(f"deploy of {service!r}: unknown process {name!r}; expected "
                               f"one of {', '.join(sorted(known))}", bad_input=True)
        return names


def supervisor_for(lab: Lab, timing: DeployTiming = DeployTiming()) -> Supervisor:
    """The faults' supervisor for `lab` (typed as the protocol, so mypy checks the fit)."""
    return LabSupervisor(lab, timing)
