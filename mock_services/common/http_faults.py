"""HTTP-level faults an upstream can be told to produce (those Toxiproxy cannot make).

`POST /admin/fault` (loopback only) sets the mode: "ok"; "unavailable" (503 + Retry-After);
"fail_n" (503 for the next n requests, then ok); "slow" (wait delay_ms, then answer);
"lose_response" (do the work and commit, then wait delay_ms and answer 504 — the caller times
out or sees a gateway error without knowing the write happened: the payment case);
"capacity" (a service of fixed capacity: at most n requests (at least one) are served at a
time, each holding its server for delay_ms, the rest wait in FIFO order; a request whose
caller gave up is still served, as a real server's queue does — the setting of a metastable
failure, Bronson et al., HotOS 2021).

`speed` (0 < speed <= 1, any mode) degrades the service's emulated demand: a portal replica
holds its worker slot for its drawn service time / speed, an upstream answers after its
drawn latency / speed (`mock_services.common.emulation.Emulator.speed`): the live side of the
catalog's `degraded_replica`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common.app import Loopback
from mock_services.common.clock import Clock
from mock_services.common.emulation import EMULATED_HEADER
from mock_services.common.errors import ServiceError, Unavailable
from mock_services.common.reasons import Reason

FaultMode = Literal["ok", "unavailable", "fail_n", "slow", "lose_response", "capacity"]


class FaultConfig(BaseModel):
    """The body of POST /admin/fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: FaultMode = "ok"
    n: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    delay_ms: Annotated[int, Field(ge=0, le=600_000)] = 0
    retry_after_s: Annotated[int, Field(ge=0, le=3600)] = 1
    speed: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 1.0


class ResponseLost(ServiceError):
    """The work was done but the answer is 'lost' (a 504 after the delay)."""

    status = 504


class FaultInjector:
    """The current fault of one upstream process and how many fail_n failures remain."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.config = FaultConfig()
        self.remaining = 0
        self.servers = asyncio.Semaphore(1)

    def set(self, config: FaultConfig) -> None:
        """Replace the fault; fail_n starts counting again, capacity gets fresh servers."""
        self.config = config
        self.remaining = config.n
        self.servers = asyncio.Semaphore(max(1, config.n))  # requests already waiting keep
        # the old servers: a backlog drains at the old capacity, new requests do not join it

    async def before(self) -> None:
        """Called before a request is served: may refuse it or slow it down."""
        c = self.config
        if c.mode == "unavailable":
            raise Unavailable("upstream is unavailable (injected)", Reason.INJECTED,
                              retry_after_s=c.retry_after_s)
        if c.mode == "fail_n" and self.remaining > 0:
            self.remaining -= 1
            raise Unavailable(f"upstream failure (injected, {self.remaining} left)",
                              Reason.INJECTED, retry_after_s=c.retry_after_s)
        if c.mode == "slow" and c.delay_ms > 0:
            await self.clock.sleep(c.delay_ms / 1000)
        if c.mode == "capacity":
            async with self.servers:  # FIFO: asyncio's semaphore wakes waiters in order
                await self.clock.sleep(c.delay_ms / 1000)

    async def after_commit(self) -> None:
        """Called once the work is committed: in lose_response mode the answer never arrives."""
        if self.config.mode == "lose_response":
            await self.clock.sleep(self.config.delay_ms / 1000)
            raise ResponseLost("upstream response lost after commit (injected)")


def faults_of(request: Request) -> FaultInjector:
    """The app's fault injector (a dependency)."""
    injector: FaultInjector = request.app.state.faults
    return injector


async def _before(request: Request, response: Response) -> FaultInjector:
    injector = faults_of(request)
    await injector.before()  # an unavailable upstream refuses at once, without its latency
    emulator = getattr(request.app.state, "demand", None)
    if emulator is not None:
        drawn = await emulator.delay()
        if drawn > 0:  # the caller counts the rest of its wait as its own work
            response.headers[EMULATED_HEADER] = f"{drawn:.6f}"
    return injector


Faults = Annotated[FaultInjector, Depends(_before)]
"""A route parameter: applies the injected fault, then the emulated latency of the scenario's
demand (mock_services.common.emulation), before the route runs; call after_commit later."""


def fault_router() -> APIRouter:
    """POST/GET /admin/fault (loopback only)."""
    router = APIRouter(tags=["admin"])

    @router.post("/admin/fault")
    async def set_fault(body: FaultConfig, request: Request, _: Loopback) -> FaultConfig:
        """Set this service's injected fault (and the speed of its emulated demand)."""
        faults_of(request).set(body)
        emulator = getattr(request.app.state, "demand", None)
        if emulator is not None:
            emulator.speed = body.speed
        return body

    @router.get("/admin/fault")
    async def get_fault(request: Request, _: Loopback) -> FaultConfig:
        """The current injected fault."""
        return faults_of(request).config

    return router
