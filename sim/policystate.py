"""The policy set at work in one replication: the same policy objects the services use.

`PolicyState` holds, built from a `PolicySet`, what each replica owns (`Guard`: admission
control, one client pipeline per upstream, the stale cache), what the replicas share (the
verification cache: the live portal keeps `mobile_verified_s` in its shared database; the
login and recovery rate limits, `SharedLimits`: the live portal keeps them in its shared
`portal-limits.sqlite3`) and the user pipeline of the load driver. It is state only, built
from names and counts, so the world holds it from its first line and the processes that act
on it (`sim.upstream`, `sim.portal`, `sim.client`) sit above the world.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from policies.cache import StaleIfErrorCache
from policies.decisions import Admit, Reject
from policies.pipeline import ClientPipeline
from policies.presets import PolicySet
from policies.serverside import LoginLimitPolicy
from policies.shedding import AdmissionController
from scenario.history import POLICY, History, Op


@dataclass(slots=True)
class Guard:
    """The per-replica server-side policies (None = off); the verification cache and the rate
    limits are the replicas' shared `PolicyState.verified` and `PolicyState.limits`."""

    admission: AdmissionController | None
    pipelines: dict[str, ClientPipeline]
    cache: StaleIfErrorCache[object] | None


class SharedLimits:
    """The login and password-recovery rate limits, one set of buckets for every replica, as
    the live portal keeps them (mock_services/portal/limits.py, routes/auth.py): a limit kept
    per replica gave a source spread over the replicas one burst per replica.

    A login takes a token per source, then (only if that one was given) per account. A
    recovery has buckets of its own, of the same shape: it takes a token per source, and is
    refused while its account's bucket is empty, but charges that bucket only once Shahkar
    has confirmed the mobile (a code is sent: `code_sent`). The live portal's exemption (a
    source that recovered the account's password in the last hour skips the account bucket)
    is not modelled: it needs a recovery confirmed from the login's own source, and neither
    runner's workload makes one (a `recover_password` operation asks for a code only, and
    every user operation is its own source)."""

    __slots__ = ("login_account", "login_source", "recovery_account", "recovery_source")

    def __init__(self, policy: LoginLimitPolicy) -> None:
        self.login_account, self.login_source = policy.build()
        self.recovery_account, self.recovery_source = policy.build()

    def refused(self, kind: str, account: str, source: str, now: float) -> float | None:
        """The Retry-After (s) of an attempt of `kind` the limits refuse, as the live portal
        sends it (the wait until the bucket has a token, at least 1 s); None when admitted
        (other kinds always are)."""
        if kind == "login":
            refusal = self.login_source.take(source, now)
            if not isinstance(refusal, Reject):
                refusal = self.login_account.take(account, now)
            wait = refusal.retry_after_s if isinstance(refusal, Reject) else None
        elif kind == "recover_password":
            refusal = self.recovery_source.take(source, now)
            if isinstance(refusal, Reject):
                wait = refusal.retry_after_s
            else:
                tokens = self.recovery_account.tokens(account, now)
                wait = ((1.0 - tokens) / self.recovery_account.rate_per_s
                        if tokens < 1.0 else None)
        else:
            return None
        return None if wait is None else max(1.0, wait)

    def code_sent(self, account: str, now: float) -> None:
        """A recovery code went out to `account`: it counts, refused or not."""
        self.recovery_account.take(account, now)


class PolicyState:
    """The policies of one replication, built from a `PolicySet` for the scenario's replicas
    and upstreams and its population of returning users."""

    def __init__(self, policy_set: PolicySet, replicas: Iterable[str],
                 upstreams: Iterable[str], population: int) -> None:
        self.policy_set = policy_set
        names = tuple(upstreams)
        self.guards: dict[str, Guard] = {
            replica: Guard(
                admission=AdmissionController(policy_set.admission)
                if policy_set.admission else None,
                pipelines={name: policy_set.client_for(name).build(name) for name in names},
                cache=policy_set.cache.build() if policy_set.cache else None,
            ) for replica in replicas}
        self.limits = SharedLimits(policy_set.login_limit) if policy_set.login_limit else None
        # account -> when Shahkar last confirmed its mobile, seen by every replica (the live
        # portal's users.mobile_verified_s, in the database the replicas share). The
        # population are returning users: each logged in, and so had its mobile confirmed,
        # before the run starts, as the live lab's users do in its unrecorded warm-up.
        self.verified: dict[str, float] = {f"u{n}": 0.0 for n in range(population)}
        # every pipeline in the order `drain` has always visited them (replica, upstream)
        self.pipelines = [pl for g in self.guards.values() for pl in g.pipelines.values()]
        self.user = policy_set.user.build("portal")
        self.admit_type = Admit
        self.pending_payments: list[str] = []  # accepted while the payment upstream failed
        self.queued: set[str] = set()  # their keys: a retried submission is queued once

    def drain(self, history: History) -> None:
        """Write the policies' state changes (breaker transitions) into the history."""
        for pl in self.pipelines:
            if pl.events:  # most calls change no breaker state
                for ev in pl.drain_events():
                    history.append(Op("info", POLICY, ev.policy, ev.time_s, ev.key, ev.value))

    def recently_verified(self, account: str, now: float) -> bool:
        """Whether Shahkar confirmed `account`'s mobile within the policy's max age."""
        max_age = self.policy_set.verification_cache_max_age_s
        seen = self.verified.get(account)
        return max_age is not None and seen is not None and now - seen <= max_age
