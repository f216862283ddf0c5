"""A replica breaks down and is repaired, live: the injector's `Breakdowns` port on the lab.

`faults.catalog.ReplicaFailure` says what becomes of the replica's work; here is how the
lab plays each rule on the replica's real process:

- "drop": SIGKILL (its process group, as a power loss does to a rack); queued and in-service
  requests are lost, connections refused meanwhile. The repair starts it again and waits
  until it is ready, as `restart_rack` does.
- "resume": `POST /admin/breakdown {"work": "resume"}` (the replica's emulated service clock
  stands still), then SIGSTOP; the kernel keeps accepting its connections into the listen
  backlog, so they queue. The repair: SIGCONT, then `DELETE /admin/breakdown`; the work in
  service goes on where it stopped.
- "restart": as "resume", but at the repair the emulated service time of every request in
  service starts again from its beginning (the same draw; `mock_services.common.emulation`).
  Only the emulated part restarts: the handler's real work already done is not redone, and
  without an emulated demand a live "restart" is a "resume".

Why the admin call: a stopped process's clock runs on, so without it every emulated hold
whose deadline passed during the stop would end at SIGCONT, as if the replica had gone on
working while stopped. Each method returns when done and raises `SupervisorError` (one
sentence) when it cannot.
"""

from __future__ import annotations

import httpx

from faults.errors import SupervisorError, UnknownTarget
from faults.injector import Breakdowns
from mock_services.lab.supervisor import Lab, LabError

WORK = ("drop", "resume", "restart")
ADMIN_TIMEOUT_S = 5.0


class LabBreakdowns:
    """The faults' `Breakdowns` port (faults/injector.py) on a running lab's portal replicas."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def stop_replica(self, replica: str, work: str) -> None:
        """Break `replica` down: SIGKILL it ("drop"), or stop its service clock and SIGSTOP
        it ("resume", "restart"). A replica that is not running has nothing to stop."""
        self._check(replica, work)
        try:
            if work == "drop":
                self.lab.kill([replica])
            elif self.lab.running().get(replica, False):
                self._admin("POST", replica, {"work": work})
                self.lab.pause([replica])
        except (LabError, httpx.HTTPError) as exc:
            raise SupervisorError(f"breaking {replica!r} down ({work}): {exc}") from exc

    def start_replica(self, replica: str, work: str) -> None:
        """Repair `replica`: start it again and wait until it is ready ("drop"), or SIGCONT it
        and let its service clock go on ("resume", "restart")."""
        self._check(replica, work)
        try:
            if work == "drop":
                if not self.lab.running().get(replica, False):
                    self.lab.start([replica])
                self.lab.wait_ready([replica])
            elif self.lab.running().get(replica, False):
                self.lab.resume([replica])
                self._admin("DELETE", replica, None)
        except (LabError, httpx.HTTPError) as exc:
            raise SupervisorError(f"repairing {replica!r} ({work}): {exc}") from exc

    def _admin(self, method: str, replica: str, body: dict[str, str] | None) -> None:
        kwargs = {"json": body} if body is not None else {}
        r = self.lab.admin().request(method, replica, "/admin/breakdown",
                                     timeout_s=ADMIN_TIMEOUT_S, **kwargs)
        if r.status_code >= 400:
            raise LabError(f"{replica} refused {method} /admin/breakdown: HTTP "
                           f"{r.status_code} {r.text.strip()}")

    def _check(self, replica: str, work: str) -> None:
        portals = [s.name for s in self.lab.state.topology.portals()]
        if replica not in portals:
            raise UnknownTarget(f"replica {replica!r} is not a portal replica of this lab; "
                                f"expected one of {', '.join(portals)}")
        if work not in WORK:
            raise SupervisorError(f"replica_failure on {replica!r}: work {work!r}; expected "
                                  f"one of {', '.join(WORK)}")


def breakdowns_for(lab: Lab) -> Breakdowns:
    """The faults' breakdowns port for `lab` (typed as the protocol, so mypy checks the fit)."""
    return LabBreakdowns(lab)
