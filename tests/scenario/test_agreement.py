"""scenario.agreement: figures read from histories, and the sim-against-live judgement."""

from __future__ import annotations

import random

from scenario.agreement import (
    Tolerance,
    agreed,
    compare,
    figures,
    prediction_interval,
    t975,
    tolerance,
)
from scenario.history import History
from scenario.invariants import build_checkers


def _history(n: int, fail_every: int, latency_s: float, seed: int = 1) -> History:
    """`n` operations one per second, every `fail_every`-th failing; lognormal-ish latency."""
    rng = random.Random(seed)
    h = History()
    for i in range(n):
        kind = "login" if i % 2 else "read_history"
        op = h.invoke(f"user-{i}", kind, float(i))
        lat = latency_s * rng.uniform(0.8, 1.2)
        if fail_every and i % fail_every == 0:
            h.complete(op, "fail", i + lat, error="timeout")
        else:
            h.complete(op, "ok", i + lat)
    return h


def test_figures_count_availability_goodput_and_quantiles() -> None:
    f = figures(_history(100, 10, 0.1), [], duration_s=100.0)
    assert f["availability"] == 0.9
    assert f["goodput_per_s"] == 0.9
    assert f["latency_p50_ms"] is not None and 80 <= f["latency_p50_ms"] <= 120
    assert f["availability.login"] == 1.0  # odd i: never a multiple of 10
    assert f["availability.read_history"] == 0.8


def test_same_experiment_agrees_and_a_diverging_one_does_not() -> None:
    checkers = build_checkers({"availability": {"target": 0.95}})
    sims = [figures(_history(400, 50, 0.1, seed=s), checkers, 400.0) for s in range(4)]
    same = figures(_history(400, 50, 0.1, seed=9), checkers, 400.0)
    rows = compare(sims, same)
    assert agreed(rows), [r for r in rows if r.goal and r.agree is False]
    # twice the service time and a tenth of the requests failing: p50, availability and the
    # availability verdict all disagree
    slow = figures(_history(400, 10, 0.2, seed=9), checkers, 400.0)
    rows = compare(sims, slow)
    bad = {r.figure for r in rows if r.goal and r.agree is False}
    assert {"availability", "latency_p50_ms", "invariant.availability"} <= bad
    assert not agreed(rows)


def test_missing_values_are_not_judged() -> None:
    rows = compare([{"availability": None}], {"availability": 0.5})
    assert rows[0].agree is None
    assert agreed(rows)


def test_tolerances() -> None:
    assert Tolerance(absolute=0.02).allows(0.90, 0.919)
    assert not Tolerance(absolute=0.02).allows(0.90, 0.93)
    assert Tolerance(relative=0.1).allows(100.0, 109.0)
    assert not Tolerance(relative=0.1).allows(100.0, 111.0)
    assert tolerance("availability").goal
    assert not tolerance("latency_p99_ms.login").goal


def test_prediction_interval_is_the_textbook_one() -> None:
    low, high = prediction_interval([1.0, 2.0, 3.0]) or (0.0, 0.0)
    half = 4.303 * 1.0 * (4 / 3) ** 0.5  # t(0.975, 2) * sd * sqrt(1 + 1/n)
    assert abs(low - (2 - half)) < 1e-9 and abs(high - (2 + half)) < 1e-9
    assert prediction_interval([1.0]) is None
    assert t975(1) == 12.706 and t975(11) == 2.228 and t975(500) == 1.96


def test_inside_the_seed_spread_but_outside_the_tolerance_is_inconclusive() -> None:
    # the seeds differ by 15 points: a live value 5 points from their mean could be one
    # more draw, but the tolerance (2 points) cannot be shown either way
    rows = compare([{"availability": a} for a in (0.80, 0.85, 0.90, 0.95)],
                   {"availability": 0.925})
    assert (rows[0].judgement, rows[0].agree) == ("inconclusive", None)
    assert agreed(rows)
    rows = compare([{"availability": a} for a in (0.87, 0.875, 0.88, 0.875)],
                   {"availability": 0.80})
    assert (rows[0].judgement, rows[0].agree) == ("differ", False)
    rows = compare([{"availability": a} for a in (0.87, 0.875, 0.88, 0.875)],
                   {"availability": 0.89})
    assert (rows[0].judgement, rows[0].agree) == ("agree", True)
