"""One live run on a running lab: the nemesis replays the timeline while the users load it.

The fault schedule plays on its own thread through the injector (Toxiproxy, the supervisor,
the upstreams' admin routes); the workload runs on the asyncio loop of the calling thread.
Whatever ends the run — its end, an error, Ctrl-C — the nemesis is stopped and every fault
healed (`Injector.replay` heals in its `finally`), then the lab is put back to healthy, the
final state of every write is read from the portal (with the paper prescriptions the
pharmacies keep, and their registrations under the keys they were sent with:
`driver.final_counts`), and the portal replicas' event logs (upstream attempts, breaker
transitions) are folded into the history. The driver is told the run's speed: the
pharmacies' reconcile waits are scenario times, compressed as the calendar is.

Before the run's clock starts, the driver warms up (`LoadDriver.warm_up`, unrecorded): it logs
in the people whose arrivals need a session, as browsers keep theirs, and has the doctors
write each pharmacy the prescriptions its dispense arrivals will dispense; then every drawn
arrival plays exactly one operation of its kind, as in the simulator (one that cannot be
played is recorded as failed, naming why).

The population: the compressed scenario's `workload.population` (the scenario's distinct
accounts divided by the speed, as one live request stands for `speed` scenario requests: each
account then makes as many requests as in the scenario, and the stale and verification caches
hit as often) is how many people use the portal live, up to the lab's demo population
(`mock_services.seed`: 300 citizens, 30 employers, 10 doctors, 10 pharmacies). Above that the
live run has fewer accounts than the simulator and its caches hit more often; the report
records the population used (`workload.population`). The warm-up's logins leave their mobiles
verified, as the simulator's returning users are (sim/policystate.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from chaoslab.live.cpu import CpuMeter
from chaoslab.live.plan import LivePlan
from faults.admin import HttpUpstreamAdmin
from faults.catalog import RefreshStorm
from faults.client import ToxiproxyClient
from faults.injector import Injector
from mock_services.lab.access import AdminAccess
from mock_services.lab.breakdowns import LabBreakdowns
from mock_services.lab.clients.driver import (
    DriverConfig,
    LoadDriver,
    Storm,
    WarmUp,
    final_counts,
    wait_for_lists,
)
from mock_services.lab.clients.portal_api import applied_by_logical_key
from mock_services.lab.clients.profile import Arrival
from mock_services.lab.clients.user import Behaviour
from mock_services.lab.demand import (
    apply_demand,
    clear_demand,
    demand_from_scenario,
    served_demand,
)
from mock_services.lab.faultsview import faults_topology
from mock_services.lab.operations import LabSupervisor
from mock_services.lab.supervisor import Lab
from policies.presets import PolicySet
from policies.quota import reconcile_until_s
from scenario.dists import upper_bound_s
from scenario.history import FINAL, History, Op
from scenario.report_model import ServedDemand
from sim.model import DRAIN_S

ADMIN_TIMEOUT_S = 10.0
# How long users still in flight may finish after the last arrival: their patience bounds
# every operation (the user policy stops at it), so the drain waits that long at most, plus
# this margin; the simulator drains every operation to its end the same way.
DRAIN_MARGIN_S = 5.0
# The simulator's arrivals are an open loop with no bound on users in flight: the live driver's
# bound (arrivals beyond it recorded as shed by the client) sits far above what a scenario's
# rates hold in flight even when every request waits out 3 x 30 s upstream timeouts (baseline
# under a slow Shahkar held ~200), so it never decides an outcome the simulator does not.
MAX_IN_FLIGHT = 2000  # below the common 4096-descriptor limit, with the proxy's and portal's own


@dataclass(frozen=True, slots=True)
class LiveRun:
    """One live run: its history, the arrivals played per kind, and the warm-up."""

    history: History
    played: dict[str, int]
    warm_up: WarmUp
    population: int  # distinct people the run's users are drawn from
    # what the portal replicas served of the scenario's demand, per kind (`served_demand`)
    served: dict[str, ServedDemand] = field(default_factory=dict)


def live_population(plan: LivePlan) -> int:
    """The people of each kind who use the portal: the compressed scenario's population, or
    all of the lab's demo population when that is smaller (see the module's docstring)."""
    return plan.compressed.workload.population


class Progress(Protocol):
    """What the live view (`chaoslab.liveview.LiveWatch`) is told of a run: its phases, and
    the histories the nemesis and the users append to while the run proper lasts."""

    def phase(self, text: str) -> None:
        """A phase of the run begins."""

    def watching(self, histories: Sequence[History], clock: Callable[[], float]
                 ) -> AbstractContextManager[None]:
        """Watch `histories` (on the run's `clock`) until the block ends."""


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


def heal_lab(lab: Lab, http: httpx.Client | None = None) -> None:
    """Every process up and ready, every proxy clean, every upstream admin fault off (the
    admin requests through `http` when given)."""
    lab.reset()
    heal_upstreams(lab.admin().using(http), [s.name for s in lab.state.topology.upstreams()])


def heal_upstreams(admin: AdminAccess, upstreams: Sequence[str]) -> None:
    """Every upstream's admin fault off; one that does not answer is skipped (the lab's
    reset restarted it, faultless)."""
    for name in upstreams:
        with contextlib.suppress(httpx.HTTPError):
            admin.post(name, "/admin/fault", json={"mode": "ok"}, timeout_s=ADMIN_TIMEOUT_S)


def record_final_state(lab: Lab, history: History, now_s: float,
                       http: httpx.Client | None = None,
                       wire_keys: Mapping[str, str] | None = None) -> None:
    """One `final` op per write key invoked: how many times it is applied (the portal's
    count, plus the paper the pharmacies keep: `driver.final_counts`)."""
    append_final_state(lab.admin().using(http), lab.state.topology.portals()[0].name,
                       history, now_s, wire_keys)


def append_final_state(admin: AdminAccess, portal: str, history: History,
                       now_s: float, wire_keys: Mapping[str, str] | None = None) -> None:
    """`record_final_state` with the portal's admin access: one `GET /admin/applied`;
    `wire_keys` maps a history key to the key its write was sent under (the driver's
    `PaperBook.wire_keys`), when they differ."""
    r = admin.get(portal, "/admin/applied", timeout_s=ADMIN_TIMEOUT_S)
    r.raise_for_status()
    counts = final_counts(history, applied_by_logical_key(r.json()), wire_keys)
    for key, n in counts.items():
        history.append(Op("info", FINAL, "applied", now_s, key=key, value=str(n)))


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


def driver_config(lab: Lab, plan: LivePlan, policies: PolicySet) -> DriverConfig:
    """The load driver of `plan` on `lab`: the scenario's users (patience, refreshes), its
    refresh storms, and the SMS gateway the doctors read their codes from."""
    storms = tuple(Storm(w.start_s, w.end_s, w.fault.max_retries, w.fault.retry_delay_s)
                   for w in plan.schedule.windows if isinstance(w.fault, RefreshStorm))
    sms = next((s.name for s in lab.state.topology.services if s.kind == "sms"), None)
    access = lab.admin()  # the admin listeners, their token and the client-address key
    admin = access.urls([s.name for s in lab.state.topology.portals()])
    return DriverConfig(lab.state.portal_urls(), policies,
                        sms_url=access.url(sms) if sms is not None else None,
                        admin_token=access.token, client_key=access.secrets.client_key,
                        behaviour=Behaviour.of_workload(plan.compressed.workload),
                        active_users=live_population(plan), storms=storms,
                        drain_s=upper_bound_s(plan.compressed.workload.patience)
                        + DRAIN_MARGIN_S,
                        reconcile_until_s=reconcile_until_s(
                            plan.compressed.duration, plan.compressed.time_scale, DRAIN_S),
                        max_in_flight=MAX_IN_FLIGHT,
                        admin_urls=admin, speed=plan.speed, start=plan.scenario.start)


def execute(lab: Lab, plan: LivePlan, policies: PolicySet, seed: int,
            load: DriverConfig | None = None) -> History:
    """Play `plan` on `lab`; return the history, sorted by time, with the final state."""
    return play(lab, plan, policies, seed, load).history


def play(lab: Lab, plan: LivePlan, policies: PolicySet, seed: int,
         load: DriverConfig | None = None, *, meter: CpuMeter | None = None,
         progress: Progress | None = None) -> LiveRun:
    """Play `plan` on `lab` after the driver's warm-up: the history (sorted by time, with the
    final state), the arrivals played per kind, the warm-up and the population used. `meter`
    measures the lab's CPU over the run proper (not the warm-up); `progress` (the live
    view) is told the phases and watches the histories while the run proper lasts."""
    history = History()
    rng = random.Random(seed)
    t0_mono = time.monotonic()

    def clock() -> float:
        return time.monotonic() - t0_mono

    stop = threading.Event()

    def wait_until(t: float) -> None:
        while (remaining := t - clock()) > 0:
            if stop.wait(min(remaining, 0.05)):
                raise Stopped

    config = load or driver_config(lab, plan, policies)
    driver = LoadDriver(config, rng=random.Random(rng.getrandbits(64)), clock=clock,
                        sleep=asyncio.sleep, t0=0.0)
    arrivals = [Arrival(a.time_s, a.kind, n, a.source) for n, a in enumerate(plan.arrivals, 1)]
    warm = WarmUp()

    async def warm_up() -> None:
        nonlocal warm
        warm = await driver.warm_up(arrivals)

    if progress is not None:
        progress.phase("warming up: logging in the users and writing the prescriptions the "
                       "run will dispense (not recorded)")
    run_interruptible(warm_up(), on_interrupt=driver.stop)  # before the run's clock starts
    # the scenario's service demand (workers, waiting room, service times, upstream
    # latencies, drawn from the seed), from the run's first request until it heals
    apply_demand(lab, demand_from_scenario(plan.compressed, seed))
    try:
        with meter or contextlib.nullcontext():
            t0_wall, t0_mono = time.time(), time.monotonic()  # the run's time 0 (`clock`)
            live = _run(lab, plan, driver, arrivals, history=history, clock=clock,
                        wait_until=wait_until, stop=stop, t0_wall=t0_wall, warm=warm,
                        progress=progress)
        return dataclasses.replace(live, served=served_demand(lab))
    finally:
        clear_demand(lab)


def _run(lab: Lab, plan: LivePlan, driver: LoadDriver, arrivals: list[Arrival], *,
         history: History, clock: Callable[[], float], wait_until: Callable[[float], None],
         stop: threading.Event, t0_wall: float, warm: WarmUp,
         progress: Progress | None = None) -> LiveRun:
    """The run proper, once warmed up, with the scenario's demand in force."""
    errors: list[BaseException] = []

    async def load_run() -> None:
        await driver.run(arrivals, start_s=0.0)
    admin = HttpUpstreamAdmin(timeout_s=ADMIN_TIMEOUT_S, token=lab.admin().token)
    with ToxiproxyClient(lab.state.toxiproxy_url, timeout_s=ADMIN_TIMEOUT_S) as proxies:
        injector = Injector(faults_topology(lab.state), history, clock, proxies,
                            supervisor=LabSupervisor(lab), admin=admin,
                            breakdowns=LabBreakdowns(lab))

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
        watch = (progress.watching([history, driver.history], clock) if progress is not None
                 else contextlib.nullcontext())
        try:
            with watch:  # ends before the users' ops join the history: none counted twice
                run_interruptible(load_run(), on_interrupt=driver.stop)
                while thread.is_alive():  # the timeline's healing phase may outlast arrivals
                    thread.join(0.1)
        finally:
            history.ops.extend(driver.history.ops)
            stop.set()
            thread.join()
            admin.close()
    if errors:
        raise errors[0]
    with httpx.Client() as http:  # one pool for the run's last admin requests
        heal_lab(lab, http)
        access = lab.admin()  # lists answered 202 are processed before the final read
        asyncio.run(wait_for_lists(access.url(lab.state.topology.portals()[0].name),
                                   access.token, DRAIN_S))
        fold_events(lab, history, t0_wall)
        record_final_state(lab, history, clock(), http, driver.paper.wire_keys)
    history.ops.sort(key=lambda op: op.time_s)  # stable: each process keeps its order
    return LiveRun(history, dict(sorted(driver.played.items())), warm,
                   len(driver.shared.population.people()))
