"""The SQLite idempotency store answers exactly as policies' in-memory reference store."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_services.common import idempotency
from mock_services.common.db import Database
from mock_services.common.errors import Conflict
from mock_services.common.idempotency import SqliteIdempotencyStore, StoredResponse
from policies.idempotency import MemoryIdempotencyStore

ops = st.lists(st.tuples(st.sampled_from(["begin", "finish", "abandon"]),
                         st.sampled_from(["k1", "k2"]), st.sampled_from(["fpA", "fpB"]),
                         st.integers(200, 202)), max_size=12)


@given(ops)
def test_same_answers_as_the_memory_store(sequence: list[tuple[str, str, str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "s.sqlite3", idempotency.SCHEMA)
        real = SqliteIdempotencyStore(db, "scope", clock=lambda: 0.0)
        model: MemoryIdempotencyStore[StoredResponse] = MemoryIdempotencyStore()
        for op, key, fp, status in sequence:
            response = StoredResponse(status, {"n": status})
            if op == "begin":
                assert real.begin(key, fp) == model.begin(key, fp)
            elif op == "finish":
                outcomes = []
                for store in (real, model):
                    try:
                        store.finish(key, response)
                        outcomes.append("ok")
                    except KeyError:
                        outcomes.append("unclaimed")
                assert outcomes[0] == outcomes[1]
            else:
                real.abandon(key)
                model.abandon(key)
        db.close()


def test_pending_key_is_409_for_routes(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.sqlite3", idempotency.SCHEMA)
    SqliteIdempotencyStore(db, "u1", clock=lambda: 0.0).begin("k", "fp")
    with pytest.raises(Conflict):
        db.read(lambda c: idempotency.lookup(c, "u1", "k", "fp"))
