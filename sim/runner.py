"""Replications: one seed per task, on local cores (a process pool) or on a Dask cluster.

A task is `run_seed(task, keep)`: it simulates one seed and summarises its history where it
ran (`scenario.summary`: counts, latencies, the checkers' verdicts), so a worker ships a
small record back instead of its whole history, and the parent only pools. Only the first
task keeps its history, for history.jsonl and the report's timelines; any other is recorded
into a `scenario.streamed.StreamedHistory`, indexed as it comes and never held (a full-scale
day's ops are 2.4 GB or more).

On local cores the parent process is one of the workers: it runs the first task itself (so
the kept history never crosses a pipe) while a pool of `workers - 1` processes runs others,
and each worker, the parent included, takes the next task only when it has finished its
last (a pool that queued tasks ahead could leave the parent idle while one process still
holds two). On Dask the kept history travels as plain tuples. Results come back in seed
order whatever the order of completion, so a report does not depend on scheduling.

With another interpreter for the workers (`python=`, PyPy: `sim.interpreter`) every task,
the first included, runs in a process of that interpreter (`run_elsewhere`, `sim.worker`),
one per task, at most `workers` at a time; the kept seed's history is written where it ran
(`write_to`, with its timelines: `scenario.report.WrittenHistory`) and never crosses a pipe.
The same seed gives the same history on either interpreter (tests/sim/test_interpreter.py).
A search that makes hundreds of short runs one after another (`chaoslab explore`, `tune`)
asks for summaries only, through `summary_of`: in this process, or in one long-lived worker
of the other interpreter per process (`Resident`), which pays PyPy's start and its JIT's
warm-up once instead of per run. A
progress bar (tqdm, on stderr) appears only on a terminal and only once a run lasts a few
seconds.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from tqdm import tqdm

from policies.presets import PolicySet
from scenario.checkers.index import index
from scenario.errors import BadInput
from scenario.history import History, Op, OpType
from scenario.invariants import build_checkers
from scenario.report import WrittenHistory
from scenario.schema import Scenario
from scenario.streamed import StreamedHistory
from scenario.summary import Summary, summarize
from scenario.timelines import timelines
from sim.model import simulate
from sim.policyset import policy_set

PROGRESS_AFTER_S = 3.0  # no bar for runs shorter than this
T = TypeVar("T")
DASK_CONNECT_S = 10.0  # an unreachable scheduler is reported after this long
PARENT = "CHAOSLAB_SIM_PARENT"  # a worker's parent's pid (sim.worker dies with it)


@dataclass(frozen=True, slots=True)
class Task:
    """One replication to run somewhere: a scenario, a policy preset (or file), a seed."""

    scenario: Scenario
    policies: str | PolicySet  # a preset or file (with the scenario's overrides), or a set
    seed: int


Packed = list[tuple[OpType, str, str, float, str, str, str, int]]


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What one task sends back: its summary, and its history when asked to keep it. Pickled
    (to come back from Dask), the history travels as plain tuples, ~10x faster than Ops."""

    summary: Summary
    history: History | None
    written: WrittenHistory | None = None  # the kept history, written where it ran

    def __reduce__(self) -> tuple[Any, ...]:
        packed = None if self.history is None else [tuple(op) for op in self.history.ops]
        return (_unpack, (self.summary, packed, self.written))


def _unpack(summary: Summary, packed: Packed | None,
            written: WrittenHistory | None = None) -> SeedResult:
    return SeedResult(summary, None if packed is None else History([Op._make(t) for t in packed]),
                      written)


