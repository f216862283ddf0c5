"""The stale-if-error cache at its edges: lifetimes' boundaries, capacity, bad parameters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from policies.cache import CacheHit, StaleIfErrorCache
from policies.errors import PolicyConfigError


def test_an_entry_is_fresh_up_to_its_ttl_and_served_stale_up_to_max_staleness() -> None:
    cache: StaleIfErrorCache[str] = StaleIfErrorCache(ttl_s=60.0, max_staleness_s=600.0)
    cache.put("history:42", "v1", 100.0)
    assert cache.get("history:42", 160.0) == CacheHit("v1", 60.0, False)  # ttl: still fresh
    assert cache.get("history:42", 160.5) is None  # past ttl: go to the origin
    assert cache.get_stale("history:42", 160.0) == CacheHit("v1", 60.0, False)
    assert cache.get_stale("history:42", 160.5) == CacheHit("v1", 60.5, True)
    assert cache.get_stale("history:42", 700.0) == CacheHit("v1", 600.0, True)  # the limit
    assert cache.get_stale("history:42", 700.5) is None
    assert cache.get("other", 100.0) is None and cache.get_stale("other", 100.0) is None


def test_storing_again_refreshes_the_entry() -> None:
    cache: StaleIfErrorCache[str] = StaleIfErrorCache(ttl_s=1.0, max_staleness_s=2.0)
    cache.put("k", "old", 0.0)
    cache.put("k", "new", 5.0)
    assert cache.get("k", 6.0) == CacheHit("new", 1.0, False) and len(cache) == 1


def test_equal_lifetimes_and_a_single_entry_are_allowed() -> None:
    """max_staleness_s = ttl_s means "never serve stale"; one entry is a valid capacity."""
    cache: StaleIfErrorCache[int] = StaleIfErrorCache(5.0, 5.0, max_entries=1)
    cache.put("a", 1, 0.0)
    cache.put("b", 2, 0.0)
    assert len(cache) == 1 and cache.get("a", 0.0) is None
    assert cache.get_stale("b", 5.0) == CacheHit(2, 5.0, False)
    assert cache.get_stale("b", 5.5) is None


def test_the_least_recently_stored_entry_is_dropped_first() -> None:
    cache: StaleIfErrorCache[int] = StaleIfErrorCache(10.0, 10.0, max_entries=3)
    for i, key in enumerate("abc"):
        cache.put(key, i, 0.0)
    cache.put("a", 9, 1.0)  # stored again: now the most recent
    cache.put("d", 3, 2.0)
    assert [k for k in "abcd" if cache.get(k, 2.0) is not None] == ["a", "c", "d"]


def test_the_default_capacity_is_a_hundred_thousand_entries() -> None:
    cache: StaleIfErrorCache[int] = StaleIfErrorCache(10.0, 10.0)
    for i in range(100_001):
        cache.put(str(i), i, 0.0)
    assert len(cache) == 100_000
    assert cache.get("0", 0.0) is None and cache.get("1", 0.0) == CacheHit(1, 0.0, False)


@pytest.mark.parametrize(("build", "expected"), [
    (lambda: StaleIfErrorCache(-1.0, 5.0), "cache.ttl_s must be a finite number >= 0 (got -1.0)"),
    (lambda: StaleIfErrorCache(1.0, float("inf")),
     "cache.max_staleness_s must be a finite number >= 0 (got inf)"),
    (lambda: StaleIfErrorCache(10.0, 5.0),
     "cache.max_staleness_s must be >= ttl_s (10.0) (got 5.0)"),
    (lambda: StaleIfErrorCache(1.0, 5.0, max_entries=0),
     "cache.max_entries must be an integer >= 1 (got 0)"),
])
def test_a_bad_parameter_is_one_sentence(build: Callable[[], object], expected: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        build()
    assert str(info.value) == expected
