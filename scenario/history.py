"""The history: a Jepsen-style log of client operations and fault operations.

Every client operation appears twice: an `invoke` when it starts and one completion — `ok`
(it happened), `fail` (it certainly did not happen) or `info` (unknown: a timeout after the
request left, so it may or may not have been applied). Faults are operations of the process
`nemesis`, with `f` = `fault:start` or `fault:stop`, `value` = the fault kind and `key` = its
target. Times are seconds on the run's clock (simulated or live).

The vocabulary both runners use (checkers rely on it). The strings that pack several facts
(upstream processes, sources and processes, stale values, reconcile keys) are written and
read only through `scenario.names`, which documents each format:

- client operations, `f`: "login", "recover_password", "read_history", "read_payslip",
  "register_workshop", "submit_list", "prescribe", "dispense", "paper_record", "reconcile",
  "save_draft", "restore_draft". Writes (`WRITE_FS`) carry their idempotency key in `key`.
  `value` on ok: "stale" for a read served from the stale cache, "accepted" for a 202.
  `error`: "timeout", "shed" (503 from admission control), "rate_limited", "breaker_open",
  "refused" (connection refused or reset), "http_<status>", "unauthorized", "deferred".
  `priority`: 0 prescriptions and dispensing, 1 logins and list submissions, 2 browsing.
- upstream attempts: process `names.upstream_process(name)` ("upstream:shahkar"), type "info",
  f "call", value "ok" | "fail" | "timeout" — one per attempt that left the portal.
  A logical call the policies answered without any attempt (breaker open, budget, throttle,
  bulkhead) is f "short_circuit" with its call id in `key` and the reason in `value`: it is
  load the portal was offered and kept off the upstream.
- policy events: process "policy", type "info", f "breaker", key the upstream name,
  value "closed->open" (any state change "a->b").
- final state, read after healing: process "final", type "info", f "applied",
  key a write's idempotency key, value how many times it is applied ("0", "1", "2", ...).

Additions for the checkers and the report (scenario/checkers, scenario/report.py):

- client processes (`names.is_client`) are every process except "nemesis", "policy",
  "final", "gauge", the upstreams' and the attackers' (below). A scenario's process is
  "<source>/<worker>"; a pharmacy's is "pharmacy-<id>" or "pharmacy-<id>/<worker>", and its
  source names the pharmacy (`names.pharmacy_of`).
- a stale read's ok `value` may carry the cached answer's age: "stale:42.5"
  (`names.stale_value`); a bare "stale" is a stale read of unknown age.
- drafts: "save_draft" and "restore_draft" carry the draft id in `key` (autosave overwrites
  one draft, so the final state counts it applied once). A restore that finds nothing fails
  with error "not_found" (or "http_404").
- paper prescriptions: "paper_record" carries the control number C in `key`; its electronic
  registration after recovery is "reconcile" with key "reconcile:C" (`names.reconcile_key`);
  a paper record the pharmacy's quota refused fails with error "deferred" (the client's own
  decision: it never counts against availability). Electronic prescriptions are ok
  "dispense" operations.
- a 202-accepted write (value "accepted") sits in a durable queue: it is acknowledged, and the
  final state must show it applied exactly once.
- upstream attempts carry in `key` the id of the logical call they serve (the same for every
  retry of it), so amplification = attempts / logical calls (the distinct keys of the
  attempts plus the short-circuited calls); an empty key leaves it unknown.
  Their `time_s` is when the attempt's outcome was known.
- breaker states in policy events are "closed", "open" and "half_open".
- per-replica breakers: each portal replica has its own breaker per upstream. A runner with
  several replicas qualifies both the breaker event's key and the upstream process with the
  replica, after "@": key "shahkar@portal-a", process "upstream:shahkar@portal-a"
  (`names.upstream_key`, `names.upstream_process`). The checkers then judge each replica's
  breaker against the faults on its own link ("portal-a-shahkar"); unqualified names are
  read as one breaker per upstream.
- final state: the runner records one "final" op for every idempotency key it invoked; when
  the history has final ops, a key without one counts as applied 0.
- credential stuffing: attack traffic comes from the sources "attacker-<n>"
  (`names.attacker_source`) and their processes, whose logins all use a wrong password; a
  legitimate user's mistyped login is an op appended with value "wrong_password" on its
  invoke. No wrong-password login may complete ok. Attackers' ops never count in
  availability or latency.
- gauge samples for the report's timelines: process "gauge", type "info", f the gauge
  ("queue_length", "in_flight"), key the replica or resource, value the number ("12").

One flat, immutable record per event keeps the history cheap to build in the simulator (well
under a microsecond an event) and trivially serialisable as JSON lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from math import isfinite
from operator import itemgetter
from pathlib import Path
from typing import Literal, NamedTuple

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: frozenset[str] = frozenset({"invoke", "ok", "fail", "info"})
NEMESIS = "nemesis"
FAULT_START = "fault:start"
FAULT_STOP = "fault:stop"
SHORT_CIRCUIT = "short_circuit"  # f of a logical upstream call that made no attempt
POLICY = "policy"
FINAL = "final"
GAUGE = "gauge"
# the list queue (`list_queue`): an info op per list processed, its value the seconds from
# the start of its taking (the request's service) to its processing's end (both runners)
LIST_QUEUE = "list_queue"
WRONG_PASSWORD = "wrong_password"  # noqa: S105  # a marker, not a secret
ACCEPTED = "accepted"
READ_FS: frozenset[str] = frozenset({"read_history", "read_payslip"})
WRITE_FS: frozenset[str] = frozenset(
    {"register_workshop", "submit_list", "prescribe", "dispense", "paper_record", "reconcile",
     "save_draft"}
)


class Op(NamedTuple):
    """One event of the history (a named tuple: immutable, and built three times faster
    than a frozen dataclass, which sets each field through `object.__setattr__`).

    process: who did it ("citizen-17", "pharmacy-3", "nemesis").
    f: what ("login", "read_history", "submit_list", "prescribe", "dispense",
       "paper_record", "reconcile", "save_draft", "fault:start", ...).
    key: the entity written or read (idempotency key, list id, control number), "" if none.
    value: a small detail (HTTP status, fault kind, "stale"), "" if none.
    error: why a fail/info happened ("timeout", "shed", "503", "breaker_open"), "" if none.
    priority: the request's priority class (0 = highest), -1 when not applicable.
    """

    type: OpType
    process: str
    f: str
    time_s: float
    key: str = ""
    value: str = ""
    error: str = ""
    priority: int = -1


@dataclass(slots=True)
class History:
    """An append-only list of `Op`s in time order of recording."""

    ops: list[Op] = field(default_factory=list)

    def append(self, op: Op) -> None:
        """Record one event."""
        self.ops.append(op)

    def invoke(self, process: str, f: str, time_s: float, key: str = "", priority: int = -1) -> Op:
        """Record and return the start of a client operation."""
        op = Op("invoke", process, f, time_s, key=key, priority=priority)
        self.ops.append(op)
        return op

    def complete(
        self, invoked: Op, type_: OpType, time_s: float, value: str = "", error: str = ""
    ) -> Op:
        """Record the completion (ok / fail / info) of an invoked operation."""
        op = Op(type_, invoked.process, invoked.f, time_s, invoked.key, value, error,
                invoked.priority)
        self.ops.append(op)
        return op

    def fault(self, start: bool, kind: str, target: str, time_s: float) -> Op:
        """Record that a fault started or stopped."""
        op = Op("info", NEMESIS, FAULT_START if start else FAULT_STOP, time_s, key=target,
                value=kind)
        self.ops.append(op)
        return op

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def client_ops(self) -> Iterator[Op]:
        """Every event that is not a fault operation."""
        return (op for op in self.ops if op.process != NEMESIS)

    def pairs(self) -> Iterator[tuple[Op, Op | None]]:
        """Each invoke with its completion (None when the run ended before it completed).

        A process runs one operation at a time, as in Jepsen, so the completion of an invoke
        is the next event of the same process.
        """
        open_: dict[str, Op] = {}
        for op in self.ops:
            if op.process == NEMESIS:
                continue
            if op.type == "invoke":
                previous = open_.pop(op.process, None)
                if previous is not None:
                    yield previous, None
                open_[op.process] = op
            else:
                invoked = open_.pop(op.process, None)
                if invoked is not None:
                    yield invoked, op
        for invoked in open_.values():
            yield invoked, None

    def write_jsonl(self, path: Path) -> None:
        """Write the history as JSON lines, atomically (a temp file renamed into place): each
        line is `json.dumps(op._asdict(), ensure_ascii=False, separators=(",", ":"))`, made
        by `jsonl_bytes` (the same bytes, several times faster)."""
        tmp = path.with_name(path.name + ".tmp")
        ops = iter(self.ops)
        with tmp.open("wb") as f:
            while chunk := list(islice(ops, JSONL_CHUNK)):
                f.write(jsonl_bytes(chunk))
        tmp.replace(path)

    @classmethod
    def read_jsonl(cls, path: Path) -> History:
        """Read a history written by `write_jsonl`."""
        with path.open(encoding="utf-8") as f:
            return cls.from_records(json.loads(line) for line in f if line.strip())

    @classmethod
    def from_records(cls, records: Iterable[dict[str, object]]) -> History:
        """Build a history from plain records, validating each op type."""
        ops: list[Op] = []
        for n, rec in enumerate(records, 1):
            type_ = rec.get("type")
            if type_ not in OP_TYPES:
                raise ValueError(f"history record {n}: type {type_!r} is not one of {OP_TYPES}")
            ops.append(
                Op(
                    type_,  # type: ignore[arg-type]  # checked against OP_TYPES above
                    str(rec["process"]),
                    str(rec["f"]),
                    float(rec["time_s"]),  # type: ignore[arg-type]
                    str(rec.get("key", "")),
                    str(rec.get("value", "")),
                    str(rec.get("error", "")),
                    int(rec.get("priority", -1)),  # type: ignore[call-overload]
                )
            )
        return cls(ops)


# -- JSON lines, fast -------------------------------------------------------------------
# A peak day's history has 10^7 ops, and one json.dumps per op (an encoder built per call, a
# dict per op) took a fifth as long as simulating them. One %-format per op gives the same
# bytes as json.dumps whenever json would print every field as-is: ops hold their annotated
# types (mypy holds every constructor to them; `from_records` converts), so that is when no
# string holds a character json escapes (a quote, a backslash, a control character) and
# every time is a finite float (printed by its repr, as json does) and every priority an int
# (not a bool). `jsonl_bytes` checks that for a chunk at once (the numbers in C loops, or
# under PyPy in the loop that joins the lines; one `translate` counts the escapable bytes of
# its text: the template's own quotes and newlines, or more) and falls back to json.dumps
# for a chunk where it does not hold; a Hypothesis property
# compares both on arbitrary ops (tests/scenario/test_history.py).
JSONL_CHUNK = 4096  # ops formatted and checked together
_LINE = ('{"type":"%s","process":"%s","f":"%s","time_s":%r,"key":"%s","value":"%s",'
         '"error":"%s","priority":%d}\n')
_ESCAPABLE = bytes(range(0x20)) + b'"\\'  # what json escapes, and the newline
_PER_LINE = _LINE.count('"') + 1  # of them in a line: the template's quotes and its newline
_TIME, _PRIORITY = itemgetter(3), itemgetter(7)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_FLOAT, _INT = {float}, {int}


def _lines_formatted(ops: Sequence[Op]) -> str:
    """The lines of `ops` by `_LINE`, one %-format each (CPython's fastest)."""
    return "".join(map(_LINE.__mod__, ops))


def _lines_joined(ops: Sequence[Op]) -> str | None:
    """`_lines_formatted`'s text, each line joined from its pieces (PyPy's JIT builds such a
    line a third faster than it formats one), or None unless every time is a finite float,
    every priority an int and every string a str (`_plain_numbers`, checked in the same
    loop): repr and str print those as %r and %d do. A time that is the previous op's (the
    same float: `is`, so 0.0 is not -0.0) reuses its repr: over a third of a day's ops share
    their time with the op before, and repr is half of the line's cost."""
    lines = []
    last: float | None = None
    shown = ""
    try:
        for t, p, f, x, k, v, e, n in ops:
            if x is not last:
                if type(x) is not float or x - x != 0.0:  # inf - inf and nan - nan are nan
                    return None
                shown, last = repr(x), x
            if type(n) is not int:
                return None
            lines.append('{"type":"' + t + '","process":"' + p + '","f":"' + f + '","time_s":'
                         + shown + ',"key":"' + k + '","value":"' + v + '","error":"' + e
                         + '","priority":' + str(n) + "}\n")
    except TypeError:  # a field that is not a str
        return None
    return "".join(lines)


def _lines_checked(ops: Sequence[Op]) -> str | None:
    """`_lines_formatted` when `_plain_numbers`, else None (CPython's `_lines_joined`)."""
    return _lines_formatted(ops) if _plain_numbers(ops) else None


_lines = _lines_checked if sys.implementation.name == "cpython" else _lines_joined


def jsonl_bytes(ops: Sequence[Op]) -> bytes:
    """`ops` as UTF-8 JSON lines, each ending in a newline: json.dumps's, byte for byte."""
    lines = _lines(ops)
    if lines is not None:
        text = lines.encode("utf-8")
        if len(text) - len(text.translate(None, _ESCAPABLE)) == _PER_LINE * len(ops):
            return text  # no string had a character json escapes
    return "".join(_ENCODER.encode(op._asdict()) + "\n" for op in ops).encode("utf-8")


def _plain_numbers(ops: Sequence[Op]) -> bool:
    """Whether every time of `ops` is a finite float and every priority an int."""
    times = list(map(_TIME, ops))
    return not (set(map(type, times)) - _FLOAT or set(map(type, map(_PRIORITY, ops))) - _INT
                ) and all(map(isfinite, times))
