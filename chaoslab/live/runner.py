"""One live run on a running lab: the nemesis replays the timeline while the users load it.

The fault schedule plays on its own thread through the injector (Toxiproxy, the supervisor,
the upstreams' admin routes); the workload runs on the asyncio loop of the calling thread.
Whatever ends the run — its end, an error, Ctrl-C — the nemesis is stopped and every fault
healed (`Injector.replay` heals in its `finally`), then the lab is put back to healthy, the
final state of every write is read from the portal, and the portal replicas' event logs
(upstream attempts, breaker transitions) are folded into the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from chaoslab.live.load import LoadConfig, LoadDriver, draw_arrivals
from chaoslab.live.plan import LivePlan
from faults.admin import HttpUpstreamAdmin
from faults.client import ToxiproxyClient
from faults.injector import Injector
from mock_services.lab.clients.portal_api import applied_by_logical_key
from mock_services.lab.faultsview import faults_topology
from mock_services.lab.operations import LabSupervisor
from mock_services.lab.supervisor import Lab
from policies.presets import PolicySet
from scenario.history import FINAL, WRITE_FS, History, Op

ADMIN_TIMEOUT_S = 10.0


class Stopped(Exception):
    """The nemesis was told to stop before its schedule ended."""


def run_interruptible(main: Coroutine[Any, Any, None], on_interrupt: Callable[[], None]) -> None:
    """`asyncio.run(main)`, where Ctrl-C always ends in KeyboardInterrupt.

    asyncio.run turns the first SIGINT into a cancellation of the main task and raises
    KeyboardInterrupt only if that cancellation comes back out of it; a library that
    swallows it (or turns it into a timeout that a caller suppresses) leaves the run going
    to its end, Ctrl-C lost. Here SIGINT also calls `on_interrupt` (which tells the run to
    wind down), and KeyboardInterrupt is raised once the loop is done, whatever `main`
    returned or raised. The SIGINT handler before the call is put back after it. Off the main
    thread, where signals cannot be watched, it is asyncio.run.
    """
    interrupted = threading.Event()

    async def guarded() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_sigint() -> None:
            interrupted.set()
            on_interrupt()
            if task is not None:
                task.cancel()

        loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            await main
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    if threading.current_thread() is not threading.main_thread():
        asyncio.run(main)
        return
    previous = signal.getsignal(signal.SIGINT)
    try:
        asyncio.run(guarded())
    except BaseException as exc:  # what the interrupted run raised is the interruption's
        if interrupted.is_set() and not isinstance(exc, KeyboardInterrupt):
            raise KeyboardInterrupt from exc
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if interrupted.is_set():
        raise KeyboardInterrupt


def heal_lab(lab: Lab) -> None:
    """Every process up and ready, every proxy clean, every upstream admin fault off."""
    lab.reset()
    for s in lab.state.topology.upstreams():
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(lab.state.url(s.name) + "/admin/fault", json={"mode": "ok"},
                       timeout=ADMIN_TIMEOUT_S)


def record_final_state(lab: Lab, history: History, now_s: float) -> None:
    """One `final` op per write key invoked: how many times the portal applied it."""
    url = lab.state.url(lab.state.topology.portals()[0].name)
    r = httpx.get(url + "/admin/applied", timeout=ADMIN_TIMEOUT_S)
    r.raise_for_status()
    applied = applied_by_logical_key(r.json())
    keys = sorted({op.key for op in history if op.type == "invoke" and op.f in WRITE_FS
                   and op.key})
    for key in keys:
        history.append(Op("info", FINAL, "applied", now_s, key=key,
                          value=str(applied.get(key, 0))))


def fold_events(lab: Lab, history: History, t0_wall: float) -> None:
    """Append the replicas' upstream attempts and policy events since `t0_wall`."""
    data = lab.state.run_dir / "data" / "portal"
    for path in sorted(data.glob("portal-*.events.jsonl")):
        for rec in _records(path):
            t = float(rec.get("time_s", 0.0))
            if t >= t0_wall:
                history.append(Op("info", str(rec["process"]), str(rec["f"]), t - t0_wall,
                                  key=str(rec.get("key", "")), value=str(rec.get("value", ""))))


def _records(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):  # a SIGKILL may cut the last line short
            rec = json.loads(line)
            if isinstance(rec, dict) and "process" in rec and "f" in rec:
                out.append(rec)
    return out


def execute(lab: Lab, plan: LivePlan, policies: PolicySet, seed: int,
            load: LoadConfig | None = None) -> History:
    """Play `plan` on `lab`; return the history, sorted by time, with the final state."""
    history = History()
    rng = random.Random(seed)
    t0_wall, t0_mono = time.time(), time.monotonic()

    def clock() -> float:
        return time.monotonic() - t0_mono

    stop = threading.Event()
    errors: list[BaseException] = []

    def wait_until(t: float) -> None:
        while (remaining := t - clock()) > 0:
            if stop.wait(min(remaining, 0.05)):
                raise Stopped

    config = load or LoadConfig(lab.state.portal_urls(), policies)
    driver = LoadDriver(config, history, rng=random.Random(rng.getrandbits(64)), clock=clock)
    arrivals = draw_arrivals(list(plan.phases), plan.shares, rng)
    admin = HttpUpstreamAdmin(timeout_s=ADMIN_TIMEOUT_S)
    with ToxiproxyClient(lab.state.toxiproxy_url, timeout_s=ADMIN_TIMEOUT_S) as proxies:
        injector = Injector(faults_topology(lab.state), history, clock, proxies,
                            supervisor=LabSupervisor(lab), admin=admin)

        def nemesis() -> None:
            try:
                injector.replay(plan.schedule, wait_until)
            except Stopped:
                pass
            except BaseException as exc:  # handed to the main thread below
                errors.append(exc)
                stop.set()

        thread = threading.Thread(target=nemesis, name="nemesis", daemon=True)
        thread.start()
        try:
            run_interruptible(driver.run(arrivals, t0_mono), on_interrupt=driver.stop)
            while thread.is_alive():  # the timeline's healing phase may outlast the arrivals
                thread.join(0.1)
        finally:
            stop.set()
            thread.join()
            admin.close()
    if errors:
        raise errors[0]
    heal_lab(lab)
    fold_events(lab, history, t0_wall)
    record_final_state(lab, history, clock())
    history.ops.sort(key=lambda op: op.time_s)  # stable: each process keeps its order
    return history
