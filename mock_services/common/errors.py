"""The services' error tree and the handlers that turn every error into a JSON 4xx/5xx.

ServiceError
├── BadRequest (400)          malformed header, missing Idempotency-Key
├── Unauthorized (401)        no or expired session, wrong password
├── Forbidden (403)           someone else's record, non-loopback admin call
├── NotFound (404)
├── Conflict (409)            already dispensed, already registered
├── Gone (410)                expired prescription
├── PayloadTooLarge (413)
├── Unprocessable (422)       domain rule broken, idempotency key reused with another body
├── TooManyRequests (429)     login rate limit
└── Unavailable (503)         shed, upstream down; carries Retry-After
(and sqlite3.OperationalError, e.g. locked past the busy timeout: 503 + Retry-After)

Bodies are `{"error": "<one sentence>"}` (plus `detail` for validation errors).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ServiceError(Exception):
    """An error with its HTTP status and a one-sentence message for the client."""

    status = 500

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class BadRequest(ServiceError):
    """The request is malformed outside its body (a header)."""

    status = 400


class Unauthorized(ServiceError):
    """No valid session or wrong credentials."""

    status = 401


class Forbidden(ServiceError):
    """The caller may not touch this record or route."""

    status = 403


class NotFound(ServiceError):
    """No such record (or not one the caller may see)."""

    status = 404


class Conflict(ServiceError):
    """The record's state forbids the change."""

    status = 409


class Gone(ServiceError):
    """The record expired."""

    status = 410


class PayloadTooLarge(ServiceError):
    """The body exceeds the service's limit."""

    status = 413


class Unprocessable(ServiceError):
    """The body is well-formed but breaks a domain rule."""

    status = 422


class TooManyRequests(ServiceError):
    """Rate limited; Retry-After says when to come back."""

    status = 429


class Unavailable(ServiceError):
    """Temporarily unable; Retry-After says when to come back."""

    status = 503


class UpstreamFailed(ServiceError):
    """An upstream gave no usable answer and no fallback applies."""

    status = 502


def error_response(status: int, message: str, retry_after_s: float | None = None,
                   **extra: Any) -> JSONResponse:
    """The JSON error body, with Retry-After (whole seconds, at least 1) when given."""
    headers = {}
    if retry_after_s is not None:
        headers["Retry-After"] = str(max(1, round(retry_after_s)))
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _validation_sentence(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "the request is invalid"
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{loc}: {msg}{more}"


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as one JSON sentence; validation errors keep their detail list."""

    async def service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return error_response(exc.status, exc.message, exc.retry_after_s)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg"))}
                  for e in exc.errors()[:20]]
        return error_response(422, _validation_sentence(exc), detail=detail)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, str(exc.detail))

    async def database_busy(_: Request, exc: Exception) -> JSONResponse:
        # Past the busy timeout (writers queued behind other replicas): try again shortly.
        return error_response(503, f"the database is busy ({exc}); try again shortly",
                              retry_after_s=1)

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(sqlite3.OperationalError, database_busy)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
