"""The process-supervisor interface faults need, and an in-memory recording implementation.

The lab (mock_services) implements `Supervisor` with real processes: SIGKILL, restart,
SIGTERM with draining. `RecordingSupervisor` keeps which processes are up and every call it
received, for unit tests of the injector and for dry runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from faults.errors import SupervisorError, UnknownTarget


class Supervisor(Protocol):
    """Kills, restarts and redeploys the lab's processes; each call returns when done.

    Every method raises `SupervisorError` (one sentence) when it cannot do its job. The
    injector calls the deploy methods from a background thread (a deploy overlaps other
    faults), so an implementation must tolerate calls from two threads at once.
    """

    def kill_rack(self, rack: str) -> None:
        """SIGKILL every process of `rack` (a power loss: no shutdown, no draining)."""

    def restart_rack(self, rack: str) -> None:
        """Start every process of `rack` that is not running, and wait until it is ready."""

    def rolling_deploy(self, service: str, processes: Sequence[str], *, drain_s: float) -> None:
        """Restart the replicas one at a time: out of rotation, drain up to `drain_s`,
        SIGTERM, start, wait for readiness, back into rotation."""

    def naive_deploy(self, service: str, processes: Sequence[str]) -> None:
        """Restart every replica at once, with no draining and no readiness gate."""


class RecordingSupervisor:
    """An in-memory `Supervisor`: tracks the processes that are up and records each call.

    `fail` names methods that raise `SupervisorError` instead, to test healing under failure.
    """

    def __init__(self, racks: Mapping[str, Sequence[str]], fail: frozenset[str] = frozenset()):
        self.racks = {rack: tuple(procs) for rack, procs in racks.items()}
        self.up: set[str] = {p for procs in self.racks.values() for p in procs}
        self.calls: list[tuple[str, ...]] = []
        self.fail = fail

    def _enter(self, method: str, *args: str) -> None:
        self.calls.append((method, *args))
        if method in self.fail:
            raise SupervisorError(f"supervisor {method} failed for {args[0]!r} (as asked)")

    def _rack(self, rack: str) -> tuple[str, ...]:
        if rack not in self.racks:
            raise UnknownTarget(f"rack {rack!r} is unknown to the supervisor")
        return self.racks[rack]

    def kill_rack(self, rack: str) -> None:
        self._enter("kill_rack", rack)
        self.up.difference_update(self._rack(rack))

    def restart_rack(self, rack: str) -> None:
        self._enter("restart_rack", rack)
        self.up.update(self._rack(rack))

    def rolling_deploy(self, service: str, processes: Sequence[str], *, drain_s: float) -> None:
        self._enter("rolling_deploy", service, *processes)

    def naive_deploy(self, service: str, processes: Sequence[str]) -> None:
        self._enter("naive_deploy", service, *processes)
