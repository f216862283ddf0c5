"""The clients: one short process per logical user operation, through the user pipeline.

A user (citizen, employer, clinic, pharmacy, attacker) invokes one operation, makes attempts
at a portal replica as the user policy decides (timeouts, retries, failover to the other
replica), gives up when their patience runs out, and may hit refresh after a slow or failed
answer. Each attempt is a `Job` that `portal.start` admits or refuses at once; an admitted one
is served by `portal.serve` and the client waits on the job's event, which either the portal
or the client's own timeout answers first. An attempt across a client link a fault touched
meets its state on the way (`sim.links`): refused, delayed, or stopped in either direction.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from policies.decisions import Attempt, Done, Sleep
from policies.outcome import Outcome
from scenario.history import WRITE_FS
from sim.links import LinkState, Stop, cross, message_bytes
from sim.portal import ABANDONED, abandon, gate, serve, serve_inline
from sim.world import RESET, TIMEOUT, Job, ReplicaState, World

REFUSED = (Outcome(False, error="refused"), "refused")
UNKNOWN = frozenset({"timeout", "refused", "reset"})  # the request may have been applied


class GaveUp(Exception):
    """The user abandoned the queue (`schema.GiveUp` "queue"): the operation ends, failed."""


def operation(world: World, kind: str, n: int, source: str, key: str | None = None
              ) -> Generator[simpy.Event, Any, bool]:
    """One logical operation of kind `kind` by the n-th arrival, from `source`; True if ok."""
    env = world.env
    rng = world.rng
    spec = world.kinds[kind]
    if key is None:
        key = f"{kind}:{n}" if kind in WRITE_FS else ""
    process = f"{source}/{n}"
    op = world.history.invoke(process, kind, env.now, key, spec.priority)
    if key:
        world.keys.add(key)  # `model.final` reports it
    account = f"u{rng.randrange(world.population)}"
    peer = source if source.startswith("attacker") else process  # the rate limiter's source
    storm = world.storm
    refresh = 1.0 if storm is not None else world.refresh_probability()
    max_refreshes = storm.max_retries if storm is not None else world.max_refreshes
    deadline = env.now + world.patience(rng)
    queue_patience = spec.queue_patience  # patience bounds the wait only (else the request)
    home = n % len(world.replicas)
    tries = [0]
    last = [""]  # the last attempt's label in the history's vocabulary ("shed", "stale", ...)
    inline = not spec.upstreams and not world.pausable
    priority = spec.priority
    failover = world.failover  # fixed when the world is built
    replicas = world.replicas

    def through_link(rep: ReplicaState, link: LinkState, timeout_s: float
                     ) -> Generator[simpy.Event, Any, tuple[Outcome, str]]:
        """The attempt across a faulty client link: its request and response meet the
        link's toxics (`sim.links`) on their way."""
        if not link.enabled:  # the proxy refuses the connection
            world.avoid(rep)
            last[0] = "refused"
            return REFUSED
        deadline_s = env.now + timeout_s
        passage = cross(link, rng, *message_bytes(kind))
        if passage.up_stop is not None:  # the request never arrives
            return (yield from stopped(rep, passage.up_stop, deadline_s))
        if passage.up_delay_s > 0.0:
            if env.now + passage.up_delay_s >= deadline_s:
                yield env.timeout(timeout_s)
                last[0] = "timeout"
                return TIMEOUT
            yield env.timeout(passage.up_delay_s)
        answer = yield from exchange(rep, deadline_s - env.now)
        if answer is TIMEOUT or answer[1] == "refused":
            return answer
        if passage.down_stop is not None:  # served (and committed), the answer is lost
            return (yield from stopped(rep, passage.down_stop, deadline_s))
        if passage.down_delay_s > 0.0:
            if env.now + passage.down_delay_s >= deadline_s:
                yield env.timeout(deadline_s - env.now)
                last[0] = "timeout"
                return TIMEOUT
            yield env.timeout(passage.down_delay_s)
        return answer

    def stopped(rep: ReplicaState, stop: Stop, deadline_s: float
                ) -> Generator[simpy.Event, Any, tuple[Outcome, str]]:
        """A direction stopped: the connection closes (a reset or a plain close, both seen
        as a reset) or the client's timeout ends the wait."""
        ends_s = env.now + stop.closes_at_s
        if ends_s >= deadline_s:
            yield env.timeout(deadline_s - env.now)
            world.avoid(rep)
            last[0] = "timeout"
            return TIMEOUT
        if ends_s > env.now:
            yield env.timeout(ends_s - env.now)
        last[0] = "refused"
        return RESET

    def exchange(rep: ReplicaState, timeout_s: float
                 ) -> Generator[simpy.Event, Any, tuple[Outcome, str]]:
        """The request at replica `rep`, answered by the portal or the client's timeout."""
        workers = rep.workers
        service_s = -1.0
        if inline and workers.count < workers.capacity:
            service_s = spec.service(rng)  # drawn once: the portal serves this draw
            if rep.speed != 1.0:
                service_s /= rep.speed
            if service_s < timeout_s:
                answer = gate(world, rep, kind, priority, source=peer, account=account)
                if answer is None:
                    job = Job(kind, key, priority, peer, account, now=env.now, event=None)
                    yield from serve_inline(world, rep, job, service_s)
                    answer = job.answer or REFUSED
                last[0] = answer[1]
                return answer
        refused = gate(world, rep, kind, priority, source=peer, account=account)
        if refused is not None:  # decided at once: no serve process, no reply, no timer
            # the client reads the refusal after the events already due now, as it did
            # when the refusal came back as a reply: same order of draws, same history
            if not env.nothing_due():
                yield env.timeout(0.0)
            last[0] = refused[1]
            return refused
        return (yield from served(rep, timeout_s, service_s))

    def served(rep: ReplicaState, timeout_s: float, service_s: float
               ) -> Generator[simpy.Event, Any, tuple[Outcome, str]]:
        """An attempt `gate` admitted: the portal serves it (`portal.serve`) unless the
        client's timeout, or its patience in the queue, answers first."""
        job = Job(kind, key, priority, peer, account, now=env.now, event=None)
        job.service_s = service_s
        event = job.event = env.event()
        expires_s = env.now + timeout_s
        if expires_s < world.horizon_s:  # a timer past the run's end never fires
            world.timeouts.add(expires_s, job)  # job.reply(TIMEOUT), if still unanswered
        if queue_patience and deadline < min(expires_s, world.horizon_s):
            env.timeout(deadline - env.now).callbacks.append(
                lambda _: abandon(world, rep, job))
        # the serve process's first step does not depend on the rest of this step, which
        # schedules nothing more: it may run at once when its Initialize would fire next
        if expires_s > env.now and env.nothing_due():
            env.start_now(serve(world, rep, job))
        else:
            env.process(serve(world, rep, job))
        yield event
        answer = job.answer or REFUSED
        if answer is ABANDONED:
            raise GaveUp
        last[0] = answer[1]
        if answer[1] == "refused":
            world.avoid(rep)
        return answer

    # `policies.simpy_driver.run_call` over the user pipeline, written out here with the
    # attempt in this generator's own frame: a peak day makes millions of attempts, most
    # refused at once, and each generator level an attempt crosses costs on every resume.
    # The decisions, draws and events are run_call's, step for step.
    user = world.runtime.user
    call_deadline = None if queue_patience else deadline
    refreshes = 0
    while True:
        call = user.start(env.now, rng, deadline_s=call_deadline, idempotent=True)
        value = ""  # the last attempt's label: "", "stale:..", "cached", "accepted"
        try:
            while True:
                decision = call.next(env.now)
                if isinstance(decision, Attempt):
                    timeout_s = decision.timeout_s
                    rep = world.pick(home, tries[0]) if failover else replicas[home]
                    tries[0] += 1
                    if queue_patience and env.now >= deadline:
                        raise GaveUp  # out of patience before this attempt could start
                    if (rep.down or rep.draining or world.down) and not world.reachable(rep):
                        world.avoid(rep)
                        last[0] = "refused"
                        answer = REFUSED
                    elif world.links and rep.client_link in world.links:
                        answer = yield from through_link(rep, world.links[rep.client_link],
                                                         timeout_s)
                    elif inline and rep.workers.count < rep.workers.capacity:
                        answer = yield from exchange(rep, timeout_s)
                    else:  # `exchange` without its inline path, in this frame
                        refused = gate(world, rep, kind, priority, source=peer,
                                       account=account)
                        if refused is not None:
                            if not env.nothing_due():
                                yield env.timeout(0.0)
                            last[0] = refused[1]
                            answer = refused
                        else:
                            answer = yield from served(rep, timeout_s, -1.0)
                    value = answer[1]
                    call.record(env.now, answer[0])
                elif isinstance(decision, Sleep):
                    yield env.timeout(decision.seconds)
                else:
                    break
        except GaveUp:  # left the queue: not applied, and no patience left to refresh
            call.cancel(env.now)
            world.history.complete(op, "fail", env.now, error="abandoned")
            if kind == "dispense" and source.startswith("pharmacy"):
                world.pharmacies.fallback(world, source, n)
            return False
        except BaseException:
            call.cancel(env.now)
            raise
        if isinstance(decision, Done):
            world.history.complete(op, "ok", env.now, value=value or "")
            if kind == "dispense":
                world.pharmacies.dispensed(source, env.now)
            return True
        if refreshes < max_refreshes and rng.random() < refresh:
            pause = storm.retry_delay_s if storm is not None else world.refresh_pause(
                rng, refreshes)
            if env.now + pause < deadline:
                refreshes += 1
                yield env.timeout(pause)
                continue
        error = last[0] if call.result_outcome is not None else decision.reason
        if error in UNKNOWN and key:
            world.history.complete(op, "info", env.now, error=error)
        else:
            world.history.complete(op, "fail", env.now, error=error)
        if kind == "dispense" and source.startswith("pharmacy"):
            world.pharmacies.fallback(world, source, n)
        return False
