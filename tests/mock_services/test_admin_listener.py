"""Admin routes live on a separate app (the admin listener) and need the lab's admin token.

Issue #21, item 2: the admin routes answered on the client-facing app to anyone on loopback,
and Toxiproxy connects from loopback, so every client reached them through its proxy. Each
service now answers 404 to every admin path and /metrics on its client listener (the token
makes no difference there), and its admin listener answers only with `Authorization: Bearer
<admin_token>` (401 otherwise, from any address).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from mock_services.common.access import admin_app, new_secrets, write_secrets
from mock_services.common.settings import ServiceSettings
from tests.mock_services.conftest import SMALL, UPSTREAM_MODULES, Lab

ADMIN_ROUTES = {"portal": ("GET", "/admin/applied"), "shahkar": ("GET", "/admin/fault"),
                "registry": ("GET", "/admin/fault"), "payment": ("GET", "/admin/payments"),
                "sms": ("GET", "/admin/messages?mobile=09120000000")}


def _apps(lab: Lab) -> dict[str, FastAPI]:
    return {"portal": lab.portal(), **lab.upstreams}


def test_the_client_schema_names_no_admin_route(lab: Lab) -> None:
    for name, app in _apps(lab).items():
        paths = app.openapi()["paths"]
        assert "/healthz" in paths and "/readyz" in paths, name
        assert not [p for p in paths if p.startswith(("/admin", "/metrics"))], name


@pytest.mark.anyio
async def test_admin_routes_are_not_on_the_client_listener(lab: Lab) -> None:
    for name, app in _apps(lab).items():
        method, path = ADMIN_ROUTES[name]
        async with lab.client(app) as local:  # loopback, as Toxiproxy connects
            token = {"Authorization": f"Bearer {app.state.admin_token}"}
            assert (await local.request(method, path, headers=token)).status_code == 404, name
            assert (await local.post("/admin/ready", json={"ready": False},
                                     headers=token)).status_code == 404, name
            assert (await local.get("/metrics")).status_code == 404, name
            assert (await local.get("/readyz")).status_code == 200, name


@pytest.mark.anyio
async def test_the_admin_listener_wants_the_token(lab: Lab) -> None:
    for name, app in _apps(lab).items():
        method, path = ADMIN_ROUTES[name]
        transport = httpx.ASGITransport(app=admin_app(app), client=("127.0.0.1", 50002))
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as bare:
            for headers in ({}, {"Authorization": "Bearer wrong"},
                            {"Authorization": app.state.admin_token}):
                r = await bare.request(method, path, headers=headers)
                assert r.status_code == 401 and "admin token" in r.json()["error"], name
            for docs in ("/openapi.json", "/docs", "/metrics"):
                assert (await bare.get(docs)).status_code == 401, (name, docs)
        async with lab.admin(app) as admin:
            assert (await admin.request(method, path)).status_code == 200, name
            assert "http_requests_total" in (await admin.get("/metrics")).text
            assert (await admin.post("/admin/ready", json={"ready": False})).status_code == 200
        async with lab.client(app) as local:
            out = await local.get("/readyz")
            assert out.status_code == 503 and out.json()["reason"] == "out_of_rotation", name


def test_a_lab_secrets_file_sets_the_token(tmp_path: Path) -> None:
    secrets = new_secrets()
    path = tmp_path / "secrets.json"
    write_secrets(path, secrets)
    assert path.stat().st_mode & 0o777 == 0o600
    assert repr(secrets) == "Secrets(<hidden>)"
    app = UPSTREAM_MODULES["shahkar"].create_app(
        ServiceSettings(data_dir=tmp_path, secrets_file=path, **SMALL))
    assert app.state.admin_token == secrets.admin_token
    assert app.state.client_key == secrets.client_key


@pytest.mark.parametrize(("text", "problem"), [
    (None, "does not exist"), ("{", "unreadable"),
    ('{"admin_token": "short", "client_key": "00"}', "admin_token must be"),
    ('{"admin_token": "a-long-enough-token", "client_key": "zz"}', "client_key must be"),
])
def test_a_bad_secrets_file_is_one_sentence(tmp_path: Path, text: str | None,
                                            problem: str) -> None:
    path = tmp_path / "secrets.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValidationError, match=problem):
        ServiceSettings(data_dir=tmp_path, secrets_file=path)
