"""The injector: applies catalog faults to the live lab and heals them, recording both.

Like a Jepsen nemesis, every application and every healing is a fault operation in the
same history as the client requests (`FaultLog.fault`, on the injected clock: both runners
hand it their `scenario.history.History`). Healing always runs: `with injector.fault(f):
...` heals when the body returns, raises, or is interrupted (KeyboardInterrupt);
`heal_all()` heals whatever is still in effect, and every heal step is attempted even when
an earlier one fails (then `HealError` lists them all).

A deploy runs alongside the timeline while replicas restart: on its own thread in the lab
(`ThreadDeploys`, the default), as a SimPy process in the simulator (its own `DeployRunner`);
the deployment window heals by waiting for it to finish (its error, if any, surfaces there).
Workload faults (peak_load, refresh_storm) go to the optional `Workload` port at start and
end; without one they are only recorded, and the load driver reads `active_workload()`.
A proxy disabled by two faults at once (a switch failure and an outage of a link on that
switch) is enabled again only when the last of them heals.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, assert_never

from faults.actions import (
    Action,
    AddToxic,
    AwaitDeploy,
    Deploy,
    KillRack,
    RemoveToxic,
    RestartRack,
    SetAdminFault,
    SetProxyEnabled,
    ShiftWorkload,
    StartReplica,
    Step,
    StopReplica,
)
from faults.admin import UpstreamAdmin
from faults.catalog import Fault, PeakLoad, RefreshStorm
from faults.errors import FaultError, HealError, ProxyNotFound
from faults.proxies import ProxyControl
from faults.schedule import Schedule, Window
from faults.supervisor import Supervisor
from faults.topology import FaultTopology


@dataclass(frozen=True, slots=True)
class Applied:
    """A fault in effect: its sequence number, the fault, and the steps it took."""

    seq: int
    fault: Fault
    steps: tuple[Step, ...]
    start_s: float


class FaultLog(Protocol):
    """Where the injector records each fault it applies and heals: the run's history.

    A port rather than `scenario.history.History` itself, so that faults/ sits below the
    scenario layer that reads its catalog (ARCHITECTURE.md); `History` is what both runners
    pass."""

    def fault(self, start: bool, kind: str, target: str, time_s: float) -> object:
        """Record that the fault `kind` on `target` started (or stopped) at `time_s`."""


class DeployHandle(Protocol):
    """A deploy under way."""

    def wait(self) -> None:
        """Return once the deploy has finished; re-raise its error, if any."""


class DeployRunner(Protocol):
    """Starts a deploy through the supervisor without waiting for it to finish."""

    def start(self, supervisor: Supervisor, action: Deploy) -> DeployHandle:
        """Start `action` and return its handle at once."""


class ThreadDeploys:
    """The lab's `DeployRunner`: each deploy on its own thread."""

    def start(self, supervisor: Supervisor, action: Deploy) -> DeployHandle:
        thread = _DeployThread(supervisor, action)
        thread.start()
        return thread


class Breakdowns(Protocol):
    """Breaks a replica down and repairs it, its work dropped, resumed or restarted
    (`faults.catalog.ReplicaFailure`)."""

    def stop_replica(self, replica: str, work: str) -> None:
        """Break `replica` down."""

    def start_replica(self, replica: str, work: str) -> None:
        """Repair `replica`."""


class Workload(Protocol):
    """Acts on workload faults: a surge or a refresh storm starts (`on`) or ends."""

    def shift(self, fault: PeakLoad | RefreshStorm, on: bool) -> None:
        """Change the offered load as `fault` says, or undo it."""


