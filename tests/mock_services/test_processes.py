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

from mock_services.seed import demo_population

pytestmark = pytest.mark.network
CITIZENS = "20"
START_DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(service: str, port: int, data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "mock_services", service, "--port", str(port),
           "--data-dir", str(data_dir), "--citizens", CITIZENS, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    shahkar = start("shahkar", shahkar_port, tmp_path)
    portal_args = ("--upstream", f"shahkar=http://127.0.0.1:{shahkar_port}")
    portal = start("portal", portal_port, tmp_path, *portal_args)
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
