"""The skeleton every service app starts from: errors, middleware, health, readiness, metrics."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict

from mock_services.common.errors import Forbidden, Unavailable, install_error_handlers
from mock_services.common.metrics import Metrics
from mock_services.common.middleware import ServiceMiddleware

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def admin_allowed(host: str, networks: Sequence[Network]) -> bool:
    """Whether a client at `host` may call the admin routes: loopback, or one of `networks`."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # no client address (or a test client's name): not allowed
        return False
    return any(address in net for net in networks)


def require_loopback(request: Request) -> None:
    """Admin routes answer only to clients on this machine (or on the allowed networks)."""
    host = request.client.host if request.client else ""
    networks: Sequence[Network] = getattr(request.app.state, "admin_networks", ())
    if not admin_allowed(host, networks):
        allowed = "loopback" + "".join(f", {n}" for n in networks)
        raise Forbidden(f"admin routes answer only to clients on {allowed}, "
                        f"not {host or 'unknown'}")


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


def base_app(service: str, version: str, max_body_bytes: int,
             admin_networks: Sequence[Network] = (), **kwargs: Any) -> FastAPI:
    """A FastAPI app with the error handlers, middleware and ops routes every service has.

    `admin_networks`: client networks the admin routes answer besides loopback (none by
    default).
    """
    app = FastAPI(title=f"chaoslab {service}", version=version, **kwargs)
    metrics = Metrics(service)
    readiness = Readiness()
    install_error_handlers(app)
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_body_bytes=max_body_bytes)
    app.include_router(_ops_router(service, readiness))
    app.include_router(metrics.router())
    app.state.metrics = metrics
    app.state.readiness = readiness
    app.state.admin_networks = tuple(admin_networks)
    return app
