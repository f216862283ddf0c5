"""The skeleton every service app starts from: errors, middleware, health, readiness, metrics."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict

from mock_services.common.access import AdminOnly, Secrets
from mock_services.common.errors import (
    Unavailable,
    ValidationErrorOut,
    install_error_handlers,
    responses,
)
from mock_services.common.metrics import Metrics
from mock_services.common.middleware import ServiceMiddleware
from mock_services.common.reasons import Reason

Loopback = AdminOnly
"""The admin guard under its old name (the routes that import it now need the admin token,
and live on the admin listener)."""


class ReadyBody(BaseModel):
    """POST /admin/ready: take this replica out of rotation (false) or back in (true)."""

    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says
    ready: bool


class Readiness:
    """Whether this replica takes traffic (a rolling deploy turns it off before SIGTERM)."""

    def __init__(self) -> None:
        self.ready = True


def _ops_router(service: str, readiness: Readiness) -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """200 while the process is alive."""
        return {"status": "alive", "service": service}

    @router.get("/readyz", responses=responses(503, s503="Out of rotation"))
    async def readyz() -> dict[str, str]:
        """200 when this replica takes traffic, 503 when it has been taken out of rotation."""
        if not readiness.ready:
            raise Unavailable(f"{service} is out of rotation", Reason.OUT_OF_ROTATION,
                              retry_after_s=1)
        return {"status": "ready", "service": service}

    @router.post("/admin/ready")
    async def set_ready(body: ReadyBody, _: AdminOnly) -> dict[str, bool]:
        """Take the replica out of rotation or back in (admin listener, admin token)."""
        readiness.ready = body.ready
        return {"ready": readiness.ready}

    return router


def _true_422(app: FastAPI) -> None:
    """FastAPI declares its own 422 body (`HTTPValidationError`: `detail` entries with a
    `type`) on every route with parameters; the document says what we send instead,
    `ValidationErrorOut`, under the same component name."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in components:
                ours = ValidationErrorOut.model_json_schema(
                    ref_template="#/components/schemas/{model}", mode="serialization")
                components.update(ours.pop("$defs", {}))
                components["HTTPValidationError"] = ours
                components.pop("ValidationError", None)  # FastAPI's, used only there
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def base_app(service: str, version: str, max_body_bytes: int,
             lab_secrets: Secrets | None = None, **kwargs: Any) -> FastAPI:
    """A FastAPI app with the error handlers, middleware and ops routes every service has.

    `lab_secrets`: the lab's admin token and client-address key; None (an in-process test, a
    service started by hand) gives a random token nobody else knows and no key, so no stated
    client address is believed. Call `access.split_admin` once every route is included.
    """
    app = FastAPI(title=f"chaoslab {service}", version=version, **kwargs)
    metrics = Metrics(service)
    readiness = Readiness()
    install_error_handlers(app)
    _true_422(app)
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_body_bytes=max_body_bytes)
    app.include_router(_ops_router(service, readiness))
    app.include_router(metrics.router())
    app.state.metrics = metrics
    app.state.readiness = readiness
    app.state.admin_token = lab_secrets.admin_token if lab_secrets else secrets.token_urlsafe(32)
    app.state.client_key = lab_secrets.client_key if lab_secrets else None
    return app
