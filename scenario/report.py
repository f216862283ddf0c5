"""The run report: the keys of DESIGN.md ("The report"), built from one or more histories
(replications, pooled) plus the run's metadata, and written as report.json, history.jsonl
and report.html.

Pooling: counts are summed over replications; latency quantiles are nearest-rank over the
pooled latencies of ok client operations; an invariant is false when any replication's
verdict is false, else unknown when any is unknown, else true. Definitions of the counts:
`requests.total` = ok + failed + shed over completed client operations (a client's own
"deferred" is left out, as in availability); `shed` = fails with error "shed"; `failed` =
every other fail or info. `writes.lost` / `duplicated` are null when a replication has no
final state. Floats are rounded (times and shares to 6 decimals, milliseconds to 3) so the
same histories and metadata give the same bytes (except `wall_s`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from pydantic import ValidationError

from scenario.checkers.index import index
from scenario.checkers.windows import quantile
from scenario.history import History
from scenario.report_model import (
    FaultSpan,
    InvariantResult,
    KindCounts,
    Latency,
    Prescriptions,
    Report,
    Requests,
    RunMeta,
    UpstreamCalls,
    Writes,
)
from scenario.summary import Summary, summarize
from scenario.timelines import Timelines, timelines
from scenario.verdict import Checker, Verdict, overall

__all__ = ["Report", "ReportError", "RunMeta", "build_report", "load_report", "pool_report",
           "report_json", "write_report"]

def _r(x: float, digits: int = 6) -> float:
    return round(x, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def _kind_counts(outcomes: Counter[str]) -> KindCounts:
    ok, shed, failed = outcomes["ok"], outcomes["shed"], outcomes["failed"]
    return KindCounts(total=ok + shed + failed, ok=ok, failed=failed, shed=shed)


def _requests(sums: Sequence[Summary]) -> Requests:
    by_kind: dict[str, Counter[str]] = {}
    for s in sums:
        for f, outcomes in s.by_kind.items():
            by_kind.setdefault(f, Counter()).update(outcomes)
    total: Counter[str] = Counter()
    for outcomes in by_kind.values():
        total.update(outcomes)
    whole = _kind_counts(total)
    return Requests(**whole.model_dump(),
                    by_kind={f: _kind_counts(o) for f, o in sorted(by_kind.items())})


def _latency(sums: Sequence[Summary]) -> Latency:
    lat = sorted(chain.from_iterable(s.latencies_s for s in sums))  # sorted runs: O(n) each
    if not lat:
        return Latency(p50=None, p95=None, p99=None)
    p50, p95, p99 = (_r(quantile(lat, q) * 1000.0, 3) for q in (0.5, 0.95, 0.99))
    return Latency(p50=p50, p95=p95, p99=p99)


def _writes(sums: Sequence[Summary]) -> Writes:
    known = all(s.lost is not None and s.duplicated is not None for s in sums)
    return Writes(acknowledged=sum(s.acknowledged for s in sums),
                  lost=sum(s.lost or 0 for s in sums) if known else None,
                  duplicated=sum(s.duplicated or 0 for s in sums) if known else None)


def _prescriptions(sums: Sequence[Summary]) -> Prescriptions:
    paper = sum(s.paper for s in sums)
    reconciled = sum(s.reconciled for s in sums)
    return Prescriptions(electronic=sum(s.electronic for s in sums), paper=paper,
                         deferred=sum(s.deferred for s in sums),
                         paper_share_max=_r(max([0.0, *(s.paper_share_max for s in sums)])),
                         reconciled=reconciled, unreconciled=paper - reconciled)


def _upstreams(sums: Sequence[Summary]) -> dict[str, UpstreamCalls]:
    out: dict[str, UpstreamCalls] = {}
    for u in sorted({u for s in sums for u in s.upstreams}):
        ups = [s.upstreams[u] for s in sums if u in s.upstreams]
        amps = [x.amplification for x in ups if x.attempted]
        known = [a for a in amps if a is not None]
        out[u] = UpstreamCalls(calls=sum(x.calls for x in ups),
                               breaker_opens=sum(x.breaker_opens for x in ups),
                               amplification=_r(max(known)) if known and
                               len(known) == len(amps) else None)
    return out


def pool_verdicts(name: str, verdicts: Sequence[Verdict]) -> InvariantResult:
    """One invariant's verdicts over replications, pooled (see the module docstring)."""
    valid = overall(verdicts) if verdicts else "unknown"
    if not verdicts:
        return InvariantResult(name=name, valid="unknown", detail="no history")
    first = next(i for i, v in enumerate(verdicts) if v.valid == valid)
    detail = verdicts[first].detail
    if len(verdicts) > 1:
        same = sum(v.valid == valid for v in verdicts)
        word = str(valid).lower()
        detail = f"{word} in {same} of {len(verdicts)} replications; replication " \
                 f"{first + 1}: {detail}"
    return InvariantResult(name=name, valid=valid, detail=detail)


