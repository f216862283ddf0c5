"""The simulated lab behind the injector's ports: proxies, supervisor, admin routes, workload.

`faults.injector.Injector` drives the simulated world through the same interfaces it drives
the live lab with: `SimProxies` (a `ProxyControl`: a proxy's enabled flag and toxics become the
world's `LinkState` for that link), `SimSupervisor` (a `Supervisor` and the injector's
`DeployRunner`: racks lose power, replicas restart as SimPy processes), `SimAdmin` (an
`UpstreamAdmin`: an upstream's HTTP-level fault, a replica's speed), `SimBreakdowns` (a
replica breaks down: its work dropped, paused and resumed, or restarted) and `SimWorkload`
(the arrival rates and the refresh storm). `sim_topology` names the links, switches, racks
and services as the lab does, so a fault plans the same steps in both runners.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from typing import Any, assert_never

import simpy

from faults.actions import Deploy, SetAdminFault
from faults.catalog import PeakLoad, RefreshStorm
from faults.errors import ProxyExists, ProxyNotFound, SupervisorError, UnknownTarget
from faults.injector import DeployHandle, Injector
from faults.supervisor import Supervisor
from faults.topology import FaultTopology, Link
from faults.toxics import ToxicInfo, ToxicSpec
from scenario.schema import Scenario
from sim.links import LinkState, toxic_type
from sim.portal import pause
from sim.world import RESET, ReplicaState, World

ADMIN_URL = "sim://"  # an upstream link's admin address in the simulated lab: sim://<upstream>
DEPLOY_PER_REPLICA_S = 120.0  # a deploy not paced by its window restarts a replica in ~2 min
DRAIN_POLL_S = 0.5  # how often a draining replica looks at its in-flight requests


def sim_topology(scenario: Scenario) -> FaultTopology:
    """The lab's topology for `scenario`: links `client-<replica>` and `<replica>-<upstream>`
    on the replica's switch, the processes of each rack, the replicas of "portal"."""
    topo = scenario.topology
    links: dict[str, Link] = {}
    for rep in topo.replicas:  # a client link carries its replica's admin address
        links[f"client-{rep.name}"] = Link(f"client-{rep.name}", rep.switch, "client",
                                           admin_url=ADMIN_URL + rep.name)
        for up in topo.upstreams:
            name = f"{rep.name}-{up}"
            links[name] = Link(name, rep.switch, "upstream", admin_url=ADMIN_URL + up)
    racks = {rack: tuple([r.name for r in topo.replicas if r.rack == rack]
                         + [u for u, spec in topo.upstreams.items() if spec.rack == rack])
             for rack in topo.racks}
    services = {"portal": tuple(r.name for r in topo.replicas)}
    services.update({up: (up,) for up in topo.upstreams})
    return FaultTopology(links=links, racks=racks, services=services)


class SimProxies:
    """A `ProxyControl` over the world's links: each proxy's enabled flag and toxics."""

    def __init__(self, world: World, topology: FaultTopology) -> None:
        self.world = world
        self.names = frozenset(link.proxy for link in topology.links.values())
        self.clients = {rep.client_link: rep for rep in world.replicas}

    def _state(self, name: str) -> LinkState:
        if name not in self.names:
            raise ProxyNotFound(f"proxy {name!r} not found", 404)
        return self.world.link(name)

    def set_enabled(self, name: str, enabled: bool) -> None:
        state = self._state(name)
        self.world.set_link(name, dataclasses.replace(state, enabled=enabled))
        if enabled:
            return
        self.world.close_hung(name)  # disabling a proxy drops its open connections
        rep = self.clients.get(name)
        if rep is not None:
            for job in list(rep.inflight):
                job.reply(RESET)

    def add_toxic(self, proxy: str, spec: ToxicSpec) -> ToxicInfo:
        state = self._state(proxy)
        toxic_type(spec)  # one the simulator models (the timeline checked it already)
        name = spec.name or f"{spec.type}_{spec.stream}"
        if any(t.name == name for t in state.toxics):
            raise ProxyExists(f"toxic {name!r} already exists on {proxy!r}", 409)
        named = dataclasses.replace(spec, name=name)
        self.world.set_link(proxy, dataclasses.replace(state, toxics=(*state.toxics, named)))
        attributes = tuple((k, float(v)) for k, v in spec.attributes)
        return ToxicInfo(name, spec.type, spec.stream, spec.toxicity, attributes)

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        state = self._state(proxy)
        kept = tuple(t for t in state.toxics if t.name != toxic)
        if len(kept) == len(state.toxics):
            raise ProxyNotFound(f"toxic {toxic!r} not found on {proxy!r}", 404)
        self.world.set_link(proxy, dataclasses.replace(state, toxics=kept))
        # a removed timeout toxic closes the connections it held (`sim.links`, "timeout")
        self.world.close_hung(proxy, toxic)


