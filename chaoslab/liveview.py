"""The live view of `lab run`, `twin` and `sim`: what a run is doing while it runs.

One `View` gets the run's events — its phases, the fault windows as they are applied and
healed, the running ok / failed / shed counts and p99, the invariants' running state, the
simulator's seeds as they finish — and shows them on the scenario's clock (a Solar Hijri
date and time, `scenario.clock`), not in run seconds. On a terminal it is a `rich` panel
redrawn in place (`RichView`); anywhere else (CI, a pipe, a file) it is a plain log with
one line per event and a status line every `STATUS_EVERY_S` (`LineView`), so a CI log
reads top to bottom. `make_view` picks one from the stream.

Two feeders: `LiveWatch` polls a live run's histories on its own thread (the runner hands it
the histories the nemesis and the load driver append to), and `SeedProgress` pools the
simulator's seeds as each one's summary comes back (local pool or Dask). Both compute the
figures as the report does (the same index and checkers), so the view never disagrees with
the report about what a count means. Interrupting a run stops the view with it.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from scenario import clock as scenario_clock
from scenario.checkers.index import index
from scenario.checkers.service import counted
from scenario.checkers.windows import quantile
from scenario.history import FAULT_START, FAULT_STOP, NEMESIS, History
from scenario.verdict import Checker, Validity, Verdict, overall, safely

if TYPE_CHECKING:
    from rich.console import RenderableType

    from sim.runner import SeedResult

STATUS_EVERY_S = 10.0  # wall seconds between the plain log's status lines
POLL_S = 1.0  # how often a live run's counts are recomputed
JUDGE_EVERY_S = 10.0  # how often the invariants are judged on the history so far
MAX_NOTES = 6  # the rich view's last lines of notes


@dataclass(frozen=True, slots=True)
class Tally:
    """Client operations so far, counted as the report counts them."""

    ok: int = 0
    failed: int = 0
    shed: int = 0
    p99_ms: float | None = None

    def line(self) -> str:
        """'ok 120, failed 3, shed 0, p99 850 ms'."""
        p99 = "-" if self.p99_ms is None else f"{self.p99_ms:.0f} ms"
        return f"ok {self.ok}, failed {self.failed}, shed {self.shed}, p99 {p99}"


@dataclass(slots=True)
class _FaultRow:
    kind: str
    target: str
    start_s: float
    end_s: float
    state: str = "planned"  # planned -> applied -> healed


@dataclass(slots=True)
class _State:
    title: str = ""
    tag: str = "live"  # the plain log's prefix: "live" or "sim"
    start: str = ""
    speed: float = 1.0
    horizon_s: float | None = None
    t_s: float | None = None
    progress: str = ""
    faults: list[_FaultRow] = field(default_factory=list)
    tally: Tally = Tally()
    invariants: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    run_figures: bool = True  # the clock and the requests: not for a search (`explore`)


def _word(valid: Validity, final: bool) -> str:
    word = "holds" if valid is True else "FALSE" if valid is False else "unknown"
    return word if final else f"{word} so far"


class View:
    """The events of a run (see the module docstring); subclasses show them."""

    def __init__(self) -> None:
        self.state = _State()
        self._lock = threading.RLock()  # a rich refresh under the lock re-enters it
        self.final = False

    def begin(self, title: str, *, start: str = "", speed: float = 1.0,
              horizon_s: float | None = None,
              faults: Sequence[tuple[str, str, float, float]] = (), tag: str = "live",
              run_figures: bool = True) -> None:
        """A run starts: its title, clock (start, speed), length and planned fault windows;
        `run_figures` False for a search of many runs, which has no clock or request count
        of its own (its progress and its invariants are shown)."""
        with self._lock:
            self.state = _State(title, tag, start, speed, horizon_s,
                                faults=[_FaultRow(*f) for f in faults], run_figures=run_figures)
            self._show_begin()

    def phase(self, text: str) -> None:
        """A phase of the run begins (starting the lab, warming up, ...)."""
        with self._lock:
            self._add_note(text)

    def fault(self, t_s: float, kind: str, target: str, applied: bool) -> None:
        """A fault was applied (or healed) at run second `t_s`."""
        with self._lock:
            self.state.t_s = max(self.state.t_s or 0.0, t_s)
            row = next((r for r in self.state.faults if r.kind == kind and r.target == target
                        and r.state == ("planned" if applied else "applied")), None)
            if row is None:
                row = _FaultRow(kind, target, t_s, math.nan)
                self.state.faults.append(row)
            row.state = "applied" if applied else "healed"
            self._show_fault(t_s, row)

    def update(self, t_s: float | None, tally: Tally, invariants: Sequence[Verdict] = (),
               progress: str = "") -> None:
        """The counts (and, when judged, the invariants) at run second `t_s`."""
        with self._lock:
            if t_s is not None:
                self.state.t_s = t_s
            self.state.tally = tally
            if invariants:
                self.state.invariants = list(invariants)
            if progress:
                self.state.progress = progress
            self._show_update()

    def end(self, text: str = "") -> None:
        """The run is over (or interrupted): the last state, as final."""
        with self._lock:
            self.final = True
            if text:
                self._add_note(text)
            self._show_end()

    def clock(self, t_s: float | None) -> str:
        """Run second `t_s` on the scenario's clock, with the run second beside it."""
        if t_s is None:
            return "--"
        s = self.state
        return f"{scenario_clock.label(s.start, t_s, s.speed, seconds=True)} (t+{t_s:.1f}s)"

    def invariants_line(self) -> str:
        """'availability holds so far; no_lost_writes unknown so far'."""
        return "; ".join(f"{v.name} {_word(v.valid, self.final)}"
                         for v in self.state.invariants)

    def _add_note(self, text: str) -> None:
        self.state.notes = [*self.state.notes, text][-MAX_NOTES:]
        self._show_note(text)

    # what a subclass shows; called under the lock
    def _show_begin(self) -> None: ...
    def _show_note(self, text: str) -> None: ...
    def _show_fault(self, t_s: float, row: _FaultRow) -> None: ...
    def _show_update(self) -> None: ...
    def _show_end(self) -> None: ...


