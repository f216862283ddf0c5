"""Real processes: `python -m mock_services ...` on loopback, SIGKILL after an acknowledged write.

What must hold: a write answered 2xx is on disk, so a portal killed without warning and
started again serves it (and the session) back; SIGTERM drains and exits 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_services.domain.list_builder import WorkerFacts, build_list
from mock_services.seed import demo_population

pytestmark = pytest.mark.network
CITIZENS = "20"
START_DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def spawn(service: str, port: int, data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "mock_services", service, "--port", str(port),
           "--data-dir", str(data_dir), "--citizens", CITIZENS, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def start(service: str, port: int, data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    return ready(spawn(service, port, data_dir, *extra), service, port)


def ready(proc: subprocess.Popen[bytes], service: str, port: int) -> subprocess.Popen[bytes]:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:  # poll readiness with a deadline, no fixed sleep
        if proc.poll() is not None:
            raise AssertionError(f"{service} exited: {proc.stderr.read().decode()[-500:]}"
                                 if proc.stderr else f"{service} exited")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{service} did not become ready in {START_DEADLINE_S} s")


@contextlib.contextmanager
def running(*procs: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            if proc.stderr:
                proc.stderr.close()


def test_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    shahkar_port, portal_port = free_port(), free_port()
    portal_args = ("--upstream", f"shahkar=http://127.0.0.1:{shahkar_port}")
    shahkar = spawn("shahkar", shahkar_port, tmp_path)  # both boot at once
    portal = ready(spawn("portal", portal_port, tmp_path, *portal_args), "portal", portal_port)
    ready(shahkar, "shahkar", shahkar_port)
    base = f"http://127.0.0.1:{portal_port}"
    who = demo_population(1, int(CITIZENS)).citizens[0]
    with running(shahkar, portal):
        r = httpx.post(f"{base}/auth/login", timeout=10,
                       json={"national_id": who.national_id, "password": who.password})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        draft = {"data": {"employer": "علی", "rows": list(range(50))}}
        r = httpx.put(f"{base}/drafts/list-form", json=draft, timeout=10,
                      headers={**headers, "Idempotency-Key": "draft-1"})
        assert r.status_code == 200
        os.kill(portal.pid, signal.SIGKILL)  # right after the acknowledgement
        assert portal.wait(timeout=10) == -signal.SIGKILL
        portal = start("portal", portal_port, tmp_path, *portal_args)
        with running(portal):
            r = httpx.get(f"{base}/drafts/list-form", headers=headers, timeout=10)
            assert r.status_code == 200 and r.json()["data"] == draft["data"]
            r = httpx.get(f"{base}/admin/applied", timeout=10)
            assert r.json()["draft-1"] == 1
            events = (tmp_path / "portal-r0.events.jsonl").read_text().splitlines()
            assert any('"upstream:shahkar"' in line for line in events)  # the login's check
            portal.send_signal(signal.SIGTERM)  # graceful: drains, exits 0
            assert portal.wait(timeout=15) == 0


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mock_services.cli import main

    cases = [
        ["portal", "--port", "0", "--data-dir", str(tmp_path)],
        ["portal", "--port", "8000", "--data-dir", str(tmp_path), "--upstream", "bank=http://x"],
        ["portal", "--port", "8000", "--data-dir", str(tmp_path), "--policies", "nope.toml"],
        ["kiosk", "--port", "8000", "--data-dir", str(tmp_path)],
        ["sms", "--port", "8000", "--data-dir", str(tmp_path), "--replica-id", "a b"],
    ]
    for argv in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("mock_services: ") and "Traceback" not in err, err


@pytest.mark.slow
def test_queued_payment_survives_sigkill_and_completes_once(tmp_path: Path) -> None:
    shahkar_port, payment_port, portal_port = free_port(), free_port(), free_port()
    pay_url = f"http://127.0.0.1:{payment_port}"
    portal_args = ("--policies", "resilient",
                   "--upstream", f"shahkar=http://127.0.0.1:{shahkar_port}",
                   "--upstream", f"payment={pay_url}")
    shahkar = spawn("shahkar", shahkar_port, tmp_path)  # all three boot at once
    payment = spawn("payment", payment_port, tmp_path)
    portal = ready(spawn("portal", portal_port, tmp_path, *portal_args), "portal", portal_port)
    ready(shahkar, "shahkar", shahkar_port)
    ready(payment, "payment", payment_port)
    base = f"http://127.0.0.1:{portal_port}"
    pop = demo_population(1, int(CITIZENS))
    shop = pop.workshops[0]
    employer = next(e for e in pop.employers if e.national_id == shop.employer_id)
    facts = [WorkerFacts(w, "کارگر", "نمونه", 30, 4_000_000) for w in shop.worker_ids]
    lst = build_list(shop.code, "کارگاه", "کارفرما", yy=1404, mm=3, list_no="1", workers=facts)
    with running(shahkar, payment, portal):
        r = httpx.post(f"{base}/auth/login", timeout=10,
                       json={"national_id": employer.national_id, "password": employer.password})
        headers = {"Authorization": f"Bearer {r.json()['token']}", "Idempotency-Key": "q-9"}
        httpx.post(f"{pay_url}/admin/fault", json={"mode": "unavailable"}, timeout=5)
        r = httpx.post(f"{base}/lists", json=lst.model_dump(mode="json"), headers=headers,
                       timeout=30)
        assert r.status_code == 202 and r.json()["status"] == "queued", r.text
        os.kill(portal.pid, signal.SIGKILL)  # the queued work must outlive the process
        portal.wait(timeout=10)
        httpx.post(f"{pay_url}/admin/fault", json={"mode": "ok"}, timeout=5)
        portal = start("portal", portal_port, tmp_path, *portal_args)
        with running(portal):
            deadline = time.monotonic() + 30.0  # the worker retries with backoff <= 60 s
            status = ""
            while time.monotonic() < deadline and status != "paid":
                status = httpx.get(f"{base}{r.json()['status_url']}", headers=headers,
                                   timeout=10).json()["status"]
                time.sleep(0.2)
            assert status == "paid"
            paid = httpx.get(f"{pay_url}/admin/payments", timeout=5).json()["payments"]
            assert len(paid) == 1 and paid[0]["amount_rial"] == r.json()["payable_rial"]
