"""A history builder for tests: client calls, faults, upstream attempts, breaker events,
final state and gauges, recorded out of order and sorted into one history at the end.

Each process runs one operation at a time (Jepsen's rule), so a call that would start
before its process is free starts when it is free.
"""

from __future__ import annotations

import random

from scenario.history import (
    FAULT_START,
    FAULT_STOP,
    FINAL,
    GAUGE,
    NEMESIS,
    POLICY,
    SHORT_CIRCUIT,
    History,
    Op,
    OpType,
)
from scenario.names import upstream_process


class Builder:
    """Collects events of a synthetic run; `history()` returns them in time order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._events: list[tuple[float, int, Op]] = []
        self._free: dict[str, float] = {}
        self._keys = 0

    def _add(self, op: Op) -> None:
        self._events.append((op.time_s, len(self._events), op))

    def key(self, prefix: str = "w") -> str:
        """A fresh idempotency key."""
        self._keys += 1
        return f"{prefix}-{self._keys}"

    def call(self, process: str, f: str, start_s: float, latency_s: float,
             outcome: OpType | None = "ok", *, key: str = "", value: str = "",
             error: str = "", priority: int = -1, invoke_value: str = "") -> tuple[float, float]:
        """Record one client call; returns its actual (start, end) times."""
        start = max(start_s, self._free.get(process, 0.0))
        end = start + latency_s
        self._add(Op("invoke", process, f, start, key, invoke_value, "", priority))
        if outcome is not None:
            self._add(Op(outcome, process, f, end, key, value, error, priority))
        self._free[process] = end + 1e-6
        return start, end

    def free_at(self, process: str) -> float:
        """When `process` can start its next call."""
        return self._free.get(process, 0.0)

    def fault(self, kind: str, target: str, start_s: float, end_s: float | None) -> None:
        """A fault from start to end (None: never healed within the run)."""
        self._add(Op("info", NEMESIS, FAULT_START, start_s, target, kind))
        if end_s is not None:
            self._add(Op("info", NEMESIS, FAULT_STOP, end_s, target, kind))

    def upstream(self, name: str, time_s: float, value: str, key: str) -> None:
        """One attempt to an upstream, known at `time_s`."""
        self._add(Op("info", upstream_process(name), "call", time_s, key, value))

    def short_circuit(self, name: str, time_s: float, key: str, reason: str) -> None:
        """A logical call to an upstream that the policies answered without an attempt."""
        self._add(Op("info", upstream_process(name), SHORT_CIRCUIT, time_s, key, reason))

    def breaker(self, name: str, time_s: float, transition: str) -> None:
        """A breaker state change, e.g. "closed->open"."""
        self._add(Op("info", POLICY, "breaker", time_s, name, transition))

    def final(self, key: str, applied: int, time_s: float) -> None:
        """The final state of one write key."""
        self._add(Op("info", FINAL, "applied", time_s, key, str(applied)))

    def gauge(self, f: str, key: str, time_s: float, value: float) -> None:
        """One gauge sample."""
        self._add(Op("info", GAUGE, f, time_s, key, f"{value:g}"))

    def history(self) -> History:
        """Every recorded event in time order (ties in order of recording)."""
        return History([op for _, _, op in sorted(self._events, key=lambda e: (e[0], e[1]))])
