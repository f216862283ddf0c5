"""Draft autosave: every typed field is restored after the link and then the process die."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faults.client import ToxiproxyClient
from mock_services.lab.clients.draft import insurance_list_fields
from mock_services.lab.supervisor import Lab

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]
CLIENT_LINKS = ("client-portal-a", "client-portal-b")
WORKERS = 60  # 183 fields: a long form


def draft(lab: Lab, db: Path, history: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mock_services.lab.clients.draft_cli", "--lab",
         str(lab.state.run_dir), "--db", str(db), "--history", str(history), "--employer", "1",
         *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def restore(lab: Lab, db: Path, history: Path) -> dict[str, object]:
    proc = draft(lab, db, history, "restore")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def local_version(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT version FROM drafts").fetchone()
    except sqlite3.OperationalError:  # the typist has not created its table yet
        return 0
    finally:
        conn.close()
    return int(row[0]) if row else 0


def wait_version(db: Path, at_least: int, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    while (v := local_version(db)) < at_least:
        assert proc.poll() is None, "the typist finished before the fault"
        assert time.monotonic() < deadline, f"typing stalled at version {v}"
        time.sleep(0.01)
    return v


def test_typed_fields_survive_a_dead_link_and_a_killed_process(healthy_lab: Lab,
                                                               tmp_path: Path) -> None:
    db, history = tmp_path / "draft.sqlite3", tmp_path / "history.jsonl"
    typist = draft(healthy_lab, db, history, "type", "--workers", str(WORKERS),
                   "--pause-ms", "5")
    try:
        wait_version(db, 40, typist)
        with ToxiproxyClient(healthy_lab.state.toxiproxy_url) as toxiproxy:
            for link in CLIENT_LINKS:  # the clinic's internet goes
                toxiproxy.set_enabled(healthy_lab.state.proxy_name(link), False)
            cut = local_version(db)
            wait_version(db, cut + 30, typist)  # typing goes on offline
            typist.send_signal(signal.SIGKILL)  # and then the power
            typist.communicate(timeout=10)
            typed = local_version(db)
            expected = dict(insurance_list_fields(random.Random(1), WORKERS)[:typed])
            offline = restore(healthy_lab, db, history)
            assert offline["source"] == "local" and offline["version"] == typed
            assert offline["fields"] == expected
            for link in CLIENT_LINKS:
                toxiproxy.set_enabled(healthy_lab.state.proxy_name(link), True)
    finally:
        typist.kill()
        typist.communicate(timeout=10)
    assert restore(healthy_lab, db, history)["version"] == typed  # and the server catches up
    elsewhere = restore(healthy_lab, tmp_path / "other-device.sqlite3", history)
    assert elsewhere == {"version": typed, "fields": expected, "source": "server"}
