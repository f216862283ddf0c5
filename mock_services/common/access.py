"""Who may do what: the lab's secrets, the client's identity, and the separate admin listener.

The lab hands every service one secrets file (`--secrets-file`, `<run_dir>/secrets.json`,
mode 0600): `{"admin_token": "...", "client_key": "<hex>"}`, both from `secrets`, per lab.

Client identity. The load balancer in front of the portals (in the lab: the traffic driver,
its stand-in) is the only hop allowed to state a client's address, with two headers:
`X-Chaoslab-Client: <address>` and `X-Chaoslab-Client-Sig: <hex HMAC-SHA256(client_key,
address)>`. The stated address counts only when the signature verifies; otherwise the
client is its real socket peer. X-Forwarded-For is never read here (uvicorn's proxy headers
are off unless a deployment names its proxies), so a client cannot choose its own address.

Admin access. Admin routes (`/admin/*`) and `/metrics` answer only on the admin listener
(`--admin-port`, bound 127.0.0.1 unless told, fronted by no proxy; 404 on the client
listener, and absent from its OpenAPI document), and every request to it carries
`Authorization: Bearer <admin_token>`: Toxiproxy's own API could be told to proxy any port,
so the port alone is no proof.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_services.common.errors import NotFound, error_response

CLIENT_HEADER = "X-Chaoslab-Client"
CLIENT_SIG_HEADER = "X-Chaoslab-Client-Sig"
ADMIN_PREFIXES = ("/admin", "/metrics")  # what moves to the admin listener
_KEY_BYTES = 32
_MAX_ADDRESS_CHARS = 45  # the longest textual IPv6 address


class SecretsError(ValueError):
    """A secrets file that cannot be used; the message is one sentence."""


@dataclass(frozen=True, slots=True)
class Secrets:
    """The admin token and the client-address signing key of one lab."""

    admin_token: str
    client_key: bytes

    def __repr__(self) -> str:  # never in a log or a traceback
        return "Secrets(<hidden>)"


def new_secrets() -> Secrets:
    """Fresh secrets for a lab: a 256-bit token and a 32-byte key."""
    return Secrets(secrets.token_urlsafe(32), secrets.token_bytes(_KEY_BYTES))


def write_secrets(path: Path, value: Secrets) -> None:
    """Write `value` to `path` atomically, readable by its owner only (0600 from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    text = json.dumps({"admin_token": value.admin_token, "client_key": value.client_key.hex()})
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)  # O_CREAT's mode is only for a new file
    tmp.replace(path)


def read_secrets(path: Path) -> Secrets:
    """The secrets in `path`; `SecretsError` (one sentence) when it is missing or malformed."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SecretsError(f"secrets file {path} does not exist; expected the lab's "
                           "secrets.json") from None
    except (OSError, ValueError) as exc:
        raise SecretsError(f"secrets file {path} is unreadable ({exc}); expected JSON with "
                           "admin_token and client_key") from None
    token = data.get("admin_token") if isinstance(data, dict) else None
    key_hex = data.get("client_key") if isinstance(data, dict) else None
    if not isinstance(token, str) or len(token) < 16:
        raise SecretsError(f"secrets file {path}: admin_token must be a string of at least "
                           "16 characters")
    try:
        key = bytes.fromhex(key_hex) if isinstance(key_hex, str) else b""
    except ValueError:
        key = b""
    if len(key) < 16:
        raise SecretsError(f"secrets file {path}: client_key must be at least 16 bytes in hex")
    return Secrets(token, key)


# -- client identity ------------------------------------------------------------------------


def sign_client(key: bytes, address: str) -> str:
    """The signature the load balancer sends with a client's address (hex HMAC-SHA256)."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def client_headers(key: bytes, address: str) -> dict[str, str]:
    """The two headers that state `address` as the client's, signed with `key`."""
    return {CLIENT_HEADER: address, CLIENT_SIG_HEADER: sign_client(key, address)}


def _stated(request: Request, key: bytes | None) -> str | None:
    address = request.headers.get(CLIENT_HEADER)
    signature = request.headers.get(CLIENT_SIG_HEADER)
    if not key or address is None or signature is None or len(address) > _MAX_ADDRESS_CHARS:
        return None
    if not hmac.compare_digest(sign_client(key, address), signature.strip().lower()):
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def client_identity(request: Request) -> str:
    """The address per-source limits key on: the signed stated address, else the socket peer."""
    key: bytes | None = getattr(request.app.state, "client_key", None)
    stated = _stated(request, key)
    if stated is not None:
        return stated
    return request.client.host if request.client else "unknown"


# -- admin ----------------------------------------------------------------------------------
# One app serves both listeners: the client listener runs it as it is, and its gate (added
# last, so outermost) answers 404 to every admin path; the admin listener runs it through
# `AdminListener`, which checks the token and marks the request so the gate lets it through.

ADMIN_MARK = "chaoslab.admin"  # in the ASGI scope of a request that came in as admin
_ADMIN_REFUSED = "admin routes need Authorization: Bearer <the lab's admin token>"


def is_admin_path(path: str) -> bool:
    """Whether `path` belongs to the admin listener."""
    return path.startswith(ADMIN_PREFIXES)


def _token_ok(header: str | None, token: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode())


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await error_response(404, "Not Found")(scope, receive, send)  # as for no route at all


async def require_admin(request: Request) -> None:
    """A route dependency: the request came in through the admin listener (async: no thread
    hop). The gate already refuses others; this holds should a route escape it."""
    if not request.scope.get(ADMIN_MARK):
        raise NotFound("Not Found")


AdminOnly = Annotated[None, Depends(require_admin)]
"""A route parameter: 404 unless the request came in through the admin listener."""


class _ClientGate:
    """Pure-ASGI gate of the client listener: admin paths do not exist there."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and is_admin_path(scope.get("path", ""))
                and not scope.get(ADMIN_MARK)):
            await _not_found(scope, receive, send)
            return
        await self.app(scope, receive, send)


class AdminListener:
    """The ASGI app of the admin listener: the service's app, for admin paths only, to
    requests that carry the admin token (401 otherwise)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no lifespan: the client listener runs the app's
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        if not _token_ok(header, self.app.state.admin_token):
            await error_response(401, _ADMIN_REFUSED)(scope, receive, send)
            return
        if not is_admin_path(scope.get("path", "")):
            await _not_found(scope, receive, send)
            return
        await self.app({**scope, ADMIN_MARK: True}, receive, send)


def _client_schema(app: FastAPI) -> None:
    """The client app's OpenAPI document leaves the admin paths out."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema["paths"] = {p: v for p, v in schema.get("paths", {}).items()
                               if not is_admin_path(p)}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def split_admin(app: FastAPI) -> FastAPI:
    """Seal `app`'s admin paths off the client listener and give it its admin listener's app
    (`admin_app(app)`); call once every middleware is added. Returns `app`."""
    app.add_middleware(_ClientGate)
    _client_schema(app)
    app.state.admin_app = AdminListener(app)
    return app


def admin_app(app: FastAPI) -> AdminListener:
    """The admin listener's app of a service app (`split_admin` made it)."""
    admin: AdminListener = app.state.admin_app
    return admin
