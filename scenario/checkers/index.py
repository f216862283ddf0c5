"""The index of a history: one linear pass that sorts its events into what checkers read.

Every checker needs the same few views of a history (client calls with their completions,
fault spans, upstream attempts, breaker states, the final state, gauges). Building them once
per history keeps a suite of checkers over 10^6 ops to one O(n) pass plus each checker's own
sort. The last index built is cached against the history object itself (histories are
append-only, so identity plus length identifies its content).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scenario.history import (
    FAULT_START,
    FAULT_STOP,
    FINAL,
    GAUGE,
    LIST_QUEUE,
    NEMESIS,
    POLICY,
    SHORT_CIRCUIT,
    WRONG_PASSWORD,
    History,
    Op,
)
from scenario.names import is_attacker, upstream_of


@dataclass(frozen=True, slots=True)
class Call:
    """One client operation: its invoke and its completion (None when the run ended first)."""

    process: str
    f: str
    key: str
    priority: int
    start_s: float
    end_s: float | None
    outcome: str | None  # "ok" | "fail" | "info" | None
    value: str
    error: str
    invoke_value: str

    @property
    def latency_s(self) -> float | None:
        """Seconds from invoke to completion, None when it never completed."""
        return None if self.end_s is None else self.end_s - self.start_s

    @property
    def ok(self) -> bool:
        """True when the operation certainly happened."""
        return self.outcome == "ok"


@dataclass(frozen=True, slots=True)
class Span:
    """A fault from its start to its stop (the history's end when it never stopped)."""

    kind: str
    target: str
    start_s: float
    end_s: float

    def contains(self, time_s: float) -> bool:
        """True when `time_s` falls within the fault (both ends included)."""
        return self.start_s <= time_s <= self.end_s


@dataclass(frozen=True, slots=True)
class UpstreamAttempt:
    """One upstream attempt: when its outcome was known, the outcome, the logical call id,
    and the portal replica that made it ("" when the history does not say).
    """

    time_s: float
    value: str
    key: str
    replica: str = ""


@dataclass(slots=True)
class Index:
    """The views of one history that checkers read; built by `index`."""

    calls: list[Call] = field(default_factory=list)
    attacks: list[Call] = field(default_factory=list)
    faults: list[Span] = field(default_factory=list)
    # by bare upstream name
    upstream: dict[str, list[UpstreamAttempt]] = field(default_factory=dict)
    # logical calls the policies answered with no attempt, by bare upstream name
    short_circuits: dict[str, int] = field(default_factory=dict)
    breaker: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # by event key
    finals: dict[str, int] | None = None
    bad_finals: list[str] = field(default_factory=list)
    gauges: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)
    list_waits: list[float] = field(default_factory=list)  # seconds, a list processed each
    start_s: float = 0.0
    end_s: float = 0.0  # the last event that is not a final-state read

    def applied(self, key: str) -> int:
        """How many times the final state shows `key` applied (0 when absent)."""
        assert self.finals is not None
        return self.finals.get(key, 0)

    def finals_problem(self) -> str | None:
        """Why the final state cannot be used, or None when it can."""
        if self.bad_finals:
            return f"final state has {len(self.bad_finals)} unreadable counts, e.g. " \
                   f"{self.bad_finals[0]!r}"
        if self.finals is None:
            return "the history has no final state (no 'final' ops read after healing)"
        return None


def is_wrong_password(call: Call) -> bool:
    """True for a login attempt known to carry a wrong password."""
    return call.f == "login" and (is_attacker(call.process)
                                  or call.invoke_value == WRONG_PASSWORD)


def _call(invoke: Op, done: Op | None) -> Call:
    if done is None:
        return Call(invoke.process, invoke.f, invoke.key, invoke.priority, invoke.time_s, None,
                    None, "", "", invoke.value)
    return Call(invoke.process, invoke.f, invoke.key, invoke.priority, invoke.time_s,
                done.time_s, done.type, done.value, done.error, invoke.value)


def _finish_spans(open_: dict[tuple[str, str], list[float]], spans: list[Span],
                  end_s: float) -> None:
    for (kind, target), starts in open_.items():
        spans.extend(Span(kind, target, s, end_s) for s in starts)


def build_index(history: History) -> Index:
    """Sort a history's events into an `Index` in one pass (then sort each view by time).

    A time that is not finite raises ValueError (a checker run by `safely` says unknown).
    """
    indexer = Indexer()
    indexer.feed(history.ops)
    return indexer.finish()


