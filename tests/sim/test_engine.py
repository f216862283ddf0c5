"""The model's event loop (sim.engine) fires the same steps in the same order as SimPy's own.

Its shortcuts (`Workers` for SimPy's `Resource`, no end event for a process nobody waits on,
no zero timeout, Initialize or grant that would fire next, its own `run` loop) may only
leave events out, never reorder them:
the same scenario and seed must give the same history on SimPy's own loop and events. In
these scenarios two events rarely fall on the same instant (a `nothing_due` that always
said yes still gave the same histories), so the rules for an instant shared by several
events are pinned by the small tests at the end.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.world
from scenario.schema import load_scenario
from sim.engine import Environment, Workers, _pypy_heappop, _pypy_heappush
from sim.model import simulate
from sim.policyset import policy_set
from tests.sim.test_scenarios import reduced

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


class SimPyLoop(Environment):
    """The model on SimPy's own loop, events and processes: every shortcut switched off."""

    def run(self, until: Any = None) -> Any:
        return simpy.Environment.run(self, until)

    def schedule(self, event: Any, priority: Any = simpy.events.NORMAL, delay: Any = 0) -> None:
        simpy.Environment.schedule(self, event, priority, delay)

    def timeout(self, delay: Any = 0, value: Any = None) -> simpy.Timeout:
        return simpy.Timeout(self, delay, value)

    def process(self, generator: Any) -> Any:
        return simpy.Process(self, generator)

    def start_now(self, generator: Any) -> Any:
        return simpy.Process(self, generator)

    def nothing_due(self) -> bool:
        return False


