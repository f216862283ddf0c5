"""Process bookkeeping: pid files find every process, also after the supervisor crashed."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mock_services.lab import procs, state
from mock_services.lab.supervisor import teardown
from mock_services.lab.topology import default_topology

SLEEPER = (sys.executable, "-c", "import time; time.sleep(60)")


def test_spawned_process_is_found_by_its_pid_file_and_killed(tmp_path: Path) -> None:
    proc = procs.spawn(tmp_path, procs.ProcessSpec("sleeper", SLEEPER))
    try:
        assert procs.read_pids(tmp_path) == {"sleeper": proc.pid}
        assert procs.belongs_to(proc.pid, tmp_path)
        assert not procs.belongs_to(proc.pid, tmp_path / "elsewhere")  # a recycled pid is safe
        assert teardown(tmp_path, grace_s=5.0, children=[proc]) == ["sleeper"]
        assert proc.poll() is not None
        assert procs.read_pids(tmp_path) == {}
    finally:
        procs.kill_group(proc.pid, [proc])


def test_teardown_after_a_crashed_supervisor_leaves_nothing(tmp_path: Path) -> None:
    """A supervisor that dies with SIGKILL-like abruptness leaves orphans; down finds them."""
    state.LabState(tmp_path, default_topology(), "http://127.0.0.1:9", True, "resilient",
                   0).save()
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from mock_services.lab import procs
        for n in ("a", "b"):
            procs.spawn(Path({str(tmp_path)!r}), procs.ProcessSpec(n, {SLEEPER!r}))
        os._exit(0)  # no cleanup at all, as after a crash
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    pids = procs.read_pids(tmp_path)
    assert sorted(pids) == ["a", "b"]
    assert all(procs.alive(p) for p in pids.values())
    assert teardown(tmp_path, grace_s=5.0) == ["a", "b"]
    deadline = time.monotonic() + 5
    while any(procs.alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(procs.alive(p) for p in pids.values())
    assert not (tmp_path / state.STATE_FILE).exists()


def test_log_tail_reports_the_last_lines(tmp_path: Path) -> None:
    assert procs.log_tail(tmp_path, "none") == "(no log)"
    proc = procs.spawn(tmp_path, procs.ProcessSpec(
        "talker", (sys.executable, "-c", "print('\\n'.join(map(str, range(50))))")))
    proc.wait(timeout=30)
    assert procs.log_tail(tmp_path, "talker", lines=3) == "47\n48\n49"


def test_a_stopped_process_is_seen_stopped_and_still_goes_quietly_on_sigterm(
        tmp_path: Path) -> None:
    """SIGSTOP (a replica_failure that pauses the work) shows as state "T"; a SIGTERM then
    reaches it because a SIGCONT follows it: it exits by itself instead of being SIGKILLed
    once its grace is out (Python's default SIGTERM handler ends it)."""
    proc = procs.spawn(tmp_path, procs.ProcessSpec("sleeper", SLEEPER))
    try:
        assert procs.state(proc.pid) in ("S", "R")
        procs.signal_group(proc.pid, signal.SIGSTOP)
        assert procs.wait_stopped(proc.pid, time.monotonic() + 5.0)
        assert procs.state(proc.pid) == "T"
        assert procs.terminate_group(proc.pid, [proc], grace_s=30.0)  # quietly, not killed
        assert proc.wait(timeout=5) == -signal.SIGTERM
        assert procs.state(proc.pid) is None and not procs.wait_stopped(proc.pid, 0.0)
    finally:
        procs.kill_group(proc.pid, [proc])
