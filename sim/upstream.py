"""The portal's calls to its upstreams, as the policy set makes them.

Upstream calls (`upstream_call`) run `policies.simpy_driver.run_call`'s loop over the
pipelines' `Call` state machine in their own generator frame (the same decisions, draws and
events, a generator level fewer per attempt), as user operations do (`sim.client`); breaker
transitions are drained into the history as policy events (`PolicyState.drain`).

Mobile verification (Shahkar) as mock_services/portal/verification.py and routes/auth.py do
it: a login whose account Shahkar confirmed within `verification_cache_max_age_s` waits at
most `verification_deadline_s` for Shahkar (the call gets that deadline, so its attempt is cut
and recorded as a timeout, as the live httpx attempt is) and otherwise logs in on the past
answer ("cached"); a login without one waits for the call as the policies allow. A password
recovery checks a new mobile: no past answer stands for it, so it has no fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, assert_never

import simpy

from faults.actions import SetAdminFault
from policies.decisions import Attempt as AttemptDecision
from policies.decisions import Done, Sleep
from policies.outcome import Outcome
from policies.pipeline import ClientPipeline
from scenario.history import SHORT_CIRCUIT, Op
from scenario.names import stale_value
from sim.links import Stop, cross, upstream_messages
from sim.world import RESET, Job, ReplicaState, UpstreamState, World

READS = frozenset({"read_history", "read_payslip"})
VERIFIES = frozenset({"login", "recover_password"})  # Shahkar answers mark the account verified
CACHED_VERIFICATION = frozenset({"login"})  # kinds a recent verification may stand in for
VERIFIER = "shahkar"
# A login re-confirms the stored verification time at most hourly, as the live portal
# (verification.REFRESH_AFTER_S) does to keep a login from being a write every time.
REFRESH_AFTER_S = 3600.0
REFUSED = Outcome(False, error="refused")
# One attempt across a link or rack a fault touched, given its timeout: its outcome.
FaultyAttempt = Callable[[float], Generator[simpy.Event, Any, tuple[Outcome, str | None]]]


def upstream_call(world: World, rep: ReplicaState, name: str,
                  job: Job) -> Generator[simpy.Event, Any, str]:
    """One logical call from `rep` to upstream `name`; the label the portal acts on."""
    policies = world.policies
    guard = policies.guards[rep.spec.name]
    env = world.env
    user = job.account
    cache = guard.cache
    if cache is not None and job.kind in READS and cache.get(user, env.now) is not None:
        return ""
    call_id = f"{name}:{world.next_id()}"  # the same for every retry of this call
    # a login with a recent verification at hand: Shahkar is not worth a long wait
    fallback = name == VERIFIER and job.kind in CACHED_VERIFICATION \
        and policies.recently_verified(user, env.now)
    wait_s = policies.policy_set.verification_deadline_s
    deadline = env.now + wait_s if fallback and wait_s is not None else None
    ok, reason = yield from _call(world, rep, name, call_id,
                                  pipeline=guard.pipelines[name], deadline_s=deadline)
    policies.drain(world.history)
    if ok:
        if cache is not None and job.kind in READS:
            cache.put(user, "", env.now)
        if name == VERIFIER and job.kind == "recover_password" and policies.limits:
            policies.limits.code_sent(user, env.now)
        if name == VERIFIER and job.kind in VERIFIES:
            seen = policies.verified.get(user)
            if job.kind != "login" or seen is None or env.now - seen > REFRESH_AFTER_S:
                policies.verified[user] = env.now
        return ""
    if cache is not None and job.kind in READS:
        hit = cache.get_stale(user, env.now)
        if hit is not None:
            return stale_value(hit.age_s)
    if fallback:  # judged when the call started, as the live portal does
        return "cached"
    if policies.policy_set.payment_queue and name == "payment":
        if job.key not in policies.queued:  # a retried submission is queued once
            policies.queued.add(job.key)
            policies.pending_payments.append(job.key)
        return "accepted"
    return reason


def _call(world: World, rep: ReplicaState, name: str, call_id: str, *,
          pipeline: ClientPipeline, deadline_s: float | None
          ) -> Generator[simpy.Event, Any, tuple[bool, str]]:
    """`policies.simpy_driver.run_call` of one upstream call, written out with the healthy
    attempt (no fault on its link or rack) in this generator's frame, as `_upstream_attempt`
    makes it: the same decisions, draws and events, without a generator per attempt. Whether
    it succeeded, and the reason it gave up ("" when it succeeded)."""
    env, rng, history = world.env, world.rng, world.history
    up = world.upstreams[name]
    process = up.process
    link_name = f"{rep.spec.name}-{name}"
    faulty: FaultyAttempt | None = None  # the attempt through a fault, built when first needed
    call = pipeline.start(env.now, rng, deadline_s=deadline_s, idempotent=True)
    try:
        while True:
            decision = call.next(env.now)
            if isinstance(decision, AttemptDecision):
                timeout_s = decision.timeout_s
                if world.down or (world.links and link_name in world.links):
                    if faulty is None:
                        faulty = _upstream_attempt(world, rep, name, call_id)
                    outcome, _ = yield from faulty(timeout_s)
                else:
                    latency = up.latency(rng)
                    if latency >= timeout_s:
                        yield env.timeout(timeout_s)
                        history.append(Op("info", process, "call", env.now, call_id, "timeout",
                                          "timeout"))
                        outcome = Outcome(False, error="timeout", duration_s=timeout_s)
                    else:
                        yield env.timeout(latency)
                        history.append(Op("info", process, "call", env.now, call_id, "ok"))
                        outcome = Outcome(True, 200, duration_s=latency)
                call.record(env.now, outcome)
            elif isinstance(decision, Sleep):
                yield env.timeout(decision.seconds)
            else:
                break
    except BaseException:
        call.cancel(env.now)
        raise
    if isinstance(decision, Done):
        return True, ""
    if call.attempts == 0:  # offered load the policies kept off the upstream
        history.append(Op("info", process, SHORT_CIRCUIT, env.now, call_id, decision.reason))
    return False, decision.reason


def _upstream_attempt(world: World, rep: ReplicaState, name: str, call_id: str) -> FaultyAttempt:
    """One attempt from replica `rep` to upstream `name` through the link between them."""
    up = world.upstreams[name]
    process = up.process
    history = world.history
    link_name = f"{rep.spec.name}-{name}"

    def attempt(timeout_s: float) -> Generator[simpy.Event, Any, tuple[Outcome, str | None]]:
        env = world.env
        if world.down and world.down.get(up.rack, 0):  # the upstream lost power
            history.append(Op("info", process, "call", env.now, call_id, "fail", "refused"))
            return REFUSED, None
        if world.links and link_name in world.links:
            return (yield from _through_link(world, link_name, up, process, call_id,
                                             timeout_s=timeout_s))
        latency = up.latency(world.rng)
        if latency >= timeout_s:
            yield env.timeout(timeout_s)
            history.append(Op("info", process, "call", env.now, call_id, "timeout", "timeout"))
            return Outcome(False, error="timeout", duration_s=timeout_s), None
        yield env.timeout(latency)
        history.append(Op("info", process, "call", env.now, call_id, "ok"))
        return Outcome(True, 200, duration_s=latency), None

    return attempt


def _through_link(world: World, link_name: str, up: UpstreamState, process: str, call_id: str,
                  *, timeout_s: float) -> Generator[simpy.Event, Any, tuple[Outcome, str | None]]:
    """One upstream attempt across a link a fault touched: the proxy's state and toxics
    (`sim.links`) on the way there and back, and the upstream's admin fault in between."""
    env, history = world.env, world.history
    link = world.links[link_name]
    start_s = env.now
    if not link.enabled:
        history.append(Op("info", process, "call", env.now, call_id, "fail", "refused"))
        return REFUSED, None
    passage = cross(link, world.rng, *upstream_messages(up.name))
    stop, ends_s = passage.up_stop, 0.0  # a stop's time counts the delays before it
    status: Outcome | None = None  # the upstream's own answer, when not its normal one
    if stop is None:  # the request arrives: the upstream answers, and the answer travels
        latency = up.latency(world.rng)
        if link.admin is not None:
            latency, status = _admin_answer(world, link.admin, latency)
        ends_s = passage.up_delay_s + latency
        stop = passage.down_stop
        if stop is None:
            ends_s += passage.down_delay_s
    if stop is not None and stop.toxic:  # a timeout toxic's: its removal closes it sooner
        return (yield from _held(world, link_name, stop, process, call_id, stops_s=ends_s,
                                 timeout_s=timeout_s))
    if stop is not None:
        ends_s += stop.closes_at_s
    if ends_s >= timeout_s:
        yield env.timeout(timeout_s)
        history.append(Op("info", process, "call", env.now, call_id, "timeout", "timeout"))
        return Outcome(False, error="timeout", duration_s=timeout_s), None
    if ends_s > 0.0:  # an immediate answer (a reset, a 503) takes no step, as a refusal
        yield env.timeout(ends_s)
    if stop is not None:  # the connection closed before an answer came back
        history.append(Op("info", process, "call", env.now, call_id, "fail", "reset"))
        return RESET[0], None  # the outcome of a cut call (its op was recorded just above)
    if status is not None:
        history.append(Op("info", process, "call", env.now, call_id, "fail",
                          f"http_{status.status}"))
        return status, None
    history.append(Op("info", process, "call", env.now, call_id, "ok"))
    return Outcome(True, 200, duration_s=env.now - start_s), None


