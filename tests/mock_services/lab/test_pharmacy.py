"""The pharmacy agent: paper within the quota in an outage, and every paper prescription
registered exactly once after recovery — even when the agent is killed mid-reconciliation."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faults.client import ToxiproxyClient
from faults.toxics import ToxicSpec
from mock_services.lab.clients.profile import steady
from mock_services.lab.supervisor import Lab
from mock_services.seed import demo_population
from scenario.history import History
from tests.mock_services.lab.support import drive, keys_in_db

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]
CLIENT_LINKS = ("client-portal-a", "client-portal-b")


def agent(lab: Lab, tmp: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mock_services.lab.clients.pharmacy_cli", "--lab",
         str(lab.state.run_dir), "--db", str(tmp / "agent.sqlite3"), "--history",
         str(tmp / "history.jsonl"), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def finish(proc: subprocess.Popen[str]) -> dict[str, int]:
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    result: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return result


def local_counts(tmp: Path) -> tuple[int, int]:
    """(paper registered, paper pending) in the agent's own queue."""
    conn = sqlite3.connect(f"file:{tmp / 'agent.sqlite3'}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT registered_s IS NOT NULL, COUNT(*) FROM prescriptions "
                            "WHERE kind = 'paper' GROUP BY 1").fetchall()
    finally:
        conn.close()
    counts = dict(rows)
    return counts.get(1, 0), counts.get(0, 0)


def test_agent_killed_mid_reconciliation_registers_each_paper_prescription_once(
        healthy_lab: Lab, tmp_path: Path) -> None:
    _, driver = drive(healthy_lab, steady(2.0, {"doctor": 16.0}), seed=31)
    written = driver.shared.prescriptions
    assert len(written) >= 24, "the doctors wrote too few prescriptions"
    tag = driver.shared.run_tag
    rx = [{"tracking_code": code, "patient": patient, "control_no": f"{tag}-{i}"}
          for i, (code, patient) in enumerate(written[:24])]
    (tmp_path / "before.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rx[:16]))
    (tmp_path / "outage.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rx[16:]))

    assert finish(agent(healthy_lab, tmp_path, "serve", "--rx",
                        str(tmp_path / "before.jsonl")))["electronic"] == 16
    with ToxiproxyClient(healthy_lab.state.toxiproxy_url) as toxiproxy:
        for link in CLIENT_LINKS:  # the pharmacy's internet is down
            toxiproxy.set_enabled(healthy_lab.state.proxy_name(link), False)
        outage = finish(agent(healthy_lab, tmp_path, "serve", "--rx",
                              str(tmp_path / "outage.jsonl")))
        # paper + 1 <= 20 % of (16 electronic + paper + 1): four on paper, the rest deferred
        assert outage == {"electronic": 0, "paper": 4, "deferred": 4, "refused": 0}
        for link in CLIENT_LINKS:
            toxiproxy.set_enabled(healthy_lab.state.proxy_name(link), True)
            # a slow link, so the kill lands while registrations are on their way
            toxiproxy.add_toxic(healthy_lab.state.proxy_name(link),
                                ToxicSpec.of("latency", latency=150, name="slow"))
        first = agent(healthy_lab, tmp_path, "reconcile")
        deadline = time.monotonic() + 60
        while local_counts(tmp_path)[0] < 2:
            assert first.poll() is None, "reconciliation ended before it could be killed"
            assert time.monotonic() < deadline, "reconciliation made no progress"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        registered, pending = local_counts(tmp_path)
        assert registered >= 2 and pending >= 1, "the kill did not land mid-reconciliation"
        for link in CLIENT_LINKS:
            toxiproxy.remove_toxic(healthy_lab.state.proxy_name(link), "slow")
    assert finish(agent(healthy_lab, tmp_path, "reconcile")) == {"pending": 0}

    pharmacy = demo_population(1).pharmacies[0].national_id
    in_db = keys_in_db(healthy_lab)
    paper_keys = [f"reconcile:paper-{pharmacy}-{r['control_no']}" for r in rx[16:]]
    registered_once = [k for k in paper_keys if in_db.get(k) == 1]
    assert len(registered_once) == 4 and all(in_db.get(k, 0) <= 1 for k in paper_keys)
    assert local_counts(tmp_path) == (4, 0)
    history = History.read_jsonl(tmp_path / "history.jsonl")
    papers = [op for op in history if op.f == "paper_record" and op.type != "invoke"]
    assert sum(op.type == "ok" for op in papers) == 4
    assert sum(op.error == "deferred" for op in papers) == 4
