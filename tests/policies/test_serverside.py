"""Server-side policies: shedding, rate limits, stale cache, idempotency store, paper quota."""

from __future__ import annotations

import pytest

from policies.cache import CacheHit, StaleIfErrorCache
from policies.decisions import Admit, Reject
from policies.errors import PolicyConfigError
from policies.idempotency import (
    IN_PROGRESS,
    NEW,
    PAYLOAD_MISMATCH,
    MemoryIdempotencyStore,
    Replay,
    fingerprint,
)
from policies.quota import PaperQuota, Reconciler
from policies.ratelimit import KeyedTokenBucket
from policies.shedding import AdmissionController, AdmissionPolicy


def test_shedding_sheds_low_priority_first_and_never_stalls() -> None:
    ctl = AdmissionController(AdmissionPolicy(algorithm="fixed", initial_limit=10,
                                              priority_shares=(1.0, 0.8, 0.5)))
    for _ in range(5):
        assert ctl.admit(0.0, priority=2) == Admit()
    shed = ctl.admit(0.0, priority=2)
    assert isinstance(shed, Reject) and shed.reason == "shed"
    assert shed.retry_after_s is not None and shed.retry_after_s >= 1.0
    for _ in range(3):
        assert ctl.admit(0.0, priority=1) == Admit()
    assert isinstance(ctl.admit(0.0, priority=1), Reject)
    assert ctl.admit(0.0, priority=0) == Admit() and ctl.admit(0.0, priority=0) == Admit()
    assert isinstance(ctl.admit(0.0, priority=0), Reject)
    ctl.release(1.0, 0.1)
    assert ctl.admit(1.0, priority=0) == Admit()


@pytest.mark.parametrize("ignore", [False, True])
def test_dependency_failures_leave_the_aimd_limit_alone(ignore: bool) -> None:
    # a refresh storm against an open breaker: 150 fast failures, one at a time
    ctl = AdmissionController(AdmissionPolicy(algorithm="aimd", initial_limit=50, min_limit=4))
    for i in range(150):
        assert ctl.admit(i * 0.01, priority=2) == Admit()
        ctl.release(i * 0.01, 0.005, ok=False, ignore=ignore)
    assert ctl.in_flight == 0
    if ignore:
        assert ctl.limit == 50.0
    else:  # three windows of failures and more (50, 45 and 40 samples, then 15): x0.9 each
        assert 50.0 * 0.9 ** 4 < ctl.limit < 50.0 * 0.9 ** 3


def test_retry_after_grows_with_the_backlog() -> None:
    ctl = AdmissionController(AdmissionPolicy(algorithm="fixed", initial_limit=4,
                                              min_limit=1, max_retry_after_s=60.0))
    for _ in range(4):
        ctl.admit(0.0)
    for _ in range(3):
        ctl.release(0.0, 10.0)  # slow service: mean latency moves up
        ctl.admit(0.0)
    first = ctl.admit(0.0)
    for _ in range(200):
        last = ctl.admit(0.0)
    assert isinstance(first, Reject) and isinstance(last, Reject)
    assert first.retry_after_s is not None and last.retry_after_s is not None
    assert last.retry_after_s > first.retry_after_s


def test_aimd_limit_falls_on_slow_calls_and_rises_on_fast_ones() -> None:
    ctl = AdmissionController(AdmissionPolicy(algorithm="aimd", initial_limit=20,
                                              latency_target_s=0.5))
    for _ in range(10):
        ctl.admit(0.0)
        ctl.release(0.0, 2.0)
    low = ctl.limit
    assert low < 20
    for _ in range(20):
        for _ in range(int(ctl.limit)):
            ctl.admit(0.0)
        for _ in range(int(ctl.in_flight)):
            ctl.release(0.0, 0.1)
    assert ctl.limit > low


def test_gradient_limit_falls_when_latency_queues_up() -> None:
    ctl = AdmissionController(AdmissionPolicy(algorithm="gradient", initial_limit=100))
    for _ in range(200):
        ctl.admit(0.0)
        ctl.release(0.0, 0.1)
    steady = ctl.limit
    for _ in range(50):
        ctl.admit(0.0)
        ctl.release(0.0, 1.0)  # ten times the usual latency
    assert ctl.limit < steady


