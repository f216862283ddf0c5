"""report.html: a self-contained page that says what the run found and why.

The page opens with a headline verdict (which invariants fail, their own figures, and when
the failures came: the peak and the share inside fault windows), the scenario's description
and the warnings a reader must not miss (a live run too light to compare, a lab that was its
own bottleneck). Then the tables report.json holds — run, invariants, faults on the
scenario's clock, requests per kind, upstreams — and one panel per timeline: throughput (ok,
failed, shed per second), failures by reason, latency p99, breaker state and queue length.
Time runs on the scenario's clock (a Solar Hijri date and "18:30"; a live run at x60 is
shown as the scenario hour it stands for, `scenario.clock`). A panel with nothing to draw
says why instead of showing empty axes ("no breaker in this policy set", "every breaker
stayed closed", "not recorded live"); a last time bin that covers only part of its width is
plotted as a rate over the part it covers, hollow, and named.

The markup is a Jinja2 template (`templates/report.html.j2`, autoescaped); the plots are
matplotlib SVG inlined in it — no scripts, no external files, no display needed, the same
bytes for the same history.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from scenario import clock
from scenario.checkers.index import Span
from scenario.report_model import Report, demand_note
from scenario.schema import parse_start
from scenario.timelines import Timelines

TEMPLATES = Path(__file__).parent / "templates"
_FAULT_COLOURS = ("#f4a261", "#e76f51", "#2a9d8f", "#8ab17d", "#9b5de5", "#e9c46a")
_REASON_COLOURS = ("#c0392b", "#e67e22", "#8e44ad", "#2980b9", "#16a085", "#7f8c8d",
                   "#d35400", "#2c3e50")
# A live run lighter than this is flagged: a p99 needs 100 latencies to have one above it,
# and below 200 requests one request moves availability by half a point, a quarter of the
# twin's 2-point tolerance.
LIGHT_MIN_OK = 100
LIGHT_MIN_REQUESTS = 200
_TICK_STEPS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                 172800, 604800)
MAX_TICKS = 8
PARTIAL = 0.999  # a bin covering less than this share of its width is partial


@dataclass(frozen=True, slots=True)
class Panel:
    """One timeline of the page: an SVG, or the sentence that says why there is none."""

    name: str
    title: str
    state: str  # "plotted" or why not: "no-breaker", "stayed-closed", "not-recorded", ...
    svg: str = ""
    message: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Headline:
    """The verdict at the top of the page."""

    cls: str  # "pass" | "fail" | "unknown"
    title: str
    lines: list[str]


# -- the time axis --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Axis:
    """Run seconds on the scenario's clock: `start` at t = 0, `speed` scenario s per run s."""

    start: str
    speed: float

    def label(self, t_s: float, date: bool = False) -> str:
        return clock.label(self.start, t_s, self.speed, date=date)

    def ticks(self, lo_s: float, hi_s: float) -> tuple[list[float], list[str]]:
        """Run seconds at round times of the scenario's day, and their labels."""
        span = max((hi_s - lo_s) * self.speed, 1.0)
        step = next((s for s in _TICK_STEPS_S if span / s <= MAX_TICKS), _TICK_STEPS_S[-1])
        t0 = parse_start(self.start or clock.DEFAULT_START)
        offset = t0.hour * 3600 + t0.minute * 60  # the clock's seconds since midnight at t = 0
        first = math.ceil((lo_s * self.speed + offset) / step) * step - offset
        xs = []
        x = first
        while x <= hi_s * self.speed + 1e-9:
            xs.append(x / self.speed)
            x += step
        dated = span >= 86400
        return xs, [self.label(v, date=dated) for v in xs]

    def title(self) -> str:
        first = self.label(0.0, date=True)
        text = f"scenario clock (Solar Hijri), from {first}"
        if self.speed != 1:
            text += f"; run compressed x{self.speed:g}"
        return text


