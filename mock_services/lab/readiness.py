"""Readiness: poll services' `/readyz` (and the proxy's `/version`) until a deadline.

No sleep is used to wait for a service: each tick asks every pending service once, and a
process that exits while we wait is reported at once with the tail of its log.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping

import httpx

POLL_INTERVAL_S = 0.05  # how often a pending service is asked again
PROBE_TIMEOUT_S = 0.5  # a probe slower than this counts as not ready yet


class NotReady(RuntimeError):
    """A process that exited or did not become ready in time; `name` says which."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def wait_ready(
    urls: Mapping[str, str],
    deadline_s: float,
    procs: Mapping[str, subprocess.Popen[bytes]],
    path: Callable[[str], str] = lambda _name: "/readyz",
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return when every `urls[name] + path(name)` answers 200; raise `NotReady` otherwise.

    `procs` are the processes behind the names (when this supervisor started them): one that
    has exited fails the wait immediately.
    """
    pending = dict(urls)
    with httpx.Client(timeout=PROBE_TIMEOUT_S, headers={"User-Agent": "chaoslab-lab"}) as c:
        while pending:
            for name, url in list(pending.items()):
                proc = procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise NotReady(name, f"{name} exited with code {proc.returncode} "
                                         "before it became ready")
                try:
                    ok = c.get(url + path(name)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    del pending[name]
            if not pending:
                return
            if clock() >= deadline_s:
                name = sorted(pending)[0]
                raise NotReady(name, f"{name} did not become ready at {pending[name]}")
            time.sleep(POLL_INTERVAL_S)  # polling interval of the deadline loop