def _held(world: World, link_name: str, stop: Stop, process: str, call_id: str, *,
          stops_s: float, timeout_s: float
          ) -> Generator[simpy.Event, Any, tuple[Outcome, str | None]]:
    """An upstream attempt whose direction a timeout toxic stops `stops_s` after it began:
    it times out, or its connection closes (the toxic's own timer, or the toxic's removal,
    which closes it at once: `World.hang`)."""
    env, history = world.env, world.history
    ends_s = stops_s + stop.closes_at_s
    if stops_s >= timeout_s:
        closed = False
        yield env.timeout(timeout_s)
    else:
        if stops_s > 0.0:
            yield env.timeout(stops_s)
        closed = not world.holds(link_name, stop.toxic) or (
            yield world.hang(link_name, stop.toxic, min(ends_s, timeout_s) - stops_s))
    if not closed and ends_s >= timeout_s:
        history.append(Op("info", process, "call", env.now, call_id, "timeout", "timeout"))
        return Outcome(False, error="timeout", duration_s=timeout_s), None
    history.append(Op("info", process, "call", env.now, call_id, "fail", "reset"))
    return RESET[0], None


def _admin_answer(world: World, admin: SetAdminFault,
                  latency_s: float) -> tuple[float, Outcome | None]:
    """The upstream's HTTP-level fault (as mock_services/common/http_faults.py makes it): how long
    it takes to answer and the error it answers with (None: its normal answer)."""
    mode = admin.mode
    match mode:
        case "ok":
            return latency_s, None
        case "unavailable":
            return 0.0, Outcome(False, 503, retry_after_s=admin.retry_after_s)
        case "fail_n":
            if world.admin_failures.get(admin.upstream, 0) > 0:
                world.admin_failures[admin.upstream] -= 1
                return 0.0, Outcome(False, 503, retry_after_s=admin.retry_after_s)
            return latency_s, None
        case "slow":
            return latency_s + admin.delay_ms / 1000, None
        case "lose_response":  # the work is done, the answer is a gateway error, late
            return latency_s + admin.delay_ms / 1000, Outcome(False, 504)
        case _:
            assert_never(mode)
