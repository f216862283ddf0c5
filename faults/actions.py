"""Actions: the concrete steps a fault takes on the lab, each paired with its healing step.

Pure data, no I/O. A fault plans a tuple of `Step`s against a topology; the injector runs
each step's `apply` in order and, when healing, each `heal` in reverse order. A step whose
`heal` is None heals by itself (a deploy finishes; a workload shift ends with its phase).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from faults.toxics import ToxicSpec

AdminMode = Literal["ok", "unavailable", "fail_n", "slow", "lose_response"]


@dataclass(frozen=True, slots=True)
class SetProxyEnabled:
    """Enable or disable one Toxiproxy proxy (disabled: connections dropped and refused)."""

    proxy: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class AddToxic:
    """Add one toxic (its name is set, so healing can remove exactly it)."""

    proxy: str
    toxic: ToxicSpec


@dataclass(frozen=True, slots=True)
class RemoveToxic:
    """Remove one toxic by name; already gone counts as removed."""

    proxy: str
    name: str


@dataclass(frozen=True, slots=True)
class SetAdminFault:
    """Set an upstream's HTTP-level fault through `POST {admin_url}/admin/fault`."""

    upstream: str
    admin_url: str
    mode: AdminMode
    retry_after_s: int = 0
    delay_ms: int = 0
    n: int = 0
    speed: float = 1.0  # the service's speed (0 < speed <= 1): its service times / speed

    def body(self) -> dict[str, object]:
        """The JSON body of the admin request (SERVICES_CONTRACT.md); `speed` only when
        degraded, so a service that predates it still takes every other fault."""
        body: dict[str, object] = {"mode": self.mode, "n": self.n, "delay_ms": self.delay_ms,
                                   "retry_after_s": self.retry_after_s}
        if self.speed != 1.0:
            body["speed"] = self.speed
        return body


@dataclass(frozen=True, slots=True)
class KillRack:
    """SIGKILL every process of a rack (power loss)."""

    rack: str


@dataclass(frozen=True, slots=True)
class RestartRack:
    """Start every process of a rack again."""

    rack: str


BreakdownWork = Literal["drop", "resume", "restart"]


@dataclass(frozen=True, slots=True)
class StopReplica:
    """A replica breaks down; `work` says what becomes of its requests (see
    `faults.catalog.ReplicaFailure`)."""

    replica: str
    work: BreakdownWork


@dataclass(frozen=True, slots=True)
class StartReplica:
    """A broken-down replica is repaired."""

    replica: str
    work: BreakdownWork


@dataclass(frozen=True, slots=True)
class Deploy:
    """Restart a service's replicas: rolling (drain, readiness-gated) or all at once."""

    service: str
    processes: tuple[str, ...]
    rolling: bool
    drain_s: float


@dataclass(frozen=True, slots=True)
class AwaitDeploy:
    """Wait until the deploy of a service has finished (it runs alongside other faults)."""

    service: str


@dataclass(frozen=True, slots=True)
class ShiftWorkload:
    """A workload fault is in effect: the load driver or simulator acts on it."""

    kind: str
    target: str


Action = (SetProxyEnabled | AddToxic | RemoveToxic | SetAdminFault | KillRack | RestartRack
          | StopReplica | StartReplica | Deploy | AwaitDeploy | ShiftWorkload)


@dataclass(frozen=True, slots=True)
class Step:
    """One action and the action that undoes it (None: nothing to undo)."""

    apply: Action
    heal: Action | None
