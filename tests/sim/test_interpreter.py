"""Replications in another interpreter's processes (`sim.worker`, `sim.interpreter`): the
same seed gives the same summary and history, the kept history is written where it ran, and
a worker that fails or cannot start is one sentence. PyPy itself is checked where `make`
installed it (CI does: a skip there is a failure)."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import os
import re
import select
import signal
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from scenario.checkers.index import index
from scenario.errors import BadInput
from scenario.schema import load_scenario
from scenario.timelines import timelines
from sim import interpreter, runner
from sim.runner import Resident, Task, WorkerFailed, run_all, run_elsewhere, run_seed, summary_of
from sim.validation import mmc_scenario

ROOT = Path(__file__).resolve().parents[2]
SMALL = mmc_scenario(2, 0.6, 2_000)
# every feature the model has on one fault scenario: failover, breakers, retries, shedding
SWITCH = load_scenario(ROOT / "scenarios" / "switch_failure.toml").scaled(8)


def _same_run_as_here(python: list[str], task: Task, tmp_path: Path) -> None:
    here = run_seed(task, keep=True)
    assert here.history is not None
    here.history.write_jsonl(tmp_path / "here.jsonl")
    there = run_elsewhere(python, task, keep=True, write_to=tmp_path / "there.jsonl")
    assert there.history is None and there.written is not None  # the history stayed there
    assert there.summary == here.summary
    assert there.written.timelines == timelines(index(here.history))
    assert (tmp_path / "there.jsonl").read_bytes() == (tmp_path / "here.jsonl").read_bytes()


def test_a_worker_process_gives_this_process_s_run(tmp_path: Path) -> None:
    # this CPython as "another interpreter": the worker's protocol on its own
    _same_run_as_here([sys.executable], Task(SMALL, "resilient", 3), tmp_path)


def test_seeds_in_worker_processes_come_back_in_order_and_only_the_first_is_written(
        tmp_path: Path) -> None:
    tasks = [Task(SMALL, "baseline", s) for s in range(1, 5)]
    here = run_all(tasks, 1, "local")
    there = run_all(tasks, 2, "local", python=[sys.executable], write_to=tmp_path / "h.jsonl")
    assert [r.summary for r in there] == [r.summary for r in here]
    assert there[0].written is not None and there[0].written.path == tmp_path / "h.jsonl"
    assert all(r.written is None and r.history is None for r in there[1:])
    assert here[0].history is not None
    assert timelines(index(here[0].history)) == there[0].written.timelines


def test_a_worker_that_fails_or_cannot_start_is_one_sentence(tmp_path: Path) -> None:
    task = Task(SMALL, "baseline", 1)
    failing = [sys.executable, "-c", "import sys; print('no model here', file=sys.stderr); "
               "sys.exit(3)"]
    with pytest.raises(WorkerFailed, match=r"failed on seed 1 with exit status 3: no model "
                       r"here$"):
        run_elsewhere(failing, task)
    with pytest.raises(WorkerFailed, match=r"could not start: No such file or directory"):
        run_elsewhere([str(tmp_path / "no-such-python")], task)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdecimal():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfd_open is Linux's")
def test_a_worker_dies_with_the_sim_that_started_it(tmp_path: Path) -> None:
    # `chaoslab sim` killed outright (no Ctrl-C to its process group) must not leave its
    # worker simulating: the full-scale day on this CPython would run for minutes
    parent = subprocess.Popen(
        [sys.executable, "-m", "chaoslab", "sim", "year_end_peak", "--seeds", "1",
         "--workers", "1", "--interpreter", sys.executable, "--out", str(tmp_path / "run")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(1200):  # up to a minute for the parent to start its worker
            found = _children(parent.pid)
            if found or parent.poll() is not None:
                worker = os.pidfd_open(found[0]) if found else None
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                parent.wait(timeout=0.05)
        assert worker is not None and parent.poll() is None, "no worker process started"
        parent.kill()
        parent.wait(timeout=10)
        ended, _, _ = select.select([worker], [], [], 10.0)  # readable once it has exited
        assert ended, "the worker outlived its parent by 10 s"
    finally:
        parent.kill()
        if worker is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(worker, signal.SIGKILL)
            os.close(worker)


def test_the_cli_says_what_simulated_and_a_bad_interpreter_exits_2(tmp_path: Path) -> None:
    def sim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chaoslab", "sim", "metastable_retry", "--seeds", "1",
             "--scale", "8", "--out", str(tmp_path / "run"), *args],
            capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)

    ok = sim("--interpreter", "python")
    assert ok.returncode == 0, ok.stderr
    assert "on CPython 3." in ok.stdout
    bad = sim("--interpreter", str(tmp_path / "no-such-python"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith(
        "chaoslab: the simulation worker (")
    assert "Traceback" not in bad.stderr
    assert not list((tmp_path / "run").glob(".history*"))  # nothing half-written left


def test_auto_takes_pypy_only_when_installed_and_a_seed_is_long(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    long = load_scenario(ROOT / "scenarios" / "year_end_peak.toml")
    monkeypatch.setattr(interpreter, "PYPY", tmp_path / "pypy3")
    assert interpreter.worker_python("auto", long) is None  # not installed
    with pytest.raises(BadInput, match="--interpreter pypy: no PyPy at"):
        interpreter.worker_python("pypy", long)
    (tmp_path / "pypy3").touch()
    assert interpreter.worker_python("auto", long) == [str(tmp_path / "pypy3")]
    assert interpreter.nominal_requests(SMALL) < interpreter.AUTO_MIN_REQUESTS
    assert interpreter.worker_python("auto", SMALL) is None  # too short to pay
    assert interpreter.worker_python("python", long) is None
    assert interpreter.worker_python("python3.11 -X dev", long) == ["python3.11", "-X", "dev"]
    # a search's runs: PyPy from far fewer requests a run; a Dask cluster's, its own
    assert interpreter.search_python("auto", [SWITCH]) == (str(tmp_path / "pypy3"),)
    assert interpreter.search_python("auto", [SMALL]) == ()
    assert interpreter.search_python("pypy", [long], "dask://127.0.0.1:8786") == ()


def test_the_install_lists_every_package_the_worker_imports() -> None:
    # deploy/pypy/install.sh installs WHEELS for PyPy: every distribution `import sim.runner`
    # loads must be one of them or required by one (pip brings those)
    text = (ROOT / "deploy" / "pypy" / "install.sh").read_text()
    m = re.search(r'^WHEELS="([^"]+)"', text, re.MULTILINE)
    assert m is not None
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    listed = {norm(re.split(r"[<>=]", w)[0]) for w in m.group(1).split()}
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, sim.runner; print(*sorted(sys.modules))"],
        capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    dists = md.packages_distributions()
    imported = {norm(d) for name in loaded if "." not in name for d in dists.get(name, [])}
    # not needed: the project itself; httpx imports click for its command line only when it
    # is there; setuptools' _distutils_hack is the venv's .pth hook, loaded at every start
    imported -= {"chaoslab", "click", "setuptools"}

    def closure(names: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for text in md.requires(name) or []:
                req = Requirement(text)
                if req.marker is None or req.marker.evaluate({"extra": ""}):
                    todo.append(norm(req.name))
        return seen

    assert imported - closure(listed) == set()


PYPY_MISSING = "PyPy is not installed (make runs deploy/pypy/install.sh)"


@pytest.mark.skipif(not interpreter.pypy_installed() and not os.environ.get("CI"),
                    reason=PYPY_MISSING)
def test_pypy_gives_cpython_s_history_op_for_op(tmp_path: Path) -> None:
    assert interpreter.pypy_installed(), PYPY_MISSING  # in CI: installed, or a failure
    _same_run_as_here([str(interpreter.PYPY)], Task(SWITCH, "resilient", 2), tmp_path)


# -- a search's resident worker (sim.runner.Resident, `python -m sim.worker --serve`) -----

@pytest.mark.skipif(not interpreter.pypy_installed() and not os.environ.get("CI"),
                    reason=PYPY_MISSING)
def test_a_resident_pypy_worker_gives_this_process_s_summaries() -> None:
    assert interpreter.pypy_installed(), PYPY_MISSING
    tasks = [Task(SWITCH.scaled(4), "resilient", s) for s in (1, 2)] + \
        [Task(SMALL, "baseline", 1)]
    resident = Resident([str(interpreter.PYPY)])
    try:
        assert [resident.summary(t) for t in tasks] == [run_seed(t).summary for t in tasks]
    finally:
        resident.close()


def test_a_resident_worker_serves_on_after_a_failed_task_and_restarts_when_gone() -> None:
    resident = Resident([sys.executable])
    try:
        here = run_seed(Task(SMALL, "baseline", 2)).summary
        with pytest.raises(WorkerFailed, match=r"failed on seed 1: ScenarioError: .*no-such"):
            resident.summary(Task(SMALL, "no-such-preset", 1))
        assert resident.summary(Task(SMALL, "baseline", 2)) == here  # the same process
        first = resident._proc
        assert first is not None
        first.kill()
        first.wait()
        assert resident.summary(Task(SMALL, "baseline", 2)) == here  # a new one
        assert resident._proc is not None and resident._proc.pid != first.pid
    finally:
        resident.close()
    # one that ends in the middle of a task is a sentence with its exit status
    dies = Resident([sys.executable, "-c", "import sys; sys.stdin.buffer.read(8); sys.exit(5)"])
    with pytest.raises(WorkerFailed, match=r"ended on seed 1 with exit status 5$"):
        dies.summary(Task(SMALL, "baseline", 1))
    with pytest.raises(WorkerFailed, match=r"could not start: No such file or directory"):
        Resident(["/no/such/python"]).summary(Task(SMALL, "baseline", 1))


def _residents_seen_in_a_child(_: int) -> int:
    return len(runner._RESIDENTS)


def test_a_forked_process_starts_its_own_resident_worker() -> None:
    # a process pool forked after this process started its worker must not share its pipes
    summary_of(Task(SMALL, "baseline", 1), [sys.executable])
    assert len(runner._RESIDENTS) == 1
    with ProcessPoolExecutor(1) as pool:
        assert pool.submit(_residents_seen_in_a_child, 0).result() == 0
    runner._close_residents()
    runner._RESIDENTS.clear()