def test_token_bucket_per_key() -> None:
    rl = KeyedTokenBucket(rate_per_s=1.0, burst=2)
    assert rl.take("a", 0.0) == Admit() and rl.take("a", 0.0) == Admit()
    rejected = rl.take("a", 0.0)
    assert rejected == Reject("rate_limited", 1.0)
    assert rl.take("b", 0.0) == Admit()  # another key has its own bucket
    assert rl.take("a", 1.0) == Admit()
    assert isinstance(rl.take("a", 1.5), Reject)


def test_token_bucket_bounds_its_memory_without_forgetting_busy_keys() -> None:
    rl = KeyedTokenBucket(rate_per_s=1.0, burst=1, max_keys=10)
    for i in range(100):
        rl.take(f"k{i}", float(i))  # each bucket is full again a second later
    assert len(rl._buckets) <= 10
    busy = KeyedTokenBucket(rate_per_s=0.01, burst=1, max_keys=2)
    for key in ("a", "b", "c", "d"):
        assert busy.take(key, 0.0) == Admit()
    assert isinstance(busy.take("a", 1.0), Reject)  # "a" was not forgotten


def test_stale_if_error_cache() -> None:
    cache: StaleIfErrorCache[str] = StaleIfErrorCache(ttl_s=10.0, max_staleness_s=100.0)
    cache.put("h", "v1", 0.0)
    assert cache.get("h", 5.0) == CacheHit("v1", 5.0, False)
    assert cache.get("h", 11.0) is None
    assert cache.get_stale("h", 50.0) == CacheHit("v1", 50.0, True)
    assert cache.get_stale("h", 101.0) is None
    assert cache.get_stale("other", 1.0) is None


def test_cache_is_bounded() -> None:
    cache: StaleIfErrorCache[int] = StaleIfErrorCache(1.0, 2.0, max_entries=3)
    for i in range(5):
        cache.put(str(i), i, 0.0)
    assert len(cache) == 3 and cache.get("0", 0.0) is None and cache.get("4", 0.0) is not None


def test_idempotency_store_replays_and_rejects() -> None:
    store: MemoryIdempotencyStore[str] = MemoryIdempotencyStore()
    fp, other = fingerprint(b'{"a":1}'), fingerprint(b'{"a":2}')
    assert store.begin("k", fp) == NEW
    assert store.begin("k", fp) == IN_PROGRESS
    assert store.begin("k", other) == PAYLOAD_MISMATCH
    store.finish("k", "201 created")
    assert store.begin("k", fp) == Replay("201 created")
    assert store.begin("k", other).status == 422  # type: ignore[union-attr]
    assert store.begin("j", fp) == NEW
    store.abandon("j")
    assert store.begin("j", fp) == NEW
    with pytest.raises(KeyError):
        store.finish("never", "x")


def test_paper_quota_caps_the_share_and_defers() -> None:
    q = PaperQuota(0.2)
    for _ in range(8):
        q.record_electronic("ph1", "1404-01")
    results = [q.request_paper("ph1", "1404-01") for _ in range(4)]
    assert results == [Admit(), Admit(), Reject("deferred", None), Reject("deferred", None)]
    assert q.counts("ph1", "1404-01") == (8, 2, 2) and q.share("ph1", "1404-01") == 0.2
    assert q.request_paper("ph1", "1404-02") == Reject("deferred", None)  # new period: 0 of 1
    assert q.request_paper("ph2", "1404-01") == Reject("deferred", None)


def test_reconciler_registers_once() -> None:
    r = Reconciler()
    assert r.register("ph1", "123") is True
    assert r.register("ph1", "123") is False
    assert r.register("ph2", "123") is True
    assert len(r) == 2


@pytest.mark.parametrize("build,name", [
    (lambda: KeyedTokenBucket(0.0, 1), "ratelimit.rate_per_s"),
    (lambda: KeyedTokenBucket(1.0, 0.5), "ratelimit.burst"),
    (lambda: StaleIfErrorCache(-1.0, 5.0), "cache.ttl_s"),
    (lambda: StaleIfErrorCache(10.0, 5.0), "cache.max_staleness_s"),
    (lambda: PaperQuota(0.0), "quota.max_share"),
    (lambda: PaperQuota(1.5), "quota.max_share"),
    (lambda: AdmissionPolicy(initial_limit=0), "initial_limit"),
    (lambda: AdmissionPolicy(priority_shares=(0.5, 1.0)), "priority_shares"),
])
def test_bad_parameters_raise_one_clear_error(build: object, name: str) -> None:
    with pytest.raises(PolicyConfigError, match=name):
        build()  # type: ignore[operator]
