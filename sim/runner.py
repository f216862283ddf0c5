"""Replications: one seed per task, on local cores (a process pool) or on a Dask cluster.

A task is `run_seed(task)`: it simulates one seed and returns its history. Results come back
in seed order whatever the order of completion, so a report does not depend on scheduling.
A progress bar (tqdm, on stderr) appears only on a terminal and only once a run lasts a few
seconds.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TypeVar

from tqdm import tqdm

from chaoslab.errors import BadInput
from scenario.history import History, Op, OpType
from scenario.schema import Scenario
from sim.model import simulate
from sim.policyset import policy_set

PROGRESS_AFTER_S = 3.0  # no bar for runs shorter than this
DASK_CONNECT_S = 10.0  # an unreachable scheduler is reported after this long
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Task:
    """One replication to run somewhere: a scenario, a policy preset (or file), a seed."""

    scenario: Scenario
    policies: str
    seed: int


Packed = list[tuple[OpType, str, str, float, str, str, str, int]]


def run_seed(task: Task) -> History:
    """Simulate one seed in this process."""
    return simulate(task.scenario, policy_set(task.policies, task.scenario), task.seed).history


def run_packed(task: Task) -> Packed:
    """Simulate one seed in a worker; the ops travel back as plain tuples, which pickle
    about ten times faster than frozen dataclasses."""
    return [(op.type, op.process, op.f, op.time_s, op.key, op.value, op.error, op.priority)
            for op in run_seed(task).ops]


def unpack(packed: Packed) -> History:
    """The history of `run_packed`'s result."""
    return History([Op(*t) for t in packed])


def run_all(tasks: Sequence[Task], workers: int, executor: str) -> list[History]:
    """Every task's history, in task order."""
    if executor.startswith("dask://"):
        return _dask(tasks, executor.removeprefix("dask://"))
    if workers == 1 or len(tasks) == 1:
        return list(_progress(map(run_seed, tasks), len(tasks)))
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        futures = {pool.submit(run_packed, t): i for i, t in enumerate(tasks)}
        return _ordered(futures, len(tasks))


def _ordered(futures: dict[Future[Packed], int], n: int) -> list[History]:
    out: list[History | None] = [None] * n
    for fut in _progress(as_completed(futures), n):
        out[futures[fut]] = unpack(fut.result())
    return [h for h in out if h is not None]


def _dask(tasks: Sequence[Task], address: str) -> list[History]:
    try:
        from distributed import Client
    except ImportError:
        raise BadInput("--executor dask://... needs the 'dask' extra: pip install "
                       "'chaoslab[dask]'") from None
    try:
        client = Client(f"tcp://{address}", timeout=f"{DASK_CONNECT_S}s")  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise BadInput(f"--executor dask://{address}: no Dask scheduler answered ({exc}); "
                       "expected a running scheduler at HOST:PORT") from None
    with client:
        futures = client.map(run_packed, list(tasks), pure=False)
        gathered: list[Packed] = client.gather(  # type: ignore[no-untyped-call]
            futures, asynchronous=False)
        return [unpack(p) for p in _progress(gathered, len(tasks))]


def _progress(items: Iterable[T], total: int) -> Iterator[T]:
    quiet = not sys.stderr.isatty() or bool(os.environ.get("CHAOSLAB_NO_PROGRESS"))
    return iter(tqdm(items, total=total, unit="seed", disable=quiet, delay=PROGRESS_AFTER_S,
                     file=sys.stderr))
