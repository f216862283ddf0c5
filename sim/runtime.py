"""The policy set at work in the model: the same policy objects the services use.

`Runtime` builds, from a `PolicySet`, what each replica owns (admission control, the login
rate limiter, one client pipeline per upstream, the stale cache and the verification cache)
and the user pipeline of the load driver. Upstream attempts and user attempts are SimPy
generators run by `policies.simpy_driver.run_call`; their breaker transitions are drained
into the history as policy events.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from policies.cache import StaleIfErrorCache
from policies.decisions import Admit, Reject
from policies.outcome import Outcome
from policies.pipeline import ClientPipeline
from policies.presets import PolicySet
from policies.ratelimit import KeyedTokenBucket
from policies.shedding import AdmissionController
from policies.simpy_driver import run_call
from scenario.history import POLICY, SHORT_CIRCUIT, UPSTREAM, Op
from sim.world import Job, ReplicaState, World

READS = frozenset({"read_history", "read_payslip"})
VERIFIES = frozenset({"login", "recover_password"})
REFUSED = Outcome(False, error="refused")
RESET = Outcome(False, error="reset")
Attempt = Callable[[float], Generator[simpy.Event, Any, tuple[Outcome, str | None]]]


@dataclass(slots=True)
class Guard:
    """The per-replica server-side policies (None = off)."""

    admission: AdmissionController | None
    login_limit: tuple[KeyedTokenBucket, KeyedTokenBucket] | None  # per account, per source
    pipelines: dict[str, ClientPipeline]
    cache: StaleIfErrorCache[object] | None
    verified: dict[str, float]

    def login_refused(self, account: str, source: str, now: float) -> bool:
        """True when the login rate limits refuse this attempt."""
        if self.login_limit is None:
            return False
        per_account, per_source = self.login_limit
        return isinstance(per_source.take(source, now), Reject) or isinstance(
            per_account.take(account, now), Reject)


class Runtime:
    """Policies of one replication, built from a `PolicySet`."""

    def __init__(self, world: World, ps: PolicySet) -> None:
        self.ps = ps
        self.guards: dict[str, Guard] = {}
        for rep in world.replicas:
            self.guards[rep.spec.name] = Guard(
                admission=AdmissionController(ps.admission) if ps.admission else None,
                login_limit=ps.login_limit.build() if ps.login_limit else None,
                pipelines={name: ps.client_for(name).build(name) for name in world.upstreams},
                cache=ps.cache.build() if ps.cache else None,
                verified={},
            )
        # every pipeline in the order `drain` has always visited them (replica, upstream)
        self.pipelines = [pl for g in self.guards.values() for pl in g.pipelines.values()]
        self.user = ps.user.build("portal")
        self.admit_type = Admit
        self.pending_payments: list[str] = []
        self.queued: set[str] = set()

    def drain(self, world: World) -> None:
        """Write the policies' state changes into the history."""
        for pl in self.pipelines:
            if pl.events:  # most calls change no breaker state
                for ev in pl.drain_events():
                    world.history.append(Op("info", POLICY, ev.policy, ev.time_s, ev.key,
                                            ev.value))

    def upstream_call(self, world: World, rep: ReplicaState, name: str,
                      job: Job) -> Generator[simpy.Event, Any, str]:
        """One logical call from `rep` to upstream `name`; the label the portal acts on."""
        guard = self.guards[rep.spec.name]
        env = world.env
        user = job.account
        cache = guard.cache
        if cache is not None and job.kind in READS and cache.get(user, env.now) is not None:
            return ""
        call_id = f"{name}:{world.next_id()}"  # the same for every retry of this call
        result = yield from run_call(env, guard.pipelines[name],
                                     _upstream_attempt(world, rep, name, call_id), world.rng)
        if result.attempts == 0:  # offered load the policies kept off the upstream
            world.history.append(Op("info", UPSTREAM + name, SHORT_CIRCUIT, env.now, call_id,
                                    result.reason))
        self.drain(world)
        if result.ok:
            if cache is not None and job.kind in READS:
                cache.put(user, "", env.now)
            if job.kind in VERIFIES:
                guard.verified[user] = env.now
            return ""
        if cache is not None and job.kind in READS:
            hit = cache.get_stale(user, env.now)
            if hit is not None:
                return f"stale:{hit.age_s:.1f}"
        max_age = self.ps.verification_cache_max_age_s
        seen = guard.verified.get(user)
        if max_age is not None and job.kind in VERIFIES and seen is not None \
                and env.now - seen <= max_age:
            return "cached"
        if self.ps.payment_queue and name == "payment":
            if job.key not in self.queued:  # a retried submission is queued once
                self.queued.add(job.key)
                self.pending_payments.append(job.key)
            return "accepted"
        return result.reason


def _upstream_attempt(world: World, rep: ReplicaState, name: str, call_id: str) -> Attempt:
    """One attempt from replica `rep` to upstream `name` through the link between them."""
    up = world.upstreams[name]
    process = UPSTREAM + name
    history = world.history
    link_name = f"{rep.spec.name}-{name}"

    def attempt(timeout_s: float) -> Generator[simpy.Event, Any, tuple[Outcome, str | None]]:
        env = world.env
        link = world.link(link_name)
        mode = link.mode
        if mode == "disabled" or world.isolated(rep) or world.down.get(up.rack, 0):
            history.append(Op("info", process, "call", env.now, call_id, "fail", "refused"))
            return REFUSED, None
        if mode == "reset_peer":
            history.append(Op("info", process, "call", env.now, call_id, "fail", "reset"))
            return RESET, None
        if mode == "http_503":
            history.append(Op("info", process, "call", env.now, call_id, "fail", "http_503"))
            return Outcome(False, 503, retry_after_s=link.retry_after_s), None
        latency = up.latency(world.rng)
        if mode == "slow":
            latency += link.latency_s + link.jitter_s * world.rng.random()
        if latency >= timeout_s:
            yield env.timeout(timeout_s)
            history.append(Op("info", process, "call", env.now, call_id, "timeout", "timeout"))
            return Outcome(False, error="timeout", duration_s=timeout_s), None
        yield env.timeout(latency)
        history.append(Op("info", process, "call", env.now, call_id, "ok"))
        return Outcome(True, 200, duration_s=latency), None

    return attempt
