"""The server-side configs build what they say: the cache's lifetimes and capacity, the
login limiters' rates and bursts."""

from __future__ import annotations

from policies.cache import CacheHit
from policies.decisions import Admit, Reject
from policies.serverside import CachePolicy, LoginLimitPolicy


def test_the_cache_policy_builds_a_cache_with_its_ttl_staleness_and_capacity() -> None:
    cache = CachePolicy(ttl_s=10.0, max_staleness_s=100.0, max_entries=2).build()
    cache.put("a", 1, 0.0)
    assert cache.get("a", 10.0) == CacheHit(1, 10.0, False)
    assert cache.get("a", 10.5) is None  # past the ttl
    assert cache.get_stale("a", 100.0) == CacheHit(1, 100.0, True)
    assert cache.get_stale("a", 100.5) is None  # past max_staleness
    cache.put("b", 2, 0.0)
    cache.put("c", 3, 0.0)  # a third entry: the oldest goes
    assert cache.get("a", 0.0) is None and cache.get("b", 0.0) == CacheHit(2, 0.0, False)


def test_the_login_policy_builds_per_account_then_per_source_limiters() -> None:
    account, source = LoginLimitPolicy(per_account_rate_per_s=0.5, per_account_burst=1.0,
                                       per_source_rate_per_s=4.0, per_source_burst=2.0).build()
    assert account.take("acct", 0.0) == Admit()
    assert account.take("acct", 0.0) == Reject("rate_limited", 2.0)
    assert source.take("10.0.0.1", 0.0) == Admit() and source.take("10.0.0.1", 0.0) == Admit()
    assert source.take("10.0.0.1", 0.0) == Reject("rate_limited", 0.25)
