"""What the supervisor does to a running lab for the faults: power loss and deployments.

- power loss: SIGKILL every process of a rack (nothing flushed, nothing drained), restart them
  after the outage and wait until they are ready again;
- rolling deploy: one portal replica at a time — readiness off, drain, SIGTERM, restart,
  readiness on — so clients that fail over never see every replica gone at once;
- naive deploy: every replica restarted at once, to compare (and to prove the check can fail).

`LabSupervisor` exposes these with the shape of the faults' supervisor interface (blocking
methods; the live runner calls them through `asyncio.to_thread`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from mock_services.lab.supervisor import Lab, LabError

IN_FLIGHT = re.compile(r"^(\w*(?:in_flight|inprogress|in_progress)\w*)(?:\{[^}]*\})?\s+(\S+)$",
                       re.MULTILINE)


@dataclass(frozen=True, slots=True)
class DeployTiming:
    """The timing of a rolling deploy.

    deregister_s: how long clients need to notice readiness off (their health-poll period
    and then some) before the replica stops, like a load balancer's deregistration delay.
    max_drain_s: the longest wait for in-flight requests to finish before SIGTERM.
    """

    deregister_s: float = 0.5
    max_drain_s: float = 5.0


def in_flight(lab: Lab, name: str) -> int | None:
    """The replica's in-flight request count from its /metrics, None when it does not say."""
    try:
        r = httpx.get(lab.state.url(name) + "/metrics", timeout=1.0)
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    values = [float(m.group(2)) for m in IN_FLIGHT.finditer(r.text)]
    return int(sum(values)) if values else None


def drain(lab: Lab, name: str, timing: DeployTiming,
          clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait out the deregistration delay, then until no request is in flight (bounded)."""
    sleep(timing.deregister_s)  # a real-world period clients need to notice, not a sync
    deadline = clock() + timing.max_drain_s
    while clock() < deadline:
        count = in_flight(lab, name)
        # the scrape itself is one request in flight when the gauge counts every request
        if count is None or count <= 1:
            return
        sleep(0.02)


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


def rolling_deploy(lab: Lab, timing: DeployTiming = DeployTiming()) -> None:
    """Restart the portal replicas one at a time, each out of rotation while it restarts."""
    for replica in lab.state.topology.portals():
        lab.set_ready(replica.name, False)
        drain(lab, replica.name, timing)
        lab.stop([replica.name])
        lab.start([replica.name])
        lab.wait_ready([replica.name])
        lab.set_ready(replica.name, True)


def naive_deploy(lab: Lab) -> None:
    """Restart every portal replica at once: no readiness gate, no draining."""
    names = [p.name for p in lab.state.topology.portals()]
    lab.stop(names)
    lab.start(names)
    lab.wait_ready(names)


class LabSupervisor:
    """The faults' supervisor interface, carried out on a running lab."""

    def __init__(self, lab: Lab, timing: DeployTiming = DeployTiming()) -> None:
        self.lab = lab
        self.timing = timing

    def racks(self) -> tuple[str, ...]:
        """The racks whose power can be cut."""
        return self.lab.state.topology.racks

    def power_off(self, rack: str) -> None:
        """SIGKILL every process of `rack`."""
        self._check_rack(rack)
        power_off(self.lab, rack)

    def power_on(self, rack: str) -> None:
        """Restart the processes of `rack` and wait until they are ready."""
        self._check_rack(rack)
        power_on(self.lab, rack)

    def power_loss(self, rack: str, outage_s: float,
                   sleep: Callable[[float], None] = time.sleep) -> None:
        """Cut `rack`, wait out the outage, restore it."""
        self.power_off(rack)
        sleep(outage_s)  # the outage itself: its length is the fault's parameter
        self.power_on(rack)

    def rolling_deploy(self) -> None:
        """Readiness-gated, draining, one replica at a time."""
        rolling_deploy(self.lab, self.timing)

    def naive_deploy(self) -> None:
        """All replicas at once."""
        naive_deploy(self.lab)

    def _check_rack(self, rack: str) -> None:
        if rack not in self.lab.state.topology.racks:
            raise LabError(f"unknown rack {rack!r}; expected one of "
                           f"{', '.join(self.lab.state.topology.racks)}", bad_input=True)
