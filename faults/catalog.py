"""The fault catalog: the portal's faults as frozen, typed data, each planning its own steps.

Pure data, no I/O: the simulator reads these fields directly, and the live injector runs the
steps `plan` returns. Every fault has a `kind` (the history's fault value) and a `target`
(the history's key; two faults with one target never overlap in a schedule). Network faults
act through Toxiproxy, rack and deploy faults through the process supervisor, HTTP-level
outages through the upstream's admin route; workload faults (peak_load, refresh_storm) only
describe the change, which the load driver or the simulator make.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from faults.actions import (
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
from faults.errors import InvalidFault, UnknownTarget
from faults.topology import FaultTopology, Link
from faults.toxics import ToxicSpec


def _positive(owner: str, name: str, value: float, *, allow_zero: bool = True) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidFault(f"{owner}: {name} is {value}; expected {bound}")


def _toxic_steps(proxy: str, tag: str, *specs: ToxicSpec) -> tuple[Step, ...]:
    steps = []
    for spec in specs:
        name = f"{tag}-{spec.type}-{spec.stream}"
        named = ToxicSpec(spec.type, spec.attributes, spec.stream, spec.toxicity, name)
        steps.append(Step(AddToxic(proxy, named), RemoveToxic(proxy, name)))
    return tuple(steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchFailure:
    """A server switch fails: every proxy whose link crosses it is disabled."""

    kind: ClassVar[str] = "switch_failure"
    switch: str

    @property
    def target(self) -> str:
        return self.switch

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        return tuple(Step(SetProxyEnabled(p, False), SetProxyEnabled(p, True))
                     for p in topology.proxies_on_switch(self.switch))


@dataclass(frozen=True, slots=True, kw_only=True)
class SlowUpstream:
    """An upstream answers slowly (Shahkar 3-30 s): latency + jitter, or a bandwidth cap."""

    kind: ClassVar[str] = "slow_upstream"
    link: str
    mode: Literal["latency", "bandwidth"] = "latency"
    latency_ms: int = 3000
    jitter_ms: int = 0
    rate_kb_per_s: int = 1  # bandwidth mode: 1 KB = 1000 bytes, as Toxiproxy counts

    def __post_init__(self) -> None:
        _positive(self.kind, "latency_ms", self.latency_ms)
        _positive(self.kind, "jitter_ms", self.jitter_ms)
        _positive(self.kind, "rate_kb_per_s", self.rate_kb_per_s)
        if self.jitter_ms > self.latency_ms:
            raise InvalidFault(f"{self.kind}: jitter_ms {self.jitter_ms} exceeds latency_ms "
                               f"{self.latency_ms}; expected jitter_ms <= latency_ms")

    @property
    def target(self) -> str:
        return self.link

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        proxy = topology.link(self.link, "upstream").proxy
        # Responses travel downstream (upstream -> portal): that is where slowness is felt.
        if self.mode == "latency":
            spec = ToxicSpec.of("latency", latency=self.latency_ms, jitter=self.jitter_ms)
        else:
            spec = ToxicSpec.of("bandwidth", rate=self.rate_kb_per_s)
        return _toxic_steps(proxy, tag, spec)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamOutage:
    """An upstream is down: proxy disabled, connections reset, or HTTP 503 + Retry-After."""

    kind: ClassVar[str] = "upstream_outage"
    link: str
    mode: Literal["disabled", "reset_peer", "http_503"] = "disabled"
    reset_after_ms: int = 0
    retry_after_s: int = 30

    def __post_init__(self) -> None:
        _positive(self.kind, "reset_after_ms", self.reset_after_ms)
        _positive(self.kind, "retry_after_s", self.retry_after_s)

    @property
    def target(self) -> str:
        return self.link

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        link = topology.link(self.link, "upstream")
        if self.mode == "disabled":
            return (Step(SetProxyEnabled(link.proxy, False), SetProxyEnabled(link.proxy, True)),)
        if self.mode == "reset_peer":
            return _toxic_steps(link.proxy, tag, ToxicSpec.of(
                "reset_peer", stream="upstream", timeout=self.reset_after_ms))
        if not link.admin_url:
            raise UnknownTarget(f"{self.kind}: link {self.link!r} has no admin_url; an "
                                f"http_503 outage needs the upstream's admin route")
        return (Step(SetAdminFault(self.link, link.admin_url, "unavailable",
                                   retry_after_s=self.retry_after_s),
                     SetAdminFault(self.link, link.admin_url, "ok")),)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkLoss:
    """A clinic or pharmacy loses its network: blackholed, or cut mid-upload."""

    kind: ClassVar[str] = "network_loss"
    link: str
    mode: Literal["blackhole", "cut_upload"] = "blackhole"
    close_after_ms: int = 0  # blackhole: 0 keeps connections hanging forever, as Toxiproxy does
    upload_limit_bytes: int = 65536

    def __post_init__(self) -> None:
        _positive(self.kind, "close_after_ms", self.close_after_ms)
        _positive(self.kind, "upload_limit_bytes", self.upload_limit_bytes)

    @property
    def target(self) -> str:
        return self.link

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        proxy = topology.link(self.link, "client").proxy
        if self.mode == "blackhole":
            return _toxic_steps(
                proxy, tag,
                ToxicSpec.of("timeout", stream="upstream", timeout=self.close_after_ms),
                ToxicSpec.of("timeout", stream="downstream", timeout=self.close_after_ms))
        # Client -> server data is Toxiproxy's "upstream" stream.
        return _toxic_steps(proxy, tag, ToxicSpec.of(
            "limit_data", stream="upstream", bytes=self.upload_limit_bytes))


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerLoss:
    """A rack loses power: its processes are SIGKILLed, and restarted when power returns."""

    kind: ClassVar[str] = "power_loss"
    rack: str

    @property
    def target(self) -> str:
        return self.rack

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        topology.rack(self.rack)
        return (Step(KillRack(self.rack), RestartRack(self.rack)),)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaFailure:
    """A portal replica breaks down and is repaired; `work` says what becomes of its requests.

    "drop": the process dies (SIGKILL) and restarts at the repair: queued and in-service
    requests are lost, connections refused meanwhile (a power loss of one replica).
    "resume": the process stops (SIGSTOP) and continues (SIGCONT): connections still queue,
    work in service pauses and resumes where it stopped (preemptive resume).
    "restart": as "resume", but work in service starts again from its beginning at the repair
    (preemptive repeat, the same demand). The live lab needs a supervisor that can stop and
    continue a process for the last two; without one the injector refuses them.
    """

    kind: ClassVar[str] = "replica_failure"
    replica: str
    work: Literal["drop", "resume", "restart"] = "drop"

    @property
    def target(self) -> str:
        return self.replica

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        _replica_link(topology, self.kind, self.replica)
        return (Step(StopReplica(self.replica, self.work), StartReplica(self.replica, self.work)),)


@dataclass(frozen=True, slots=True, kw_only=True)
class DegradedReplica:
    """A replica loses part of its capacity (CPU steal, a garbage collector, a degraded disk):
    it works at `speed` (0 < speed <= 1) of its normal speed, so each request it starts
    meanwhile holds its worker for its service time / speed. The usual trigger of a
    metastable failure (Bronson et al., HotOS 2021). Set through the replica's admin route."""

    kind: ClassVar[str] = "degraded_replica"
    replica: str
    speed: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.speed <= 1.0:
            raise InvalidFault(f"{self.kind}: speed is {self.speed}; expected 0 < speed <= 1")

    @property
    def target(self) -> str:
        return self.replica

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        link = _replica_link(topology, self.kind, self.replica)
        if not link.admin_url:
            raise UnknownTarget(f"{self.kind}: replica {self.replica!r} has no admin_url on "
                                f"its client link {link.proxy!r}; expected the replica's admin "
                                f"address")
        return (Step(SetAdminFault(self.replica, link.admin_url, "ok", speed=self.speed),
                     SetAdminFault(self.replica, link.admin_url, "ok")),)


