"""twin.html: the twin's verdict, its table and sim-against-live timelines, self-contained.

One plot per figure (goodput, latency p99, failures), the simulator's seed mean as a line
with its seed range as a band, the live run as a second line, fault windows shaded; drawn by
matplotlib as inline SVG, as report.html is.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from html import escape
from typing import Any

from scenario.checkers.index import Span, index
from scenario.checkers.service import counted
from scenario.checkers.windows import quantile
from scenario.history import History
from scenario.timelines import bucket_size_s

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:right}td:first-child,th:first-child{text-align:left}.yes{background:#d9f2d9}
.no{background:#f7d4d4}.na{background:#eee}.goal{font-weight:bold}
.verdict{font-size:1.3em;padding:.5em;border-radius:.3em}"""

Series = tuple[list[float], list[float], list[float]]  # goodput/s, p99 ms, failures/s


def series(history: History, bucket_s: float, n: int) -> Series:
    """Goodput, latency p99 and failures per bucket of `bucket_s` seconds, `n` buckets."""
    ok: list[list[float]] = [[] for _ in range(n)]
    failed = [0] * n
    for c in index(history).calls:
        if not counted(c) or c.end_s is None:
            continue
        b = int(c.end_s // bucket_s)
        if 0 <= b < n:
            if c.ok and c.latency_s is not None:
                ok[b].append(c.latency_s)
            elif not c.ok:
                failed[b] += 1
    goodput = [len(x) / bucket_s for x in ok]
    p99 = [quantile(sorted(x), 0.99) * 1000 if x else math.nan for x in ok]
    return goodput, p99, [f / bucket_s for f in failed]


def _svg(sims: Sequence[History], live: History, duration_s: float) -> str:
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    bucket = bucket_size_s(duration_s)
    n = max(1, math.ceil(duration_s / bucket))
    sim_series = [series(h, bucket, n) for h in sims]
    live_series = series(live, bucket, n)
    mids = [(i + 0.5) * bucket for i in range(n)]
    fig = Figure(figsize=(10, 8))
    axes = fig.subplots(3, 1, sharex=True)
    faults: list[Span] = index(live).faults
    titles = ("goodput (ok/s)", "latency p99 (ms)", "failures (/s)")
    for k, (ax, title) in enumerate(zip(axes, titles, strict=True)):
        for s in faults:
            ax.axvspan(s.start_s, min(s.end_s, duration_s), color="#f4a261", alpha=0.25, lw=0)
        columns = [[s[k][i] for s in sim_series] for i in range(n)]
        finite = [[v for v in col if not math.isnan(v)] for col in columns]
        mean = [sum(c) / len(c) if c else math.nan for c in finite]
        low = [min(c) if c else math.nan for c in finite]
        high = [max(c) if c else math.nan for c in finite]
        ax.fill_between(mids, low, high, color="#457b9d", alpha=0.2, lw=0)
        ax.plot(mids, mean, color="#457b9d", lw=1.4, label="sim (mean, seed range)")
        ax.plot(mids, live_series[k], color="#c0392b", lw=1.4, label="live")
        ax.set_ylabel(title)
    axes[0].legend(loc="upper right", fontsize="small")
    axes[-1].set_xlabel(f"run seconds (bucket {bucket:g} s; fault windows shaded)")
    buf = io.StringIO()
    with rc_context({"svg.hashsalt": "chaoslab"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def _rows(rows: list[dict[str, Any]]) -> str:
    out = ["<tr><th>figure</th><th>sim mean</th><th>seed range</th><th>95 % prediction"
           "</th><th>live</th><th>diff</th><th>judgement</th></tr>"]
    for r in rows:
        agree = r.get("agree")
        cls = "na" if agree is None else ("yes" if agree else "no")
        word = r.get("judgement", "n/a")
        name = escape(str(r["figure"])) + (" (goal)" if r.get("goal") else "")
        if "sim" in r:  # an invariant verdict
            sim, span, pi, diff = _cell(r["sim"]), "", "", ""
        else:
            sim = _cell(r["sim_mean"])
            span = f"{_cell(r['sim_low'])} – {_cell(r['sim_high'])}"
            pi = ("" if r.get("pi_low") is None else
                  f"{_cell(r['pi_low'])} – {_cell(r['pi_high'])}")
            diff = _cell(r["diff"])
        out.append(f"<tr class={'goal' if r.get('goal') else ''}><td>{name}</td><td>{sim}</td>"
                   f"<td>{span}</td><td>{pi}</td><td>{_cell(r['live'])}</td><td>{diff}</td>"
                   f"<td class={cls}>{_cell(word)}</td></tr>")
    return "\n".join(out)


def _notes(doc: dict[str, Any]) -> str:
    """The compression caveats and the runners' known differences, as lists."""
    out = []
    for title, key in (("What the compression changes", "caveats"),
                       ("Known differences between the runners", "known_differences")):
        items = doc.get(key) or []
        if items:
            out.append(f"<p><b>{title}</b></p><ul>"
                       + "".join(f"<li>{escape(str(i))}</li>" for i in items) + "</ul>")
    return "\n".join(out)


def render(doc: dict[str, Any], sims: Sequence[History], live: History,
           duration_s: float) -> str:
    """The whole page."""
    v = doc["verdict"]
    colour = "#d9f2d9" if v.get("agrees") else "#f7d4d4"  # the runners, not the policies
    cpu = doc.get("lab_cpu") or {}
    cpu_line = ("not measured" if not cpu else
                f"{cpu.get('busy_cores')} cores busy on average (peak "
                f"{cpu.get('peak_busy_cores')}) of {cpu.get('cores')}; comparable: "
                f"{cpu.get('comparable')}")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>twin {escape(doc['scenario'])}</title><style>{_STYLE}</style></head><body>
<h1>twin: {escape(doc['scenario'])} under {escape(str(doc['policies']))}</h1>
<p>{escape(doc['description'])}</p>
<p class="verdict" style="background:{colour}">{escape(v['summary'])}</p>
<p>Policy set digest {escape(doc['policies_digest'][:16])}; seed {doc['seed']}, {doc['seeds']}
simulated seeds; speed x{doc['speed']:g}, scale {doc['scale']:g}: {escape(doc['time_compression'])}.
Lab CPU: {escape(cpu_line)}.</p>
{_notes(doc)}
<table>{_rows(doc['rows'])}</table>
{_svg(sims, live, duration_s)}
</body></html>
"""
