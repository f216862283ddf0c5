"""The named policy sets, `baseline` and `resilient`, and loading them with overrides.

`PolicySet` gathers every policy the testbed judges. `baseline` is the portal as it is: no
fallback, and users who refresh. `resilient` is the recommended set; every value carries its
reason in a comment. A TOML file (or a scenario's [policies] table) names a `preset` and
overrides any field; "off" switches an optional policy off.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from policies.backoff import BackoffPolicy
from policies.breaker import CircuitBreakerPolicy
from policies.budget import RetryBudgetPolicy
from policies.bulkhead import BulkheadPolicy
from policies.config import PolicyConfig
from policies.errors import PolicyConfigError, from_validation_error
from policies.hedge import HedgePolicy
from policies.pipeline import ClientPolicy
from policies.retry import RetryPolicy
from policies.serverside import CachePolicy, ListQueuePolicy, LoginLimitPolicy
from policies.shedding import AdmissionPolicy
from policies.throttle import ThrottlePolicy
from policies.timeout import TimeoutPolicy


class PolicySet(PolicyConfig):
    """Every policy of one run. None (or "off" in a file) = that policy is not used.

    client: the portal's calls to its upstreams (per-upstream exceptions in `upstreams`);
    user: the load driver's calls to the portal (retries, failover); admission: the portal's
    load shedding; login_limit: rate limits on login; cache: stale-if-error for reads;
    payment_queue: payment writes go through a durable async queue; list_queue: employers' lists
    are answered 202 and processed in the background; idempotency_keys: clients
    send an Idempotency-Key with every write; verification_cache_max_age_s: a Shahkar answer
    is reused this long when Shahkar fails; verification_deadline_s: a login with such a
    reusable answer waits at most this long for Shahkar, then logs in on it ("cached");
    paper_quota_share: the pharmacies' paper cap.
    """

    name: str = "custom"
    client: ClientPolicy = ClientPolicy()
    upstreams: dict[str, ClientPolicy] = Field(default_factory=dict)
    user: ClientPolicy = ClientPolicy()
    admission: AdmissionPolicy | None = None
    login_limit: LoginLimitPolicy | None = None
    cache: CachePolicy | None = None
    payment_queue: bool = False
    list_queue: ListQueuePolicy | None = None
    idempotency_keys: bool = False
    verification_cache_max_age_s: float | None = Field(default=None, gt=0.0)
    verification_deadline_s: float | None = Field(default=None, gt=0.0, le=60.0)
    paper_quota_share: float | None = Field(default=None, gt=0.0, le=1.0)

    @field_validator("client", "user", "upstreams", mode="before")
    @classmethod
    def _not_off(cls, value: Any) -> Any:
        if value is None:  # "off" in a file or override mapping
            raise ValueError("cannot be switched off; expected a table of its settings")
        return value

    def client_for(self, upstream: str) -> ClientPolicy:
        """The client policy towards `upstream` (its own entry, else `client`)."""
        return self.upstreams.get(upstream, self.client)


BASELINE = PolicySet(
    name="baseline",
    # A naive client: a generous library-style timeout and three immediate retries of
    # anything that failed, no budget, no breaker, Retry-After ignored.
    client=ClientPolicy(
        timeout=TimeoutPolicy(attempt_timeout_s=30.0),
        retry=RetryPolicy(max_attempts=3, honour_retry_after=False,
                          backoff=BackoffPolicy(base_s=0.0, multiplier=1.0, max_s=0.0,
                                                jitter="none")),
    ),
    # The refreshing user of DOMAIN.md: gives up on a page after ~10 s and submits again
    # 3-10 s later (decorrelated jitter from 3 s, capped at 10 s), forms included.
    user=ClientPolicy(
        timeout=TimeoutPolicy(attempt_timeout_s=10.0),
        retry=RetryPolicy(max_attempts=3, honour_retry_after=False, retry_non_idempotent=True,
                          backoff=BackoffPolicy(base_s=3.0, multiplier=1.0, max_s=10.0,
                                                jitter="decorrelated")),
        failover=False,  # pinned to their home replica: they refresh the same page
    ),
)

# -- resilient: the pieces, each value with its reason ---------------------------------------

# 2 s: about the healthy p99 of Shahkar (DOMAIN.md); a degraded 5-30 s answer is cut off
# instead of holding a portal worker. Below 50 ms of budget a call cannot succeed.
_UPSTREAM_TIMEOUT = TimeoutPolicy(attempt_timeout_s=2.0, min_budget_s=0.05)
_UPSTREAM_RETRY = RetryPolicy(
    max_attempts=3,  # two retries absorb a transient blip; more only amplify an outage
    # full jitter spreads retries best for the least total work (AWS, Brooker 2015)
    backoff=BackoffPolicy(base_s=0.1, multiplier=2.0, max_s=2.0, jitter="full"),
    max_retry_after_s=5.0,  # honour the upstream's advice, but a user is waiting
    max_total_s=8.0,  # finish before the user's ~10 s patience runs out
)
# The SRE book's 10 % rule over 10 s, with Finagle's floor of 1 retry/s for quiet clients:
# an outage can amplify load by 1.1x at most.
_BUDGET = RetryBudgetPolicy(ratio=0.1, window_s=10.0, min_per_s=1.0)
_BREAKER = CircuitBreakerPolicy(
    window_type="count", window_size=20,  # the lab's rates are tens of calls a second
    minimum_calls=10,  # no verdict on fewer than 10 calls
    failure_rate_threshold=0.5,  # resilience4j's default
    slow_call_duration_s=1.5, slow_call_rate_threshold=0.8,  # past the healthy p99
    wait_open_s=5.0, wait_open_multiplier=2.0, max_wait_open_s=60.0,  # back off the probes
    half_open_calls=3,  # three probes decide; fewer flap, more overload a sick upstream
    max_wait_half_open_s=10.0,  # a hung probe must not keep the breaker half open
)
# The SRE book's K = 2 (the client sheds once the backend refuses half its work); 60 s
# instead of its 2 minutes because the scenarios' faults last a few minutes.
_THROTTLE = ThrottlePolicy(k=2.0, window_s=60.0)
# a slow upstream may hold at most 20 portal workers; a caller waits 100 ms for one
_BULKHEAD = BulkheadPolicy(max_concurrent=20, max_wait_s=0.1)

RESILIENT = PolicySet(
    name="resilient",
    client=ClientPolicy(timeout=_UPSTREAM_TIMEOUT, retry=_UPSTREAM_RETRY, budget=_BUDGET,
                        breaker=_BREAKER, throttle=_THROTTLE, bulkhead=_BULKHEAD),
    upstreams={"shahkar": ClientPolicy(
        timeout=_UPSTREAM_TIMEOUT,
        # hedging already sends a second copy of a slow lookup: one retry is enough
        retry=_UPSTREAM_RETRY.model_copy(update={"max_attempts": 2}),
        budget=_BUDGET,
        # Shahkar is called once per login or recovery, sparsely: judge the last 30 s
        breaker=_BREAKER.model_copy(update={"window_type": "time", "window_size": 30}),
        throttle=_THROTTLE, bulkhead=_BULKHEAD,
        # a read-only lookup with a long tail (p99 2 s healthy): hedge at its p95 (Dean and
        # Barroso), hedges capped at 10 % of lookups so a sick Shahkar gets no double load
        hedge=HedgePolicy(delay_s=1.0, quantile=0.95, max_hedges=1, max_ratio=0.1,
                          attempt_timeout_s=2.0),
    )},
    user=ClientPolicy(
        timeout=TimeoutPolicy(attempt_timeout_s=10.0),  # the user's patience (DOMAIN.md)
        retry=RetryPolicy(
            max_attempts=3,  # what a patient user does: two more tries, then come back later
            backoff=BackoffPolicy(base_s=1.0, multiplier=2.0, max_s=10.0, jitter="full"),
            max_retry_after_s=30.0,  # shed requests come back when the portal says so
        ),
        budget=_BUDGET,  # the load driver's clients, together, keep to the 10 % rule too
        failover=True,  # a retry goes to a replica on the other switch (client-side balancing)
    ),
    admission=AdmissionPolicy(
        algorithm="aimd",  # simple, and robust to the portal's mixed request costs
        initial_limit=50, min_limit=4,  # start near a replica's workers; never starve it
        max_limit=500,  # a bound on queueing memory whatever the latencies say
        # prescriptions may use the whole limit, logins and lists 85 %, browsing 60 %
        priority_shares=(1.0, 0.85, 0.6),
        latency_target_s=1.0,  # the SLO of an admitted request's median
        # a Retry-After below 1 s invites a storm; above 30 s users give up anyway
        min_retry_after_s=1.0, max_retry_after_s=30.0,
    ),
    login_limit=LoginLimitPolicy(),  # defaults justified in LoginLimitPolicy's docstring
    # insurance history and pay slips change monthly: a day-old copy, marked stale, beats
    # an error page
    cache=CachePolicy(ttl_s=60.0, max_staleness_s=86_400.0),
    payment_queue=True,  # a payment outage must not lose or block a write
    # DESIGN's peak-load fallback: a list is seconds of work (p50 2 s, p99 8 s); its employer
    # needs a receipt, not the processing, so the evening's rush does not hold the threads
    # that prescriptions and logins wait for
    list_queue=ListQueuePolicy(),
    idempotency_keys=True,  # every write may then be retried safely
    verification_cache_max_age_s=7 * 86_400.0,  # a mobile's owner rarely changes in a week
    # 2.5 s: past a healthy Shahkar's p99 (2 s); a user with a recent verification is not
    # kept waiting for a slow one (the call is cut at the deadline, not left running)
    verification_deadline_s=2.5,
    paper_quota_share=0.2,  # the organisation's rule: paper <= 20 % per claim period
)

PRESETS: dict[str, PolicySet] = {"baseline": BASELINE, "resilient": RESILIENT}
# The set whatever runs without being told uses: every CLI subcommand's --policies, a lab,
# a scenario's [policies] preset, a portal process started by hand. The recommended set, so
# that a portal started alone behaves as the lab's; the baseline is asked for by name. Every
# layer may import it (policies/ imports nothing of ours): the one place it is written.
DEFAULT_PRESET = "resilient"


def _merge(base: Any, override: Any) -> Any:
    if override == "off":
        return None
    if isinstance(override, Mapping):
        merged = dict(base) if isinstance(base, Mapping) else {}
        for key, value in override.items():
            merged[key] = _merge(merged.get(key), value)
        return merged
    return override


_EXPECTED = (f"expected a preset name ({' or '.join(sorted(PRESETS))}) or the path of a "
             "policy TOML file")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyConfigError(f"policy set file {path} does not exist; {_EXPECTED}") from None
    except IsADirectoryError:
        raise PolicyConfigError(f"policy set file {path} is a directory; {_EXPECTED}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
        raise PolicyConfigError(f"policy set file {path} is not valid TOML: {error}") from None
    table = data.get("policies", data)
    if not isinstance(table, dict):
        raise PolicyConfigError(f"{path}: [policies] must be a table")
    return table


def _validate(data: Any, where: str) -> PolicySet:
    try:
        return PolicySet.model_validate(data)
    except ValidationError as error:
        message = str(from_validation_error(error, "policies."))
        raise PolicyConfigError(f"{where}{message}") from None


def load_policy_set(source: str | Path,
                    overrides: Mapping[str, Any] | None = None) -> PolicySet:
    """The preset named `source` ("baseline", "resilient"), or the TOML file at `source`,
    with `overrides` merged on top (nested mappings merge; "off" switches a policy off).

    A file is validated on its own (over its preset) before the overrides are merged, so a
    bad value in it is reported even when the overrides replace that key."""
    if isinstance(source, str) and not source.strip():
        raise PolicyConfigError(f"the policy set name is empty; {_EXPECTED}")
    if isinstance(source, str) and source in PRESETS:
        base = PRESETS[source]
    else:
        table = _read_toml(Path(source))
        base_name = str(table.pop("preset", "baseline"))
        if base_name not in PRESETS:
            raise PolicyConfigError(f"{source}: preset must be one of {sorted(PRESETS)} "
                                    f"(got {base_name!r})")
        base = _validate(_merge(PRESETS[base_name].model_dump(), table), f"{source}: ")
    return with_overrides(base, overrides)


def with_overrides(base: PolicySet, overrides: Mapping[str, Any] | None) -> PolicySet:
    """`base` with `overrides` merged on top (nested mappings merge; "off" switches off)."""
    if not overrides:
        return base
    return _validate(_merge(base.model_dump(), overrides), "")