def _replica_link(topology: FaultTopology, kind: str, replica: str) -> Link:
    """The client link of `replica` ("client-<replica>", as the lab names it)."""
    try:
        return topology.link(f"client-{replica}", "client")
    except UnknownTarget:
        replicas = sorted(name.removeprefix("client-") for name, link in topology.links.items()
                          if link.kind == "client")
        raise UnknownTarget(f"{kind}: replica {replica!r} is not in the topology; expected "
                            f"one of {replicas}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentWindow:
    """A deployment without a maintenance window: the service's replicas are restarted."""

    kind: ClassVar[str] = "deployment_window"
    service: str
    rolling: bool = True
    drain_s: float = 5.0

    def __post_init__(self) -> None:
        _positive(self.kind, "drain_s", self.drain_s)

    @property
    def target(self) -> str:
        return self.service

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        processes = topology.service(self.service)
        # The deploy runs alongside the other faults; the window ends once it has finished.
        return (Step(Deploy(self.service, processes, self.rolling, self.drain_s),
                     AwaitDeploy(self.service)),)


@dataclass(frozen=True, slots=True, kw_only=True)
class PeakLoad:
    """A load surge (month-end lists, Esfand, season start): arrivals times `rate_multiplier`."""

    kind: ClassVar[str] = "peak_load"
    rate_multiplier: float = 3.0
    population: str = "all"  # which clients surge: "all", "employers", "pharmacies", ...

    def __post_init__(self) -> None:
        _positive(self.kind, "rate_multiplier", self.rate_multiplier, allow_zero=False)

    @property
    def target(self) -> str:
        return f"load:{self.population}"

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        return (Step(ShiftWorkload(self.kind, self.target), None),)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshStorm:
    """Users hammer refresh: failed requests retried `max_retries` times after `retry_delay_s`
    (0: no backoff), with arrivals times `rate_multiplier`."""

    kind: ClassVar[str] = "refresh_storm"
    max_retries: int = 5
    retry_delay_s: float = 0.0
    rate_multiplier: float = 1.0
    population: str = "all"

    def __post_init__(self) -> None:
        _positive(self.kind, "max_retries", self.max_retries)
        _positive(self.kind, "retry_delay_s", self.retry_delay_s)
        _positive(self.kind, "rate_multiplier", self.rate_multiplier, allow_zero=False)

    @property
    def target(self) -> str:
        return f"retries:{self.population}"

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        return (Step(ShiftWorkload(self.kind, self.target), None),)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawToxic:
    """Any Toxiproxy toxic, by type and attributes, on any link."""

    kind: ClassVar[str] = "toxic"
    link: str
    toxic: ToxicSpec

    @property
    def target(self) -> str:
        return self.link

    def plan(self, topology: FaultTopology, tag: str) -> tuple[Step, ...]:
        return _toxic_steps(topology.link(self.link).proxy, tag, self.toxic)


Fault = (SwitchFailure | SlowUpstream | UpstreamOutage | NetworkLoss | PowerLoss
         | ReplicaFailure | DegradedReplica | DeploymentWindow | PeakLoad | RefreshStorm
         | RawToxic)
FAULT_TYPES: dict[str, type[Fault]] = {cls.kind: cls for cls in (
    SwitchFailure, SlowUpstream, UpstreamOutage, NetworkLoss, PowerLoss, ReplicaFailure,
    DegradedReplica, DeploymentWindow, PeakLoad, RefreshStorm, RawToxic)}
NETWORK_KINDS = frozenset({"switch_failure", "slow_upstream", "upstream_outage",
                           "network_loss", "toxic"})
WORKLOAD_KINDS = frozenset({"peak_load", "refresh_storm"})
