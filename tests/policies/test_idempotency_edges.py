"""The in-memory idempotency store at its edges: misuse by the caller, abandon, fingerprints."""

from __future__ import annotations

import pytest

from policies.idempotency import (
    IN_PROGRESS,
    NEW,
    PAYLOAD_MISMATCH,
    MemoryIdempotencyStore,
    Replay,
    fingerprint,
)


def test_finishing_a_key_never_claimed_names_the_key_and_the_mistake() -> None:
    store: MemoryIdempotencyStore[str] = MemoryIdempotencyStore()
    with pytest.raises(KeyError) as info:
        store.finish("k1", "done")
    assert info.value.args == ("idempotency key 'k1' was not claimed with begin()",)
    assert len(store) == 0


def test_finishing_a_key_twice_is_the_same_mistake_and_keeps_the_first_response() -> None:
    store: MemoryIdempotencyStore[str] = MemoryIdempotencyStore()
    assert store.begin("k1", "fp") == NEW
    store.finish("k1", "first")
    with pytest.raises(KeyError):
        store.finish("k1", "second")
    assert store.begin("k1", "fp") == Replay("first")


def test_abandoning_a_key_not_claimed_is_harmless() -> None:
    store: MemoryIdempotencyStore[str] = MemoryIdempotencyStore()
    store.abandon("never")
    assert store.begin("never", "fp") == NEW
    store.finish("never", "ok")
    store.abandon("never")  # after the work is recorded: the replay stays
    assert store.begin("never", "fp") == Replay("ok")


def test_an_abandoned_claim_may_be_taken_again_even_with_another_payload() -> None:
    store: MemoryIdempotencyStore[str] = MemoryIdempotencyStore()
    assert store.begin("k", "fp-a") == NEW
    assert store.begin("k", "fp-a") == IN_PROGRESS
    assert store.begin("k", "fp-b") == PAYLOAD_MISMATCH
    store.abandon("k")
    assert store.begin("k", "fp-b") == NEW


def test_the_conflicts_carry_the_drafts_statuses() -> None:
    assert (PAYLOAD_MISMATCH.status, IN_PROGRESS.status) == (422, 409)


def test_fingerprints_tell_payloads_apart_and_are_stable() -> None:
    assert fingerprint(b"a") == fingerprint(b"a") != fingerprint(b"b")
    assert fingerprint(b"") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")  # SHA-256