def run_seed(task: Task, keep: bool = False, write_to: Path | None = None) -> SeedResult:
    """Simulate one seed in this process and summarise it; with `keep`, keep its history,
    or, given `write_to` too, write it there and keep only what the report reads of it (its
    timelines). A history not kept, or written here, is recorded into a `StreamedHistory`,
    which indexes (and writes) its ops as they come and keeps none: the full-scale day's
    worker peaks at about 4 GB instead of 6.1, and is a little faster (benchmarks/README)."""
    scenario, policies = task.scenario, task.policies
    if not isinstance(policies, PolicySet):
        policies = policy_set(policies, scenario)
    checkers = build_checkers(scenario.invariants)
    if keep and write_to is None:
        history = simulate(scenario, policies, task.seed).history
        return SeedResult(summarize(history, checkers), history)
    with StreamedHistory(write_to if keep else None) as streamed:
        simulate(scenario, policies, task.seed, streamed)
    written = (WrittenHistory(write_to, timelines(index(streamed)))
               if keep and write_to is not None else None)
    return SeedResult(summarize(streamed, checkers), None, written)


class WorkerFailed(RuntimeError):
    """A worker process of another interpreter ended without a result."""


def _worker(python: Sequence[str], *flags: str) -> tuple[list[str], dict[str, Any]]:
    """The command and Popen keywords of a `sim.worker` process of the interpreter `python`:
    started in the checkout (so that it imports this code), told its parent's pid."""
    return ([*python, "-m", "sim.worker", *flags],
            {"cwd": Path(__file__).resolve().parent.parent,
             "env": {**os.environ, PARENT: str(os.getpid())}})


def _cannot_start(python: Sequence[str], exc: OSError) -> WorkerFailed:
    return WorkerFailed(f"the simulation worker ({' '.join(python)}) could not start: "
                        f"{exc.strerror or exc}")


def run_elsewhere(python: Sequence[str], task: Task, keep: bool = False,
                  write_to: Path | None = None) -> SeedResult:
    """`run_seed` in a new process of the interpreter `python` (`python -m sim.worker`,
    started in the checkout so that it imports this code): the task goes pickled on its
    stdin, the result comes back pickled on its stdout."""
    where = None if write_to is None else write_to.resolve()
    command, started = _worker(python)
    try:
        done = subprocess.run(command, capture_output=True,
                              input=pickle.dumps((task, keep, where), pickle.HIGHEST_PROTOCOL),
                              check=False, **started)
    except OSError as exc:
        raise _cannot_start(python, exc) from None
    if done.returncode != 0:
        told = done.stderr.decode(errors="replace").strip().splitlines()
        raise WorkerFailed(f"the simulation worker ({' '.join(python)}) failed on seed "
                           f"{task.seed} with exit status {done.returncode}: "
                           f"{told[-1] if told else 'nothing said'}")
    # our own child's answer over its own pipe, as ProcessPoolExecutor's results come
    result: SeedResult = pickle.loads(done.stdout)  # noqa: S301
    return result


FRAME = struct.Struct(">Q")  # a resident worker's frames: a length, then a pickle


def send_frame(out: IO[bytes], obj: object) -> None:
    """`obj` pickled, as one frame on `out`."""
    data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    out.write(FRAME.pack(len(data)) + data)
    out.flush()


def read_frame(inp: IO[bytes]) -> bytes | None:
    """The next frame's pickle from `inp`, or None at its end."""
    head = inp.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    body = inp.read(FRAME.unpack(head)[0])
    return body or None


