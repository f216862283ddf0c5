"""The model's state: replicas, racks, upstreams and the lab's links, as SimPy objects.

`World` holds everything the short generator processes share: the environment, the seeded
rng, the history, the replicas (each a pool of worker threads, `engine.Workers`, with a bounded
accept queue), which racks have lost power, and the state of every link a fault touched (its
proxy enabled or not, its toxics, its upstream's admin fault: `sim.links`), the policies at
work (`sim.policystate`) and the pharmacies' paper records (`Pharmacies`). The faults reach
it through `sim.ports`, as the live injector reaches the lab. A replica is reachable when it
is up, its rack has power and its clients' proxy is enabled (a failed switch disables it).

It is built in one step from the scenario, the policy set and the seed, and imports no
process: the processes (`upstream`, `portal`, `client`, `pharmacy`, `ports`, `faults`,
`workload`) sit above it and are handed it (tests/test_layers.py holds the order).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

import simpy

from faults.catalog import RefreshStorm
from faults.injector import Injector
from policies.outcome import Outcome
from policies.presets import PolicySet
from policies.quota import ClaimQuota
from scenario.arrivals import POPULATION, source_of
from scenario.dists import Sampler, sampler
from scenario.history import WRITE_FS, History
from scenario.names import upstream_process
from scenario.schema import Replica, Scenario, Workload
from sim.engine import Environment, Timers, Workers
from sim.links import HEALTHY, LinkState, answers_polls
from sim.policystate import PolicyState


class Job:
    """One attempt of a client at a portal replica: the event the client waits on."""

    __slots__ = (
        "account",
        "answer",
        "done",
        "event",
        "grant",
        "key",
        "kind",
        "priority",
        "service_s",
        "source",
        "started_s",
    )

    def __init__(self, kind: str, key: str, priority: int, source: str, account: str, *,
                 now: float, event: simpy.Event | None) -> None:
        self.event = event  # None when the client runs the request inline and reads `answer`
        self.answer: tuple[Outcome, str] | None = None
        self.source = source
        self.account = account
        self.done = False
        self.kind = kind
        self.key = key
        self.priority = priority
        self.started_s = now
        self.service_s = -1.0  # the attempt's service time when drawn at admission (once)
        self.grant: simpy.Event | None = None  # its wait for a worker, while it waits

    def reply(self, value: tuple[Outcome, str]) -> None:
        """Answer the client once (the outcome and a history label); later answers drop."""
        if not self.done:
            self.done = True
            self.answer = value
            if self.event is not None:
                self.event.succeed(value)


@dataclass(slots=True)
class ReplicaState:
    """A portal replica: its worker threads, accept-queue bound and liveness."""

    spec: Replica
    workers: Workers
    client_link: str = ""
    epoch: int = 0
    down: bool = False
    draining: bool = False
    speed: float = 1.0  # a degraded replica's speed: its service times / speed
    stopped: simpy.Event | None = None  # broken down (resume/restart): fires at the repair
    stop_work: str = ""  # what the breakdown does to work in service: "resume" | "restart"
    # the wake-ups of requests in service on a replica that may break down (`portal.serve`)
    serving: dict[simpy.Event, None] = field(default_factory=dict)
    # a dict, not a set: a crash resets its jobs in admission order, not in an order that
    # hangs on memory addresses (a set of objects iterates by id)
    inflight: dict[Job, None] = field(default_factory=dict)
    # list_queue: the lists it accepted and has not processed (key, service left, accepted
    # at), oldest first; durable, so a crash keeps them; and its idle loops' wake-ups
    lists: deque[tuple[str, float, float]] = field(default_factory=deque)
    lists_idle: list[simpy.Event] = field(default_factory=list)

    def crash(self, env: Environment, reset: tuple[Outcome, str]) -> None:
        """Lose every in-flight and queued request; the replica restarts with fresh workers."""
        self.epoch += 1
        self.workers = Workers(env, self.spec.workers)
        for job in list(self.inflight):
            job.reply(reset)
        self.inflight.clear()


@dataclass(slots=True)
class UpstreamState:
    """An upstream service: its healthy latency sampler, its rack, and the history process
    of its attempts (built once: the simulator records one op per attempt)."""

    name: str
    latency: Sampler
    rack: str
    process: str = field(init=False)

    def __post_init__(self) -> None:
        self.process = upstream_process(self.name)


@dataclass(frozen=True, slots=True)
class RequestKind:
    """A request kind as the processes use it: cost sampler, upstreams, priority."""

    service: Sampler
    upstreams: tuple[str, ...]
    priority: int
    write: bool
    queue_patience: bool = False  # its users abandon while waiting (give_up = "queue")
    accept_share: float = 0.1  # of a queued list's service time, before its 202


@dataclass(slots=True)
class Counters:
    """Cheap running sums the validation tests and the report read."""

    served: int = 0
    waited: int = 0  # served after a wait for a worker (Erlang C's P(wait))
    wait_sum_s: float = 0.0
    wasted: int = 0


class Pharmacies(ClaimQuota):
    """Paper quota and backlog of every pharmacy of one replication (`sim.pharmacy` runs
    the fallback and the reconciliation on them)."""

    __slots__ = ("backlog",)

    def __init__(self, max_share: float | None) -> None:
        super().__init__(max_share)
        self.backlog: dict[str, list[str]] = {}  # pharmacy -> control numbers to reconcile


class World:
    """Everything the processes of one replication share."""

    def __init__(self, scenario: Scenario, policy_set: PolicySet, seed: int, *,
                 horizon_s: float = math.inf, history: History | None = None) -> None:
        self.scenario = scenario
        self.env = Environment()
        self.rng = random.Random(seed)
        self.history = History() if history is None else history
        self.counters = Counters()
        topology, workload = scenario.topology, scenario.workload
        self.replicas = [ReplicaState(r, Workers(self.env, r.workers), f"client-{r.name}")
                         for r in topology.replicas]
        self.down: dict[str, int] = {}  # rack name -> active power losses
        self.upstreams = {name: UpstreamState(name, sampler(up.latency), up.rack)
                          for name, up in topology.upstreams.items()}
        # proxy name -> its state, for the links a fault touched and has not healed (the
        # healthy path reads one empty dict)
        self.links: dict[str, LinkState] = {}
        self.injector: Injector | None = None  # built by `sim.nemesis` for the first fault
        self.admin_failures: dict[str, int] = {}  # fail_n admin faults: failures left
        self.kinds: dict[str, RequestKind] = {
            name: RequestKind(sampler(k.service), tuple(k.upstreams), k.priority,
                              name in WRITE_FS, _gives_up_in_queue(workload, name),
                              k.accept_share)
            for name, k in workload.kinds.items()}
        if "dispense" in self.kinds:  # registering a paper prescription costs a dispense
            self.kinds["reconcile"] = self.kinds["dispense"]
        self.population = workload.population
        self.patience = sampler(workload.patience)
        self.refresh_delay = sampler(workload.refresh.delay)
        self.backoff = workload.refresh.backoff
        # replicas may pause work in service: every request is served by `portal.serve`
        self.pausable = _may_pause(scenario)
        self.max_refreshes = workload.refresh.max_refreshes
        self.applied: dict[str, int] = {}
        # the clients' timeouts of the attempts the portal admitted (`client.served`)
        self.timeouts: Timers[Job] = Timers(self.env, _timed_out)
        self.keys: set[str] = set()  # the key of every operation invoked with one
        self.rate_factors: dict[str, float] = {}  # population -> peak multiplier
        self.rate_version = 0
        self.storm: RefreshStorm | None = None
        self.horizon_s = horizon_s  # when the run stops (timers past it are never set)
        self.policies = PolicyState(policy_set, (r.spec.name for r in self.replicas),
                                    self.upstreams, self.population)
        self.pharmacies = Pharmacies(policy_set.paper_quota_share)
        # the users' failover, as the live clients read it: baseline's users are pinned to
        # their home replica (they refresh the same page), resilient's fail over
        self.failover = policy_set.user.failover
        self.dedupe = policy_set.idempotency_keys
        self.list_queue = policy_set.list_queue
        self.lists_taken: set[str] = set()  # keys of the lists accepted into a queue
        self.drop_expired = _drops_expired(scenario, policy_set)
        # link -> the waits its timeout toxics hold (`hang`), each with its toxic's name
        self.hung: dict[str, dict[simpy.Event, str]] = {}
        self._ids = 0

    def next_id(self) -> int:
        """A fresh operation number (process names and keys are unique per run)."""
        self._ids += 1
        return self._ids

    def pick(self, home: int, attempt: int) -> ReplicaState:
        """The replica of a client's attempt: pinned to its home without failover; with
        failover, the first ready one (`ready`) from `home + attempt`, so each retry moves
        on, or that one if none is ready. The live clients' balancer does the same
        (mock_services/lab/clients/replicas.py): it polls each replica's /readyz and picks
        among the ready ones from the same place. A replica that only timed out stays in
        rotation: a client cannot tell a blackholed link from a slow replica."""
        replicas = self.replicas
        if not self.failover:
            return replicas[home]
        n = len(replicas)
        for i in range(n):
            rep = replicas[(home + attempt + i) % n]
            if self.ready(rep):
                return rep
        return replicas[(home + attempt) % n]

    def ready(self, rep: ReplicaState) -> bool:
        """What the clients' health polls see of `rep`: it runs, is powered, not draining and
        not paused (a paused replica's /readyz hangs past the poll's timeout), and its
        /readyz answers through its clients' proxy (`links.answers_polls`: a blackholed or
        very slow link keeps it out of rotation). The polls' 0.1 s period is not modelled:
        a replica leaves and rejoins the rotation the instant its state changes."""
        if rep.stopped is not None or not self.reachable(rep):
            return False
        return not self.links or answers_polls(self.link(rep.client_link))

    def refresh_pause(self, rng: random.Random, done: int) -> float:
        """The pause before a user's re-submission, `done` re-submissions into the
        operation: drawn from the refresh delay, or exponential backoff (`schema.Backoff`)."""
        b = self.backoff
        if b is None:
            return self.refresh_delay(rng)
        try:
            cap = min(b.max, b.base * b.multiplier ** done)
        except OverflowError:
            cap = b.max
        return rng.random() * cap if b.jitter == "full" else cap

    def refresh_probability(self) -> float:
        """How likely a user re-submits after a failed answer (1 during a refresh storm)."""
        return 1.0 if self.storm is not None else self.scenario.workload.refresh.probability

    def toggle(self, name: str, on: bool) -> None:
        """Count overlapping faults on one switch or rack: the first to heal heals only
        itself."""
        count = self.down.get(name, 0) + (1 if on else -1)
        if count > 0:
            self.down[name] = count
        else:
            self.down.pop(name, None)

    def set_rate(self, population: str, factor: float, on: bool) -> None:
        """A peak starts (`on`) or ends: arrivals of `population` ("all", "employers", ...)
        times `factor`; overlapping peaks multiply."""
        current = self.rate_factors.get(population, 1.0)
        self.rate_factors[population] = current * factor if on else current / factor
        self.rate_version += 1

    def link(self, name: str) -> LinkState:
        """The state of a link (healthy unless a fault says otherwise)."""
        return self.links.get(name, HEALTHY) if self.links else HEALTHY

    def set_link(self, name: str, state: LinkState) -> None:
        """Change a link's state; a healthy one is forgotten, so the healthy path stays one
        empty-dict test."""
        if state.healthy:
            self.links.pop(name, None)
        else:
            self.links[name] = state

    def holds(self, link: str, toxic: str) -> bool:
        """Whether toxic `toxic` is still on `link` (a removed timeout toxic has closed the
        connections it held)."""
        return any(t.name == toxic for t in self.link(link).toxics)

    def hang(self, link: str, toxic: str, wait_s: float) -> simpy.Event:
        """A wait that timeout toxic `toxic` of `link` holds: an event that fires with True
        when the toxic is removed or the proxy disabled (`close_hung`: the proxy closes the
        connection), else with False after `wait_s` (the caller's timeout, or the toxic's
        own close)."""
        env = self.env
        wake = env.event()
        waiting = self.hung.setdefault(link, {})
        waiting[wake] = toxic

        def expire(_timer: simpy.Event) -> None:
            if waiting.pop(wake, None) is not None:
                wake.succeed(False)

        if wait_s < math.inf:
            env.timeout(wait_s).callbacks.append(expire)
        return wake

    def close_hung(self, link: str, toxic: str | None = None) -> None:
        """The proxy of `link` closes the connections timeout toxic `toxic` holds (every
        toxic's, with None): their waits (`hang`) end now, oldest first."""
        waiting = self.hung.get(link)
        if not waiting:
            return
        for wake, name in list(waiting.items()):
            if toxic is None or name == toxic:
                del waiting[wake]
                wake.succeed(True)

    def reachable(self, rep: ReplicaState) -> bool:
        """Up, powered, not draining, and its clients' proxy enabled (a failed switch
        disables it)."""
        return self.alive(rep) and not (rep.draining or self.isolated(rep))

    def isolated(self, rep: ReplicaState) -> bool:
        """Its clients' proxy is disabled: no request reaches it and no reply gets out."""
        return bool(self.links) and not self.link(rep.client_link).enabled

    def alive(self, rep: ReplicaState) -> bool:
        """Its process runs: not crashed and waiting to restart, not without power (a switch
        failure leaves it running, cut off from its clients)."""
        down = self.down
        return not (rep.down or (down and (down.get(rep.spec.rack, 0)
                                           or down.get(rep.spec.name, 0))))

    def commit(self, key: str) -> None:
        """Apply a write; with idempotency keys a repeated key is applied once."""
        count = self.applied.get(key, 0)
        if count == 0 or not self.dedupe:
            self.applied[key] = count + 1


TIMEOUT = (Outcome(False, error="timeout"), "timeout")  # a client timed its attempt out
# The connection was cut (a crash, a disabled proxy, an isolated replica): the outcome an
# attempt reads, and the history's error of its call. The one definition: the portal, the
# client, the ports and the upstream calls (`sim.upstream`) all answer with it.
RESET = (Outcome(False, error="reset"), "refused")


def _timed_out(job: Job) -> None:
    job.reply(TIMEOUT)


def _gives_up_in_queue(workload: Workload, kind: str) -> bool:
    """Whether the users of `kind` abandon while waiting (`schema.GiveUp`), per population."""
    population = POPULATION[source_of(kind)]
    given = [mode for name, mode in workload.give_up_by.items() if name == population]
    return (given[0] if given else workload.give_up) == "queue"


def _drops_expired(scenario: Scenario, policy_set: PolicySet) -> bool:
    """What the portal does with a request whose client has gone (`schema.Orphans`): by
    default ("policy") it drops it only when it has admission control and the client
    propagates its deadline (resilient); the baseline serves it anyway."""
    orphans = scenario.server.orphans_for(policy_set.name)
    return orphans == "drop" or (orphans == "policy" and (
        policy_set.admission is not None and policy_set.user.timeout.propagate_deadline))


def _may_pause(scenario: Scenario) -> bool:
    """Whether some replica may break down with its work paused (resume or restart)."""
    replicas = {r.name for r in scenario.topology.replicas}
    stochastic = scenario.stochastic
    if stochastic.replica_work != "drop" and replicas & set(stochastic.mtbf):
        return True
    return any(f.kind == "replica_failure" and (f.model_extra or {}).get("work", "drop") != "drop"
               for f in scenario.faults)
