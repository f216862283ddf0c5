"""Everything a portal request needs, built once per replica and injected as a dependency."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import Depends, Request

from mock_services.common.clock import Clock
from mock_services.common.db import Database
from mock_services.common.emulation import Emulator
from mock_services.common.errors import Unavailable
from mock_services.common.metrics import Metrics
from mock_services.common.reasons import Reason
from mock_services.portal.events import EventLog
from mock_services.portal.limits import SharedLimits
from mock_services.portal.settings import PortalSettings
from mock_services.portal.upstream import UpstreamClient
from policies.cache import StaleIfErrorCache
from policies.presets import PolicySet
from policies.shedding import AdmissionController


@dataclass
class PortalContext:
    """One replica's state: settings, database, clock, rng, policies and upstream clients."""

    settings: PortalSettings
    db: Database
    clock: Clock
    rng: random.Random
    policies: PolicySet
    upstreams: dict[str, UpstreamClient]
    metrics: Metrics
    events: EventLog
    cache: StaleIfErrorCache[object] | None
    admission: AdmissionController | None
    limits: SharedLimits  # login, recovery and lookup limits, shared by the replicas
    hashing: anyio.CapacityLimiter
    dummy_hash: str  # verified when an account does not exist: a real hash's cost
    demand: Emulator  # the scenario's service demand, emulated (a pass-through without one)
    # set when a list is accepted into the list queue: wakes the background loops' dispatcher
    lists_waiting: asyncio.Event = field(default_factory=asyncio.Event)

    def reset_policies(self) -> None:
        """Fresh policy state, as at start: breakers closed, budgets, throttles and hedge
        statistics empty, the admission limit at its initial value, login limits full.
        Caches keep their content. The chaos suite calls it between tests, so that no test
        inherits a breaker opened, or a limit cut, by the one before. The limits are shared:
        one replica's reset fills them for every replica."""
        for name, client in self.upstreams.items():
            client.pipeline = self.policies.client_for(name).build(name)
        if self.admission is not None:
            self.admission.reset()
        self.limits.clear()

    def upstream(self, name: str) -> UpstreamClient:
        """The client of upstream `name`; 503 when this replica was started without it."""
        client = self.upstreams.get(name)
        if client is None:
            raise Unavailable(f"the portal has no address for the {name} service",
                              Reason.UPSTREAM_UNAVAILABLE, retry_after_s=30)
        return client


async def _ctx(request: Request) -> PortalContext:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, one thread
    # hop per request, and under a CPU-bound load (scrypt) that hop waited seconds for a core
    ctx: PortalContext = request.app.state.ctx
    return ctx


Ctx = Annotated[PortalContext, Depends(_ctx)]
"""A route parameter: the replica's context."""