class Resident:
    """One long-lived simulation worker of another interpreter (`python -m sim.worker
    --serve`): each task goes to it as a frame on its stdin and its summary comes back on its
    stdout. Started on first use, restarted if it died; it ends when its stdin closes, and
    with its parent (`sim.worker.die_with_parent`)."""

    def __init__(self, python: Sequence[str]) -> None:
        self.python = list(python)
        self._proc: subprocess.Popen[bytes] | None = None

    def summary(self, task: Task) -> Summary:
        """`run_seed(task).summary`, computed in the worker."""
        if self._proc is not None and self._proc.poll() is not None:
            self.close()  # gone since its last task: a new one
        proc = self._proc or self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            send_frame(proc.stdin, task)
            body = read_frame(proc.stdout)
        except (BrokenPipeError, ConnectionResetError):
            body = None
        if body is None:
            self.close()
            raise WorkerFailed(f"the simulation worker ({' '.join(self.python)}) ended on "
                               f"seed {task.seed} with exit status {proc.returncode}")
        # our own child's answer over its own pipe, as ProcessPoolExecutor's results come
        ok, answer = pickle.loads(body)  # noqa: S301
        if not ok:
            raise WorkerFailed(f"the simulation worker ({' '.join(self.python)}) failed on "
                               f"seed {task.seed}: {answer}")
        summary: Summary = answer
        return summary

    def _start(self) -> subprocess.Popen[bytes]:
        command, started = _worker(self.python, "--serve")
        try:
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, **started)
        except OSError as exc:
            raise _cannot_start(self.python, exc) from None
        return self._proc

    def close(self) -> None:
        """End the worker: close its stdin (it ends at its end) and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a worker gone: its pipe broke
                    pipe.close()
        proc.wait()


_RESIDENTS: dict[tuple[str, ...], Resident] = {}  # this process's, by interpreter command
os.register_at_fork(after_in_child=_RESIDENTS.clear)  # a forked child starts its own


@atexit.register
def _close_residents() -> None:
    for resident in _RESIDENTS.values():
        resident.close()


def summary_of(task: Task, python: Sequence[str] | None = None) -> Summary:
    """One run's summary, simulated in this process (`python` None) or in this process's
    resident worker of the interpreter `python` (`Resident`): the same summary either way."""
    if not python:
        return run_seed(task).summary
    resident = _RESIDENTS.get(tuple(python))
    if resident is None:
        resident = _RESIDENTS[tuple(python)] = Resident(python)
    return resident.summary(task)


# -- progress hook (chaoslab.liveview.SeedProgress): called once per task as it finishes,
# in completion order, with the task's index; never concurrently. With a hook the tqdm bar
# stays off (the live view shows the same progress).
OnResult = Callable[[int, SeedResult], None]


def run_all(tasks: Sequence[Task], workers: int, executor: str, *,
            keep_all: bool = False, on_result: OnResult | None = None,
            python: Sequence[str] | None = None,
            write_to: Path | None = None) -> list[SeedResult]:
    """Every task's result, in task order; the first one keeps its history (every one
    with `keep_all`: the twin reads each seed's figures from its history), or writes it to
    `write_to` where it ran (its `written`). `on_result` is told of each task as it finishes
    (see OnResult). `python`: the command of another interpreter to run the local tasks in
    (`sim.interpreter`); None, this one."""
    keep = [keep_all or i == 0 for i in range(len(tasks))]
    if executor.startswith("dask://"):
        return _dask(tasks, keep, executor.removeprefix("dask://"), on_result)
    with _bar(len(tasks), quiet=on_result is not None) as bar:
        return _Share(tasks, max(1, min(workers, len(tasks))), bar, keep_all,
                      on_result, python=python, write_to=write_to).run()


class _Share:
    """Tasks shared between the parent and `workers - 1` helper threads, each feeding one
    single-process pool, so that every process holds at most one task at a time. A task is
    claimed under a lock when its runner is free; the parent claims the first (kept) one."""

    def __init__(self, tasks: Sequence[Task], workers: int, bar: tqdm[Any],
                 keep_all: bool = False, on_result: OnResult | None = None, *,
                 python: Sequence[str] | None = None, write_to: Path | None = None) -> None:
        self._tasks = tasks
        self._python = python
        self._write_to = write_to
        self._helpers = workers - 1
        self._on_result = on_result
        self._keep_all = keep_all
        self._bar = bar
        self._out: list[SeedResult | None] = [None] * len(tasks)
        self._lock = threading.Lock()
        self._next = 1  # task 0 is the parent's
        self._failure: BaseException | None = None
        # with another interpreter each task starts its own process: no pool to fork
        self._pools = [] if python is not None else [
            ProcessPoolExecutor(max_workers=1) for _ in range(self._helpers)]
        for pool in self._pools:  # fork each process now, before any helper thread exists
            pool.submit(int).result()

    def run(self) -> list[SeedResult]:
        pools: list[ProcessPoolExecutor | None] = [*self._pools] or [None] * self._helpers
        helpers = [threading.Thread(target=self._feed, args=(pool,), daemon=True)
                   for pool in pools]
        try:
            for helper in helpers:
                helper.start()
            i: int | None = 0 if self._tasks else None
            while i is not None:
                self._done(i, self._seed(i, None))
                i = self._claim()
        finally:
            self._stop()  # on a failure or Ctrl-C too: no task is handed out any more
            for helper in helpers:
                if helper.is_alive():
                    helper.join()
            for pool in self._pools:
                pool.shutdown(wait=True, cancel_futures=True)
        if self._failure is not None:
            raise self._failure
        return [r for r in self._out if r is not None]

    def _seed(self, i: int, pool: ProcessPoolExecutor | None) -> SeedResult:
        """Task i's result: in this process, in `pool`'s, or in another interpreter's."""
        keep = i == 0 or self._keep_all
        write_to = self._write_to if i == 0 else None
        if self._python is not None:
            return run_elsewhere(self._python, self._tasks[i], keep, write_to)
        if pool is None:
            return run_seed(self._tasks[i], keep, write_to)
        return pool.submit(run_seed, self._tasks[i], keep).result()

    def _feed(self, pool: ProcessPoolExecutor | None) -> None:
        try:
            while (i := self._claim()) is not None:
                self._done(i, self._seed(i, pool))
        except BaseException as exc:  # re-raised by the parent, once it has stopped
            self._stop()
            self._failure = self._failure or exc

    def _claim(self) -> int | None:
        with self._lock:
            if self._next >= len(self._tasks):
                return None
            self._next += 1
            return self._next - 1

    def _done(self, i: int, result: SeedResult) -> None:
        with self._lock:
            self._out[i] = result
            self._bar.update(1)
            if self._on_result is not None:  # under the lock: never two calls at once
                self._on_result(i, result)

    def _stop(self) -> None:
        with self._lock:
            self._next = len(self._tasks)


