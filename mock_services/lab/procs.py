"""Child processes of the lab: started in their own session, tracked by pid files.

Every process gets its own session (so SIGKILL to its group takes uvicorn's children too), a log
file, and a pid file written the moment it starts: a later `lab down`, even after the
supervisor itself crashed, finds and kills it. The environment variable `LAB_DIR_ENV` marks a
process as belonging to one run directory, so a recycled pid is never killed by mistake.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LAB_DIR_ENV = "CHAOSLAB_LAB_DIR"
LOG_TAIL_LINES = 20


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """How to start one lab process: its name (pid and log file stem) and its argv."""

    name: str
    argv: tuple[str, ...]


def pid_dir(run_dir: Path) -> Path:
    """Where pid files live."""
    return run_dir / "pids"


def log_path(run_dir: Path, name: str) -> Path:
    """The log file of process `name`."""
    return run_dir / "logs" / f"{name}.log"


def spawn(run_dir: Path, spec: ProcessSpec) -> subprocess.Popen[bytes]:
    """Start `spec` in a new session, its output appended to its log; write its pid file."""
    log = log_path(run_dir, spec.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_dir(run_dir).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env[LAB_DIR_ENV] = str(run_dir.resolve())
    env["PYTHONUNBUFFERED"] = "1"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            spec.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, close_fds=True)
    (pid_dir(run_dir) / f"{spec.name}.pid").write_text(f"{proc.pid}\n")
    return proc


def read_pids(run_dir: Path) -> dict[str, int]:
    """Every pid file of the run directory: name -> pid (unreadable files are skipped)."""
    pids: dict[str, int] = {}
    directory = pid_dir(run_dir)
    if not directory.is_dir():
        return pids
    for path in sorted(directory.glob("*.pid")):
        with contextlib.suppress(OSError, ValueError):
            pids[path.stem] = int(path.read_text().strip())
    return pids


def remove_pid_file(run_dir: Path, name: str) -> None:
    """Forget process `name`."""
    with contextlib.suppress(FileNotFoundError):
        (pid_dir(run_dir) / f"{name}.pid").unlink()


def belongs_to(pid: int, run_dir: Path) -> bool:
    """True if `pid` is alive and was started for `run_dir` (checked in its environment)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, PermissionError):
        return False  # gone, or another user's process: not ours either way
    except OSError:
        return alive(pid)  # no /proc here: trust the pid file
    marker = f"{LAB_DIR_ENV}={run_dir.resolve()}".encode()
    return marker in environ.split(b"\0") and alive(pid)


def state(pid: int) -> str | None:
    """The scheduler state of `pid` from /proc ("R", "S", "T" stopped, "Z" zombie, ...);
    None when it is gone or there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the state is the field after the parenthesised command name
    return stat.rsplit(")", 1)[-1].split()[0]


def alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    current = state(pid)
    if current is None:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return current not in ("Z", "X")


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group led by `pid` (its session), ignoring a gone group.

    A SIGTERM is followed by a SIGCONT, as init systems do: a process stopped by a
    replica_failure (SIGSTOP) acts on its SIGTERM only once continued, so a deploy or a
    teardown would otherwise wait out its whole grace period and then SIGKILL it.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
        if sig == signal.SIGTERM:
            os.killpg(pid, signal.SIGCONT)


def wait_stopped(pid: int, deadline_s: float) -> bool:
    """Poll until `pid` is stopped (SIGSTOP delivered) or gone, or `deadline_s` (monotonic)
    passes; True if it is stopped (also when /proc cannot tell: the signal was sent)."""
    while True:
        current = state(pid)
        if current is None:
            return alive(pid)  # no /proc: trust the signal; gone: not stopped
        if current in ("T", "t"):
            return True
        if current in ("Z", "X") or time.monotonic() >= deadline_s:
            return False
        time.sleep(0.005)  # polling interval of the deadline loop, not a synchronisation


def wait_gone(pids: Sequence[int], deadline_s: float, procs: Sequence[subprocess.Popen[bytes]]
              = ()) -> list[int]:
    """Poll until every pid has exited or `deadline_s` (monotonic) passes; return survivors."""
    remaining = list(pids)
    while True:
        for p in procs:
            p.poll()  # reap our own children so they do not linger as zombies
        remaining = [pid for pid in remaining if alive(pid)]
        if not remaining or time.monotonic() >= deadline_s:
            return remaining
        time.sleep(0.02)  # polling interval of the deadline loop, not a synchronisation


def kill_group(pid: int, procs: Sequence[subprocess.Popen[bytes]] = (),
               timeout_s: float = 5.0) -> None:
    """SIGKILL the process group of `pid` and wait until it is gone."""
    signal_group(pid, signal.SIGKILL)
    wait_gone([pid], time.monotonic() + timeout_s, procs)


def terminate_group(pid: int, procs: Sequence[subprocess.Popen[bytes]] = (),
                    grace_s: float = 10.0) -> bool:
    """SIGTERM the group of `pid`; SIGKILL it if it outlives `grace_s`. True if it went quietly."""
    signal_group(pid, signal.SIGTERM)
    survivors = wait_gone([pid], time.monotonic() + grace_s, procs)
    if survivors:
        kill_group(pid, procs)
        return False
    return True


def log_tail(run_dir: Path, name: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of process `name`'s log ("(empty log)" when there is none)."""
    try:
        text = log_path(run_dir, name).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    tail = text.rstrip().splitlines()[-lines:]
    return "\n".join(tail) if tail else "(empty log)"
