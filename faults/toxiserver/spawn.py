"""Run a Toxiproxy-compatible server in a subprocess on a free loopback port.

Tests and the lab use this to get a real process: ours (`python -m chaoslab proxy`) or, when
given, a `toxiproxy-server` binary. Start waits for /version with a deadline; stop sends
SIGTERM and then kills.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

START_DEADLINE_S = 15.0
STOP_DEADLINE_S = 5.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Spawned:
    """A server process and its API URL."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the deadline."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_ready(url: str, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    """Poll GET /version until it answers 200; RuntimeError if the process dies or time ends."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/version", timeout=1.0).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server at {url} did not answer /version within {deadline_s} s")


def start(binary: str | None = None, *, seed: int = 0, metrics: bool = False,
          log_path: Path | None = None) -> Spawned:
    """Start ours (or `binary`, a toxiproxy-server) on a free port and wait until it answers."""
    port = free_port()
    if binary is None:
        cmd = [sys.executable, "-m", "chaoslab", "proxy", "--host", "127.0.0.1",
               "--port", str(port), "--seed", str(seed)]
        if metrics:
            cmd.append("--metrics")
    else:
        cmd = [binary, "-host", "127.0.0.1", "-port", str(port)]
    log_file = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(cmd, stdout=log_file, stderr=log_file,
                                   stdin=subprocess.DEVNULL, env=os.environ.copy())
    finally:
        if log_path:
            log_file.close()  # type: ignore[union-attr]
    spawned = Spawned(process, f"http://127.0.0.1:{port}")
    try:
        wait_ready(spawned.url, process, START_DEADLINE_S)
    except BaseException:
        spawned.stop()
        raise
    return spawned


@contextlib.contextmanager
def running(binary: str | None = None, *, seed: int = 0, metrics: bool = False) -> Iterator[str]:
    """The URL of a server process that lives for the block."""
    spawned = start(binary, seed=seed, metrics=metrics)
    try:
        yield spawned.url
    finally:
        spawned.stop()
