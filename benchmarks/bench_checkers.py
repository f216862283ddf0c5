"""Benchmark: the whole checker suite and the report over histories of 10^5 and 10^6 ops.

Prints seconds per million ops at each size and their ratio: a ratio near 1 means the
checkers scale linearly (n log n shows as a ratio slightly above 1); quadratic would be ~10.
Medians of 3 rounds (the machine has 2 noisy cores).
"""

from __future__ import annotations

import random
import statistics
import time

from scenario.history import FINAL, NEMESIS, POLICY, History, Op
from scenario.invariants import build_checkers, default_spec
from scenario.names import upstream_process
from scenario.report import RunMeta, build_report

FS = (("login", 1), ("read_history", 2), ("submit_list", 1), ("prescribe", 0),
      ("dispense", 0), ("save_draft", 2), ("restore_draft", 2), ("paper_record", 0))


def synthetic(n_ops: int, seed: int = 1) -> History:
    """A history of about `n_ops` events: 500 clients, faults, upstream calls, breaker events."""
    rng = random.Random(seed)
    ops: list[Op] = []
    duration_s = n_ops / 40.0
    for k, start in enumerate((0.2, 0.5, 0.8)):
        kind = ("latency", "outage", "peak_load")[k]
        ops.append(Op("info", NEMESIS, "fault:start", start * duration_s, "shahkar", kind))
        ops.append(Op("info", NEMESIS, "fault:stop", (start + 0.1) * duration_s, "shahkar", kind))
    t, n = 0.0, 0
    keys: list[str] = []
    while len(ops) < n_ops:
        n += 1
        t += rng.expovariate(20.0)
        f, prio = FS[rng.randrange(len(FS))]
        key = f"k{n}" if f in ("submit_list", "prescribe", "dispense", "save_draft",
                               "paper_record") else ""
        proc = f"pharmacy-{n % 50}/{n % 3}" if f in ("dispense", "paper_record") else f"c-{n}"
        ops.append(Op("invoke", proc, f, t, key, "", "", prio))
        draw = rng.random()
        outcome = "ok" if draw < 0.9 else ("fail" if draw < 0.97 else "info")
        error = "" if outcome == "ok" else rng.choice(("shed", "timeout", "refused"))
        ops.append(Op(outcome, proc, f, t + rng.uniform(0.01, 2), key, "", error, prio))
        if key:
            keys.append(key)
        if n % 3 == 0:
            ops.append(Op("info", upstream_process("shahkar"), "call", t + 0.5, f"l{n}",
                          rng.choice(("ok", "ok", "timeout"))))
        if n % 5000 == 0:
            ops.append(Op("info", POLICY, "breaker", t, "shahkar", "closed->open"))
            ops.append(Op("info", POLICY, "breaker", t + 10, "shahkar", "open->half_open"))
            ops.append(Op("info", POLICY, "breaker", t + 11, "shahkar", "half_open->closed"))
    ops.sort(key=lambda op: op.time_s)
    ops.extend(Op("info", FINAL, "applied", t + 100, k, "1") for k in keys)
    return History(ops)


def seconds(history: History, rounds: int = 3) -> float:
    """Median seconds to build the report (index, 18 checkers, counts) of fresh copies."""
    checkers = build_checkers(default_spec())
    meta = RunMeta(scenario="bench", mode="sim", policies="x", seed=1, duration_s=1, wall_s=0)
    times = []
    for _ in range(rounds):
        h = History(list(history.ops))  # a new object: no cached index
        start = time.perf_counter()
        build_report([h], meta, checkers)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Measure both sizes and print the per-op ratio."""
    sizes = [synthetic(100_000), synthetic(1_000_000)]
    per_mop = []
    for h in sizes:
        s = seconds(h)
        per_mop.append(s / len(h) * 1e6)
        print(f"report with 18 checkers, {len(h):>9,} ops: {s:6.2f} s "
              f"({per_mop[-1]:.2f} s per 10^6 ops)")
    print(f"ratio of time per op, 10^6 / 10^5: {per_mop[1] / per_mop[0]:.2f} "
          "(1 = linear; ~10 would be quadratic)")


if __name__ == "__main__":
    main()