class Injector:
    """Applies faults through Toxiproxy, the supervisor and the upstreams' admin routes.

    `clock` returns the run's time in seconds (simulated or live). `supervisor` and
    `admin` may be None when no fault needs them; a fault that does is refused up front.
    `deploys` runs deploys alongside the timeline (threads unless told otherwise);
    `workload`, when given, is told when a workload fault starts and ends; `breakdowns`
    breaks replicas down (a replica_failure is refused up front without it).
    """

    def __init__(
        self,
        topology: FaultTopology,
        history: FaultLog,
        clock: Callable[[], float],
        proxies: ProxyControl,
        *,
        supervisor: Supervisor | None = None,
        admin: UpstreamAdmin | None = None,
        deploys: DeployRunner | None = None,
        workload: Workload | None = None,
        breakdowns: Breakdowns | None = None,
        tag: str = "chaos",
    ) -> None:
        self.topology = topology
        self.history = history
        self.clock = clock
        self.proxies = proxies
        self.supervisor = supervisor
        self.admin = admin
        self.deploys: DeployRunner = deploys if deploys is not None else ThreadDeploys()
        self.workload = workload
        self.breakdowns = breakdowns
        self.tag = tag
        self._seq = 0
        self._active: dict[int, Applied] = {}
        self._disabled: Counter[str] = Counter()
        self._deploys: dict[str, DeployHandle] = {}
        self._lock = threading.RLock()

    @property
    def active(self) -> tuple[Applied, ...]:
        """The faults in effect, oldest first."""
        with self._lock:
            return tuple(self._active.values())

    def active_workload(self) -> tuple[PeakLoad | RefreshStorm, ...]:
        """The workload faults in effect, for the load driver to act on."""
        return tuple(a.fault for a in self.active
                     if isinstance(a.fault, PeakLoad | RefreshStorm))

    def apply(self, fault: Fault) -> Applied:
        """Put `fault` into effect; on failure, undo its steps taken so far and raise."""
        with self._lock:
            self._seq += 1
            steps = fault.plan(self.topology, f"{self.tag}{self._seq}")
            self._check_ports(fault, steps)
            applied = Applied(self._seq, fault, steps, self.clock())
            self.history.fault(True, fault.kind, fault.target, applied.start_s)
            done: list[Step] = []
            try:
                for step in steps:
                    self._run(fault, step.apply, True)
                    done.append(step)
            except BaseException as exc:
                try:
                    self._heal_steps(fault, done)
                except HealError as heal_error:
                    exc.add_note(f"undoing the partial fault also failed: {heal_error}")
                raise
            self._active[applied.seq] = applied
            return applied

    def heal(self, applied: Applied) -> None:
        """Undo `applied` (a no-op if it is already healed); raises `HealError` on failures."""
        with self._lock:
            if self._active.pop(applied.seq, None) is None:
                return
            self._heal_steps(applied.fault, list(applied.steps))

    @contextlib.contextmanager
    def fault(self, fault: Fault) -> Iterator[Applied]:
        """Keep `fault` in effect for the body; heal it however the body ends."""
        applied = self.apply(fault)
        try:
            yield applied
        finally:
            self.heal(applied)

    def heal_all(self) -> None:
        """Heal every fault still in effect, newest first, attempting every one."""
        errors: list[BaseException] = []
        for applied in reversed(self.active):
            try:
                self.heal(applied)
            except HealError as exc:
                errors.extend(exc.errors)
        if errors:
            raise HealError(f"healing left {len(errors)} failure(s); the first: {errors[0]}",
                            tuple(errors))

    def replay(self, schedule: Schedule, wait_until: Callable[[float], None]) -> None:
        """Play `schedule`: `wait_until(t)` returns once the run clock reads `t` (the lab
        sleeps, a test advances a manual clock). Ends with `heal_all()`, whatever happens."""
        in_effect: dict[Window, Applied] = {}
        try:
            for event in schedule.events():
                wait_until(event.time_s)
                if event.start:
                    in_effect[event.window] = self.apply(event.window.fault)
                else:
                    self.heal(in_effect.pop(event.window))
            wait_until(schedule.heal_at_s)
        finally:
            self.heal_all()

    def _heal_steps(self, fault: Fault, steps: list[Step]) -> None:
        """Run the heal action of every step in reverse order, then record the stop."""
        errors: list[BaseException] = []
        interrupt: BaseException | None = None
        for step in reversed(steps):
            # A workload shift heals by itself in the lab, but a workload port is told.
            action = step.heal if step.heal is not None else step.apply
            if step.heal is None and not (isinstance(action, ShiftWorkload)
                                          and self.workload is not None):
                continue
            try:
                self._run(fault, action, step.heal is not None)
            except Exception as exc:  # every heal step must run; failures are reported below
                errors.append(exc)
            except BaseException as exc:  # KeyboardInterrupt: finish healing, then re-raise
                interrupt = interrupt or exc
        self.history.fault(False, fault.kind, fault.target, self.clock())
        if interrupt is not None:
            raise interrupt
        if errors:
            raise HealError(f"healing {fault.kind} on {fault.target!r} failed: {errors[0]}",
                            tuple(errors))

    def _check_ports(self, fault: Fault, steps: tuple[Step, ...]) -> None:
        for step in steps:
            if isinstance(step.apply, KillRack | Deploy) and self.supervisor is None:
                raise FaultError(f"{fault.kind} on {fault.target!r} needs a process "
                                 f"supervisor; this injector has none")
            if isinstance(step.apply, SetAdminFault) and self.admin is None:
                raise FaultError(f"{fault.kind} on {fault.target!r} needs the upstream "
                                 f"admin client; this injector has none")
            if isinstance(step.apply, StopReplica) and self.breakdowns is None:
                raise FaultError(f"{fault.kind} on {fault.target!r} needs a port that breaks "
                                 f"replicas down (work {step.apply.work!r}); this injector "
                                 f"has none")

    def _run(self, fault: Fault, action: Action, on: bool) -> None:
        """Run one action of `fault` (`on` is False only for a self-healing step's undo)."""
        if isinstance(action, SetProxyEnabled):
            self._set_enabled(action.proxy, action.enabled)
        elif isinstance(action, AddToxic):
            self.proxies.add_toxic(action.proxy, action.toxic)
        elif isinstance(action, RemoveToxic):
            # Already gone (a reset, a deleted proxy) means the toxic is healed.
            with contextlib.suppress(ProxyNotFound):
                self.proxies.remove_toxic(action.proxy, action.name)
        elif isinstance(action, SetAdminFault):
            assert self.admin is not None  # checked by _check_ports
            self.admin.set_fault(action)
        elif isinstance(action, KillRack | RestartRack):
            self._supervise(action)
        elif isinstance(action, StopReplica | StartReplica):
            assert self.breakdowns is not None  # checked by _check_ports
            if isinstance(action, StopReplica):
                self.breakdowns.stop_replica(action.replica, action.work)
            else:
                self.breakdowns.start_replica(action.replica, action.work)
        elif isinstance(action, Deploy):
            assert self.supervisor is not None  # checked by _check_ports
            self._deploys[action.service] = self.deploys.start(self.supervisor, action)
        elif isinstance(action, AwaitDeploy):
            deploy = self._deploys.pop(action.service, None)
            if deploy is not None:
                deploy.wait()
        elif isinstance(action, ShiftWorkload):
            # Recorded in the history either way; without a port the load driver reads
            # `active_workload()`.
            if self.workload is not None:
                if not isinstance(fault, PeakLoad | RefreshStorm):
                    raise FaultError(f"{fault.kind} on {fault.target!r} shifts the workload, "
                                     f"but is not a workload fault")
                self.workload.shift(fault, on)
        else:
            assert_never(action)

    def _supervise(self, action: KillRack | RestartRack) -> None:
        assert self.supervisor is not None  # checked by _check_ports
        if isinstance(action, KillRack):
            self.supervisor.kill_rack(action.rack)
        elif isinstance(action, RestartRack):
            self.supervisor.restart_rack(action.rack)
        else:
            assert_never(action)

    def _set_enabled(self, proxy: str, enabled: bool) -> None:
        if not enabled:
            self._disabled[proxy] += 1
            if self._disabled[proxy] == 1:
                try:
                    self.proxies.set_enabled(proxy, False)
                except BaseException:
                    self._disabled[proxy] -= 1
                    raise
            return
        if self._disabled[proxy] > 0:
            self._disabled[proxy] -= 1
            if self._disabled[proxy] > 0:
                return  # another fault still holds this proxy down
        # A proxy deleted meanwhile (the lab tore it down) has nothing left to heal.
        with contextlib.suppress(ProxyNotFound):
            self.proxies.set_enabled(proxy, True)


class _DeployThread(threading.Thread):
    """Runs one deploy through the supervisor; `wait` joins it and re-raises its error."""

    def __init__(self, supervisor: Supervisor, action: Deploy) -> None:
        super().__init__(name=f"deploy-{action.service}", daemon=True)
        self.supervisor = supervisor
        self.action = action
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            if self.action.rolling:
                self.supervisor.rolling_deploy(self.action.service, self.action.processes,
                                               drain_s=self.action.drain_s)
            else:
                self.supervisor.naive_deploy(self.action.service, self.action.processes)
        except Exception as exc:  # handed to the thread that heals the window
            self.error = exc

    def wait(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error
