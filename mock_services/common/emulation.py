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
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from mock_services.common.app import Loopback
from mock_services.common.demand import Demand, DemandError, load_demand
from mock_services.common.errors import Unavailable, Unprocessable, error_response
from mock_services.common.metrics import Metrics
from scenario.dists import Sampler, sampler

Sleep = Callable[[float], Awaitable[None]]


# the current request's seconds in upstream calls (a one-item list, set by `Emulator.serve`)
_UPSTREAM_S: ContextVar[list[float] | None] = ContextVar("emulated_upstream_s", default=None)


@contextmanager
def upstream_time(now: Callable[[], float]) -> Iterator[None]:
    """Count the block's time as the current request's upstream calls (not its own work)."""
    started = now()
    try:
        yield
    finally:
        cell = _UPSTREAM_S.get()
        if cell is not None:  # outside an emulated request nobody counts
            cell[0] += now() - started


EMULATED_HEADER = "X-Chaoslab-Emulated-Latency"
"""The response header in which an upstream says how many seconds of its answer were its
emulated latency: the portal counts the rest of the call's time (the HTTP hops through the
proxies, parsing) as its own work, which the service time draw already stands for."""


def hop_overhead(seconds: float) -> None:
    """Count `seconds` of the current upstream call as the portal's own work, not as the
    upstream's latency (the round trip beyond what the upstream reported as emulated)."""
    cell = _UPSTREAM_S.get()
    if cell is not None and seconds > 0:
        cell[0] -= seconds


class QueueFull(Unavailable):
    """The replica's waiting room is full: refused at once (the sim's QUEUE_FULL)."""


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

    async def acquire(self) -> None:
        """Take a slot, waiting in FIFO order; `QueueFull` when the waiting room is full."""
        if self.busy < self.workers and not self._waiters:
            self.busy += 1
            return
        if len(self._waiters) >= self.max_queue:
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

    def __init__(self, name: str, path: Path | None, sleep: Sleep, *,
                 replica: str | None = None, upstream: str | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.name, self.path, self.sleep, self.now = name, path, sleep, now
        self.replica, self.upstream = replica, upstream
        self.speed = 1.0  # a degraded service's speed: its draws are divided by it
        self._plan: _Plan | None = None
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

    def reload(self) -> Demand | None:
        """Re-read the demand file (raises `DemandError` and keeps the old one if it is bad)."""
        self.configure(load_demand(self.path))
        return self.demand

    def configure(self, demand: Demand | None) -> None:
        """Emulate `demand` from now on (None: stop); fresh draws, a fresh pool."""
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

    @asynccontextmanager
    async def serve(self, kind: str) -> AsyncIterator[None]:
        """Hold a worker slot for `kind`'s service time, then for the body of the block.

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
            await pool.acquire()
        service_s = draw(plan.rng) / self.speed
        upstream_s = [0.0]
        waited = _UPSTREAM_S.set(upstream_s)
        started = self.now()
        try:
            yield
        finally:
            # the slot is held for the service time, of which the handler's own work (its
            # elapsed time less its upstream calls' emulated latency: the hops through the
            # proxies are the portal's work too) is a part: the rest is slept. So a request
            # costs max(service time, real work) plus its upstreams' latencies, as the
            # simulator's request costs its service time plus its calls; a handler that
            # does more real work than its draw (an scrypt hash) shows as a longer service.
            own_s = self.now() - started - upstream_s[0]
            _UPSTREAM_S.reset(waited)
            try:
                if service_s > own_s:
                    await self.sleep(service_s - own_s)
            finally:
                if pool is not None:
                    pool.release()

    async def delay(self) -> float:
        """Wait this upstream's latency draw (nothing without a demand naming it); the seconds
        drawn (0.0 without one)."""
        plan = self._plan
        if plan is None or plan.latency is None:
            return 0.0
        drawn = plan.latency(plan.rng) / self.speed
        await self.sleep(drawn)
        return drawn

    def describe(self) -> dict[str, Any]:
        """The state `GET/POST /admin/demand` answer with."""
        plan = self._plan
        if plan is None:
            return {"demand": None, "service": self.name}
        pool = plan.pool
        return {"demand": plan.demand.model_dump(mode="json"), "service": self.name,
                "workers": pool.workers if pool else None,
                "max_queue": pool.max_queue if pool else None,
                "busy": self.busy(), "queue_length": self.queue_length()}


def emulator_of(request: Request) -> Emulator:
    """The app's emulator."""
    emulator: Emulator = request.app.state.demand
    return emulator


def demand_router() -> APIRouter:
    """POST /admin/demand (re-read the file) and GET /admin/demand (loopback only)."""
    router = APIRouter(tags=["admin"])

    @router.post("/admin/demand")
    async def reload_demand(request: Request, _: Loopback) -> dict[str, Any]:
        """Re-read the demand file: its demand from now on, or none when it is gone."""
        emulator = emulator_of(request)
        try:
            emulator.reload()
        except DemandError as exc:
            raise Unprocessable(str(exc)) from None
        return emulator.describe()

    @router.get("/admin/demand")
    async def get_demand(request: Request, _: Loopback) -> dict[str, Any]:
        """The demand in force and the pool's occupancy."""
        return emulator_of(request).describe()

    return router


async def _queue_full(request: Request, exc: Exception) -> JSONResponse:
    # the services' usual 503, marked on the request's state for the admission middleware
    assert isinstance(exc, QueueFull)
    setattr(request.state, QUEUE_FULL_MARK, True)
    return error_response(exc.status, exc.message, exc.retry_after_s)


def install(app: FastAPI, emulator: Emulator) -> None:
    """Give `app` its emulator, the admin routes, the occupancy gauges and the handler of
    `QueueFull` (its 503, marked for `queue_full_refused`)."""
    app.state.demand = emulator
    app.include_router(demand_router())
    app.add_exception_handler(QueueFull, _queue_full)
    metrics: Metrics = app.state.metrics
    metrics.emulated_busy.set_function(lambda: float(emulator.busy()))
    metrics.emulated_queue.set_function(lambda: float(emulator.queue_length()))
