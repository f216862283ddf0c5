"""The reports of several runs side by side (e.g. sim vs live, baseline vs resilient), one
column per run labelled mode/policies/scenario: the table of `chaoslab report DIR [DIR ...]`
(its handler is chaoslab/compare.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from scenario.report_model import Report

Row = tuple[str, Callable[[Report], object]]

ROWS: list[Row] = [
    ("availability", lambda r: r.availability),
    ("latency p50 (ms)", lambda r: r.latency_ms.p50),
    ("latency p95 (ms)", lambda r: r.latency_ms.p95),
    ("latency p99 (ms)", lambda r: r.latency_ms.p99),
    ("requests ok", lambda r: r.requests.ok),
    ("requests failed", lambda r: r.requests.failed),
    ("requests shed", lambda r: r.requests.shed),
    ("writes lost", lambda r: r.writes.lost),
    ("writes duplicated", lambda r: r.writes.duplicated),
    ("paper share (max)", lambda r: r.prescriptions.paper_share_max),
]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value):  # a validated Report has none; never crash on one
            return str(value)
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:g}"
    return str(value)


def report_path(path: Path) -> Path:
    """The report.json of a run directory (or the file itself when given one)."""
    return path if path.suffix == ".json" else path / "report.json"


def table(reports: Sequence[Report]) -> list[list[str]]:
    """The comparison as rows of cells; the first row is the header."""
    header = ["", *(f"{r.mode}/{r.policies}/{r.scenario}" for r in reports)]
    rows = [[label, *(_cell(get(r)) for r in reports)] for label, get in ROWS]
    names: list[str] = []
    for r in reports:
        names.extend(i.name for i in r.invariants if i.name not in names)
    for name in names:
        cells = []
        for r in reports:
            found = [i.valid for i in r.invariants if i.name == name]
            cells.append(_cell(found[0]) if found else "-")
        rows.append([f"invariant {name}", *cells])
    return [header, *rows]


def render(rows: list[list[str]]) -> str:
    """Rows of cells as aligned text columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

