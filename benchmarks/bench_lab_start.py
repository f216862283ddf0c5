"""How fast the lab starts and stops, against one service process starting alone.

The chaos suite starts the lab often, so its start time matters. Measured in this one run,
medians of several rounds:

- one portal process alone: spawn -> /readyz 200 (the floor: Python, FastAPI, seeding);
- the whole lab (embedded Toxiproxy, six services, ten proxies): `up()` until every service
  is ready, then `down()` until every process is gone;
- the ratio lab start / one service start (1 would be perfect parallelism; the machine has
  two cores for seven processes).

Run: `.venv/bin/python benchmarks/bench_lab_start.py` (about 40 s).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from mock_services.lab import ports, procs
from mock_services.lab.readiness import wait_ready
from mock_services.lab.supervisor import LabConfig, teardown, up

ROUNDS = 3


def one_portal(run_dir: Path) -> float:
    """Seconds from spawning one portal to its /readyz answering 200."""
    port = ports.free_port()
    argv = (sys.executable, "-m", "mock_services", "portal", "--port", str(port),
            "--data-dir", str(run_dir / "data"))
    started = time.monotonic()
    proc = procs.spawn(run_dir, procs.ProcessSpec("portal", argv))
    try:
        wait_ready({"portal": f"http://127.0.0.1:{port}"}, started + 60, {"portal": proc})
        return time.monotonic() - started
    finally:
        teardown(run_dir, children=[proc])


def whole_lab(run_dir: Path) -> tuple[float, float]:
    """(seconds to start the lab, seconds to stop it)."""
    started = time.monotonic()
    lab = up(LabConfig(run_dir, ready_timeout_s=60))
    ready = time.monotonic()
    lab.down()
    return ready - started, time.monotonic() - ready


def main() -> None:
    """Print the medians and the ratio."""
    single, starts, stops = [], [], []
    for i in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            single.append(one_portal(Path(tmp) / f"one-{i}"))
            start_s, stop_s = whole_lab(Path(tmp) / f"lab-{i}")
            starts.append(start_s)
            stops.append(stop_s)
    one, start, stop = (statistics.median(x) for x in (single, starts, stops))
    print(f"one portal alone: {one:.2f} s to ready (median of {ROUNDS})")
    print(f"whole lab:        {start:.2f} s to ready, {stop:.2f} s to stop")
    print(f"lab start / one service start: {start / one:.2f}x for 7 processes")


if __name__ == "__main__":
    main()
