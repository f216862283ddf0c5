"""Service demand emulated on top of a service's real work: worker slots, service times, latency.

A portal replica with a demand serves each request of a known kind as the simulator's
`sim/portal.py` does: refused at once (503, the sim's QUEUE_FULL) when its waiting room is
full, else it waits in FIFO order for one of `workers` slots, holds the slot for a service time
drawn from its kind's distribution, the real handler's own work counted in it (the handler
runs with the slot held, and the slot is then held for what is left of the draw: an awaited
sleep, no CPU burnt), plus the handler's upstream calls. An upstream with a demand answers
after a delay drawn from its latency distribution. Draws come from one `random.Random` per
service, seeded from the run's seed and the service's name, and are multiplied by the
demand's `time_factor` and divided by the service's `speed` (1 unless a `degraded_replica`
fault set it through `POST /admin/fault`). With no demand every request passes straight
through.

`POST /admin/demand` (loopback only) re-reads the demand file; requests already holding or
awaiting a slot finish on the pool they started in, new ones use the new one.

A `replica_failure` that pauses the replica (work "resume" or "restart", faults/catalog.py)
SIGSTOPs its process, but a stopped process's clock runs on: at SIGCONT every emulated hold
whose deadline passed meanwhile would end at once, as if the service had gone on working
while stopped. So the lab supervisor calls `POST /admin/breakdown {"work": ...}` just before
the SIGSTOP and `DELETE /admin/breakdown` just after the SIGCONT: in between, the emulated
service clock stands still (no hold ends, none progresses), and at the repair each request in
service goes on where it stopped ("resume", preemptive resume) or starts its drawn service
time again from the repair ("restart", preemptive repeat: the same draw), as in the
simulator (`sim/portal.py`). Only the emulated part restarts: the handler's real work already
done (its SQLite reads, its upstream calls) is not redone.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from mock_services.common.app import Loopback
from mock_services.common.clock import AsyncSleep, Now
from mock_services.common.demand import Demand, DemandError, load_demand
from mock_services.common.errors import Unavailable, Unprocessable, error_response
from mock_services.common.metrics import Metrics
from mock_services.common.reasons import Reason
from scenario.dists import Sampler, sampler
from scenario.report_model import ServedDemand


class _Account:
    """One request in service: what of its time counts as its own work toward its draw.

    Its own work is the time since `since` on the emulator's service clock (wall time less
    the time the replica stood broken down) less its upstream calls. A "restart" repair
    moves `since` to the repair and forgets the upstream seconds: the work starts again.
    """

    __slots__ = ("block", "emulator", "mark", "paused_then", "since", "upstream_s")

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.upstream_s = 0.0
        self.since = self.paused_then = 0.0
        # the upstream call under way: its start and the paused total then
        self.block: tuple[float, float] | None = None
        self.mark = 0.0  # the paused total when the call began or its last hop was counted
        self.restart()

    def restart(self) -> None:
        """Count the request's own work from now on, nothing before."""
        self.since = self.emulator.now()
        self.paused_then = self.mark = self.emulator.paused_s()
        self.upstream_s = 0.0

    def counted(self, started: float, paused_then: float) -> float:
        """Seconds since `started` (the paused total then: `paused_then`) that count: after
        `since`, and not broken down."""
        if started < self.since:  # a restart forgot what came before it
            started, paused_then = self.since, self.paused_then
        return self.emulator.now() - started - (self.emulator.paused_s() - paused_then)

    def own_s(self) -> float:
        """The request's own work so far, in seconds of service."""
        return self.counted(self.since, self.paused_then) - self.upstream_s


# the current request's account (set by `Emulator.serve`)
_ACCOUNT: ContextVar[_Account | None] = ContextVar("emulated_account", default=None)


@contextmanager
def upstream_time(now: Now) -> Iterator[None]:
    """Count the block's time as the current request's upstream calls (not its own work);
    time the replica stood broken down meanwhile counts as neither. (`now` is the caller's
    clock; inside an emulated request the emulator's, the same clock in the portal.)"""
    account = _ACCOUNT.get()
    if account is None:  # outside an emulated request nobody counts
        yield
        return
    account.block = (account.emulator.now(), account.emulator.paused_s())
    account.mark = account.block[1]
    try:
        yield
    finally:
        account.upstream_s += account.counted(*account.block)
        account.block = None


