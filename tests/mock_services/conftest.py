"""Fixtures: the four upstreams and portal replicas in process, on a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mock_services.common.access import admin_app
from mock_services.common.clock import AsyncSleep, Clock, ManualClock
from mock_services.common.http_faults import FaultConfig
from mock_services.common.settings import ServiceSettings
from mock_services.portal.app import create_app as create_portal
from mock_services.portal.context import PortalContext
from mock_services.portal.settings import PortalSettings
from mock_services.seed import Person, Population
from mock_services.upstreams import payment, registry, shahkar, sms
from policies.presets import load_policy_set

SMALL: dict[str, Any] = {"citizens": 12, "employers": 3, "doctors": 2, "pharmacies": 2}
UPSTREAM_MODULES = {"shahkar": shahkar, "registry": registry, "payment": payment, "sms": sms}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Lab:
    """Upstream apps and portal factories sharing one data dir and one manual clock."""

    tmp: Path
    clock: Clock = field(default_factory=ManualClock)
    upstreams: dict[str, FastAPI] = field(default_factory=dict)

    def __post_init__(self) -> None:
        settings = ServiceSettings(data_dir=self.tmp, **SMALL)
        self.population: Population = settings.population()
        for name, module in UPSTREAM_MODULES.items():
            self.upstreams[name] = module.create_app(settings, clock=self.clock)

    def portal(self, policies: str = "baseline", replica: str = "r0",
               overrides: dict[str, Any] | None = None,
               transports: dict[str, httpx.AsyncBaseTransport] | None = None,
               sleep: AsyncSleep | None = None, **settings: Any) -> FastAPI:
        portal_settings = PortalSettings(
            data_dir=self.tmp, replica_id=replica, scrypt_n=2**8, seed_scrypt_n=2**4,
            upstreams={n: f"http://{n}" for n in UPSTREAM_MODULES}, **SMALL, **settings)
        wired: dict[str, httpx.AsyncBaseTransport] = {
            n: httpx.ASGITransport(app=a) for n, a in self.upstreams.items()}
        return create_portal(portal_settings, clock=self.clock,
                             policy_set=load_policy_set(policies, overrides),
                             transports={**wired, **(transports or {})}, log_events=False,
                             sleep=sleep)

    @staticmethod
    def client(app: FastAPI, host: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(host, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://portal")

    @staticmethod
    def admin(app: FastAPI) -> httpx.AsyncClient:
        """A client of `app`'s admin listener, with its admin token."""
        transport = httpx.ASGITransport(app=admin_app(app), client=("127.0.0.1", 50001))
        return httpx.AsyncClient(transport=transport, base_url="http://admin",
                                 headers={"Authorization": f"Bearer {app.state.admin_token}"})

    async def applied(self) -> dict[str, int]:
        """GET /admin/applied on a replica of the shared database (its admin listener)."""
        async with self.admin(self.portal()) as c:
            counts: dict[str, int] = (await c.get("/admin/applied")).json()
            return counts

    def fault(self, name: str, **config: Any) -> None:
        self.upstreams[name].state.faults.set(FaultConfig(**config))

    async def sms_code(self, mobile: str) -> str:
        async with self.admin(self.upstreams["sms"]) as c:
            r = await c.get("/admin/messages", params={"mobile": mobile})
            text: str = r.json()["messages"][0]["text"]
            return text.rsplit(" ", 1)[-1]

    async def login(self, client: httpx.AsyncClient, who: Person) -> dict[str, str]:
        r = await client.post("/auth/login", json={"national_id": who.national_id,
                                                   "password": who.password})
        assert r.status_code == 200, r.text
        body = r.json()
        if body["otp_required"]:
            code = await self.sms_code(who.mobile)
            r = await client.post("/auth/otp", json={"challenge_id": body["challenge_id"],
                                                     "code": code})
            assert r.status_code == 200, r.text
            body = r.json()
        return {"Authorization": f"Bearer {body['token']}"}


def ctx_of(app: FastAPI) -> PortalContext:
    ctx: PortalContext = app.state.ctx
    return ctx


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)


@pytest.fixture
async def baseline(lab: Lab) -> AsyncIterator[httpx.AsyncClient]:
    async with lab.client(lab.portal("baseline")) as client:
        yield client


@pytest.fixture
async def resilient(lab: Lab) -> AsyncIterator[httpx.AsyncClient]:
    async with lab.client(lab.portal("resilient")) as client:
        yield client
