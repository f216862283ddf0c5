"""Stopping a lab from its run directory alone: pid files and the lab map.

Used by `lab down` and by every failed or finished `up`; it needs no supervisor object, so it
also cleans up after a supervisor that crashed.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path

from faults.client import ToxiproxyClient
from faults.errors import FaultError
from mock_services.lab import procs, proxies, state
from mock_services.lab.state import LabState


def teardown(run_dir: Path, grace_s: float = 10.0,
             children: list[subprocess.Popen[bytes]] | None = None) -> list[str]:
    """Stop every process and proxy of the lab in `run_dir`; return the names it stopped.

    Works from the pid files and `lab.json` alone, so it also cleans up after a crash.
    """
    try:
        lab_state: LabState | None = state.load(run_dir)
    except state.NoLab:
        lab_state = None
    if lab_state is not None and not lab_state.embedded_proxy:
        # an external proxy outlives us: remove what we created on it (if it is gone, so are
        # they), by our names alone: other labs may share that Toxiproxy
        with contextlib.suppress(FaultError), \
                ToxiproxyClient(lab_state.toxiproxy_url, timeout_s=proxies.TIMEOUT_S) as client:
            proxies.delete(client, lab_state.proxy_names())
    pids = {name: pid for name, pid in procs.read_pids(run_dir).items()
            if procs.belongs_to(pid, run_dir)}
    for pid in pids.values():
        procs.signal_group(pid, signal.SIGTERM)
    kids = children or []
    survivors = procs.wait_gone(list(pids.values()), time.monotonic() + grace_s, kids)
    for pid in survivors:
        procs.kill_group(pid, kids)
    for kid in kids:
        if kid.poll() is None:
            kid.wait(timeout=5.0)
    for name in procs.read_pids(run_dir):
        procs.remove_pid_file(run_dir, name)
    state.forget(run_dir)
    return sorted(pids)