# -- the headline ---------------------------------------------------------------------------


def headline(r: Report, t: Timelines | None, axis: Axis) -> Headline:
    """Which invariants fail, by their own figures, and when the failures came."""
    false = [i for i in r.invariants if i.valid is False]
    unknown = [i for i in r.invariants if i.valid == "unknown"]
    n = len(r.invariants)
    if false:
        title = f"FAILS: {len(false)} of {n} invariants false ({', '.join(i.name for i in false)})"
        cls = "fail"
    elif unknown:
        title = f"UNDECIDED: {len(unknown)} of {n} invariants unknown, none false"
        cls = "unknown"
    elif n:
        title = f"HOLDS: all {n} invariants true"
        cls = "pass"
    else:
        title, cls = "no invariant was checked", "unknown"
    lines = [f"{i.name}: {i.detail}" for i in [*false, *unknown]]
    if r.availability is not None:
        lines.append(f"availability {r.availability:.4f}: {r.requests.ok} ok, "
                     f"{r.requests.failed} failed, {r.requests.shed} shed of "
                     f"{r.requests.total} requests")
    if t is not None:
        lines.extend(_when(t, axis))
    return Headline(cls, title, lines)


def _when(t: Timelines, axis: Axis) -> list[str]:
    """The peak of failures and the share that fell inside fault windows."""
    per_bin = [sum(v[i] for v in t.failures.values()) for i in range(len(t.starts_s))]
    total = sum(per_bin)
    if not total:
        return ["no request failed."]
    rates = [n / c if c > 0 else 0.0 for n, c in zip(per_bin, _covered(t), strict=True)]
    peak = max(range(len(rates)), key=lambda i: rates[i])
    mid = t.starts_s[peak] + t.bucket_s / 2
    during = [s for s in t.faults if s.start_s <= mid < s.end_s]
    where = "; during " + ", ".join(
        f"{s.kind} on {s.target} ({axis.label(s.start_s)}-{axis.label(s.end_s)})"
        for s in during) if during else "; outside every fault window"
    inside = sum(n for i, n in enumerate(per_bin)
                 if any(s.start_s <= t.starts_s[i] + t.bucket_s / 2 < s.end_s
                        for s in t.faults))
    reasons = ", ".join(f"{k} {sum(v)}" for k, v in
                        sorted(t.failures.items(), key=lambda kv: -sum(kv[1])))
    return [f"failures peak at {axis.label(t.starts_s[peak])} ({rates[peak]:.3g} per run "
            f"second){where}.",
            f"{inside} of {total} failures ({inside / total:.0%}) fell inside fault windows "
            f"(replication 1); by reason: {reasons}."]


def warnings(r: Report) -> list[str]:
    """What makes the figures unfit to compare, in sentences."""
    out = []
    if r.mode == "live" and (r.requests.ok < LIGHT_MIN_OK or r.requests.total < LIGHT_MIN_REQUESTS):
        out.append(f"Too light to compare: this live run completed {r.requests.total} requests "
                   f"({r.requests.ok} ok). A p99 needs at least {LIGHT_MIN_OK} latencies and "
                   f"availability at least {LIGHT_MIN_REQUESTS} requests to mean much; run a "
                   f"lower --speed (a longer run) or a busier scenario before comparing it "
                   f"with the simulator.")
    if r.lab_cpu is not None and not r.lab_cpu.comparable:
        out.append(f"Not comparable: the lab itself used {r.lab_cpu.busy_cores:.2f} of "
                   f"{r.lab_cpu.cores} cores (busiest {r.lab_cpu.peak_busy_cores:.2f}); its "
                   f"latencies measure this machine, not the model.")
    note = demand_note(r.service_demand)
    if note:
        out.append(note[0].upper() + note[1:] + ".")
    return out


# -- the tables -----------------------------------------------------------------------------


def _fmt(value: object) -> str:
    return "—" if value is None else str(value)