EMULATED_HEADER = "X-Chaoslab-Emulated-Latency"
"""The response header in which an upstream says how many seconds of its answer were its
emulated latency: the portal counts the rest of the call's time (the HTTP hops through the
proxies, parsing) as its own work, which the service time draw already stands for."""


HOP_WORK_MAX_S = 0.05
"""The most of one upstream round trip beyond the upstream's emulated latency that counts as
the portal's own work: the hops through the proxies and the parsing take milliseconds (tens
on a loaded machine); more is the network's delay (a latency toxic, a slowed upstream), which
the worker waits out as the simulator's does an upstream call's, not work toward its draw."""


def hop_overhead(seconds: float) -> None:
    """Count `seconds` of the current upstream call, at most `HOP_WORK_MAX_S`, as the portal's
    own work, not as the upstream's latency (the round trip beyond what the upstream reported
    as emulated)."""
    account = _ACCOUNT.get()
    if account is None or account.block is None:
        return
    # The round trip includes any time the replica stood broken down meanwhile: that is
    # nobody's work (an error of at most one hop when it fell between two attempts), and
    # after a restart only the call's time since the repair can count.
    paused = account.emulator.paused_s()
    seconds = min(seconds - (paused - account.mark), account.counted(*account.block),
                  HOP_WORK_MAX_S)
    account.mark = paused
    if seconds > 0:
        account.upstream_s -= seconds


class QueueFull(Unavailable):
    """The replica's waiting room is full: refused at once (the sim's QUEUE_FULL)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Reason.QUEUE_FULL)  # no Retry-After, as the sim's


QUEUE_FULL_MARK = "emulated_queue_full"
"""The key of the request's ASGI `state` the 503 of a `QueueFull` sets: the admission
middleware, which sees only the status, learns from it that this 503 was the replica's own
queue, not an upstream's failure (the sim releases QUEUE_FULL as a failed sample)."""


def queue_full_refused(scope: MutableMapping[str, Any]) -> bool:
    """Whether the request of `scope` was refused by a full waiting room (`QueueFull`)."""
    state = scope.get("state")
    return isinstance(state, dict) and bool(state.get(QUEUE_FULL_MARK))


class WorkerPool:
    """`workers` slots granted in FIFO order, with a waiting room of at most `max_queue`.

    A request finds a slot at once only when one is free and nobody waits; otherwise it waits
    if the waiting room has space, and `acquire` raises `QueueFull` if not (with
    `max_queue` 0 a request is refused exactly when no slot is free). A released slot passes
    straight to the oldest waiter.
    """

    def __init__(self, workers: int, max_queue: int) -> None:
        if workers < 1 or max_queue < 0:
            raise ValueError(f"a pool of at least 1 worker and a queue of at least 0, got "
                             f"{workers} and {max_queue}")
        self.workers, self.max_queue = workers, max_queue
        self.busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queue_length(self) -> int:
        """Requests waiting for a slot."""
        return len(self._waiters)

    async def acquire(self, *, bounded: bool = True) -> None:
        """Take a slot, waiting in FIFO order; `QueueFull` when the waiting room is full
        (`bounded`: a request; the portal's own background work waits whatever the room)."""
        if self.busy < self.workers and not self._waiters:
            self.busy += 1
            return
        if bounded and len(self._waiters) >= self.max_queue:
            # no Retry-After: the sim's QUEUE_FULL carries none either
            raise QueueFull(f"the portal's queue is full ({self.max_queue} waiting for "
                            f"{self.workers} workers); retry shortly")
        grant: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(grant)
        try:
            await grant
        except asyncio.CancelledError:
            if grant.done() and not grant.cancelled():
                self.release()  # granted as the caller gave up: pass the slot on
            elif grant in self._waiters:
                self._waiters.remove(grant)
            raise

    def release(self) -> None:
        """Give a slot back: to the oldest waiter still waiting, else to the pool."""
        while self._waiters:
            grant = self._waiters.popleft()
            if not grant.done():
                grant.set_result(None)  # the slot changes hands: `busy` stays
                return
        self.busy -= 1


