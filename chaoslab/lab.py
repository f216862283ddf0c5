"""`chaoslab lab up | down | status`: start, stop and inspect the live lab (parsed by cli.py).

The lab itself is the library of mock_services/lab/ (`start_lab`, `LabConfig`, `teardown`,
`Lab.attach`); these handlers are its command line, as every other subcommand's is in
chaoslab/. Exit codes as the others': bad input (a port in use, an unreachable
`$TOXIPROXY_URL`, a lab already running in --dir, no lab to stop) raises `BadInput` (2), a
failure (a service that did not start) a `ChaoslabError` (1), and `chaoslab.cli.main` prints
the sentence. `status` answers, it does not fail: 0 all up, 1 partly or not at all. A failed
`up` removes the run directory it made, unless a process it started left a log there.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import NoReturn

from faults.client import ToxiproxyClient
from faults.errors import FaultError
from mock_services.lab import procs, proxies, state
from mock_services.lab.supervisor import Lab, LabConfig, LabError, teardown
from mock_services.lab.supervisor import up as start_lab
from policies.resolve import short_digest
from scenario.errors import BadInput, ChaoslabError

WATCH_INTERVAL_S = 0.5  # how often a foreground supervisor checks its lab is still there


def _fail(exc: LabError) -> NoReturn:
    """The lab's error as the CLI's: bad input (2) or a failure (1), the same sentence."""
    raise (BadInput if exc.bad_input else ChaoslabError)(str(exc)) from None


def _missing_dirs(path: Path) -> list[Path]:
    """`path` and those of its ancestors that do not exist yet, deepest first: what `up`
    will make."""
    missing = []
    for p in (path, *path.absolute().parents):
        if os.path.lexists(p):  # a dangling symlink is there too: never ours to remove
            break
        missing.append(p)
    return missing


def _remove_made(made: list[Path]) -> None:
    """After a failed `up`: remove the directories it made, unless a process it started left
    a log there (the error names that log); then the parents it made, if empty."""
    if not made:
        return
    logs = procs.log_path(made[0], "any").parent
    if any(logs.glob("*.log")):
        return
    shutil.rmtree(made[0], ignore_errors=True)
    for parent in made[1:]:
        try:
            parent.rmdir()
        except OSError:  # something else was put there meanwhile: not ours
            return


def up(args: argparse.Namespace) -> int:
    """Start the lab with --policies (a preset, a policy TOML file or a resolved .json, handed
    to every process as the resolved <dir>/policies.json); print its map. Without --detach,
    stay until Ctrl-C/SIGTERM, then stop."""
    run_dir: Path = args.dir
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # both stop a foreground lab, also when started where SIGINT was ignored (a background job)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        made = _missing_dirs(run_dir)
        try:
            lab = start_lab(LabConfig(run_dir, policies=args.policies))
        except LabError as exc:
            _remove_made(made)
            _fail(exc)
        print(lab.state.describe(), flush=True)
        print(f"policies   {lab.state.policies} (sha256 {short_digest(lab.state.digest())}) "
              f"{lab.state.policies_file}", flush=True)
        if args.detach:
            print(f"lab is up; stop it with: chaoslab lab down --dir {run_dir}", flush=True)
            return 0
        atexit.register(lab.down)  # a backstop should anything below raise
        print("lab is up; Ctrl-C stops it", flush=True)
        # the lab map disappears when someone runs `lab down` from another shell
        while not stop.wait(WATCH_INTERVAL_S):
            if not (run_dir / state.STATE_FILE).exists():
                break
        lab.down()
        atexit.unregister(lab.down)
        print("lab is down", flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def down(args: argparse.Namespace) -> int:
    """Stop every process and proxy of the lab in --dir (also after a supervisor crash);
    no lab map and no pid file there (never started, or already down) is bad input: 2."""
    run_dir: Path = args.dir
    if not (run_dir / state.STATE_FILE).exists() and not procs.read_pids(run_dir):
        raise BadInput(f"no lab in {run_dir}; nothing to stop")
    if (run_dir / state.STATE_FILE).exists():
        try:
            state.load(run_dir)
        except state.NoLab as exc:  # the pid files still name what to stop; say what is lost
            print(f"chaoslab: {exc}; stopping the processes its pid files name (proxies made "
                  "on an external Toxiproxy, if any, stay)", file=sys.stderr)
    stopped = teardown(run_dir)
    print(f"lab is down ({len(stopped)} processes stopped)")
    return 0


def status(args: argparse.Namespace) -> int:
    """Tell what of the lab in --dir is up, its proxies on Toxiproxy included: 0 all up,
    1 partly or not at all."""
    run_dir: Path = args.dir
    try:
        lab = Lab.attach(run_dir)
    except LabError as exc:
        print(f"lab is down ({exc})")
        return 1
    started = time.monotonic()
    running = lab.running()
    print(lab.state.describe())
    for name, is_up in running.items():
        print(f"{name:<10} {'up' if is_up else 'DOWN'}")
    proxies_up = _check_proxies(lab.state)
    all_up = all(running.values()) and proxies_up
    print(f"lab is {'up' if all_up else 'partly down'} "
          f"(checked in {time.monotonic() - started:.2f} s)")
    return 0 if all_up else 1


def _check_proxies(lab_state: state.LabState) -> bool:
    """Print whether every proxy of the lab is on its Toxiproxy (naming each one missing):
    a lab whose proxies were deleted, or whose Toxiproxy is gone, is not up."""
    wanted = lab_state.proxy_names()
    try:
        with ToxiproxyClient(lab_state.toxiproxy_url, timeout_s=proxies.TIMEOUT_S) as client:
            present = set(proxies.names(client))
    except FaultError as exc:
        print(f"proxies    DOWN ({exc})")
        return False
    missing = [name for name in wanted if name not in present]
    for name in missing:
        print(f"{name:<28} MISSING")
    print(f"proxies    {len(wanted) - len(missing)} of {len(wanted)} on "
          f"{lab_state.toxiproxy_url}")
    return not missing
