"""Sim-to-live agreement: the same figures read from every history, and where they agree.

`figures(history, checkers, duration_s)` reads one history (one simulated seed, or the live
run) into flat, named figures: availability, goodput, shed share, latency p50/p95/p99 per
request kind and overall, upstream amplification and breaker opens per upstream, the
pharmacies' paper share, and each invariant's verdict. `compare(sims, live)` puts the
simulator's seeds (mean and seed-to-seed range) next to the live value, figure by figure,
and judges each: agree (within the figure's tolerance, `TOLERANCES`), differ (outside it and
outside the 95 % prediction interval of one more simulated replication), or inconclusive
(`Row`).

Pure functions of histories: no clock, no I/O. The orchestration is `chaoslab.twin`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scenario.checkers.index import index
from scenario.checkers.service import counted
from scenario.checkers.windows import quantile
from scenario.history import History
from scenario.summary import summarize
from scenario.verdict import Checker, Validity

Figures = dict[str, float | None]


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far live may be from the simulator's mean and still agree.

    `absolute`: in the figure's own unit (availability: a share, so 0.02 is 2 points);
    `relative`: a fraction of the simulator's mean. Either suffices. `goal`: the figure is
    one of the issue's agreement goals (the others are shown, judged, but not goals).
    """

    absolute: float = 0.0
    relative: float = 0.0
    goal: bool = False

    def allows(self, sim: float, live: float) -> bool:
        """Whether `live` is within this tolerance of `sim`."""
        diff = abs(live - sim)
        return diff <= self.absolute + 1e-12 or diff <= self.relative * abs(sim) + 1e-12


# The goals of the twin issue: availability within 2 points, goodput and p50 within 10 %.
# Tails are looser: the p95 of a run of a few thousand requests moves by 10-20 % from seed
# to seed on its own (nearest-rank quantile of a lognormal tail), the p99 more; shares and
# counts of rare events get an absolute floor so that 0 against 1 is not a disagreement.
TOLERANCES: dict[str, Tolerance] = {
    "availability": Tolerance(absolute=0.02, goal=True),
    "goodput_per_s": Tolerance(relative=0.10, goal=True),
    "latency_p50_ms": Tolerance(relative=0.10, goal=True),
    "latency_p95_ms": Tolerance(relative=0.25),
    "latency_p99_ms": Tolerance(relative=0.40),
    "shed_share": Tolerance(absolute=0.02),
    "amplification": Tolerance(absolute=0.1, relative=0.15),
    "breaker_opens": Tolerance(absolute=2.0, relative=0.5),
    "paper_share_max": Tolerance(absolute=0.05),
    # a list's wait in the list queue: a few seconds when it keeps up, so a floor of 1 s
    "list_wait_p50_s": Tolerance(absolute=1.0, relative=0.25),
    "list_wait_p99_s": Tolerance(absolute=2.0, relative=0.40),
}
VERDICT = "invariant."


def tolerance(figure: str) -> Tolerance:
    """The tolerance of a figure by its name ("latency_p50_ms.login" -> latency_p50_ms's).

    A per-kind or per-upstream figure keeps its family's bound but is not itself a goal: a
    kind with a few dozen requests in a run moves further from seed to seed."""
    base, _, part = figure.partition(".")
    tol = TOLERANCES.get(base, Tolerance(relative=0.25))
    return Tolerance(tol.absolute, tol.relative, goal=False) if part else tol


def _q(values: list[float], q: float) -> float | None:
    return round(quantile(values, q) * 1000, 3) if values else None


def figures(history: History, checkers: Sequence[tuple[str, Checker]],
            duration_s: float) -> Figures:
    """Every figure of one history; `duration_s` is the scenario's length the arrivals span
    (goodput is ok operations per second of it)."""
    ix = index(history)
    calls = [c for c in ix.calls if counted(c)]
    ok = [c for c in calls if c.ok]
    shed = sum(c.error == "shed" for c in calls)
    out: Figures = {
        "requests": float(len(calls)),
        "availability": len(ok) / len(calls) if calls else None,
        "goodput_per_s": len(ok) / duration_s if duration_s > 0 else None,
        "shed_share": shed / len(calls) if calls else None,
    }
    lat = sorted(c.latency_s for c in ok if c.latency_s is not None)
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        out[f"latency_{name}_ms"] = _q(lat, q)
    for kind in sorted({c.f for c in calls}):
        mine = [c for c in calls if c.f == kind]
        kind_ok = sorted(c.latency_s for c in mine if c.ok and c.latency_s is not None)
        out[f"availability.{kind}"] = sum(c.ok for c in mine) / len(mine)
        out[f"latency_p50_ms.{kind}"] = _q(kind_ok, 0.5)
        out[f"latency_p99_ms.{kind}"] = _q(kind_ok, 0.99)
    summary = summarize(history, checkers)
    for name, up in sorted(summary.upstreams.items()):
        out[f"amplification.{name}"] = up.amplification
        out[f"breaker_opens.{name}"] = float(up.breaker_opens)
    if summary.electronic or summary.paper:
        out["paper_share_max"] = summary.paper_share_max
    if ix.list_waits:  # the list queue: from a list's taking to its processing's end
        waits = sorted(ix.list_waits)
        out["list_wait_p50_s"] = round(quantile(waits, 0.5), 3)
        out["list_wait_p99_s"] = round(quantile(waits, 0.99), 3)
    for (name, _), verdict in zip(checkers, summary.verdicts, strict=True):
        out[VERDICT + name] = _verdict_code(verdict.valid)
    return out


def _verdict_code(valid: Validity) -> float | None:
    return None if valid == "unknown" else float(bool(valid))


