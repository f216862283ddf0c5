"""`create_app(settings)`: one portal replica, wired to its policies and upstream clients."""

from __future__ import annotations

import random
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import anyio
import httpx
from fastapi import FastAPI

from mock_services.common.access import split_admin
from mock_services.common.app import base_app
from mock_services.common.clock import AsyncSleep, Clock, SystemClock
from mock_services.common.emulation import Emulator, install
from mock_services.common.http_faults import FaultInjector, fault_router
from mock_services.common.metrics import Metrics
from mock_services.portal import store
from mock_services.portal.admission import AdmissionMiddleware
from mock_services.portal.context import PortalContext
from mock_services.portal.events import EventLog
from mock_services.portal.limits import SharedLimits
from mock_services.portal.listqueue import ListWorker
from mock_services.portal.payments import PaymentWorker
from mock_services.portal.routes import admin, auth, drafts, lists, prescriptions, records
from mock_services.portal.routes import workshops as workshop_routes
from mock_services.portal.security import hash_password
from mock_services.portal.settings import PortalSettings
from mock_services.portal.upstream import UpstreamClient
from policies.presets import PolicySet
from policies.resolve import resolve_policies
from policies.shedding import AdmissionController

VERSION = "1.0.0"
_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)


def _context(settings: PortalSettings, policy_set: PolicySet, *, clock: Clock,
             rng: random.Random, transports: Mapping[str, httpx.AsyncBaseTransport],
             metrics: Metrics, log_events: bool, sleep: AsyncSleep) -> PortalContext:
    db = store.open_database(settings.data_dir)
    store.seed(db, settings.population(), settings.seed_scrypt_n)
    events = EventLog(settings.data_dir / f"portal-{settings.replica_id}.events.jsonl"
                      if log_events else None)
    upstreams = {
        name: UpstreamClient(
            name,
            httpx.AsyncClient(base_url=url, transport=transports.get(name), limits=_LIMITS),
            policy_set.client_for(name).build(name), clock=clock, rng=rng, metrics=metrics,
            events=events, replica_id=settings.replica_id)
        for name, url in settings.upstreams.items()
    }
    return PortalContext(
        settings=settings, db=db, clock=clock, rng=rng, policies=policy_set,
        upstreams=upstreams, metrics=metrics, events=events,
        cache=policy_set.cache.build() if policy_set.cache else None,
        admission=AdmissionController(policy_set.admission) if policy_set.admission else None,
        limits=SharedLimits(settings.data_dir),
        hashing=anyio.CapacityLimiter(settings.max_concurrent_hashes),
        dummy_hash=hash_password(secrets.token_urlsafe(16), settings.scrypt_n),
        demand=Emulator(f"portal-{settings.replica_id}", settings.demand, sleep,
                        replica=settings.replica_id, now=clock.now))


def create_app(settings: PortalSettings, *, clock: Clock | None = None,
               rng: random.Random | None = None, policy_set: PolicySet | None = None,
               transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
               log_events: bool = True, sleep: AsyncSleep | None = None) -> FastAPI:
    """The portal app; `transports` lets tests route upstream calls in process, `sleep`
    (default: the clock's) is what the emulated service times await."""
    the_clock = clock or SystemClock()
    policies = policy_set or resolve_policies(settings.policies)
    the_rng = rng or random.Random(f"{settings.seed}:{settings.replica_id}")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # `ctx` is the one built below, once the app exists: the lifespan runs after that
        async with anyio.create_task_group() as tg:
            if ctx.policies.payment_queue:
                tg.start_soon(PaymentWorker(ctx).run_forever)
            if ctx.policies.list_queue is not None:
                tg.start_soon(ListWorker(ctx).run_forever)
            yield
            tg.cancel_scope.cancel()
        # The upstream clients and the event log stay open: an in-process test client may
        # run the lifespan more than once, and the process exit closes them anyway.
        ctx.db.close()
        ctx.limits.close()

    app = base_app("portal", VERSION, settings.max_body_bytes,
                   lab_secrets=settings.lab_secrets(), lifespan=lifespan)
    metrics: Metrics = app.state.metrics
    ctx = _context(settings, policies, clock=the_clock, rng=the_rng,
                   transports=transports or {}, metrics=metrics, log_events=log_events,
                   sleep=sleep or the_clock.sleep)
    app.state.ctx = ctx
    install(app, ctx.demand)
    # the admin fault route: a degraded_replica fault sets the emulated demand's speed
    app.state.faults = FaultInjector(the_clock)
    app.include_router(fault_router())
    if ctx.admission is not None:
        app.add_middleware(AdmissionMiddleware, controller=ctx.admission, clock=the_clock,
                           metrics=metrics)
    for module in (auth, records, workshop_routes, lists, prescriptions, drafts, admin):
        app.include_router(module.router)
    return split_admin(app)