class LineView(View):
    """One line per event, a status line every `STATUS_EVERY_S`: for CI logs and pipes."""

    def __init__(self, stream: IO[str], now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.stream = stream
        self.now = now
        self._last_status = -math.inf

    def _print(self, text: str) -> None:
        print(f"[{self.state.tag}] {text}", file=self.stream, flush=True)

    def _show_begin(self) -> None:
        s = self.state
        if not s.run_figures:
            self._print(s.title)
            return
        at = "" if s.speed == 1 else f" at x{s.speed:g}"
        self._print(f"{s.title}: scenario clock from "
                    f"{scenario_clock.label(s.start, 0.0)}{at}")
        for r in s.faults:
            self._print(f"  planned {r.kind} on {r.target}: "
                        f"{scenario_clock.label(s.start, r.start_s, s.speed)} to "
                        f"{scenario_clock.label(s.start, r.end_s, s.speed, date=False)}")

    def _show_note(self, text: str) -> None:
        self._print(f"{text}")

    def _show_fault(self, t_s: float, row: _FaultRow) -> None:
        verb = "applied" if row.state == "applied" else "healed"
        self._print(f"{self.clock(t_s)} fault {verb}: {row.kind} on {row.target}")

    def _show_update(self) -> None:
        if self.now() - self._last_status >= STATUS_EVERY_S:
            self._status()

    def _status(self) -> None:
        self._last_status = self.now()
        s = self.state
        parts = [self.clock(s.t_s) if s.t_s is not None else ""]
        if s.progress:
            parts.append(s.progress)
        if s.run_figures:
            parts.append(s.tally.line())
        text = " ".join([*parts[:1], "; ".join(parts[1:])]).strip()
        if s.invariants:
            text += f" | {self.invariants_line()}"
        self._print(text)

    def _show_end(self) -> None:
        self._status()


class RichView(View):
    """A panel redrawn in place on a terminal (rich.live.Live)."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.live import Live

        super().__init__()
        self.console = Console(file=stream)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False,
                         get_renderable=self._render)

    def __enter__(self) -> RichView:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table

        with self._lock:
            s = self.state
            head = Table.grid(padding=(0, 2))
            if s.run_figures:
                head.add_row("clock", self.clock(s.t_s))
            if s.horizon_s and s.t_s is not None:
                done = min(1.0, s.t_s / s.horizon_s)
                head.add_row("run", f"{'#' * int(done * 30):<30} {done:4.0%} of "
                             f"{s.horizon_s:.0f} s")
            if s.progress:
                head.add_row("progress", s.progress)
            if s.run_figures:
                head.add_row("requests", s.tally.line())
            faults = Table(title="faults", title_justify="left", expand=False)
            for col in ("kind", "target", "from", "to", "state"):
                faults.add_column(col)
            for r in s.faults:
                style = {"applied": "bold red", "healed": "green"}.get(r.state, "dim")
                to = "-" if math.isnan(r.end_s) else scenario_clock.label(
                    s.start, r.end_s, s.speed, date=False)
                faults.add_row(r.kind, r.target,
                               scenario_clock.label(s.start, r.start_s, s.speed, date=False),
                               to, r.state, style=style)
            inv = Table(title="invariants", title_justify="left", expand=True)
            inv.add_column("invariant", no_wrap=True)
            inv.add_column("state", no_wrap=True)
            inv.add_column("detail", overflow="ellipsis", no_wrap=True, ratio=1)
            for v in s.invariants:
                style = "green" if v.valid is True else "bold red" if v.valid is False \
                    else "yellow"
                inv.add_row(v.name, _word(v.valid, self.final), v.detail, style=style)
            notes = "\n".join(s.notes)
            return Panel(Group(head, faults, inv, notes), title=s.title)

    def _show_end(self) -> None:
        self.live.refresh()


def make_view(stream: IO[str] | None = None) -> View:
    """The rich panel on a terminal, the plain log elsewhere."""
    out = stream or sys.stdout
    if out.isatty():
        return RichView(out)
    return LineView(out)


@contextmanager
def showing(view: View) -> Iterator[View]:
    """Start the view's display (a rich panel takes the terminal) and stop it however the
    block ends."""
    if isinstance(view, RichView):
        with view:
            yield view
    else:
        yield view


def tally_of(history: History) -> Tally:
    """The history's client operations by outcome, and the p99 of the ok ones."""
    ok = failed = shed = 0
    latencies = []
    for c in index(history).calls:
        if not counted(c):
            continue
        if c.ok:
            ok += 1
            if c.latency_s is not None:
                latencies.append(c.latency_s)
        elif c.error == "shed":
            shed += 1
        else:
            failed += 1
    p99 = quantile(sorted(latencies), 0.99) * 1000.0 if latencies else None
    return Tally(ok, failed, shed, p99)


class LiveWatch:
    """Feeds a `View` from a live run's histories, on a thread of its own (see the module
    docstring). `phase` and `watching` are what the live runner calls."""

    def __init__(self, view: View, checkers: Sequence[tuple[str, Checker]]) -> None:
        self.view = view
        self.checkers = checkers

    def phase(self, text: str) -> None:
        """A phase of the run (the warm-up, the healing)."""
        self.view.phase(text)

    @contextmanager
    def watching(self, histories: Sequence[History], clock: Callable[[], float]
                 ) -> Iterator[None]:
        """Poll `histories` (appended to by other threads) until the block ends."""
        stop = threading.Event()
        thread = threading.Thread(target=self._poll, args=(histories, clock, stop),
                                  name="live-view", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _poll(self, histories: Sequence[History], clock: Callable[[], float],
              stop: threading.Event) -> None:
        seen = [0] * len(histories)
        last_judged = -math.inf
        while True:
            finished = stop.wait(POLL_S)
            ops = []
            for i, h in enumerate(histories):
                new = h.ops[seen[i]:]  # appended by other threads: a slice is a snapshot
                seen[i] += len(new)
                for op in new:
                    if op.process == NEMESIS and op.f in (FAULT_START, FAULT_STOP):
                        self.view.fault(op.time_s, op.value, op.key, op.f == FAULT_START)
                ops.extend(h.ops[:seen[i]])
            snapshot = History(sorted(ops, key=lambda op: op.time_s))
            verdicts: list[Verdict] = []
            if self.checkers and (finished or clock() - last_judged >= JUDGE_EVERY_S):
                last_judged = clock()
                verdicts = [safely(n, c, snapshot) for n, c in self.checkers]
            self.view.update(clock(), tally_of(snapshot), verdicts)
            if finished:
                return


class SeedProgress:
    """Pools the simulator's seeds into a `View` as each comes back (`run_all`'s
    `on_result`): counts and p99 over the seeds done, and each invariant as the report
    will pool it (false when any seed's is)."""

    def __init__(self, view: View, seeds: int, names: Sequence[str]) -> None:
        self.view = view
        self.seeds = seeds
        self.names = list(names)
        self.done = 0
        self.ok = self.failed = self.shed = 0
        self.latencies: list[float] = []
        self.verdicts: list[list[Verdict]] = [[] for _ in self.names]

    def __call__(self, i: int, result: SeedResult) -> None:
        s = result.summary
        self.done += 1
        for outcomes in s.by_kind.values():
            self.ok += outcomes.get("ok", 0)
            self.failed += outcomes.get("failed", 0)
            self.shed += outcomes.get("shed", 0)
        self.latencies.extend(s.latencies_s)
        for k, v in enumerate(s.verdicts[:len(self.names)]):
            self.verdicts[k].append(v)
        self.latencies.sort()
        p99 = quantile(self.latencies, 0.99) * 1000.0 if self.latencies else None
        pooled = [Verdict(n, overall(vs), next((v.detail for v in vs if v.valid is False),
                                               vs[0].detail if vs else ""))
                  for n, vs in zip(self.names, self.verdicts, strict=True)]
        self.view.phase(f"seed {i + 1} done ({self.done} of {self.seeds}): "
                        f"{Tally(*_counts(s.by_kind)).line().rsplit(', p99', 1)[0]}")
        self.view.update(None, Tally(self.ok, self.failed, self.shed, p99), pooled,
                         progress=f"{self.done} of {self.seeds} seeds done")


def _counts(by_kind: dict[str, dict[str, int]]) -> tuple[int, int, int]:
    return (sum(o.get("ok", 0) for o in by_kind.values()),
            sum(o.get("failed", 0) for o in by_kind.values()),
            sum(o.get("shed", 0) for o in by_kind.values()))


@contextmanager
def sim_view(title: str, *, start: str, speed: float, seeds: int, names: Sequence[str],
             faults: Sequence[tuple[str, str, float, float]] = ()) -> Iterator[SeedProgress]:
    """The live view of a simulated run: the callback `sim.runner.run_all` calls as each
    seed finishes (`on_result`), shown until the block ends."""
    view = make_view()
    with showing(view):
        view.begin(title, start=start, speed=speed, faults=faults, tag="sim")
        view.phase(f"simulating {seeds} seed(s); the first seed's fault windows above")
        ended = "stopped before its end"
        try:
            yield SeedProgress(view, seeds, names)
            ended = "simulated; writing the report"
        finally:
            view.end(ended)