def verdict_text(code: float | None) -> str:
    """A verdict figure back in words: true, false or unknown."""
    return "unknown" if code is None else ("true" if code else "false")


# Student's t, two-sided 95 %, by degrees of freedom (a table: no SciPy for eleven numbers);
# a df between two rows takes the lower row's value, the wider interval
_T975 = ((1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (6, 2.447),
         (7, 2.365), (8, 2.306), (9, 2.262), (10, 2.228), (15, 2.131), (20, 2.086),
         (30, 2.042), (60, 2.0))


def t975(df: int) -> float:
    """Student's t quantile 0.975 for `df` >= 1 degrees of freedom (conservative between rows)."""
    value = _T975[0][1]
    for d, t in _T975:
        if df >= d:
            value = t
    return value if df < 120 else 1.96


def prediction_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """The 95 % prediction interval of one more replication, from the seeds' `values`
    (mean ± t(n-1) · sd · sqrt(1 + 1/n)); None with fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = t975(n - 1) * sd * math.sqrt(1 + 1 / n)
    return mean - half, mean + half


@dataclass(frozen=True, slots=True)
class Row:
    """One figure: the simulator's mean and seed range, the live value, and the judgement.

    The live run is one replication of the same experiment. `judgement`:
    - "agree": live is within the figure's tolerance of the seeds' mean (`agree` True);
    - "differ": it is outside the tolerance and outside the 95 % prediction interval of one
      more simulated replication (`pi_low`..`pi_high`), so the seeds' own spread does not
      explain it (`agree` False);
    - "inconclusive": outside the tolerance but inside that interval: the model's own
      run-to-run spread is wider than the tolerance, and more seeds or a longer run are
      needed to tell (`agree` None);
    - "n/a": either side has no value (no requests of that kind, say; `agree` None).
    An invariant verdict agrees when every seed and the live run give the same one; it is
    inconclusive when the seeds split."""

    figure: str
    sim_mean: float | None
    sim_low: float | None
    sim_high: float | None
    live: float | None
    diff: float | None
    agree: bool | None
    goal: bool
    within_seeds: bool | None
    judgement: str = "n/a"
    pi_low: float | None = None
    pi_high: float | None = None

    def as_dict(self) -> dict[str, object]:
        """The row as JSON-ready values (verdict figures in words)."""
        if self.figure.startswith(VERDICT):
            return {"figure": self.figure, "sim": _verdicts_text(self.sim_low, self.sim_high),
                    "live": verdict_text(self.live), "agree": self.agree,
                    "judgement": self.judgement, "goal": self.goal}
        return {"figure": self.figure, "sim_mean": self.sim_mean, "sim_low": self.sim_low,
                "sim_high": self.sim_high, "live": self.live, "diff": self.diff,
                "agree": self.agree, "judgement": self.judgement, "goal": self.goal,
                "within_seeds": self.within_seeds, "pi_low": self.pi_low,
                "pi_high": self.pi_high}


def _verdicts_text(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "unknown"
    return verdict_text(low) if low == high else "mixed"


def _row(figure: str, sims: list[float | None], live: float | None) -> Row:
    values = [v for v in sims if v is not None and math.isfinite(v)]
    if figure.startswith(VERDICT):
        # a verdict agrees when every seed and the live run say the same
        low = min(values) if len(values) == len(sims) and values else None
        high = max(values) if len(values) == len(sims) and values else None
        if low is None or live is None:
            agree, word = None, "n/a"
        elif low != high:  # the seeds themselves split: live agrees with some of them
            agree, word = None, "inconclusive"
        else:
            agree = low == live
            word = "agree" if agree else "differ"
        return Row(figure, None, low, high, live, None, agree, True, None, word)
    if not values or live is None:
        return Row(figure, statistics.fmean(values) if values else None,
                   min(values, default=None), max(values, default=None), live, None, None,
                   tolerance(figure).goal, None)
    mean = statistics.fmean(values)
    tol = tolerance(figure)
    pi = prediction_interval(values)
    if tol.allows(mean, live):
        word, agree = "agree", True
    elif pi is not None and pi[0] - 1e-12 <= live <= pi[1] + 1e-12:
        word, agree = "inconclusive", None
    else:
        word, agree = "differ", False
    return Row(figure, mean, min(values), max(values), live, live - mean, agree, tol.goal,
               min(values) <= live <= max(values), word,
               pi[0] if pi else None, pi[1] if pi else None)


def compare(sims: Sequence[Mapping[str, float | None]],
            live: Mapping[str, float | None]) -> list[Row]:
    """One row per figure that the simulator or the live run has, in a stable order."""
    names = sorted({k for s in sims for k in s} | set(live), key=_order)
    return [_row(n, [s.get(n) for s in sims], live.get(n)) for n in names if n != "requests"]


_FIRST = ("availability", "goodput_per_s", "shed_share", "latency_p50_ms", "latency_p95_ms",
          "latency_p99_ms")


def _order(name: str) -> tuple[int, str]:
    if name in _FIRST:
        return (_FIRST.index(name), "")
    if name.startswith(VERDICT):
        return (len(_FIRST) + 2, name)
    return (len(_FIRST) + 1, name)


def agreed(rows: Sequence[Row]) -> bool:
    """Whether no goal row differs (inconclusive and n/a rows do not count against)."""
    return all(r.agree is not False for r in rows if r.goal)


def counts(rows: Sequence[Row]) -> dict[str, int]:
    """Goal rows by judgement."""
    out = {"agree": 0, "differ": 0, "inconclusive": 0, "n/a": 0}
    for r in rows:
        if r.goal:
            out[r.judgement] += 1
    return out