class SimAdmin:
    """An `UpstreamAdmin`: an upstream's HTTP-level fault, felt on every link to it (the lab's
    admin route sets it on the upstream process, whichever replica calls); a replica's admin
    route sets its speed (a `degraded_replica`)."""

    def __init__(self, world: World, topology: FaultTopology) -> None:
        self.world = world
        self.links: dict[str, list[str]] = {}  # upstream -> the proxies of its links
        for link in topology.links.values():
            if link.kind == "upstream" and link.admin_url.startswith(ADMIN_URL):
                self.links.setdefault(link.admin_url.removeprefix(ADMIN_URL), []).append(
                    link.proxy)
        self.replicas = {rep.spec.name: rep for rep in world.replicas}

    def set_fault(self, action: SetAdminFault) -> None:
        upstream = action.admin_url.removeprefix(ADMIN_URL)
        rep = self.replicas.get(upstream)
        if rep is not None:
            if action.mode != "ok":
                raise UnknownTarget(f"replica admin {action.admin_url!r}: mode "
                                    f"{action.mode!r} is not simulated on a replica; expected "
                                    f"'ok' with a speed")
            rep.speed = action.speed  # requests started from now on take service / speed
            return
        if upstream not in self.links:
            raise UnknownTarget(f"upstream admin {action.admin_url!r} is not in the simulated "
                                f"lab; expected one of {sorted(self.links)}")
        admin = None if action.mode == "ok" else action
        self.world.admin_failures[action.upstream] = action.n if action.mode == "fail_n" else 0
        for proxy in self.links[upstream]:
            state = self.world.link(proxy)
            self.world.set_link(proxy, dataclasses.replace(state, admin=admin))


class SimDeploy:
    """A deploy running as a SimPy process; `wait` checks that it has finished."""

    def __init__(self, service: str, process: simpy.Process) -> None:
        self.service = service
        self.process = process

    def wait(self) -> None:
        if not self.process.triggered:
            raise SupervisorError(f"the deploy of {self.service!r} was still running when "
                                  f"its window ended")
        if not self.process.ok:
            raise SupervisorError(f"the deploy of {self.service!r} failed: "
                                  f"{self.process.value}")


