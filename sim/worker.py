"""A replication in a process of another interpreter: `python -m sim.worker`.

`sim.runner.run_elsewhere` starts it (under PyPy, see `sim.interpreter`), writes one pickled
`(task, keep, write_to)` to its stdin and reads one pickled `SeedResult` from its stdout; the
history of a kept seed stays here, written to `write_to` with its timelines (a full-scale
day's 15 million ops would take longer to pickle than to simulate). Anything the model
prints goes to stderr, so that stdout carries the result alone. A failure is a traceback on
stderr and exit status 1, which the parent reports.

`python -m sim.worker --serve` is `sim.runner.Resident`'s: it runs tasks until its stdin
closes, each a frame (a length, then a pickled `Task`) answered by a frame holding
`(True, summary)`, or `(False, the error in a sentence)` for a task that failed, after which
it serves the next.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
from typing import BinaryIO

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: str) -> None:
    """On Linux, have the kernel SIGKILL this worker when the process that started it ends:
    a `chaoslab sim` killed (SIGTERM, SIGKILL: no Ctrl-C reaching the whole process group)
    left its worker simulating a full-scale seed for minutes, for nobody. A parent that
    ended before the request was made is seen by its pid (`parent`, from the parent's
    `sim.runner.PARENT`): exit at once."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no libc to ask: the worker lives as before
        return
    if parent.isdecimal() and os.getppid() != int(parent):
        os._exit(1)


def serve(inp: BinaryIO, out: BinaryIO) -> int:
    """Answer every task frame on `inp` with its summary's frame on `out`, until `inp` ends."""
    from sim.runner import read_frame, run_seed, send_frame

    while (frame := read_frame(inp)) is not None:
        # the parent's own pipe (sim.runner.Resident), as a ProcessPoolExecutor's task
        task = pickle.loads(frame)  # noqa: S301
        try:
            answer: tuple[bool, object] = (True, run_seed(task).summary)
        except Exception as exc:  # the parent says it in a sentence; the next task is served
            answer = (False, f"{type(exc).__name__}: {exc}")
        send_frame(out, answer)
    return 0


def main() -> int:
    result_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout is the result's
    from sim.runner import PARENT, run_seed

    die_with_parent(os.environ.get(PARENT, ""))
    if sys.argv[1:] == ["--serve"]:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it ends us
        return serve(sys.stdin.buffer, result_out)

    # the parent's own pipe (sim.runner.run_elsewhere), as a ProcessPoolExecutor's task
    task, keep, write_to = pickle.load(sys.stdin.buffer)  # noqa: S301
    result = run_seed(task, keep, write_to)
    result_out.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    result_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