def summary_rows(r: Report, axis: Axis) -> list[tuple[str, str]]:
    """The run table."""
    w = r.workload
    rows = [
        ("mode / policies", f"{r.mode} / {r.policies}"
                            + (f" (sha256 {r.policies_digest[:12]})" if r.policies_digest else "")),
        ("seed / replications", f"{r.seed} / {r.replications}"),
        ("scenario clock", f"{axis.label(0.0, date=True)} to "
                           f"{axis.label(r.duration_s, date=True)}"),
        ("duration / wall", f"{r.duration_s:g} run s / {r.wall_s:g} s"),
    ]
    if w is not None and (w.speed != 1 or w.scale_down > 1):
        rows.append(("speed / scale", f"x{w.speed:g}: a run second is {w.speed:g} scenario "
                                      f"seconds; one request stands for {w.scale:g}"
                                      + (f" (the file at 1:{w.scale_down})"
                                         if w.scale_down > 1 else "")))
    rows += [
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
    return rows


def kind_rows(r: Report) -> list[dict[str, Any]]:
    """Requests per kind, with each kind's availability."""
    return [{"name": k, "total": c.total, "ok": c.ok, "failed": c.failed, "shed": c.shed,
             "availability": f"{c.ok / c.total:.4f}" if c.total else "—"}
            for k, c in r.requests.by_kind.items()]


def upstream_rows(r: Report) -> list[dict[str, Any]]:
    """Attempts, amplification and breaker openings per upstream."""
    return [{"name": u, "calls": c.calls, "amplification": _fmt(c.amplification),
             "breaker_opens": c.breaker_opens} for u, c in r.upstream_calls.items()]


def fault_rows(r: Report, axis: Axis) -> list[dict[str, str]]:
    """Each fault on the scenario's clock, and in run seconds."""
    return [{"kind": f.kind, "target": f.target, "start": axis.label(f.start_s, date=True),
             "end": axis.label(f.end_s), "run": f"{f.start_s:g}-{f.end_s:g}"}
            for f in r.faults]


# -- the panels -----------------------------------------------------------------------------


def _covered(t: Timelines) -> list[float]:
    return t.covered_s or [t.bucket_s] * len(t.starts_s)


def _partial(t: Timelines) -> bool:
    cov = _covered(t)
    return bool(cov) and cov[-1] < PARTIAL * t.bucket_s


def _svg(fig: Any) -> str:
    from matplotlib import rc_context

    buf = io.StringIO()
    with rc_context({"svg.hashsalt": "chaoslab"}):  # stable element ids across runs
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog: the SVG is inlined in HTML


def _axes(t: Timelines, axis: Axis, height: float = 2.4) -> tuple[Any, Any]:
    """A bare figure (no pyplot: no display, no global state) with the faults shaded and
    the scenario's clock on x."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, height))
    ax = fig.subplots()
    kinds = sorted({s.kind for s in t.faults})
    for s in t.faults:
        ax.axvspan(s.start_s, s.end_s, color=_fault_colour(kinds, s), alpha=0.25, lw=0)
    lo = t.starts_s[0] if t.starts_s else 0.0
    hi = lo + sum(_covered(t))
    ax.set_xlim(lo, max(hi, lo + 1e-6))
    xs, labels = axis.ticks(lo, hi)
    ax.set_xticks(xs, labels)
    ax.set_xlabel(axis.title(), fontsize="small")
    return fig, ax


def _fault_colour(kinds: list[str], s: Span) -> str:
    return _FAULT_COLOURS[kinds.index(s.kind) % len(_FAULT_COLOURS)]


def _fault_legend(ax: Any, t: Timelines) -> None:
    from matplotlib.patches import Patch

    kinds = sorted({s.kind for s in t.faults})
    handles = [Patch(color=_FAULT_COLOURS[i % len(_FAULT_COLOURS)], alpha=0.25, label=k)
               for i, k in enumerate(kinds)]
    lines, labels = ax.get_legend_handles_labels()
    if lines or handles:
        ax.legend(handles=[*lines, *handles], labels=[*labels, *kinds], loc="upper right",
                  fontsize="small")


def _plot_rate(ax: Any, t: Timelines, counts: Sequence[float], label: str,
               colour: str) -> None:
    """A per-second rate per bin; a partial last bin as a hollow marker over what it covers."""
    mids = [s + t.bucket_s / 2 for s in t.starts_s]
    rates = [n / c if c > 0 else 0.0 for n, c in zip(counts, _covered(t), strict=True)]
    whole = len(rates) - 1 if _partial(t) else len(rates)
    ax.plot(mids[:whole], rates[:whole], lw=1.2, color=colour, label=label)
    if whole < len(rates):
        last = t.starts_s[-1] + _covered(t)[-1] / 2
        ax.plot([*mids[whole - 1:whole], last], [*rates[whole - 1:whole], rates[-1]],
                ls=":", lw=1.0, color=colour)
        ax.plot([last], [rates[-1]], marker="o", mfc="none", color=colour, ls="none")


def _partial_note(t: Timelines) -> list[str]:
    if not _partial(t):
        return []
    return [f"The last bin covers {_covered(t)[-1]:.3g} of its {t.bucket_s:g} run seconds "
            f"(the run ended): its rate is over what it covers, drawn hollow and dotted, "
            f"not a drop."]


def throughput_panel(t: Timelines, axis: Axis) -> Panel:
    """ok, failed and shed per run second."""
    fig, ax = _axes(t, axis)
    ok = [g * t.bucket_s for g in t.goodput_per_s]
    shed = t.failures.get("shed", [0] * len(ok))
    failed = [sum(v[i] for k, v in t.failures.items() if k != "shed") for i in range(len(ok))]
    _plot_rate(ax, t, ok, "ok", "#1f77b4")
    _plot_rate(ax, t, failed, "failed", "#c0392b")
    if any(shed):
        _plot_rate(ax, t, shed, "shed", "#e67e22")
    ax.set_ylabel("per run second")
    _fault_legend(ax, t)
    fig.tight_layout()
    return Panel("throughput", "Requests per second: ok, failed, shed", "plotted", _svg(fig),
                 notes=_partial_note(t))


def failures_panel(t: Timelines, axis: Axis) -> Panel:
    """Failures per run second, stacked by reason."""
    title = "Failures per second by reason"
    if not any(any(v) for v in t.failures.values()):
        return Panel("failures", title, "no-failures", message="No request failed.")
    fig, ax = _axes(t, axis)
    cov = _covered(t)
    bottom = [0.0] * len(t.starts_s)
    for i, (reason, counts) in enumerate(t.failures.items()):
        rates = [n / c if c > 0 else 0.0 for n, c in zip(counts, cov, strict=True)]
        ax.bar(t.starts_s, rates, width=cov, bottom=bottom, align="edge", label=reason,
               color=_REASON_COLOURS[i % len(_REASON_COLOURS)], lw=0)
        bottom = [b + r for b, r in zip(bottom, rates, strict=True)]
    if _partial(t):  # the partial bin hatched: it is as wide as the time it covers
        ax.bar([t.starts_s[-1]], [bottom[-1]], width=[cov[-1]], align="edge", fill=False,
               hatch="///", lw=0.5, edgecolor="#555")
    ax.set_ylabel("failed per run s")
    _fault_legend(ax, t)
    fig.tight_layout()
    return Panel("failures", title, "plotted", _svg(fig), notes=_partial_note(t))


def latency_panel(t: Timelines, axis: Axis) -> Panel:
    """p99 of the ok requests completed in each bin."""
    title = "Latency p99 of ok requests (ms)"
    if not any(not math.isnan(v) for v in t.p99_ms):
        return Panel("latency", title, "no-ok", message="No request completed ok: no latency.")
    fig, ax = _axes(t, axis)
    mids = [s + t.bucket_s / 2 for s in t.starts_s]
    ax.plot(mids, t.p99_ms, lw=1.2, color="#c0392b", marker="." if len(mids) < 30 else None)
    if any(not math.isnan(v) and v > 0 for v in t.p99_ms):
        ax.set_yscale("log")
    ax.set_ylabel("p99 (ms)")
    _fault_legend(ax, t)
    fig.tight_layout()
    notes = ["A bin with no ok request has no point (a gap, not zero)."] \
        if any(math.isnan(v) for v in t.p99_ms) else []
    return Panel("latency", title, "plotted", _svg(fig), notes=notes)


def breaker_panel(t: Timelines, axis: Axis, breakers: bool | None) -> Panel:
    """Each breaker's state; or why there is none to draw."""
    title = "Circuit breakers"
    if not t.breaker:
        if breakers is False:
            return Panel("breaker", title, "no-breaker",
                         message="No breaker in this policy set: nothing to open.")
        if breakers is True:
            return Panel("breaker", title, "stayed-closed",
                         message="Every breaker stayed closed: the policy set has breakers "
                                 "and none changed state.")
        return Panel("breaker", title, "not-recorded",
                     message="No breaker transition recorded (the policy set was not "
                             "written beside this report, so whether it has breakers is "
                             "unknown).")
    fig, ax = _axes(t, axis, height=max(2.4, 0.25 * len(t.breaker) + 1.6))
    for name, steps in t.breaker.items():
        ax.step([x for x, _ in steps], [y for _, y in steps], where="post", label=name)
    ax.set_yticks([0, 0.5, 1], ["closed", "half-open", "open"])
    _fault_legend(ax, t)
    fig.tight_layout()
    return Panel("breaker", title, "plotted", _svg(fig))


def queue_panel(t: Timelines, axis: Axis, mode: str) -> Panel:
    """Queue length samples; or why there are none."""
    title = "Queue length"
    samples = {k: v for k, v in t.gauges.items() if k.startswith("queue_length") and v}
    if not samples:
        if mode == "live":
            return Panel("queue", title, "not-recorded",
                         message="Not recorded live: the lab's replicas do not sample their "
                                 "queues (the simulator does).")
        return Panel("queue", title, "not-recorded", message="No queue sample in this history.")
    fig, ax = _axes(t, axis)
    for name, xs in samples.items():
        ax.plot([x for x, _ in xs], [y for _, y in xs], lw=1, label=name)
    ax.set_ylabel("queued")
    _fault_legend(ax, t)
    fig.tight_layout()
    return Panel("queue", title, "plotted", _svg(fig))


def panels(t: Timelines, axis: Axis, mode: str, breakers: bool | None) -> list[Panel]:
    """Every timeline panel of the page, in order."""
    return [throughput_panel(t, axis), failures_panel(t, axis), latency_panel(t, axis),
            breaker_panel(t, axis, breakers), queue_panel(t, axis, mode)]


# -- the page -------------------------------------------------------------------------------


@cache
def _template() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        ["html", "j2"], default=True), undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template("report.html.j2")


def render_html(report: Report, t: Timelines | None, history_note: str, *,
                breakers: bool | None = None) -> str:
    """The whole page for `report`; `t` None when there is no history to plot; `breakers`
    whether the run's policy set has any circuit breaker (None: unknown)."""
    speed = report.workload.speed if report.workload is not None else 1.0
    axis = Axis(report.start, speed)
    text: str = _template().render(
        r=report, headline=headline(report, t, axis), warnings=warnings(report),
        summary=summary_rows(report, axis), faults=fault_rows(report, axis),
        kinds=kind_rows(report), upstreams=upstream_rows(report),
        panels=panels(t, axis, report.mode, breakers) if t is not None else [],
        history_note=history_note)
    return text
