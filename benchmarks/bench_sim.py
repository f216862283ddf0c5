"""Benchmark of the simulator: simulated portal requests per wall second, as ratios measured
in one run on this machine (medians of several rounds; 2 noisy cores).

The shared machine's speed drifts by up to 2x within minutes, so every ratio is taken
between runs made right after each other (a pair per round) and the median of the rounds'
ratios is reported, never a ratio of medians taken minutes apart.

    python benchmarks/bench_sim.py            # the ratios (a few minutes)
    python benchmarks/bench_sim.py --validate # only the validation table (every family of
                                              # sim.validation, 10 seeds of 10^5, 2 %)
    python benchmarks/bench_sim.py --day      # + the year_end_peak day, timed: at 1:8 (the
                                              # issue's reference day) and at full scale,
                                              # then its summary and report (CPU s each);
                                              # on PyPy's worker when installed
                                              # (--interpreter, as chaoslab sim's)

1. the model reduced to M/M/c (arrivals, client, user pipeline, portal, history) against a
   bare SimPy M/M/c (one process per customer, one Resource) at the same load: goal >= 0.5;
2. cost linear in requests: seconds per request at 4n over n (goal ~1);
3. replications on 2 worker processes against 1, each worker simulating and summarising its
   own seeds as `chaoslab sim` does (goal >= 1.8x);
4. a fault scenario with every feature on (switch_failure, resilient): requests per second.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import simpy

from policies.presets import PRESETS
from scenario.invariants import build_checkers
from scenario.report import pool_report, write_report
from scenario.report_model import RunMeta
from scenario.schema import Scenario, load_scenario
from scenario.summary import summarize
from sim.interpreter import describe, worker_python
from sim.model import simulate
from sim.policyset import policy_set
from sim.runner import SeedResult, Task, run_all, run_elsewhere
from sim.validation import MMC_SERVICE_S, Check, families, mmc_scenario

ROUNDS = 3
PAIRS = 5  # rounds of the model against the bare model
SERVERS, LOAD = 4, 0.7
N = 60_000
REPLICATIONS, REPLICATION_N = 4, 60_000  # two per worker, a few seconds each
VALIDATE_SEEDS, VALIDATE_N = 10, 100_000  # per family: 10^6 arrivals, a 95 % t interval
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def bare_mmc(n: int, seed: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Customers per second of SimPy's textbook M/M/c (per wall second, or of `clock`)."""
    env, rng = simpy.Environment(), random.Random(seed)
    server = simpy.Resource(env, SERVERS)
    lam, mu = LOAD * SERVERS / MMC_SERVICE_S, 1 / MMC_SERVICE_S

    def customer() -> Generator[simpy.Event, Any, None]:
        with server.request() as req:
            yield req
            yield env.timeout(rng.expovariate(mu))

    def source() -> Generator[simpy.Event, Any, None]:
        for _ in range(n):
            yield env.timeout(rng.expovariate(lam))
            env.process(customer())

    env.process(source())
    t0 = clock()
    env.run()
    return n / (clock() - t0)


def model_mmc(n: int, seed: int) -> float:
    """Portal requests per wall second of the whole model reduced to M/M/c."""
    scenario = mmc_scenario(SERVERS, LOAD, n)
    policies = policy_set("baseline", scenario)
    t0 = time.perf_counter()
    served = simulate(scenario, policies, seed).counters.served
    return served / (time.perf_counter() - t0)


def paired(f: Callable[[int, int], float], g: Callable[[int, int], float], n: int, m: int,
           rounds: int) -> tuple[float, list[float], list[float], list[float]]:
    """`rounds` pairs f(n, seed), g(m, seed) run one right after the other: the median of
    the pairs' ratios g/f, the ratios, and every f and g."""
    fs, gs = [], []
    for seed in range(1, rounds + 1):
        fs.append(f(n, seed))
        gs.append(g(m, seed))
    ratios = [b / a for a, b in zip(fs, gs, strict=True)]
    return statistics.median(ratios), ratios, fs, gs


def seconds_per_request(n: int, seed: int) -> float:
    return 1 / model_mmc(n, seed)


def replications(workers: int) -> float:
    """Wall seconds of REPLICATIONS equal replications (simulate + summarise) on `workers`."""
    scenario = mmc_scenario(SERVERS, LOAD, REPLICATION_N)
    tasks = [Task(scenario, "baseline", s) for s in range(1, REPLICATIONS + 1)]
    t0 = time.perf_counter()
    run_all(tasks, workers, "local")
    return time.perf_counter() - t0


def scaling() -> tuple[float, float, float, list[float]]:
    """Median seconds on 1 and 2 workers and the median speed-up, over ROUNDS rounds (1 and 2
    workers alternate, so both see the same background load); every round's speed-up."""
    ones, twos = [], []
    for _ in range(ROUNDS):
        ones.append(replications(1))
        twos.append(replications(2))
    ups = [a / b for a, b in zip(ones, twos, strict=True)]
    return statistics.median(ones), statistics.median(twos), statistics.median(ups), ups