@dataclass(frozen=True)
class _Plan:
    """One loaded demand as this service uses it: its samplers, rng and pool."""

    demand: Demand
    rng: random.Random
    kinds: dict[str, Sampler]
    latency: Sampler | None
    pool: WorkerPool | None


class Emulator:
    """One service's emulated demand: `serve(kind)` for portal routes, `delay()` upstreams.

    `name` seeds the draws (`random.Random(f"{seed}:{name}")`); `upstream` names this
    service's entry in `Demand.upstreams`, `replica` its entry in `Demand.replicas`.
    """

    def __init__(self, name: str, path: Path | None, sleep: AsyncSleep, *,
                 replica: str | None = None, upstream: str | None = None,
                 now: Now = time.monotonic) -> None:
        self.name, self.path, self.sleep, self.now = name, path, sleep, now
        self.replica, self.upstream = replica, upstream
        self.speed = 1.0  # a degraded service's speed: its draws are divided by it
        self._plan: _Plan | None = None
        self._paused_total = 0.0  # seconds broken down before the current breakdown
        self._paused_at: float | None = None  # when the current breakdown began
        self._work = ""  # the current breakdown's rule for work in service
        self._repaired = asyncio.Event()
        self._breakdowns = 0
        self._serving: set[_Account] = set()
        # kind -> [requests, drawn seconds, seconds the slot was held] since the demand was
        # configured: what the replica served of the demand (`ServedDemand`)
        self._served: dict[str, list[float]] = {}
        self.reload()

    @property
    def demand(self) -> Demand | None:
        """The demand in force (None: no emulation)."""
        return self._plan.demand if self._plan else None

    @property
    def pool(self) -> WorkerPool | None:
        """The worker pool new requests use (None without a demand for this replica)."""
        return self._plan.pool if self._plan else None

    def busy(self) -> int:
        """Slots held now (0 without a pool)."""
        pool = self.pool
        return pool.busy if pool else 0

    def queue_length(self) -> int:
        """Requests waiting for a slot now (0 without a pool)."""
        pool = self.pool
        return pool.queue_length if pool else 0

    @property
    def broken_down(self) -> str:
        """The current breakdown's work rule ("resume" or "restart"), "" when serving."""
        return self._work if self._paused_at is not None else ""

    def paused_s(self) -> float:
        """Seconds this service has stood broken down so far (its service clock is wall
        time less these)."""
        current = self.now() - self._paused_at if self._paused_at is not None else 0.0
        return self._paused_total + current

    def break_down(self, work: str) -> None:
        """The replica is about to stop: hold its emulated service clock still until
        `repair` (`work`, "resume" or "restart", says what the repair does to the requests
        in service). A second call while broken down only updates `work`."""
        if work not in ("resume", "restart"):
            raise ValueError(f"work {work!r}; expected 'resume' or 'restart'")
        self._work = work
        if self._paused_at is None:
            self._paused_at = self.now()
            self._breakdowns += 1
            self._repaired = asyncio.Event()

    def repair(self) -> bool:
        """The replica runs again: its service clock goes on, and after a "restart"
        breakdown every request in service starts its service time again from now. False
        when it was not broken down."""
        if self._paused_at is None:
            return False
        self._paused_total += self.now() - self._paused_at
        self._paused_at = None
        if self._work == "restart":
            for account in self._serving:
                account.restart()
        self._repaired.set()
        return True

    def reload(self) -> Demand | None:
        """Re-read the demand file (raises `DemandError` and keeps the old one if it is bad)."""
        self.configure(load_demand(self.path))
        return self.demand

    def configure(self, demand: Demand | None) -> None:
        """Emulate `demand` from now on (None: stop); fresh draws, a fresh pool."""
        self._served = {}
        if demand is None:
            self._plan = None
            return
        scale = demand.time_factor
        shape = demand.replicas.get(self.replica) if self.replica is not None else None
        latency = demand.upstreams.get(self.upstream) if self.upstream is not None else None
        self._plan = _Plan(
            demand, random.Random(f"{demand.seed}:{self.name}"),
            {kind: sampler(dist, scale) for kind, dist in demand.kinds.items()},
            sampler(latency, scale) if latency is not None else None,
            WorkerPool(shape.workers, shape.max_queue) if shape is not None else None)

    def draw(self, kind: str) -> float | None:
        """A service time of `kind` at full speed, for work split in two (`serve`'s
        `service_s`): None when the demand does not name it."""
        plan = self._plan
        draw = plan.kinds.get(kind) if plan is not None else None
        return None if plan is None or draw is None else draw(plan.rng)

    @property
    def list_accept_share(self) -> float:
        """The share of a list's service time before its 202 (`Demand.list_accept_share`)."""
        plan = self._plan
        return plan.demand.list_accept_share if plan is not None else 1.0

    @asynccontextmanager
    async def serve(self, kind: str, *, service_s: float | None = None,
                    bounded: bool = True) -> AsyncIterator[None]:
        """Hold a worker slot for `kind`'s service time (drawn, or `service_s` from an
        earlier `draw`), then for the body of the block. `bounded` False: the portal's own
        background work, which waits for a slot whatever the waiting room holds.

        A kind the demand does not name, or no demand, passes through; a replica the demand
        has no entry for takes the service time without a slot bound.
        """
        plan = self._plan
        draw = plan.kinds.get(kind) if plan is not None else None
        if plan is None or draw is None:
            yield
            return
        pool = plan.pool
        if pool is not None:
            await pool.acquire(bounded=bounded)
        service_s = (draw(plan.rng) if service_s is None else service_s) / self.speed
        account = _Account(self)
        self._serving.add(account)
        waited = _ACCOUNT.set(account)
        try:
            yield
        finally:
            # the slot is held for the service time, of which the handler's own work (its
            # elapsed time less its upstream calls' emulated latency: the hops through the
            # proxies are the portal's work too) is a part: the rest is slept. So a request
            # costs max(service time, real work) plus its upstreams' latencies, as the
            # simulator's request costs its service time plus its calls; a handler that
            # does more real work than its draw (an scrypt hash) shows as a longer service.
            _ACCOUNT.reset(waited)
            served = self._served.setdefault(kind, [0, 0.0, 0.0])
            served[0] += 1
            served[1] += service_s
            served[2] += max(service_s, account.own_s())  # before any breakdown in `_hold`
            try:
                await self._hold(account, service_s)
            finally:
                self._serving.discard(account)
                if pool is not None:
                    pool.release()

    async def _hold(self, account: _Account, service_s: float) -> None:
        """Sleep what is left of `service_s` after the request's own work; a breakdown
        meanwhile is waited out, then what is left is worked out again (`_Account`)."""
        while True:
            if self._paused_at is not None:
                await self._repaired.wait()
            left = service_s - account.own_s()
            if left <= 0:
                return
            seen = self._breakdowns
            await self.sleep(left)
            if self._breakdowns == seen and self._paused_at is None:
                return  # no breakdown began while it slept: the draw is served

    async def delay(self) -> float:
        """Wait this upstream's latency draw (nothing without a demand naming it); the seconds
        drawn (0.0 without one)."""
        plan = self._plan
        if plan is None or plan.latency is None:
            return 0.0
        drawn = plan.latency(plan.rng) / self.speed
        await self.sleep(drawn)
        return drawn

    def describe(self) -> EmulatorState:
        """The state the admin routes answer with; without a demand, only `demand` (null),
        `service` and `broken_down` are set (the routes send the fields set, no others)."""
        plan = self._plan
        if plan is None:
            return EmulatorState.model_validate({
                "demand": None, "service": self.name, "broken_down": self.broken_down or None})
        pool = plan.pool
        # the demand as its JSON, validated again: every field of it counts as set
        return EmulatorState.model_validate({
            "demand": plan.demand.model_dump(mode="json"), "service": self.name,
            "workers": pool.workers if pool else None,
            "max_queue": pool.max_queue if pool else None,
            "busy": self.busy(), "queue_length": self.queue_length(),
            "served": {kind: {"requests": int(n), "drawn_s": drawn, "held_s": held}
                       for kind, (n, drawn, held) in sorted(self._served.items())},
            "broken_down": self.broken_down or None})


