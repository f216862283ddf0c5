"""Which interpreter simulates: this CPython, or PyPy where the install put it.

The model is pure Python: generators, SimPy events, the policies' state machine, no hot
spot (benchmarks/README.md). PyPy's JIT runs it 2.5-3 times as fast as CPython 3.11 (the
1:8 year_end_peak day's simulation in 11.3 CPU s instead of 34.6; the full-scale day,
summary and report included, in 127 s instead of ~370) and the same seed gives the same
history on both, op for op (tests/sim/test_interpreter.py). `make`
installs it beside the venv (deploy/pypy/install.sh: Debian 13's PyPy 3.11 on its own
loader) and `chaoslab sim` runs its replications in PyPy worker processes (`sim.worker`).

`--interpreter auto` (the default) takes PyPy when it is installed and a seed is long enough
for the JIT to pay: PyPy's start (about 2 s, importing the model) and warm-up make a short
run slower. The rule is the scenario's nominal requests per seed, rate x duration.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from scenario.errors import BadInput
from scenario.schema import Scenario

PYPY = Path(sys.prefix) / "pypy" / "bin" / "pypy3"  # where deploy/pypy/install.sh puts it
AUTO_MIN_REQUESTS = 100_000  # nominal requests per seed from which auto takes PyPy
# ... and per run of a search, whose resident worker starts once: switch_failure at 1:8
# (19,080 requests a run) ran 8 seeds in 12.7 s there against 17.7 s here (2.5x once warm)
AUTO_SEARCH_MIN_REQUESTS = 10_000
CHOICES = ("auto", "python", "pypy")


def pypy_installed() -> bool:
    """Whether deploy/pypy/install.sh put PyPy beside this venv."""
    return PYPY.is_file()


def nominal_requests(scenario: Scenario) -> float:
    """The requests a seed makes at calendar multiplier 1: rate x duration."""
    return scenario.workload.rate_per_s * scenario.duration


def worker_python(choice: str, scenario: Scenario) -> list[str] | None:
    """The command of the interpreter to simulate in, or None for this process's own.

    `python`: this one; `pypy`: the installed PyPy (bad input when there is none); `auto`:
    PyPy when installed and the scenario is long enough (`AUTO_MIN_REQUESTS`); anything else
    is the command of an interpreter that imports the project (`python3.11`, a path)."""
    if choice == "python":
        return None
    if choice == "pypy":
        if not pypy_installed():
            raise BadInput(f"--interpreter pypy: no PyPy at {PYPY}; expected `make` to have "
                           "installed it (bash deploy/pypy/install.sh .venv), or "
                           "--interpreter python")
        return [str(PYPY)]
    if choice == "auto":
        if pypy_installed() and nominal_requests(scenario) >= AUTO_MIN_REQUESTS:
            return [str(PYPY)]
        return None
    command = shlex.split(choice)
    if not command:
        raise BadInput("--interpreter: empty; expected auto, python, pypy or an "
                       "interpreter's command")
    return command


def search_python(choice: str, scenarios: list[Scenario],
                  executor: str = "local") -> tuple[str, ...]:
    """The interpreter a search's runs are simulated in (explore's, tune's), () for this
    process's own: as `worker_python`, but `auto` takes PyPy from `AUTO_SEARCH_MIN_REQUESTS`
    per run, since each of the search's processes keeps one resident worker
    (`sim.runner.Resident`) that pays PyPy's start and warm-up once for its many runs.
    `scenarios` are the runs' worlds, at the search's scale. On a Dask cluster (`executor`
    dask://...), (): its workers simulate in their own interpreter, not in a path of ours."""
    if executor.startswith("dask://"):
        return ()
    if choice == "auto":
        big = max((nominal_requests(s) for s in scenarios), default=0.0)
        return (str(PYPY),) if pypy_installed() and big >= AUTO_SEARCH_MIN_REQUESTS else ()
    return tuple(worker_python(choice, scenarios[0]) or ())


def describe(python: list[str] | None) -> str:
    """How the report's line names the interpreter: "CPython 3.11.7", "PyPy 7.3.19"..."""
    if python is None:
        impl = sys.implementation
        return f"{impl.name.replace('cpython', 'CPython')} {sys.version.split()[0]}"
    if python == [str(PYPY)]:
        return "PyPy (worker processes)"
    return f"{shlex.join(python)} (worker processes)"
