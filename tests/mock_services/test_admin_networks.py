"""The admin routes' guard: loopback only by default, plus the networks a setting names.

The compose lab sets `CHAOSLAB_ADMIN_NETWORKS` to its own network so the chaos suite's
container can reach the admin routes; everywhere else the default (loopback only) holds.
Requests come in through httpx's ASGITransport with an explicit client address.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from mock_services.common.settings import ServiceSettings
from mock_services.portal.app import create_app as create_portal
from mock_services.portal.settings import PortalSettings
from mock_services.upstreams import shahkar
from policies.presets import load_policy_set

SMALL = {"citizens": 4, "employers": 1, "doctors": 1, "pharmacies": 1}
COMPOSE_NET = "172.30.209.0/24"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def upstream(tmp_path: Path, **settings: object) -> FastAPI:
    return shahkar.create_app(ServiceSettings(data_dir=tmp_path, **SMALL, **settings))


async def post_fault(app: FastAPI, client_host: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.post("/admin/fault", json={"mode": "ok"})


@pytest.mark.anyio
async def test_default_admits_loopback_and_refuses_every_other_address(tmp_path: Path) -> None:
    app = upstream(tmp_path)
    assert (await post_fault(app, "127.0.0.1")).status_code == 200
    assert (await post_fault(app, "::1")).status_code == 200
    refused = await post_fault(app, "172.30.209.7")
    assert refused.status_code == 403
    assert "not 172.30.209.7" in refused.text


@pytest.mark.anyio
async def test_a_configured_network_is_admitted_and_only_that_one(tmp_path: Path) -> None:
    app = upstream(tmp_path, admin_networks=[COMPOSE_NET])
    assert (await post_fault(app, "172.30.209.7")).status_code == 200
    assert (await post_fault(app, "127.0.0.1")).status_code == 200
    refused = await post_fault(app, "172.30.210.7")  # the next /24: outside
    assert refused.status_code == 403
    assert COMPOSE_NET in refused.text
    assert (await post_fault(app, "not-an-address")).status_code == 403


@pytest.mark.anyio
async def test_the_environment_sets_it_as_the_compose_file_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSLAB_ADMIN_NETWORKS", f'["{COMPOSE_NET}"]')
    settings = PortalSettings(data_dir=tmp_path, scrypt_n=2**8, seed_scrypt_n=2**4,
                              upstreams={"shahkar": "http://shahkar"}, **SMALL)
    app = create_portal(settings, policy_set=load_policy_set("baseline"), log_events=False)
    transport = httpx.ASGITransport(app=app, client=("172.30.209.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
        assert (await client.post("/admin/ready", json={"ready": True})).status_code == 200
    outsider = httpx.ASGITransport(app=app, client=("10.0.0.9", 40000))
    async with httpx.AsyncClient(transport=outsider, base_url="http://portal") as client:
        assert (await client.post("/admin/ready", json={"ready": False})).status_code == 403


def test_a_malformed_network_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="admin_networks"):
        ServiceSettings(data_dir=tmp_path, admin_networks=["172.30.209.7/24"])  # host bits
