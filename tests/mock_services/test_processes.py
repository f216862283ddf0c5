"""Real processes: `python -m mock_services ...` on loopback, SIGKILL after an acknowledged write.

What must hold: a write answered 2xx is on disk, so a portal killed without warning and
started again serves it (and the session) back; SIGTERM drains and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from mock_services.common.access import client_headers, new_secrets, read_secrets, write_secrets
from mock_services.domain.list_builder import WorkerFacts, build_list
from mock_services.lab.clients.driver import wait_for_lists
from mock_services.seed import demo_population

pytestmark = pytest.mark.network
CITIZENS = "20"
START_DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


ADMIN_PORTS: dict[int, int] = {}  # a service's port -> its admin listener's


def lab_secrets(data_dir: Path) -> Path:
    """The secrets file of the test's processes (written once, as `lab up` does)."""
    path = data_dir / "secrets.json"
    if not path.exists():
        write_secrets(path, new_secrets())
    return path


def admin(method: str, port: int, data_dir: Path, path: str, **kwargs: Any) -> httpx.Response:
    """A request to the admin listener of the service on `port`, with the admin token."""
    token = read_secrets(lab_secrets(data_dir)).admin_token
    return httpx.request(method, f"http://127.0.0.1:{ADMIN_PORTS[port]}{path}", timeout=10,
                         headers={"Authorization": f"Bearer {token}"}, **kwargs)


def spawn(service: str, port: int, data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    admin_port = ADMIN_PORTS.setdefault(port, free_port())
    cmd = [sys.executable, "-m", "mock_services", service, "--port", str(port),
           "--data-dir", str(data_dir), "--citizens", CITIZENS, "--admin-port",
           str(admin_port), "--secrets-file", str(lab_secrets(data_dir)), *extra]
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
            assert httpx.get(f"{base}/admin/applied", timeout=10).status_code == 404
            r = admin("GET", portal_port, tmp_path, "/admin/applied")
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
        ["sms", "--port", "8000", "--data-dir", str(tmp_path), "--admin-port", "8000"],
        ["sms", "--port", "8000", "--data-dir", str(tmp_path), "--admin-port", "70000"],
        ["sms", "--port", "8000", "--data-dir", str(tmp_path), "--secrets-file",
         str(tmp_path / "none.json")],
        ["sms", "--port", "8000", "--data-dir", str(tmp_path), "--trusted-proxy", "proxy"],
    ]
    for argv in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("mock_services: ") and "Traceback" not in err, err


class ListLab(NamedTuple):
    """Shahkar, the payment gateway and a portal, as processes, and an employer's list."""

    shahkar: subprocess.Popen[bytes]
    payment: subprocess.Popen[bytes]
    portal: subprocess.Popen[bytes]
    portal_args: tuple[str, ...]
    payment_port: int
    portal_port: int
    base: str
    employer: Any
    insurance_list: Any

    def login(self, key: str) -> dict[str, str]:
        r = httpx.post(f"{self.base}/auth/login", timeout=10, json={
            "national_id": self.employer.national_id, "password": self.employer.password})
        return {"Authorization": f"Bearer {r.json()['token']}", "Idempotency-Key": key}


def _list_lab(tmp_path: Path, policies: str, mm: int) -> ListLab:
    shahkar_port, payment_port, portal_port = free_port(), free_port(), free_port()
    portal_args = ("--policies", policies,
                   "--upstream", f"shahkar=http://127.0.0.1:{shahkar_port}",
                   "--upstream", f"payment=http://127.0.0.1:{payment_port}")
    shahkar = spawn("shahkar", shahkar_port, tmp_path)  # all three boot at once
    payment = spawn("payment", payment_port, tmp_path)
    portal = ready(spawn("portal", portal_port, tmp_path, *portal_args), "portal", portal_port)
    ready(shahkar, "shahkar", shahkar_port)
    ready(payment, "payment", payment_port)
    pop = demo_population(1, int(CITIZENS))
    shop = pop.workshops[0]
    employer = next(e for e in pop.employers if e.national_id == shop.employer_id)
    facts = [WorkerFacts(w, "کارگر", "نمونه", 30, 4_000_000) for w in shop.worker_ids]
    lst = build_list(shop.code, "کارگاه", "کارفرما", yy=1404, mm=mm, list_no="1", workers=facts)
    return ListLab(shahkar, payment, portal, portal_args, payment_port, portal_port,
                   f"http://127.0.0.1:{portal_port}", employer, lst)


