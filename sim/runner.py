"""Replications: one seed per task, on local cores (a process pool) or on a Dask cluster.

A task is `run_seed(task, keep)`: it simulates one seed and summarises its history where it
ran (`scenario.summary`: counts, latencies, the checkers' verdicts), so a worker ships a
small record back instead of its whole history, and the parent only pools. Only the first
task keeps its history, for history.jsonl and the report's timelines; it travels as plain
tuples. Results come back in seed order whatever the order of completion, so a report does
not depend on scheduling. A progress bar (tqdm, on stderr) appears only on a terminal and
only once a run lasts a few seconds.
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
from scenario.invariants import build_checkers
from scenario.schema import Scenario
from scenario.summary import Summary, summarize
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


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What one task sends back: its summary, and its history when asked to keep it."""

    summary: Summary
    packed: Packed | None  # the ops as plain tuples, which pickle ~10x faster than Ops

    @property
    def history(self) -> History | None:
        """The kept history, rebuilt from its tuples (None when not kept)."""
        return None if self.packed is None else History([Op(*t) for t in self.packed])


def run_seed(task: Task, keep: bool = False) -> SeedResult:
    """Simulate one seed in this process and summarise it; with `keep`, keep its history."""
    history = simulate(task.scenario, policy_set(task.policies, task.scenario),
                       task.seed).history
    summary = summarize(history, build_checkers(task.scenario.invariants))
    packed = None
    if keep:
        packed = [(op.type, op.process, op.f, op.time_s, op.key, op.value, op.error,
                   op.priority) for op in history.ops]
    return SeedResult(summary, packed)


def run_all(tasks: Sequence[Task], workers: int, executor: str) -> list[SeedResult]:
    """Every task's result, in task order; the first one keeps its history."""
    keep = [i == 0 for i in range(len(tasks))]
    if executor.startswith("dask://"):
        return _dask(tasks, keep, executor.removeprefix("dask://"))
    if workers == 1 or len(tasks) == 1:
        return list(_progress(map(run_seed, tasks, keep), len(tasks)))
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        futures = {pool.submit(run_seed, t, k): i
                   for i, (t, k) in enumerate(zip(tasks, keep, strict=True))}
        return _ordered(futures, len(tasks))


def _ordered(futures: dict[Future[SeedResult], int], n: int) -> list[SeedResult]:
    out: list[SeedResult | None] = [None] * n
    for fut in _progress(as_completed(futures), n):
        out[futures[fut]] = fut.result()
    return [r for r in out if r is not None]


def _dask(tasks: Sequence[Task], keep: list[bool], address: str) -> list[SeedResult]:
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
        futures = client.map(run_seed, list(tasks), keep, pure=False)
        gathered: list[SeedResult] = client.gather(  # type: ignore[no-untyped-call]
            futures, asynchronous=False)
        return list(_progress(gathered, len(tasks)))


def _progress(items: Iterable[T], total: int) -> Iterator[T]:
    quiet = not sys.stderr.isatty() or bool(os.environ.get("CHAOSLAB_NO_PROGRESS"))
    return iter(tqdm(items, total=total, unit="seed", disable=quiet, delay=PROGRESS_AFTER_S,
                     file=sys.stderr))