class SimSupervisor:
    """A `Supervisor` and `DeployRunner` over the world's racks and replicas.

    Simulated time cannot block a call, so a deploy always runs as a process: `until_s` paces
    it (the nemesis sets its window's end: the replicas restart one after the other over the
    window, as the scenario's deployment lasts); `finished` waits for it.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.until_s = 0.0
        self.deploys: dict[str, SimDeploy] = {}

    def kill_rack(self, rack: str) -> None:
        world = self.world
        world.toggle(rack, True)
        for rep in world.replicas:
            if rep.spec.rack == rack:
                rep.crash(world.env, RESET)

    def restart_rack(self, rack: str) -> None:
        self.world.toggle(rack, False)

    def rolling_deploy(self, service: str, processes: Sequence[str], *, drain_s: float) -> None:
        self._start(Deploy(service, tuple(processes), True, drain_s))

    def naive_deploy(self, service: str, processes: Sequence[str]) -> None:
        self._start(Deploy(service, tuple(processes), False, 0.0))

    def start(self, supervisor: Supervisor, action: Deploy) -> DeployHandle:
        """The injector's `DeployRunner`: the deploy as a process of the world."""
        return self._start(action)

    def finished(self, service: str) -> Generator[simpy.Event, Any, None]:
        """Wait until the deploy of `service`, if one runs, has finished."""
        deploy = self.deploys.get(service)
        if deploy is not None and not deploy.process.triggered:
            yield deploy.process

    def _start(self, action: Deploy) -> SimDeploy:
        by_name = {rep.spec.name: rep for rep in self.world.replicas}
        missing = [p for p in action.processes if p not in by_name]
        if missing:
            raise UnknownTarget(f"deploy of {action.service!r}: {missing[0]!r} is not a "
                                f"replica of the simulated lab")
        replicas = [by_name[p] for p in action.processes]
        process = self.world.env.process(self._deploy(action, replicas))
        self.deploys[action.service] = SimDeploy(action.service, process)
        return self.deploys[action.service]

    def _deploy(self, action: Deploy,
                replicas: list[ReplicaState]) -> Generator[simpy.Event, Any, None]:
        """Restart the replicas, one at a time when rolling: drain, stop, start again."""
        env = self.world.env
        batches = [[r] for r in replicas] if action.rolling else [replicas]
        span = (self.until_s - env.now) / len(batches)
        if span <= 0.0:
            span = DEPLOY_PER_REPLICA_S * len(replicas) / len(batches)
        for batch in batches:
            until = env.now + span
            for rep in batch:
                rep.draining = True
            yield from self._drain(batch, min(action.drain_s, span / 2))
            for rep in batch:
                rep.crash(env, RESET)  # SIGTERM after the drain: whatever is left is cut
                rep.down = True
            yield env.timeout(max(until - env.now, 0.0))
            for rep in batch:
                rep.down = rep.draining = False

    def _drain(self, batch: list[ReplicaState], max_s: float) -> Generator[simpy.Event, Any, None]:
        env = self.world.env
        deadline = env.now + max_s
        while any(rep.inflight for rep in batch) and env.now < deadline:
            yield env.timeout(DRAIN_POLL_S)


class SimBreakdowns:
    """The injector's `Breakdowns` port: a replica breaks down and is repaired, its work
    dropped (killed), or paused and resumed or restarted (`faults.catalog.ReplicaFailure`)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.replicas = {rep.spec.name: rep for rep in world.replicas}

    def _replica(self, name: str) -> ReplicaState:
        rep = self.replicas.get(name)
        if rep is None:
            raise UnknownTarget(f"replica {name!r} is not in the simulated lab; expected one "
                                f"of {sorted(self.replicas)}")
        return rep

    def stop_replica(self, replica: str, work: str) -> None:
        rep, world = self._replica(replica), self.world
        if work == "drop":
            world.toggle(replica, True)  # unreachable until repaired, as a power loss
            rep.crash(world.env, RESET)
            return
        if rep.stopped is None:
            rep.stopped = world.env.event()
        rep.stop_work = work
        pause(rep)

    def start_replica(self, replica: str, work: str) -> None:
        rep, world = self._replica(replica), self.world
        if work == "drop":
            world.toggle(replica, False)
            return
        stopped, rep.stopped = rep.stopped, None
        if stopped is not None:
            stopped.succeed()


class SimWorkload:
    """The injector's workload port: a surge multiplies arrivals; a storm makes users retry."""

    def __init__(self, world: World) -> None:
        self.world = world

    def shift(self, fault: PeakLoad | RefreshStorm, on: bool) -> None:
        world = self.world
        if isinstance(fault, PeakLoad):
            world.set_rate(fault.population, fault.rate_multiplier, on)
        elif isinstance(fault, RefreshStorm):
            world.set_rate(fault.population, fault.rate_multiplier, on)
            world.storm = fault if on else None
        else:
            assert_never(fault)


def sim_injector(world: World) -> Injector:
    """The world's injector: the same `Injector` as the lab's, on the world's ports, its
    clock the simulated time."""
    if world.injector is None:
        topology = sim_topology(world.scenario)
        env = world.env
        supervisor = SimSupervisor(world)
        world.injector = Injector(topology, world.history, lambda: env.now,
                                  SimProxies(world, topology), supervisor=supervisor,
                                  admin=SimAdmin(world, topology), deploys=supervisor,
                                  workload=SimWorkload(world),
                                  breakdowns=SimBreakdowns(world))
    return world.injector
