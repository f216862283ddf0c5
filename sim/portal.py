"""The portal side of one attempt: admission, a worker thread, service, upstream calls, commit.

`gate` (admission, rate limits, accept queue) runs in the client's own step; `serve` is the
process a replica then runs for an attempt it admitted. A worker thread is
held for the whole request, upstream calls included, so a slow Shahkar exhausts the
portal's threads as it does in the real one. A write is committed (and counted in
`World.applied`) before the reply leaves; a reply can still be lost on the way back (switch
failure, client timeout), which is how duplicates happen without idempotency keys.

With the `list_queue` policy an employer's list (`submit_list`) is answered 202 ("accepted")
after the part of its service time that takes it (`accept_share`), and queued at its replica;
`list_worker`, `ListQueuePolicy.loops` of them a replica, processes the queue oldest first on
the replica's worker threads (the rest of the service time, then the payment) and commits
the write. The queue is durable: a crash puts the list in work back at its head.

`serve_inline` is the same request run inside the client's own process when nothing can
interrupt it from the client's side: a worker is free, the request calls no upstream and its
service time is shorter than the client's timeout. It saves a process, an event and a timer
per request (most requests of a calm day); the only difference is that a crash during such a
request is seen by the client when the service would have ended instead of at once.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from typing import Any

import simpy

from policies.outcome import Outcome
from policies.shedding import says_nothing_of_capacity
from scenario.history import LIST_QUEUE, Op
from scenario.names import is_attacker, is_stale
from sim.engine import WITHDRAWN
from sim.upstream import upstream_call
from sim.world import RESET, Job, ReplicaState, World

OK = Outcome(True, 200)
QUEUE_FULL = (Outcome(False, 503), "http_503")
UPSTREAM_FAILED = (Outcome(False, 502), "http_502")
RATE_LIMITED = (Outcome(False, 429), "rate_limited")
UNAUTHORIZED = (Outcome(False, 401), "unauthorized")
BREAKER_OPEN = (Outcome(False, 503), "breaker_open")
EXPIRED = (Outcome(False, 504), "http_504")
ABANDONED = (Outcome(False, error="abandoned"), "abandoned")
PAUSED = "paused"  # what a breakdown wakes the requests in service with
LISTS = "submit_list"  # the kind `list_queue` takes off the request path
ACCEPTED = (Outcome(True, 202), "accepted")
LIST_RETRY_S = 30.0  # a list whose payment failed (no payment queue) is paid again this late
LIST_DOWN_POLL_S = 5.0  # a background loop of a replica without power looks again this late
Answer = tuple[Outcome, str]
ProcGen = Generator[simpy.Event, Any, Any]


def gate(world: World, rep: ReplicaState, kind: str, priority: int, *, source: str,
         account: str) -> Answer | None:
    """Admission control, the shared login and recovery rate limits and the accept queue,
    for an attempt of `kind` from `source` (the rate limiter's peer) as `account`: an answer
    if refused."""
    policies = world.policies
    guard = policies.guards[rep.spec.name]
    admission = guard.admission
    if admission is not None:
        now = world.env.now
        decision = admission.admit(now, priority)
        if decision.__class__ is not policies.admit_type:
            return (Outcome(False, 503, retry_after_s=getattr(decision, "retry_after_s", None)),
                    "shed")
    limits = policies.limits
    wait = None if limits is None else limits.refused(kind, account, source, world.env.now)
    if wait is not None:  # with the portal's Retry-After, which the client policy honours
        limited = (Outcome(False, 429, retry_after_s=wait), RATE_LIMITED[1])
        return limited if admission is None else _released(world, rep, limited, 0.0)
    workers = rep.workers
    if len(workers.queue) >= rep.spec.max_queue and (
            workers.queue or workers.count >= workers.capacity):  # max_queue 0: a loss system
        return QUEUE_FULL if admission is None else _released(world, rep, QUEUE_FULL, 0.0)
    return None


def serve(world: World, rep: ReplicaState, job: Job) -> ProcGen:
    """Handle one admitted attempt at replica `rep` as its own process; answer through
    `job.reply`."""
    env = world.env
    kind = world.kinds[job.kind]
    epoch = rep.epoch
    workers = rep.workers  # the pool this request waits in, even if a crash replaces it
    rep.inflight[job] = None
    grant = job.grant = workers.request()
    if grant is not None:
        if (yield grant) is WITHDRAWN:
            return  # its user abandoned the queue (`abandon`)
        job.grant = None
    if rep.epoch != epoch:
        workers.release()
        return  # the replica crashed while this waited; the client saw the reset
    waited_s = env.now - job.started_s
    world.counters.wait_sum_s += waited_s
    world.counters.served += 1
    if waited_s > 0.0:
        world.counters.waited += 1
    if job.done:
        if world.drop_expired:  # the client is gone: do not spend a thread on it
            _finish(world, rep, job, EXPIRED, epoch)
            workers.release()
            return
        world.counters.wasted += 1
    service_s = job.service_s if job.service_s >= 0.0 else kind.service(world.rng)
    if world.list_queue is not None and job.kind == LISTS:
        yield from _accept_list(world, rep, job, service_s, epoch)
        workers.release()
        return
    if rep.speed != 1.0:
        service_s /= rep.speed
    if world.pausable:
        yield from _pausable(world, rep, service_s)
    else:
        yield env.timeout(service_s)
    value = ""
    # a wrong password fails before any upstream is asked (no OTP for an attacker)
    attacking = is_attacker(job.source)
    upstreams = () if attacking else kind.upstreams
    for name in upstreams:
        label = yield from upstream_call(world, rep, name, job)
        if _call_failed(label):
            answer = BREAKER_OPEN if label == "breaker_open" else UPSTREAM_FAILED
            _finish(world, rep, job, answer, epoch)
            workers.release()
            return
        value = value or label
    if rep.epoch == epoch:  # else crashed during service: nothing committed
        _finish(world, rep, job, _commit(world, job, kind.write, value, attacking), epoch)
    workers.release()


def _call_failed(label: str) -> bool:
    """Whether an upstream call's label fails the request: not an answer ("") nor one the
    policies stand in with (a queued payment, a cached verification, a stale read)."""
    return bool(label) and label not in ("accepted", "cached") and not is_stale(label)


def _accept_list(world: World, rep: ReplicaState, job: Job, service_s: float,
                 epoch: int) -> ProcGen:
    """Take a list (its `accept_share` of `service_s`), queue it durably, answer 202; a list
    whose key was already taken is answered 202 again (with idempotency keys)."""
    accept_s = service_s * world.kinds[LISTS].accept_share
    taken_s = world.env.now  # the live portal records the list at its service's start too
    yield from _work(world, rep, accept_s / rep.speed)
    if rep.epoch != epoch:
        return  # crashed while taking it: nothing recorded, the client saw the reset
    if not (world.dedupe and job.key in world.lists_taken):
        world.lists_taken.add(job.key)
        _queue_list(rep, (job.key, service_s - accept_s, taken_s))
    _finish(world, rep, job, ACCEPTED, epoch)


def _queue_list(rep: ReplicaState, item: tuple[str, float, float]) -> None:
    """Add a list (key, service left, accepted at) at the tail of `rep`'s queue and wake an
    idle loop."""
    rep.lists.append(item)
    if rep.lists_idle:
        _wake(rep.lists_idle.pop(), None)


def list_worker(world: World, rep: ReplicaState) -> ProcGen:
    """One background loop of `rep`'s list queue: while its process runs, take the oldest
    list, work out the rest of its service time on one of the replica's worker threads, pay
    it, commit it. A crash meanwhile puts it back at the head of the (durable) queue; a
    failed payment (no payment queue to take it) puts it back at the tail `LIST_RETRY_S`
    later, its work done (as mock_services/portal/listqueue.py)."""
    env, lists = world.env, rep.lists
    upstreams = world.kinds[LISTS].upstreams
    while True:
        if not lists:
            wake = env.event()
            rep.lists_idle.append(wake)
            yield wake
            continue
        if not world.alive(rep):
            yield env.timeout(LIST_DOWN_POLL_S)
            continue
        item = lists.popleft()
        key, rest_s, accepted_s = item
        epoch, workers = rep.epoch, rep.workers
        yield from workers.acquire()
        if rep.epoch == epoch:
            yield from _work(world, rep, rest_s / rep.speed)
        paid = True
        job = Job(LISTS, key, world.kinds[LISTS].priority, "", "", now=env.now, event=None)
        for name in upstreams if rep.epoch == epoch else ():
            label = yield from upstream_call(world, rep, name, job)
            if _call_failed(label):
                paid = False
                break
        workers.release()
        if rep.epoch != epoch:
            lists.appendleft(item)
        elif paid:
            world.commit(key)
            world.history.append(Op("info", LIST_QUEUE, "processed", env.now, key,
                                    f"{env.now - accepted_s:.3f}"))
        else:
            env.timeout(LIST_RETRY_S).callbacks.append(
                partial(_due_again, rep, (key, 0.0, accepted_s)))


def _due_again(rep: ReplicaState, item: tuple[str, float, float], _timer: simpy.Event) -> None:
    """A list whose payment failed joins its queue again, its processing done."""
    _queue_list(rep, item)


def _work(world: World, rep: ReplicaState, seconds: float) -> ProcGen:
    """`seconds` of a worker thread's work, paused by a breakdown if the replica may have one."""
    if world.pausable:
        yield from _pausable(world, rep, seconds)
    else:
        yield world.env.timeout(seconds)


def serve_inline(world: World, rep: ReplicaState, job: Job, service_s: float) -> ProcGen:
    """The same request, admitted by `gate`, inside the client's process (see the module
    docstring)."""
    epoch = rep.epoch
    workers = rep.workers
    yield from workers.acquire()
    world.counters.served += 1
    yield world.env.timeout(service_s)
    workers.release()
    if rep.epoch != epoch:  # crashed meanwhile: nothing committed, the connection was reset
        job.reply(RESET)
        return
    answer = _commit(world, job, world.kinds[job.kind].write, "", is_attacker(job.source))
    _released(world, rep, answer, world.env.now - job.started_s)
    job.reply(RESET if world.isolated(rep) else answer)


def abandon(world: World, rep: ReplicaState, job: Job) -> None:
    """The user of `job` gives up waiting: if it still waits for a worker it leaves the
    queue, its admission slot is freed and the client reads ABANDONED; once in service the
    user waits on (Erlang-A's abandonment, `schema.GiveUp` "queue")."""
    grant = job.grant
    if job.done or grant is None or not rep.workers.withdraw(grant):
        return
    rep.inflight.pop(job, None)
    _released(world, rep, ABANDONED, world.env.now - job.started_s)
    job.reply(ABANDONED)


def _pausable(world: World, rep: ReplicaState, service_s: float) -> ProcGen:
    """`service_s` of work on a replica that may break down with its work paused: it waits
    out a breakdown, then resumes where it stopped or, after a "restart" one, starts again."""
    env = world.env
    left = service_s
    while True:
        if rep.stopped is not None:
            restart = rep.stop_work == "restart"
            yield rep.stopped
            if restart:
                left = service_s
            continue
        started = env.now
        wake = env.event()
        env.timeout(left).callbacks.append(partial(_ended, wake))
        rep.serving[wake] = None
        cause = yield wake
        rep.serving.pop(wake, None)
        if cause is not PAUSED:
            return
        left -= env.now - started


def _ended(wake: simpy.Event, _timer: simpy.Event) -> None:
    _wake(wake, None)


def _wake(event: simpy.Event, cause: object) -> None:
    """Resume a request in service with `cause` (None: its service ended), once."""
    if not event.triggered:
        event.succeed(cause)


def pause(rep: ReplicaState) -> None:
    """Wake every request in service on `rep`, which broke down: they wait for the repair."""
    for wake in list(rep.serving):
        _wake(wake, PAUSED)
    rep.serving.clear()


def _commit(world: World, job: Job, write: bool, value: str, attacking: bool) -> Answer:
    if attacking:
        return UNAUTHORIZED  # a wrong password never logs in
    if write:
        world.commit(job.key)
    return (OK, value)


def _released(world: World, rep: ReplicaState, answer: Answer, latency_s: float) -> Answer:
    admission = world.policies.guards[rep.spec.name].admission
    if admission is not None:
        # No sample (the slot is freed, the limit left alone) for an upstream that failed,
        # nor for the client's own error (a 429 of the login rate limit, a wrong password's
        # 401: `says_nothing_of_capacity`). The live portal's admission middleware does the
        # same.
        admission.release(world.env.now, latency_s, answer[0].ok,
                          answer is UPSTREAM_FAILED or answer is BREAKER_OPEN
                          or says_nothing_of_capacity(answer[0].status))
    return answer


def _finish(world: World, rep: ReplicaState, job: Job, answer: Answer, epoch: int) -> None:
    if rep.epoch != epoch:
        return
    rep.inflight.pop(job, None)
    _released(world, rep, answer, world.env.now - job.started_s)
    if world.isolated(rep):
        job.reply((Outcome(False, error="reset"), "refused"))  # the reply cannot get out
    else:
        job.reply(answer)
