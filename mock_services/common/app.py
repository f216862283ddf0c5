"""The skeleton every service app starts from: errors, middleware, health, readiness, metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict

from mock_services.common.errors import Forbidden, Unavailable, install_error_handlers
from mock_services.common.metrics import Metrics
from mock_services.common.middleware import ServiceMiddleware

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})


def require_loopback(request: Request) -> None:
    """Admin routes answer only to clients on this machine."""
    host = request.client.host if request.client else ""
    if host not in LOOPBACK_HOSTS:
        raise Forbidden(f"admin routes answer only to loopback clients, not {host or 'unknown'}")


Loopback = Annotated[None, Depends(require_loopback)]


class ReadyBody(BaseModel):
    """POST /admin/ready: take this replica out of rotation (false) or back in (true)."""

    model_config = ConfigDict(extra="forbid")
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

    @router.get("/readyz")
    async def readyz() -> dict[str, str]:
        """200 when this replica takes traffic, 503 when it has been taken out of rotation."""
        if not readiness.ready:
            raise Unavailable(f"{service} is out of rotation", retry_after_s=1)
        return {"status": "ready", "service": service}

    @router.post("/admin/ready")
    async def set_ready(body: ReadyBody, _: Loopback) -> dict[str, bool]:
        """Take the replica out of rotation or back in (loopback only)."""
        readiness.ready = body.ready
        return {"ready": readiness.ready}

    return router


def base_app(service: str, version: str, max_body_bytes: int, **kwargs: Any) -> FastAPI:
    """A FastAPI app with the error handlers, middleware and ops routes every service has."""
    app = FastAPI(title=f"chaoslab {service}", version=version, **kwargs)
    metrics = Metrics(service)
    readiness = Readiness()
    install_error_handlers(app)
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_body_bytes=max_body_bytes)
    app.include_router(_ops_router(service, readiness))
    app.include_router(metrics.router())
    app.state.metrics = metrics
    app.state.readiness = readiness
    return app
