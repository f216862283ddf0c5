"""The clients' durable stores: what is committed survives a killed process, once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from mock_services.lab.clients.draft_store import DraftStore
from mock_services.lab.clients.pharmacy_store import PharmacyStore


def test_pharmacy_store_keeps_each_control_number_once(tmp_path: Path) -> None:
    store = PharmacyStore(tmp_path / "q.sqlite3")
    assert store.add("c1", "t1", "0013542419", period="1404-06", kind="paper", now_s=1.0)
    assert not store.add("c1", "t1", "0013542419", period="1404-06", kind="paper", now_s=2.0)
    store.add("c2", "t2", "0013542419", period="1404-06", kind="electronic", now_s=3.0)
    store.add("c3", "t3", "0013542419", period="1404-06", kind="deferred", now_s=4.0)
    assert [e.control_no for e in store.pending("paper")] == ["c1"]
    store.mark_registered("c1", 5.0)
    assert store.pending("paper") == []
    assert store.counts("1404-06") == {"electronic": 1, "paper": 1, "deferred": 1}
    store.close()


def test_a_committed_row_survives_sigkill_of_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from mock_services.lab.clients.pharmacy_store import PharmacyStore
        s = PharmacyStore(Path({str(path)!r}))
        for i in range(50):
            s.add(f"c{{i}}", "t", "0013542419", period="p", kind="paper", now_s=float(i))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], timeout=30, check=False)
    assert proc.returncode == -9
    store = PharmacyStore(path)
    assert len(store.pending("paper")) == 50


def test_draft_store_keeps_the_newest_version(tmp_path: Path) -> None:
    store = DraftStore(tmp_path / "d.sqlite3")
    store.save("d1", 2, {"a": "x"}, 1.0)
    store.save("d1", 1, {"a": "old"}, 2.0)  # a late, older save never wins
    draft = store.load("d1")
    assert draft is not None and draft.version == 2 and draft.body == {"a": "x"}
    assert draft.unsynced
    store.acknowledged("d1", 2)
    again = store.load("d1")
    assert again is not None and not again.unsynced
    assert store.load("d2") is None