@pytest.mark.slow
def test_queued_payment_survives_sigkill_and_completes_once(tmp_path: Path) -> None:
    policies = tmp_path / "paid-in-the-request.toml"  # the payment queue alone
    policies.write_text('preset = "resilient"\nlist_queue = "off"\n')
    lab = _list_lab(tmp_path, str(policies), mm=3)
    base, payment_port, portal_port = lab.base, lab.payment_port, lab.portal_port
    with running(lab.shahkar, lab.payment, lab.portal):
        headers = lab.login("q-9")
        admin("POST", payment_port, tmp_path, "/admin/fault", json={"mode": "unavailable"})
        r = httpx.post(f"{base}/lists", json=lab.insurance_list.model_dump(mode="json"),
                       headers=headers, timeout=30)
        assert r.status_code == 202 and r.json()["status"] == "queued", r.text
        os.kill(lab.portal.pid, signal.SIGKILL)  # the queued work must outlive the process
        lab.portal.wait(timeout=10)
        admin("POST", payment_port, tmp_path, "/admin/fault", json={"mode": "ok"})
        with running(start("portal", portal_port, tmp_path, *lab.portal_args)):
            deadline = time.monotonic() + 30.0  # the worker retries with backoff <= 60 s
            status = ""
            while time.monotonic() < deadline and status != "paid":
                status = httpx.get(f"{base}{r.json()['status_url']}", headers=headers,
                                   timeout=10).json()["status"]
                time.sleep(0.2)
            assert status == "paid"
            paid = admin("GET", payment_port, tmp_path, "/admin/payments").json()["payments"]
            assert len(paid) == 1 and paid[0]["amount_rial"] == r.json()["payable_rial"]


@pytest.mark.slow
def test_a_list_in_the_list_queue_survives_sigkill_and_is_paid_once(tmp_path: Path) -> None:
    """Killed while its list queue holds a list (the gateway answers after 3 s, so the list
    is still in work or waiting when the SIGKILL lands): after the restart it is processed
    and paid, once."""
    lab = _list_lab(tmp_path, "resilient", mm=4)
    base, payment_port, portal_port = lab.base, lab.payment_port, lab.portal_port
    with running(lab.shahkar, lab.payment, lab.portal):
        headers = lab.login("lq-9")
        admin("POST", payment_port, tmp_path, "/admin/fault", json={"mode": "slow",
                                                                    "delay_ms": 3000})
        r = httpx.post(f"{base}/lists", json=lab.insurance_list.model_dump(mode="json"),
                       headers=headers, timeout=30)
        assert r.status_code == 202 and r.json()["status"] == "accepted", r.text
        os.kill(lab.portal.pid, signal.SIGKILL)
        lab.portal.wait(timeout=10)
        admin("POST", payment_port, tmp_path, "/admin/fault", json={"mode": "ok"})
        with running(start("portal", portal_port, tmp_path, *lab.portal_args)):
            # what the live runner does before it reads the final state
            token = read_secrets(lab_secrets(tmp_path)).admin_token
            admin_url = f"http://127.0.0.1:{ADMIN_PORTS[portal_port]}"
            assert asyncio.run(wait_for_lists(admin_url, token, limit_s=30.0))
            status = httpx.get(f"{base}{r.json()['status_url']}", headers=headers, timeout=10)
            assert status.json()["status"] == "paid"
            applied = admin("GET", portal_port, tmp_path, "/admin/applied").json()
            assert applied["lq-9"] == 1
            paid = admin("GET", payment_port, tmp_path, "/admin/payments").json()["payments"]
            assert len(paid) == 1 and paid[0]["amount_rial"] == r.json()["payable_rial"]


def _stuff(base: str, who: list[str], headers_of: Any) -> list[int]:
    """Wrong-password logins, five per account (the per-account burst), each with the
    headers `headers_of(n)` gives attempt n; the statuses."""
    statuses = []
    for n in range(25):
        r = httpx.post(f"{base}/auth/login", timeout=10, headers=headers_of(n),
                       json={"national_id": who[n // 5], "password": "wrong-password"})
        statuses.append(r.status_code)
    return statuses


def test_the_per_source_limit_keys_on_the_peer_not_on_x_forwarded_for(tmp_path: Path) -> None:
    """Issue #21 item 3: uvicorn believed X-Forwarded-For from loopback, so a client rotating
    it had a fresh per-source bucket (burst 20) on every attempt. Now only a signed
    X-Chaoslab-Client moves a client's identity; a forged one counts as the peer."""
    portal_port = free_port()
    policies = tmp_path / "slow-refill.toml"  # a bucket refills 0.01 tokens in 100 s: the
    # statuses do not depend on how fast the attempts go (resilient's 2 tokens/s would)
    policies.write_text('preset = "resilient"\n[login_limit]\nper_source_rate_per_s = 1e-4\n'
                        'per_account_rate_per_s = 1e-4\n')
    portal = start("portal", portal_port, tmp_path, "--policies", str(policies))
    base = f"http://127.0.0.1:{portal_port}"
    accounts = [p.national_id for p in demo_population(1, int(CITIZENS)).citizens[:5]]
    key = read_secrets(lab_secrets(tmp_path)).client_key
    with running(portal):
        forged = _stuff(base, accounts, lambda n: {
            "X-Forwarded-For": f"10.9.{n}.1",
            **client_headers(b"not the lab's key", f"10.8.{n}.1")})
        assert forged[:20] == [401] * 20 and forged[20:] == [429] * 5  # one source: the peer
        admin("POST", portal_port, tmp_path, "/admin/policies/reset")
        signed = _stuff(base, accounts, lambda n: client_headers(key, f"10.7.{n}.1"))
        assert signed == [401] * 25  # the load balancer's word: 25 sources of one attempt
