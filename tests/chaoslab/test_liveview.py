"""The live view: the plain log off a terminal, the rich panel on one, the live watch over
histories appended by another thread, and the simulator's seeds as they come back."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from chaoslab.cli import SCENARIO_DIR, main
from chaoslab.liveview import LineView, LiveWatch, RichView, SeedProgress, Tally, make_view
from scenario.history import History, Op
from scenario.invariants import build_checkers
from scenario.schema import find_scenario, load_scenario
from sim.runner import Task, run_all
from tests.scenario.builder import Builder

START = "1403-12-29T18:00"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_the_view_is_a_plain_log_and_on_one_a_panel() -> None:
    assert isinstance(make_view(io.StringIO()), LineView)
    assert isinstance(make_view(Tty()), RichView)


def test_the_log_reads_on_the_scenarios_clock_one_line_per_event() -> None:
    out = io.StringIO()
    ticks = iter(range(0, 1000, 20))  # every status line is due: 20 s apart
    view = LineView(out, now=lambda: float(next(ticks)))
    view.begin("outage [baseline] live x60", start=START, speed=60.0, horizon_s=60.0,
               faults=[("upstream_outage", "shahkar", 10.0, 25.0)])
    view.fault(10.0, "upstream_outage", "shahkar", applied=True)
    view.update(12.0, Tally(ok=90, failed=7, shed=1, p99_ms=812.0))
    view.fault(25.0, "upstream_outage", "shahkar", applied=False)
    view.end("run over")
    lines = out.getvalue().splitlines()
    assert lines[0] == "[live] outage [baseline] live x60: scenario clock from " \
                       "1403-12-29 18:00 at x60"
    # t = 10 s at x60 is ten scenario minutes after 18:00
    assert "planned upstream_outage on shahkar: 1403-12-29 18:10 to 18:25" in lines[1]
    assert "1403-12-29 18:10:00 (t+10.0s) fault applied: upstream_outage on shahkar" in lines[2]
    assert "18:12:00 (t+12.0s) ok 90, failed 7, shed 1, p99 812 ms" in lines[3]
    assert "18:25:00 (t+25.0s) fault healed: upstream_outage on shahkar" in lines[4]
    assert lines[-2:] == ["[live] run over",
                          "[live] 1403-12-29 18:25:00 (t+25.0s) ok 90, failed 7, shed 1, "
                          "p99 812 ms"]


def test_the_rich_panel_draws_the_same_state() -> None:
    out = Tty()
    view = RichView(out)
    with view:
        view.begin("outage", start=START, speed=60.0, horizon_s=60.0,
                   faults=[("upstream_outage", "shahkar", 10.0, 25.0)])
        view.fault(10.0, "upstream_outage", "shahkar", applied=True)
        view.update(30.0, Tally(3, 1, 0, 50.0))
        view.end("run over")
    text = out.getvalue()
    for fragment in ("18:30:00 (t+30.0s)", "upstream_outage", "applied", "ok 3, failed 1",
                     "run over"):
        assert fragment in text


def test_the_watch_follows_histories_another_thread_appends_to() -> None:
    """Ops appended while the watch runs show as fault events, counts and verdicts."""
    out = io.StringIO()
    view = LineView(out, now=lambda: 0.0)  # no status line but the last: end() prints it
    view.begin("watch", start=START)
    nemesis, users = History(), History()
    b = Builder(1)
    for i in range(20):
        b.call(f"c{i}", "read_history", float(i), 0.1, "ok" if i % 4 else "fail",
               error="" if i % 4 else "timeout")
    written = threading.Event()

    def run() -> None:
        nemesis.fault(True, "switch_failure", "switch-a", 1.0)
        users.ops.extend(b.history().ops)
        nemesis.fault(False, "switch_failure", "switch-a", 5.0)
        written.set()

    watch = LiveWatch(view, build_checkers({"availability": {"target": 0.9}}))
    with watch.watching([nemesis, users], clock=lambda: 20.0):
        threading.Thread(target=run).start()
        assert written.wait(10)
    view.end()
    text = out.getvalue()
    assert "fault applied: switch_failure on switch-a" in text
    assert "fault healed: switch_failure on switch-a" in text
    assert "ok 15, failed 5, shed 0" in text
    assert "availability FALSE" in text  # 0.75 < 0.9, judged on the history so far


def test_seed_progress_pools_seeds_as_they_come_back() -> None:
    scenario = load_scenario(find_scenario("switch_failure", SCENARIO_DIR)).compressed(60)
    out = io.StringIO()
    view = LineView(out, now=lambda: 0.0)
    view.begin("sim", start=scenario.start, speed=60.0, tag="sim")
    names = list(scenario.invariants)
    progress = SeedProgress(view, 2, names)
    results = run_all([Task(scenario, "baseline", s) for s in (1, 2)], 2, "local",
                      on_result=progress)
    view.end()
    assert progress.done == 2
    ok = sum(o.get("ok", 0) for r in results for o in r.summary.by_kind.values())
    assert progress.ok == ok and ok > 0
    text = out.getvalue()
    assert text.count("] seed ") == 2 and "2 of 2 seeds done" in text


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_a_tally_line_never_breaks_on_odd_figures(bad: float) -> None:
    assert "p99" in Tally(0, 0, 0, bad).line()


def test_an_op_tuple_is_what_the_watch_reads() -> None:
    """The watch reads nemesis ops by their fields: the history's own vocabulary."""
    h = History()
    h.fault(True, "power_loss", "rack-1", 2.0)
    op: Op = h.ops[0]
    assert (op.process, op.f, op.value, op.key) == ("nemesis", "fault:start", "power_loss",
                                                    "rack-1")


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(120)
def test_dask_seeds_show_as_they_finish(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`sim --executor dask://...` reports each seed as it comes back, not all at the end."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        assert main(["sim", "switch_failure", "--speed", "60", "--seeds", "3", "--executor",
                     f"dask://{address}", "--out", str(tmp_path / "dask")]) == 0
    out = capsys.readouterr().out
    assert sorted(line.split(" done")[0] for line in out.splitlines()
                  if "] seed " in line) == ["[sim] seed 1", "[sim] seed 2", "[sim] seed 3"]
    assert "3 of 3 seeds done" in out
