"""`sim.runner.run_all`: the parent and its worker processes share the seeds, one at a time."""

from __future__ import annotations

import gc
import pickle

import pytest

from scenario.checkers.index import index
from scenario.history import History
from scenario.schema import ScenarioError
from sim.runner import Task, run_all, run_seed
from sim.validation import mmc_scenario

SCENARIO = mmc_scenario(2, 0.6, 2_000)


def test_workers_give_the_results_of_one_process_in_task_order() -> None:
    tasks = [Task(SCENARIO, "baseline", s) for s in range(1, 6)]
    serial = run_all(tasks, 1, "local")
    shared = run_all(tasks, 3, "local")
    assert [r.summary for r in shared] == [r.summary for r in serial]
    assert serial[0].summary != serial[1].summary  # the seeds differ, and so do their runs
    assert serial[0].history is not None and shared[0].history is not None
    assert shared[0].history.ops == serial[0].history.ops
    assert all(r.history is None for r in shared[1:])
    assert run_all([], 2, "local") == []


def test_a_kept_history_pickles_as_the_same_ops() -> None:
    result = run_seed(Task(SCENARIO, "baseline", 1), keep=True)
    back = pickle.loads(pickle.dumps(result))
    assert back.summary == result.summary
    assert back.history is not None and result.history is not None
    assert back.history.ops == result.history.ops


def test_a_seed_not_kept_leaves_no_history_behind() -> None:
    # A process simulates its seeds one after the other: a seed it only summarises must not
    # stay in memory (in the checkers' index cache) while it simulates the next one. Counted
    # as History objects alive, not bytes: other tests of this worker process may have
    # filled caches of their own, which a byte count would charge to this one.
    def alive() -> int:
        gc.collect()  # what is only unreachable is not held
        return sum(isinstance(o, History) for o in gc.get_objects())

    placeholder = History()
    index(placeholder)  # the cache holds a history of ours, whatever ran before in this process
    scenario = mmc_scenario(2, 0.6, 500)
    before = alive()
    run_seed(Task(scenario, "baseline", 1))
    assert alive() == before  # the seed's history is gone with its summary
    kept = run_seed(Task(scenario, "baseline", 2), keep=True)
    assert kept.history is not None and alive() == before + 1


@pytest.mark.parametrize("bad", [0, 1])  # the parent's own task; the first a worker takes
def test_a_failing_task_fails_the_run(bad: int) -> None:
    tasks = [Task(SCENARIO, "no-such-preset" if i == bad else "baseline", i + 1)
             for i in range(4)]
    with pytest.raises(ScenarioError, match="no-such-preset"):
        run_all(tasks, 2, "local")
