"""The clients: one short process per logical user operation, through the user pipeline.

A user (citizen, employer, clinic, pharmacy, attacker) invokes one operation, makes attempts
at a portal replica as the user policy decides (timeouts, retries, failover to the other
replica), gives up when their patience runs out, and may hit refresh after a slow or failed
answer. Each attempt is a `Job` that `portal.start` admits or refuses at once; an admitted one
is served by `portal.serve` and the client waits on the job's event, which either the portal
or the client's own timeout answers first. An attempt across a client link a fault touched
meets its state on the way (`sim.links`): refused, delayed, or stopped in either direction.

An `Operation` holds what the operation asks, as whom, and what its attempts left behind;
`operation` drives the user pipeline over it, and each helper below takes it and does one
thing: an attempt across a faulty link, a direction stopped, an exchange with a replica, an
admitted attempt's wait, the refresh decision, the failed outcome. A pharmacy's paper
fallback is not the client's business (`sim.pharmacy.dispense`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from faults.catalog import RefreshStorm
from policies.decisions import Attempt as AttemptDecision
from policies.decisions import Done, Sleep
from policies.outcome import Outcome
from scenario.history import WRITE_FS, Op
from scenario.names import is_attacker, process_name
from sim.links import LinkState, Stop, cross, messages
from sim.portal import ABANDONED, LISTS, abandon, gate, serve, serve_inline
from sim.world import RESET, TIMEOUT, Job, ReplicaState, RequestKind, World

REFUSED = (Outcome(False, error="refused"), "refused")
UNKNOWN = frozenset({"timeout", "refused", "reset"})  # the request may have been applied


class GaveUp(Exception):
    """The user abandoned the queue (`schema.GiveUp` "queue"): the operation ends, failed."""


class Operation:
    """One logical user operation as its attempts see it: what it asks (`kind`, `key`), as
    whom (`peer`, the rate limiter's source, and `account`), its home replica, patience and
    refresh behaviour, and what its attempts so far left behind: how many (`tries`, which
    picks the replica under failover) and the last one's label (`last`, the operation's error
    if the policies end it on that attempt's answer)."""

    __slots__ = ("account", "deadline_s", "home", "inline", "key", "kind", "last",
                 "max_refreshes", "peer", "priority", "queue_patience", "refresh", "spec",
                 "storm", "tries")

    def __init__(self, kind: str, spec: RequestKind, key: str, *, peer: str, account: str,
                 home: int, deadline_s: float, inline: bool, storm: RefreshStorm | None,
                 refresh: float, max_refreshes: int) -> None:
        self.kind = kind
        self.spec = spec
        self.key = key
        self.priority = spec.priority
        self.peer = peer
        self.account = account
        self.home = home
        self.deadline_s = deadline_s  # the user's patience runs out
        self.queue_patience = spec.queue_patience  # patience bounds the wait only (else all)
        self.inline = inline  # may be served in the client's own process (`serve_inline`)
        self.storm = storm  # the refresh storm under way when the operation began
        self.refresh = refresh  # how likely a re-submission after a failed answer
        self.max_refreshes = max_refreshes
        self.tries = 0
        self.last = ""  # the last attempt's label in the history's vocabulary ("shed", ...)


def begin(world: World, kind: str, n: int, source: str, key: str | None = None
          ) -> tuple[Operation, Op]:
    """Invoke the n-th arrival's operation in the history and draw its user's account and
    patience (in this order: the seed's draws depend on it)."""
    env, rng = world.env, world.rng
    spec = world.kinds[kind]
    if key is None:
        key = f"{kind}:{n}" if kind in WRITE_FS else ""
    process = process_name(source, n)
    invoked = world.history.invoke(process, kind, env.now, key, spec.priority)
    if key:
        world.keys.add(key)  # `model.final` reports it
    account = f"u{rng.randrange(world.population)}"
    storm = world.storm
    op = Operation(
        kind, spec, key,
        peer=source if is_attacker(source) else process,
        account=account,
        home=n % len(world.replicas),
        refresh=1.0 if storm is not None else world.refresh_probability(),
        max_refreshes=storm.max_retries if storm is not None else world.max_refreshes,
        deadline_s=env.now + world.patience(rng),
        inline=not spec.upstreams and not world.pausable and not (
            world.list_queue is not None and kind == LISTS),
        storm=storm)
    return op, invoked


def operation(world: World, kind: str, n: int, source: str, key: str | None = None
              ) -> Generator[simpy.Event, Any, bool]:
    """One logical operation of kind `kind` by the n-th arrival, from `source`; True if ok."""
    op, invoked = begin(world, kind, n, source, key)
    env, rng, history = world.env, world.rng, world.history
    # `policies.simpy_driver.run_call` over the user pipeline, written out here with the
    # attempt in this generator's own frame: a peak day makes millions of attempts, most
    # refused at once, and each generator level an attempt crosses costs on every resume.
    # The decisions, draws and events are run_call's, step for step.
    user = world.policies.user
    kind, priority, peer, account = op.kind, op.priority, op.peer, op.account
    home, inline, queue_patience = op.home, op.inline, op.queue_patience
    failover = world.failover  # fixed when the world is built
    replicas = world.replicas
    call_deadline = None if queue_patience else op.deadline_s
    refreshes = 0
    while True:
        call = user.start(env.now, rng, deadline_s=call_deadline, idempotent=True)
        value = ""  # the last attempt's label: "", "stale:..", "cached", "accepted"
        try:
            while True:
                decision = call.next(env.now)
                if isinstance(decision, AttemptDecision):
                    timeout_s = decision.timeout_s
                    rep = world.pick(home, op.tries) if failover else replicas[home]
                    op.tries += 1
                    if queue_patience and env.now >= op.deadline_s:
                        raise GaveUp  # out of patience before this attempt could start
                    if (rep.down or rep.draining or world.down) and not world.reachable(rep):
                        op.last = "refused"
                        answer = REFUSED
                    elif world.links and rep.client_link in world.links:
                        answer = yield from _through_link(world, op, rep,
                                                          world.links[rep.client_link],
                                                          timeout_s)
                    elif inline and rep.workers.count < rep.workers.capacity:
                        answer = yield from _exchange(world, op, rep, timeout_s)
                    else:  # `_exchange` without its inline path, in this frame
                        refused = gate(world, rep, kind, priority, source=peer,
                                       account=account)
                        if refused is not None:
                            if not env.nothing_due():
                                yield env.timeout(0.0)
                            op.last = refused[1]
                            answer = refused
                        else:
                            answer = yield from _served(world, op, rep, timeout_s, -1.0)
                    value = answer[1]
                    call.record(env.now, answer[0])
                elif isinstance(decision, Sleep):
                    yield env.timeout(decision.seconds)
                else:
                    break
        except GaveUp:  # left the queue: not applied, and no patience left to refresh
            call.cancel(env.now)
            history.complete(invoked, "fail", env.now, error="abandoned")
            return False
        except BaseException:
            call.cancel(env.now)
            raise
        if isinstance(decision, Done):
            history.complete(invoked, "ok", env.now, value=value or "")
            return True
        pause_s = _refresh_pause(world, op, refreshes)
        if pause_s is not None:
            refreshes += 1
            yield env.timeout(pause_s)
            continue
        error = op.last if call.result_outcome is not None else decision.reason
        _failed(world, op, invoked, error)
        return False


def _refresh_pause(world: World, op: Operation, refreshes: int) -> float | None:
    """After a failed answer: the pause before the user re-submits, or None if they do not
    (out of refreshes, not minded to, or out of patience before the pause ends)."""
    rng = world.rng
    if refreshes < op.max_refreshes and rng.random() < op.refresh:
        storm = op.storm
        pause_s = storm.retry_delay_s if storm is not None else world.refresh_pause(
            rng, refreshes)
        if world.env.now + pause_s < op.deadline_s:
            return pause_s
    return None


def _failed(world: World, op: Operation, invoked: Op, error: str) -> None:
    """Complete a failed operation: indeterminate ("info") when its write may have been
    applied (the answer was lost), failed otherwise."""
    if error in UNKNOWN and op.key:
        world.history.complete(invoked, "info", world.env.now, error=error)
    else:
        world.history.complete(invoked, "fail", world.env.now, error=error)


def _through_link(world: World, op: Operation, rep: ReplicaState, link: LinkState,
                  timeout_s: float) -> Generator[simpy.Event, Any, tuple[Outcome, str]]:
    """The attempt across a faulty client link: its request and response meet the link's
    toxics (`sim.links`) on their way."""
    env = world.env
    if not link.enabled:  # the proxy refuses the connection
        op.last = "refused"
        return REFUSED
    deadline_s = env.now + timeout_s
    passage = cross(link, world.rng, *messages(op.kind))
    if passage.up_stop is not None:  # the request never arrives
        return (yield from _stopped(world, op, rep, passage.up_stop, deadline_s))
    if passage.up_delay_s > 0.0:
        if env.now + passage.up_delay_s >= deadline_s:
            yield env.timeout(timeout_s)
            op.last = "timeout"
            return TIMEOUT
        yield env.timeout(passage.up_delay_s)
    answer = yield from _exchange(world, op, rep, deadline_s - env.now)
    if answer is TIMEOUT or answer[1] == "refused":
        return answer
    if passage.down_stop is not None:  # served (and committed), the answer is lost
        return (yield from _stopped(world, op, rep, passage.down_stop, deadline_s))
    if passage.down_delay_s > 0.0:
        if env.now + passage.down_delay_s >= deadline_s:
            yield env.timeout(deadline_s - env.now)
            op.last = "timeout"
            return TIMEOUT
        yield env.timeout(passage.down_delay_s)
    return answer


def _stopped(world: World, op: Operation, rep: ReplicaState, stop: Stop, deadline_s: float
             ) -> Generator[simpy.Event, Any, tuple[Outcome, str]]:
    """A direction stopped: the connection closes (a reset or a plain close, both seen as a
    reset: by the toxic's own timer, or at once when a timeout toxic is removed) or the
    client's timeout ends the wait."""
    env = world.env
    ends_s = env.now + stop.closes_at_s
    if stop.toxic:  # a timeout toxic's: its removal closes the connection sooner
        if not world.holds(rep.client_link, stop.toxic):
            op.last = "refused"  # removed while the request was served: closed then
            return RESET
        if (yield world.hang(rep.client_link, stop.toxic, min(ends_s, deadline_s) - env.now)):
            op.last = "refused"
            return RESET
    elif ends_s >= deadline_s:
        yield env.timeout(deadline_s - env.now)
    elif ends_s > env.now:
        yield env.timeout(ends_s - env.now)
    if ends_s >= deadline_s:
        op.last = "timeout"
        return TIMEOUT
    op.last = "refused"
    return RESET


def _exchange(world: World, op: Operation, rep: ReplicaState, timeout_s: float
              ) -> Generator[simpy.Event, Any, tuple[Outcome, str]]:
    """The request at replica `rep`, answered by the portal or the client's timeout."""
    env = world.env
    workers = rep.workers
    service_s = -1.0
    if op.inline and workers.count < workers.capacity:
        service_s = op.spec.service(world.rng)  # drawn once: the portal serves this draw
        if rep.speed != 1.0:
            service_s /= rep.speed
        if service_s < timeout_s:
            answer = gate(world, rep, op.kind, op.priority, source=op.peer, account=op.account)
            if answer is None:
                job = Job(op.kind, op.key, op.priority, op.peer, op.account, now=env.now,
                          event=None)
                yield from serve_inline(world, rep, job, service_s)
                answer = job.answer or REFUSED
            op.last = answer[1]
            return answer
    refused = gate(world, rep, op.kind, op.priority, source=op.peer, account=op.account)
    if refused is not None:  # decided at once: no serve process, no reply, no timer
        # the client reads the refusal after the events already due now, as it did when the
        # refusal came back as a reply: same order of draws, same history
        if not env.nothing_due():
            yield env.timeout(0.0)
        op.last = refused[1]
        return refused
    return (yield from _served(world, op, rep, timeout_s, service_s))


def _served(world: World, op: Operation, rep: ReplicaState, timeout_s: float,
            service_s: float) -> Generator[simpy.Event, Any, tuple[Outcome, str]]:
    """An attempt `gate` admitted: the portal serves it (`portal.serve`) unless the client's
    timeout, or its patience in the queue, answers first."""
    env = world.env
    job = Job(op.kind, op.key, op.priority, op.peer, op.account, now=env.now, event=None)
    job.service_s = service_s
    event = job.event = env.event()
    expires_s = env.now + timeout_s
    if expires_s < world.horizon_s:  # a timer past the run's end never fires
        world.timeouts.add(expires_s, job)  # job.reply(TIMEOUT), if still unanswered
    deadline_s = op.deadline_s
    if op.queue_patience and deadline_s < min(expires_s, world.horizon_s):
        env.timeout(deadline_s - env.now).callbacks.append(lambda _: abandon(world, rep, job))
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
    op.last = answer[1]
    return answer