def emulator_of(request: Request) -> Emulator:
    """The app's emulator."""
    emulator: Emulator = request.app.state.demand
    return emulator


class EmulatorState(BaseModel):
    """What `GET`/`POST /admin/demand` and `POST`/`DELETE /admin/breakdown` answer: the
    demand in force and the occupancy of the service's emulated pool.

    With no demand the answer has `demand` (null), `service` and `broken_down` only: the
    routes leave out the fields `Emulator.describe` did not set.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    demand: Demand | None
    """The demand file in force (`mock_services.common.demand`), null when there is none."""
    service: str
    """The service's name ("portal-a", "shahkar")."""
    workers: int | None = None
    """The replica's worker slots; null for a service without a pool (an upstream)."""
    max_queue: int | None = None
    """The replica's waiting room; null for a service without a pool."""
    busy: int | None = None
    """Worker slots held now."""
    queue_length: int | None = None
    """Requests waiting for a slot now."""
    served: dict[str, ServedDemand] | None = None
    """Per request kind, what the service emulated of the demand since it was configured."""
    broken_down: Literal["resume", "restart"] | None
    """The repair's work while the replica is stopped (`POST /admin/breakdown`); else null."""


class BreakdownBody(BaseModel):
    """POST /admin/breakdown: the replica is about to be stopped (SIGSTOP); what its repair
    does to the work in service."""

    model_config = ConfigDict(extra="forbid")
    work: Literal["resume", "restart"]


