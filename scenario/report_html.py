"""report.html: a self-contained page with the run's summary, the invariant table and
fault-shaded timelines (goodput, latency p99, breaker state, queue length) drawn by
matplotlib as inline SVG — no scripts, no external files, no display needed.
"""

from __future__ import annotations

import io
import math
from html import escape
from typing import Any

from scenario.report_model import Report
from scenario.timelines import Timelines

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}.true{background:#d9f2d9}.false{background:#f7d4d4}
.unknown{background:#eee}caption{text-align:left;font-weight:bold}"""
_FAULT_COLOURS = ("#f4a261", "#e76f51", "#2a9d8f", "#8ab17d", "#9b5de5", "#e9c46a")


def plot_svg(t: Timelines) -> str:
    """The four timelines as one SVG figure, each fault kind a shaded span."""
    from matplotlib import rc_context

    fig = figure(t)
    buf = io.StringIO()
    with rc_context({"svg.hashsalt": "chaoslab"}):  # stable element ids across runs
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog: the SVG is inlined in HTML


def figure(t: Timelines) -> Any:
    """The matplotlib figure of the four timelines.

    A bare `Figure` (no pyplot): it draws with the Agg/SVG canvases, never touches a
    display or pyplot's global state, and is freed like any object.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(10, 9))
    axes = fig.subplots(4, 1, sharex=True)
    kinds = sorted({s.kind for s in t.faults})
    for ax in axes:
        for s in t.faults:
            colour = _FAULT_COLOURS[kinds.index(s.kind) % len(_FAULT_COLOURS)]
            ax.axvspan(s.start_s, s.end_s, color=colour, alpha=0.25, lw=0)
    mids = [s + t.bucket_s / 2 for s in t.starts_s]
    axes[0].plot(mids, t.goodput_per_s, lw=1.2)
    axes[0].set_ylabel("goodput (ok/s)")
    axes[1].plot(mids, t.p99_ms, lw=1.2, color="#c0392b")
    axes[1].set_ylabel("latency p99 (ms)")
    if any(not math.isnan(v) and v > 0 for v in t.p99_ms):
        axes[1].set_yscale("log")
    for name, steps in t.breaker.items():
        axes[2].step([x for x, _ in steps], [y for _, y in steps], where="post", label=name)
    axes[2].set_yticks([0, 0.5, 1], ["closed", "half-open", "open"])
    axes[2].set_ylabel("breaker")
    for name, samples in t.gauges.items():
        if name.startswith("queue_length"):
            axes[3].plot([x for x, _ in samples], [y for _, y in samples], lw=1, label=name)
    axes[3].set_ylabel("queue length")
    axes[3].set_xlabel("time (s)")
    for ax in axes[2:]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize="small")
        else:
            ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center",
                    color="#888")
    if kinds:
        handles = [Patch(
            color=_FAULT_COLOURS[i % len(_FAULT_COLOURS)], alpha=0.25, label=k)
            for i, k in enumerate(kinds)]
        axes[0].legend(handles=handles, loc="upper right", fontsize="small", title="faults")
    fig.tight_layout()
    return fig


def _row(cells: list[str], tag: str = "td", cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>" + "".join(f"<{tag}>{escape(c)}</{tag}>" for c in cells) + "</tr>"


def _fmt(value: object) -> str:
    return "—" if value is None else str(value)


def render_html(report: Report, t: Timelines | None, history_note: str) -> str:
    """The whole page for `report`; `t` None when there is no history to plot."""
    r = report
    summary = [
        ("mode / policies", f"{r.mode} / {r.policies}"),
        ("seed / replications", f"{r.seed} / {r.replications}"),
        ("duration / wall", f"{r.duration_s:g} s / {r.wall_s:g} s"),
        ("requests ok / failed / shed", f"{r.requests.ok} / {r.requests.failed} / "
                                        f"{r.requests.shed} of {r.requests.total}"),
        ("availability", _fmt(r.availability)),
        ("latency p50 / p95 / p99 (ms)", f"{_fmt(r.latency_ms.p50)} / "
                                         f"{_fmt(r.latency_ms.p95)} / {_fmt(r.latency_ms.p99)}"),
        ("writes acknowledged / lost / duplicated", f"{r.writes.acknowledged} / "
                                                    f"{_fmt(r.writes.lost)} / "
                                                    f"{_fmt(r.writes.duplicated)}"),
        ("paper / electronic (max share)", f"{r.prescriptions.paper} / "
                                           f"{r.prescriptions.electronic} "
                                           f"({r.prescriptions.paper_share_max})"),
    ]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>chaoslab — {escape(r.scenario)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(r.scenario)}</h1>",
        "<table><caption>Run</caption>", *(_row([k, v]) for k, v in summary), "</table>",
        "<table><caption>Invariants</caption>", _row(["invariant", "valid", "detail"], "th"),
        *(_row([i.name, str(i.valid).lower(), i.detail], cls=str(i.valid).lower())
          for i in r.invariants),
        "</table>",
        "<table><caption>Faults</caption>", _row(["kind", "target", "start (s)", "end (s)"], "th"),
        *(_row([f.kind, f.target, f"{f.start_s:g}", f"{f.end_s:g}"]) for f in r.faults),
        "</table>",
        f"<h2>Timelines</h2><p>{escape(history_note)}</p>",
        plot_svg(t) if t is not None else "<p>No history to plot.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