class Indexer:
    """`build_index` a piece at a time: `feed` the ops in their order, in chunks of any
    size, then `finish`. A history indexed as it is recorded (`scenario.streamed`) need not
    be kept: its ops die young, and the index is the same as the whole history's."""

    __slots__ = ("_bad", "_end_s", "_finals", "_ix", "_last_s", "_n", "_open_calls",
                 "_open_faults", "_saw_final", "_start_s")

    def __init__(self) -> None:
        self._ix = Index()
        self._open_calls: dict[str, Op] = {}
        self._open_faults: dict[tuple[str, str], list[float]] = {}
        self._finals: dict[str, int] = {}
        self._saw_final = False
        self._n = 0  # ops fed
        self._start_s = math.inf  # the earliest time; the latest, and the latest that is
        self._last_s = -math.inf  # not a final-state read
        self._end_s = -math.inf
        self._bad: tuple[int, float] | None = None  # the first op whose time is not finite

    def feed(self, ops: Sequence[Op]) -> None:
        """Index the next `ops` of the history."""
        ix, open_calls, open_faults = self._ix, self._open_calls, self._open_faults
        finals = self._finals
        saw_final = False
        for op in ops:
            t = op.time_s
            p = op.process
            if p == NEMESIS:
                if op.f == FAULT_START:
                    open_faults.setdefault((op.value, op.key), []).append(t)
                elif op.f == FAULT_STOP:
                    starts = open_faults.get((op.value, op.key))
                    if starts:
                        ix.faults.append(Span(op.value, op.key, starts.pop(0), t))
            elif (ref := upstream_of(p)) is not None:
                name = ref.name
                if op.f == SHORT_CIRCUIT:
                    ix.short_circuits[name] = ix.short_circuits.get(name, 0) + 1
                else:
                    ix.upstream.setdefault(name, []).append(
                        UpstreamAttempt(t, op.value, op.key, ref.replica))
            elif p == POLICY:
                if op.f == "breaker" and "->" in op.value:
                    state = op.value.rpartition("->")[2].strip().replace("-", "_")
                    ix.breaker.setdefault(op.key, []).append((t, state))
            elif p == FINAL:
                saw_final = True
                try:
                    finals[op.key] = finals.get(op.key, 0) + int(op.value)
                except ValueError:
                    ix.bad_finals.append(op.value)
            elif p == LIST_QUEUE:
                with contextlib.suppress(ValueError):
                    ix.list_waits.append(float(op.value))
            elif p == GAUGE:
                try:
                    number = float(op.value)
                except ValueError:
                    continue
                if math.isfinite(number):
                    ix.gauges.setdefault((op.f, op.key), []).append((t, number))
            elif op.type == "invoke":
                previous = open_calls.pop(p, None)
                if previous is not None:
                    _record(ix, _call(previous, None))
                open_calls[p] = op
            else:
                invoked = open_calls.pop(p, None)
                if invoked is not None:
                    _record(ix, _call(invoked, op))
        self._saw_final = self._saw_final or saw_final
        self._times(ops)

    def _times(self, ops: Sequence[Op]) -> None:
        times = [op.time_s for op in ops]
        if self._bad is None and not all(map(math.isfinite, times)):
            bad = next(i for i, t in enumerate(times) if not math.isfinite(t))
            self._bad = (self._n + bad + 1, times[bad])
        self._n += len(times)
        if self._bad is not None or not times:
            return
        first, last = min(times), max(times)
        end = max((op.time_s for op in ops if op.process != FINAL), default=-math.inf)
        self._start_s = first if first < self._start_s else self._start_s
        self._last_s = last if last > self._last_s else self._last_s
        self._end_s = end if end > self._end_s else self._end_s

    def finish(self) -> Index:
        """The index of every op fed. A time that is not finite raises ValueError."""
        if self._bad is not None:
            n, t = self._bad
            raise ValueError(f"history op {n} has time_s {t}; expected a finite number of "
                             "seconds")
        ix = self._ix
        for invoked in self._open_calls.values():
            _record(ix, _call(invoked, None))
        self._open_calls = {}
        ix.start_s = self._start_s if self._n else 0.0
        # the final state is read after the run: its time is bookkeeping, not the run's end
        ix.end_s = self._end_s if self._end_s > -math.inf else (self._last_s if self._n
                                                                else 0.0)
        _finish_spans(self._open_faults, ix.faults, ix.end_s)
        self._open_faults = {}
        ix.finals = self._finals if self._saw_final else None
        ix.calls.sort(key=lambda c: c.start_s)
        ix.attacks.sort(key=lambda c: c.start_s)
        ix.faults.sort(key=lambda s: (s.start_s, s.end_s, s.kind, s.target))
        for attempts in ix.upstream.values():
            attempts.sort(key=lambda a: a.time_s)
        for states in ix.breaker.values():
            states.sort(key=lambda e: e[0])
        for samples in ix.gauges.values():
            samples.sort(key=lambda e: e[0])
        return ix


def _record(ix: Index, call: Call) -> None:
    # `build_index` sorted out the nemesis, policy, final, gauge and upstream ops before any
    # call: what is not an attacker's is a client's (`scenario.names.is_client`)
    (ix.attacks if is_attacker(call.process) else ix.calls).append(call)


_cache: list[tuple[History, int, Index]] = []


def index(history: History) -> Index:
    """The index of `history`, reused while the same history object keeps its length (a
    history indexed as it was recorded, `scenario.streamed`, answers with its own)."""
    own = getattr(history, "own_index", None)
    if own is not None:
        return own()  # type: ignore[no-any-return]
    if _cache:
        cached, length, ix = _cache[0]
        if cached is history and length == len(history.ops):
            return ix
    ix = build_index(history)
    _cache[:] = [(history, len(history.ops), ix)]
    return ix