def _one_seed(args: tuple[int, int]) -> float:
    """One seed of the `index`-th validation family (a worker process's task)."""
    index, seed = args
    return families(VALIDATE_N)[index].one_seed(seed)


def validation_table(workers: int) -> bool:
    """Print every family against its closed form; True when each 95 % interval over the
    seeds lies within 2 % of it."""
    print(f"validation: {VALIDATE_SEEDS} seeds x {VALIDATE_N:,} arrivals per family; the 95 % "
          f"interval (Student t) of the mean over seeds must lie within 2 % of the closed form")
    print(f"{'family':50s} {'measure':15s} {'closed form':>11s} {'model':>9s} {'error':>8s} "
          f"{'95 % CI':>8s}  ok")
    seeds = range(1, VALIDATE_SEEDS + 1)
    good = True
    with ProcessPoolExecutor(workers) as pool:
        for i, family in enumerate(families(VALIDATE_N)):
            check = Check(family, tuple(pool.map(_one_seed, [(i, s) for s in seeds])))
            ok = check.within(0.02)
            good = good and ok
            print(f"{family.name:50s} {family.measure:15s} {family.theory:11.5f} "
                  f"{check.mean:9.5f} {100 * check.error:+7.2f}% "
                  f"{100 * check.half_width / family.theory:7.2f}%  {'yes' if ok else 'NO'}",
                  flush=True)
    return good


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", action="store_true",
                        help="only the validation table (exit 1 if a family misses 2 %%)")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes for the validation table (default 2)")
    parser.add_argument("--day", action="store_true", help="time a year_end_peak day")
    parser.add_argument("--interpreter", default="auto", metavar="auto|python|pypy|CMD",
                        help="what simulates the --day runs, as `chaoslab sim --interpreter` "
                        "(default: auto, PyPy when installed)")
    args = parser.parse_args()
    if args.validate:
        raise SystemExit(0 if validation_table(max(1, args.workers)) else 1)

    print("load average (1/5/15 min): " + "/".join(f"{x:.1f}" for x in os.getloadavg()))
    ratio, ratios, bares, models = paired(bare_mmc, model_mmc, N, N, PAIRS)
    print(f"M/M/{SERVERS}, {PAIRS} pairs: bare SimPy {statistics.median(bares):,.0f} customers/s "
          f"({min(bares):,.0f}-{max(bares):,.0f}), model {statistics.median(models):,.0f} "
          f"requests/s ({min(models):,.0f}-{max(models):,.0f}); ratio {ratio:.2f} (pairs "
          f"{min(ratios):.2f}-{max(ratios):.2f}; best over best {max(models) / max(bares):.2f}; "
          f"goal >= 0.5)")
    cost, costs, _, _ = paired(seconds_per_request, seconds_per_request, N // 4, N, ROUNDS)
    print(f"cost per request at {N:,} over {N // 4:,} requests: {cost:.2f} "
          f"(pairs {min(costs):.2f}-{max(costs):.2f}; goal ~1)")
    one, two, up, ups = scaling()
    print(f"{REPLICATIONS} replications of {REPLICATION_N:,} requests: 1 worker {one:.1f} s, "
          f"2 workers {two:.1f} s; speed-up {up:.2f}x (rounds {min(ups):.2f}-{max(ups):.2f}; "
          f"goal >= 1.8x)")
    scenario = load_scenario(SCENARIOS / "switch_failure.toml")
    t0 = time.perf_counter()
    rep = simulate(scenario, policy_set("resilient", scenario), 1)
    wall = time.perf_counter() - t0
    requests = sum(1 for op in rep.history.ops if op.type == "invoke")
    print(f"switch_failure (resilient, every feature): {requests / wall:,.0f} requests/s, "
          f"{len(rep.history) / wall:,.0f} ops/s")
    if args.day:
        full = load_scenario(SCENARIOS / "year_end_peak.toml")
        python = worker_python(args.interpreter, full)
        print(f"the day simulated on {describe(python)}; the bare M/M/{SERVERS} on CPython "
              f"{sys.version.split()[0]} in this process", flush=True)
        for scale, scenario in ((8, reference_day(full)), (1, full)):
            for preset in PRESETS:
                if python is None:
                    day(scenario, preset, scale)
                else:
                    day_elsewhere(python, scenario, preset, scale)


def reference_day(full: Scenario) -> Scenario:
    """The issue's 1:8 day: `full.scaled(8)` with the accept queues, clinics and pharmacies
    as that file had them (it divided only rate, accounts and workers), so this figure stays
    comparable with every earlier measurement of it."""
    eighth = full.scaled(8)
    topo = eighth.topology.model_copy(update={
        "replicas": [r.model_copy(update={"max_queue": f.max_queue})
                     for r, f in zip(eighth.topology.replicas, full.topology.replicas,
                                     strict=True)],
        "clinics": full.topology.clinics, "pharmacies": full.topology.pharmacies})
    return eighth.model_copy(update={"topology": topo})


def day(scenario: Scenario, preset: str, scale: int) -> None:
    """Simulate the day once (seed 1) and print its requests per CPU second over a bare SimPy
    M/M/4's customers per CPU second, measured right before and after it (CPU seconds: on
    the shared machine the wall clock measures the neighbours); then the CPU seconds of the
    rest of `chaoslab sim --seeds 1`: summarising the seed, and writing its report
    (history.jsonl and the timelines included) to a temporary directory."""
    (rep, wall, cpu), bare = _around_bare(lambda: _timed_here(scenario, preset))
    requests = sum(1 for op in rep.history.ops if op.type == "invoke")
    _day_line(scale, preset, requests=requests, ops=len(rep.history), bare=bare, cpu=cpu,
              timed=f"in {wall:.1f} s ({cpu:.1f} CPU s")
    c1 = time.process_time()
    checkers = build_checkers(scenario.invariants)
    summary = summarize(rep.history, checkers)
    c2 = time.process_time()
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as out:
        write_report(pool_report([summary], _meta(scenario, preset, wall),
                                 [n for n, _ in checkers]), [rep.history], Path(out))
    c3 = time.process_time()
    print(f"  then summarise {c2 - c1:.1f} CPU s, report {c3 - c2:.1f} CPU s: "
          f"{cpu + c3 - c1:.1f} CPU s in all", flush=True)


def day_elsewhere(python: list[str], scenario: Scenario, preset: str, scale: int) -> None:
    """The day as `chaoslab sim --seeds 1 --workers 1` runs it on another interpreter: one
    worker process simulates seed 1, summarises it and writes its history and timelines
    (`sim.runner.run_elsewhere`); this process writes report.json and report.html. The
    ratio takes the worker's CPU seconds for the simulation and its summary together (the
    worker does both), over a bare SimPy M/M/4 on this CPython right before and after."""
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        out = Path(tmp)

        def worker() -> tuple[SeedResult, float, float]:
            t0, c0 = time.perf_counter(), os.times()
            result = run_elsewhere(python, Task(scenario, preset, 1), keep=True,
                                   write_to=out / ".history.jsonl.worker")
            wall, c1 = time.perf_counter() - t0, os.times()
            return result, wall, (c1.children_user + c1.children_system
                                  - c0.children_user - c0.children_system)

        (result, wall, cpu), bare = _around_bare(worker)
        assert result.written is not None
        requests, ops = _count_ops(result.written.path)
        _day_line(scale, preset, requests=requests, ops=ops, bare=bare, cpu=cpu,
                  timed=f"simulated, summarised and written in {wall:.1f} s ({cpu:.1f} CPU "
                  f"s of the worker")
        c2 = time.process_time()
        checkers = build_checkers(scenario.invariants)
        write_report(pool_report([result.summary], _meta(scenario, preset, wall),
                                 [n for n, _ in checkers]), [], out, written=result.written)
        report = time.process_time() - c2
        print(f"  then the report {report:.1f} CPU s: {wall + report:.1f} s in all",
              flush=True)


T = TypeVar("T")


def _around_bare(run: Callable[[], T]) -> tuple[T, float]:
    """`run()`, and a bare SimPy M/M/4's customers per CPU second measured right before and
    after it (their mean)."""
    before = bare_mmc(N, 1, time.process_time)
    done = run()
    return done, (before + bare_mmc(N, 1, time.process_time)) / 2


def _timed_here(scenario: Scenario, preset: str) -> tuple[Any, float, float]:
    """Seed 1 simulated in this process: its report, wall seconds and CPU seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    rep = simulate(scenario, policy_set(preset, scenario), 1)
    return rep, time.perf_counter() - t0, time.process_time() - c0


def _day_line(scale: int, preset: str, *, requests: int, ops: int, bare: float, cpu: float,
              timed: str) -> None:
    """The day's line: what it made, how long it took (`timed`), its ratio and the goal."""
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    goal = "goal: ratio >= 0.3" if scale > 1 else "goal: < 120 s in all"
    print(f"year_end_peak day 1:{scale} ({preset}): {requests:,} requests, {ops:,} ops "
          f"{timed}; load {load}); {requests / cpu:,.0f} requests per CPU s over bare SimPy "
          f"M/M/{SERVERS}'s {bare:,.0f} customers per CPU s: ratio "
          f"{requests / cpu / bare:.3f} ({goal})", flush=True)


def _meta(scenario: Scenario, preset: str, wall: float) -> RunMeta:
    return RunMeta(scenario=scenario.name, mode="sim", policies=preset, seed=1,
                   duration_s=scenario.duration, wall_s=wall)


def _count_ops(path: Path) -> tuple[int, int]:
    """The invokes and the ops of a history.jsonl, counted in its bytes (whole lines at a
    time: a line cut by a read is counted with its end)."""
    invokes = lines = 0
    rest = b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            whole, newline, cut = (rest + chunk).rpartition(b"\n")
            invokes += whole.count(b'{"type":"invoke",')
            lines += whole.count(b"\n") + 1 if newline else 0
            rest = cut
    return invokes, lines


if __name__ == "__main__":
    main()