def _dask(tasks: Sequence[Task], keep: list[bool], address: str,
          on_result: OnResult | None = None) -> list[SeedResult]:
    return dask_map(run_seed, list(tasks), keep, address=address, on_done=on_result)


def dask_map(fn: Callable[..., T], *iterables: Sequence[Any], address: str,
             on_done: Callable[[int, T], None] | None = None) -> list[T]:
    """`fn` over `iterables` (as `map` pairs them) on the Dask scheduler at `address`, in
    order; `on_done(i, result)` as each one finishes. The seeds of `sim` and explore's and
    tune's jobs go through it. No scheduler, or no dask: one sentence."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BadInput("--executor dask://... needs the 'dask' extra: pip install "
                       "'chaoslab[dask]'") from None
    try:
        client = Client(f"tcp://{address}", timeout=f"{DASK_CONNECT_S}s")  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise BadInput(f"--executor dask://{address}: no Dask scheduler answered ({exc}); "
                       "expected a running scheduler at HOST:PORT") from None
    with client:
        futures = client.map(fn, *iterables, pure=False)
        if on_done is None:
            gathered: list[T] = client.gather(  # type: ignore[no-untyped-call]
                futures, asynchronous=False)
            return gathered
        where = {f.key: i for i, f in enumerate(futures)}
        done: dict[int, T] = {}
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            i = where[future.key]
            done[i] = future.result()
            on_done(i, done[i])
        return [done[i] for i in range(len(futures))]


def _bar(total: int, quiet: bool = False) -> tqdm[Any]:
    quiet = quiet or not sys.stderr.isatty() or bool(os.environ.get("CHAOSLAB_NO_PROGRESS"))
    return tqdm(total=total, unit="seed", disable=quiet, delay=PROGRESS_AFTER_S,
                file=sys.stderr)