class SimPyWorkers:
    """`engine.Workers` as SimPy's own `Resource`, its requests and releases."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.resource = simpy.Resource(env, capacity)
        self.capacity = capacity

    @property
    def count(self) -> int:
        return self.resource.count

    @property
    def queue(self) -> list[simpy.resources.resource.Request]:
        return self.resource.queue

    def acquire(self) -> Generator[simpy.Event, Any, None]:
        yield self.resource.request()

    def request(self) -> simpy.Event:
        return self.resource.request()

    def release(self) -> None:
        self.resource.release(self.resource.users[0])  # any held slot: they are alike


@pytest.mark.parametrize("name", ["switch_failure", "power_loss", "refresh_storm"])
@pytest.mark.parametrize("preset", ["baseline", "resilient"])
def test_the_same_history_as_on_simpys_own_loop(name: str, preset: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = reduced(load_scenario(SCENARIOS / f"{name}.toml"))
    ours = simulate(scenario, policy_set(preset, scenario), 3)
    monkeypatch.setattr(sim.world, "Environment", SimPyLoop)
    monkeypatch.setattr(sim.world, "Workers", SimPyWorkers)
    theirs = simulate(scenario, policy_set(preset, scenario), 3)
    assert len(ours.history) > 1000
    assert ours.history.ops == theirs.history.ops
    assert ours.counters == theirs.counters


def test_a_process_that_ended_unwatched_still_gives_its_value() -> None:
    env = Environment()

    def child() -> Generator[simpy.Event, Any, int]:
        yield env.timeout(1.0)
        return 7

    def parent(proc: simpy.Process) -> Generator[simpy.Event, Any, int]:
        yield env.timeout(2.0)  # the child ended at 1 s with nobody waiting on it
        value: int = yield proc
        return value + 1

    kid = env.process(child())
    dad = env.process(parent(kid))
    watcher = env.process(parent(env.process(child())))
    env.run(until=5.0)
    assert not kid.is_alive
    assert dad.value == 8
    assert watcher.value == 8


def test_nothing_due_only_when_a_zero_timeout_would_fire_next() -> None:
    env = Environment()
    seen: list[bool] = []

    def probe() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1.0)
        seen.append(env.nothing_due())  # the other timer is due at 2 s
        env.timeout(0.0)
        seen.append(env.nothing_due())  # a zero timeout is due now

    env.process(probe())
    env.timeout(2.0)
    env.run(until=3.0)
    assert seen == [True, False]
    assert not env.nothing_due()  # outside `run` it never says yes


def test_start_now_runs_the_first_step_where_its_initialize_would_have() -> None:
    def scene(env: Environment, start: str) -> list[str]:
        log: list[str] = []

        def child(name: str) -> Generator[simpy.Event, Any, None]:
            log.append(f"{name} starts at {env.now}")
            yield env.timeout(1.0)
            log.append(f"{name} ends at {env.now}")

        def parent() -> Generator[simpy.Event, Any, None]:
            yield env.timeout(1.0)
            if start == "now" and env.nothing_due():
                env.start_now(child("a"))
            else:
                env.process(child("a"))
            yield env.timeout(0.5)
            env.process(child("b"))
            log.append(f"parent at {env.now}")

        env.process(parent())
        env.run(until=5.0)
        return log

    assert scene(Environment(), "now") == scene(SimPyLoop(), "initialize") == [
        "a starts at 1.0", "parent at 1.5", "b starts at 1.5", "a ends at 2.0",
        "b ends at 2.5"]


def _grants(env: Environment, pool: Workers | SimPyWorkers,
            jobs: list[tuple[int, int, int]]) -> list[tuple[int, float, str]]:
    """Who got a slot when, and what else happened at each instant, for jobs of
    (arrival, hold, zero timeouts after releasing); whole seconds, so instants are shared."""
    log: list[tuple[int, float, str]] = []

    def job(n: int, arrive: int, hold: int, zeros: int) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(arrive)
        yield from pool.acquire()
        log.append((n, env.now, f"granted, {pool.count} held, {len(pool.queue)} waiting"))
        yield env.timeout(hold)
        pool.release()
        for _ in range(zeros):  # other work at the release's instant
            yield env.timeout(0)
            log.append((n, env.now, f"after release, {pool.count} held"))

    for n, (arrive, hold, zeros) in enumerate(jobs):
        env.process(job(n, arrive, hold, zeros))
    env.run(until=1000.0)
    return log


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3),
                                             st.integers(0, 2)), max_size=25))
def test_workers_grant_as_simpys_resource(capacity: int,
                                          jobs: list[tuple[int, int, int]]) -> None:
    ours = Environment()
    theirs = SimPyLoop()
    assert _grants(ours, Workers(ours, capacity), jobs) == _grants(
        theirs, SimPyWorkers(theirs, capacity), jobs)


def test_workers_refuse_a_pool_without_slots() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Workers(Environment(), 0)


# the event queue's entries: (time, priority, id, event); few times and both priorities, so
# that ties on time, and on time and priority, are common
ENTRY_OPS = st.lists(st.one_of(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.5]),
                                         st.sampled_from([0, 1]), st.booleans()),
                               st.none()), max_size=300)


@settings(max_examples=300, deadline=None)
@given(ENTRY_OPS)
def test_pypys_heap_functions_pop_what_heapq_pops(ops: list[tuple[float, int, bool] | None]
                                                  ) -> None:
    # PyPy's loop pushes and pops with the engine's own functions, SimPy's own `step` (run
    # with an event as `until`) with heapq's: on one queue, mixed, they must pop as heapq
    import heapq

    mine: list[Any] = []
    theirs: list[Any] = []
    for eid, op in enumerate(ops):
        if op is None:
            if theirs:
                popped = (_pypy_heappop if eid % 3 else heapq.heappop)(mine)
                assert popped == heapq.heappop(theirs)
            continue
        entry = (op[0], op[1], eid, object())
        (_pypy_heappush if op[2] else heapq.heappush)(mine, entry)
        heapq.heappush(theirs, entry)
    assert [_pypy_heappop(mine) for _ in range(len(mine))] == \
        [heapq.heappop(theirs) for _ in range(len(theirs))]


# programs of processes that share instants: zero timeouts, events succeeded now, processes
# started now (an URGENT Initialize), ends waited on, and timers due at the same times
STEPS = st.lists(st.tuples(st.sampled_from(["zero", "sleep", "spawn", "join", "signal",
                                            "wait"]), st.integers(0, 2)), max_size=6)


def _play(env: Environment, programs: list[list[tuple[str, int]]], until: float | None
          ) -> list[tuple[float, str, int, str]]:
    """What each process did at which instant, in the order it happened."""
    log: list[tuple[float, str, int, str]] = []
    signals = [env.event() for _ in range(3)]

    def proc(name: str, steps: list[tuple[str, int]], depth: int
             ) -> Generator[simpy.Event, Any, int]:
        for i, (step, n) in enumerate(steps):
            log.append((env.now, name, i, step))
            if step == "zero":
                yield env.timeout(0)
            elif step == "sleep":
                yield env.timeout(n * 0.5)
            elif step in ("spawn", "join") and depth < 2:
                child = env.process(proc(f"{name}.{i}", steps[i + 1:], depth + 1))
                if step == "join":
                    yield child
            elif step == "signal" and not signals[n].triggered:
                signals[n].succeed(name)
            elif step == "wait" and signals[n].triggered:
                yield signals[n]  # one not triggered would wait forever: skip it
        return len(steps)

    for k, steps in enumerate(programs):
        env.process(proc(str(k), steps, 0))
    env.run(until)
    return log


@settings(max_examples=300, deadline=None)
@given(st.lists(STEPS, min_size=1, max_size=6))
def test_events_due_now_fire_in_simpys_order(programs: list[list[tuple[str, int]]]) -> None:
    # an event scheduled for the instant it is scheduled in waits in the engine's FIFOs,
    # not the heap: by (priority, id) against the heap's events due at the same instant,
    # in `run(until=t)`'s loop and in SimPy's own `step` (run to the end) alike
    theirs = _play(SimPyLoop(), programs, 100.0)
    assert _play(Environment(), programs, 100.0) == theirs
    assert _play(Environment(), programs, None) == theirs
