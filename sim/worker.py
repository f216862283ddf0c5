"""A replication in a process of another interpreter: `python -m sim.worker`.

`sim.runner.run_elsewhere` starts it (under PyPy, see `sim.interpreter`), writes one pickled
`(task, keep, write_to)` to its stdin and reads one pickled `SeedResult` from its stdout; the
history of a kept seed stays here, written to `write_to` with its timelines (a full-scale
day's 15 million ops would take longer to pickle than to simulate). Anything the model
prints goes to stderr, so that stdout carries the result alone. A failure is a traceback on
stderr and exit status 1, which the parent reports.
"""

from __future__ import annotations

import pickle
import sys


def main() -> int:
    result_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout is the result's
    from sim.runner import run_seed

    # the parent's own pipe (sim.runner.run_elsewhere), as a ProcessPoolExecutor's task
    task, keep, write_to = pickle.load(sys.stdin.buffer)  # noqa: S301
    result = run_seed(task, keep, write_to)
    result_out.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    result_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