def build_report(histories: Sequence[History], meta: RunMeta,
                 checkers: Sequence[tuple[str, Checker]]) -> Report:
    """The report of one run (one history per replication, pooled)."""
    return pool_report([summarize(h, checkers) for h in histories], meta,
                       [name for name, _ in checkers])


def pool_report(sums: Sequence[Summary], meta: RunMeta, names: Sequence[str]) -> Report:
    """The report of one run from its replications' summaries (`names`: the checkers')."""
    invariants = [pool_verdicts(name, [s.verdicts[i] for s in sums])
                  for i, name in enumerate(names)]
    requests = _requests(sums)
    faults = sorted({(k, t, _r(a), _r(b)) for s in sums for k, t, a, b in s.faults},
                    key=lambda f: (f[2], f[3], f[0], f[1]))
    return Report(
        scenario=meta.scenario, mode=meta.mode, policies=meta.policies,
        policies_digest=meta.policies_digest, seed=meta.seed,
        replications=len(sums), duration_s=_r(meta.duration_s), wall_s=_r(meta.wall_s, 3),
        requests=requests,
        availability=_r(requests.ok / requests.total) if requests.total else None,
        latency_ms=_latency(sums), writes=_writes(sums), prescriptions=_prescriptions(sums),
        upstream_calls=_upstreams(sums), invariants=invariants,
        faults=[FaultSpan(kind=k, target=t, start_s=s, end_s=e) for k, t, s, e in faults],
        workload=meta.workload, lab_cpu=meta.lab_cpu,
        service_demand=meta.service_demand, description=meta.description,
        start=meta.start,
    )


def report_json(report: Report) -> str:
    """The report as JSON text: sorted keys, two-space indent, one trailing newline."""
    return json.dumps(report.model_dump(mode="json"), sort_keys=True, indent=2,
                      ensure_ascii=False) + "\n"


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see the old file or the whole new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class WrittenHistory:
    """A replication's history written where it was simulated (`sim.runner.run_seed`, through
    `scenario.streamed`): the file, which `write_report` moves into place as history.jsonl,
    and the history's timelines."""

    path: Path
    timelines: Timelines


def write_report(report: Report, histories: Sequence[History], out_dir: Path,
                 written: WrittenHistory | None = None) -> None:
    """Write history.jsonl (the FIRST replication's history only: times of different seeds
    do not pool), report.html, and last report.json — all atomically. Only `histories[0]`
    is read, so a runner that pooled summaries may pass just that one; or, instead of it,
    `written`: that history as its worker wrote it (moved into place, in the same directory).
    """
    from scenario.report_html import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    t = None
    note = "No history was recorded."
    if written is not None:
        os.replace(written.path, out_dir / "history.jsonl")
        t = written.timelines
    elif histories:
        _write_history(histories[0], out_dir / "history.jsonl")
        t = timelines(index(histories[0]))
    if t is not None:
        note = (f"history.jsonl and these timelines are replication 1 of {report.replications} "
                f"(seed {report.seed}); the tables pool all replications.")
    atomic_write(out_dir / "report.html",
                 render_html(report, t, note, breakers=has_breakers(out_dir)))
    atomic_write(out_dir / "report.json", report_json(report))


def has_breakers(out_dir: Path) -> bool | None:
    """Whether the policy set written beside the report (OUT/policies.json, which the runners
    write first) has any circuit breaker; None when there is none to read. report.html says
    "no breaker in this policy set" and "every breaker stayed closed" apart with it."""
    from policies.errors import PolicyConfigError
    from policies.resolve import POLICIES_FILE, load_policies

    path = out_dir / POLICIES_FILE
    if not path.exists():
        return None
    try:
        policy_set = load_policies(path)
    except (PolicyConfigError, OSError):
        return None
    return any(c.breaker is not None for c in (policy_set.client, *policy_set.upstreams.values()))


def _write_history(history: History, path: Path) -> None:
    # write_jsonl is atomic but leaves its temp file behind when it fails: contain it
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        history.write_jsonl(partial)
        os.replace(partial, path)
    finally:
        for leftover in (partial, partial.with_name(partial.name + ".tmp")):
            leftover.unlink(missing_ok=True)


class ReportError(ValueError):
    """A report.json that is missing, unreadable or not a chaoslab report."""


def load_report(path: Path) -> Report:
    """Read and validate a report.json; ReportError with one sentence when it is bad."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file; expected a run directory holding "
                          "report.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read as JSON ({exc}); expected a chaoslab "
                          "report.json") from None
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        given = first.get("input")
        got = "" if isinstance(given, dict | list) or first["type"] == "missing" \
            else f", got {_short(given)}"
        raise ReportError(f"{path}: not a chaoslab report ({where}: {first['msg']}{got}); "
                          "expected a chaoslab report.json") from None


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