def demand_router() -> APIRouter:
    """POST /admin/demand (re-read the file), GET /admin/demand, and POST/DELETE
    /admin/breakdown (the emulated service clock stands still, then goes on) — admin only."""
    router = APIRouter(tags=["admin"])

    @router.post("/admin/breakdown", response_model_exclude_unset=True)
    async def break_down(body: BreakdownBody, request: Request, _: Loopback) -> EmulatorState:
        """Hold the emulated service clock still: the supervisor stops the process next."""
        emulator = emulator_of(request)
        emulator.break_down(body.work)
        return emulator.describe()

    @router.delete("/admin/breakdown", response_model_exclude_unset=True)
    async def repair(request: Request, _: Loopback) -> EmulatorState:
        """The process was continued: the service clock goes on, and the work in service
        resumes or restarts (a no-op when not broken down)."""
        emulator = emulator_of(request)
        emulator.repair()
        return emulator.describe()

    @router.post("/admin/demand", response_model_exclude_unset=True)
    async def reload_demand(request: Request, _: Loopback) -> EmulatorState:
        """Re-read the demand file: its demand from now on, or none when it is gone."""
        emulator = emulator_of(request)
        try:
            emulator.reload()
        except DemandError as exc:
            raise Unprocessable(str(exc)) from None
        return emulator.describe()

    @router.get("/admin/demand", response_model_exclude_unset=True)
    async def get_demand(request: Request, _: Loopback) -> EmulatorState:
        """The demand in force and the pool's occupancy."""
        return emulator_of(request).describe()

    return router


async def _queue_full(request: Request, exc: Exception) -> JSONResponse:
    # the services' usual 503, marked on the request's state for the admission middleware
    assert isinstance(exc, QueueFull)
    setattr(request.state, QUEUE_FULL_MARK, True)
    return error_response(exc.status, exc.message, exc.retry_after_s, reason=exc.reason)


def install(app: FastAPI, emulator: Emulator) -> None:
    """Give `app` its emulator, the admin routes, the occupancy gauges and the handler of
    `QueueFull` (its 503, marked for `queue_full_refused`)."""
    app.state.demand = emulator
    app.include_router(demand_router())
    app.add_exception_handler(QueueFull, _queue_full)
    metrics: Metrics = app.state.metrics
    metrics.emulated_busy.set_function(lambda: float(emulator.busy()))
    metrics.emulated_queue.set_function(lambda: float(emulator.queue_length()))
