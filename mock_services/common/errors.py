"""The services' error tree and the handlers that turn every error into a JSON 4xx/5xx.

ServiceError
├── BadRequest (400)          malformed outside the body (a header that breaks
│                             its schema is a 400 from the validation handler)
├── Unauthorized (401)        no or expired session, wrong password
├── Forbidden (403)           someone else's record, non-loopback admin call
├── NotFound (404)
├── Conflict (409)            already dispensed, already registered
├── Gone (410)                expired prescription
├── PayloadTooLarge (413)
├── Unprocessable (422)       domain rule broken, idempotency key reused with another body
├── TooManyRequests (429)     login rate limit
└── Unavailable (503)         shed, upstream down; carries Retry-After and a `reason`
(and sqlite3.OperationalError, e.g. locked past the busy timeout: 503 + Retry-After)

Bodies are `{"error": "<one sentence>"}` (`ErrorOut`), plus `detail` for validation errors
(`ValidationErrorOut`); a 503 adds `reason`, why it was refused in a fixed vocabulary
(`mock_services.common.reasons.Reason`), which clients read instead of the sentence. A
request that breaks the schema in a header (a missing or malformed Idempotency-Key) is a
400; in its path, query or body, a 422. A 405 names the path's methods in `Allow`. Routes
declare the errors they may answer with `responses(...)`, so the OpenAPI document lists
every status a client can get (`schemathesis --checks all` holds it to that).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from mock_services.common.reasons import Reason


class ServiceError(Exception):
    """An error with its HTTP status and a one-sentence message for the client."""

    status = 500
    reason: Reason | None = None  # why, for clients (a 503's); the message is for people

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
    """Temporarily unable; Retry-After says when to come back, `reason` why."""

    status = 503

    def __init__(self, message: str, reason: Reason, retry_after_s: float | None = None
                 ) -> None:
        super().__init__(message, retry_after_s)
        self.reason = reason


class UpstreamFailed(ServiceError):
    """An upstream gave no usable answer and no fallback applies."""

    status = 502


MAX_PROBLEMS = 20  # a validation error lists at most this many problems


class ErrorOut(BaseModel):
    """Every error body: one sentence saying what went wrong; a 503 says why in `reason` (a
    shed 503 also keeps `"shed": true`)."""

    error: str
    reason: Reason | None = Field(
        None, description="why a 503 refused the request, for clients to act on (the error "
                          "sentence is for people): " + ", ".join(r.value for r in Reason))


class ValidationProblem(BaseModel):
    """One place where the request broke the schema."""

    loc: list[str] = Field(description="where: location (path, query, header, body), then "
                                       "field names and list indexes")
    msg: str = Field(description="what is wrong there, in one sentence")
    type: str = Field(description="pydantic's error type, e.g. missing, string_too_long")


class ValidationErrorOut(ErrorOut):
    """A 422 (or the 400 of a bad header): the first problem in `error`, every one (up to 20)
    in `detail`; a domain rule broken (no schema problem) has no `detail`."""

    detail: list[ValidationProblem] = Field(default_factory=list, max_length=MAX_PROBLEMS)


_DESCRIPTIONS = {
    400: "Malformed outside the body's schema: a missing or malformed header (Idempotency-Key "
         "on a write), or a body that could not be read as JSON",
    401: "No valid session, or wrong credentials",
    403: "The caller may not do this (another's record, another role)",
    404: "No such record, or not one the caller may see",
    409: "The record's state forbids the change",
    410: "The record expired",
    413: "The body exceeds the service's limit",
    422: "The request breaks the schema (detail says where) or a rule of the domain",
    429: "Rate limited; Retry-After says when to come back",
    502: "An upstream gave no usable answer; nothing was written",
    503: "Temporarily unable (shed, overloaded, an upstream or the database busy); "
         "Retry-After says when to come back",
    504: "The work was done but the answer was lost (an injected fault)",
}
_RETRY_AFTER = {"Retry-After": {"description": "whole seconds to wait before retrying",
                                "schema": {"type": "integer", "minimum": 1}}}


def responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route or router that may answer these error statuses.

    `descriptions` (keyed `s404=...`) replace the generic sentence with the route's own."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "model": ValidationErrorOut if status in (400, 422) else ErrorOut,
            "description": descriptions.get(f"s{status}", _DESCRIPTIONS[status])}
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out


def error_response(status: int, message: str, retry_after_s: float | None = None,
                   headers: dict[str, str] | None = None, reason: Reason | None = None,
                   **extra: Any) -> JSONResponse:
    """The JSON error body, with Retry-After (whole seconds, at least 1) and `reason` when
    given."""
    all_headers = dict(headers or {})
    if retry_after_s is not None:
        all_headers["Retry-After"] = str(max(1, round(retry_after_s)))
    why = {} if reason is None else {"reason": reason.value}
    return JSONResponse({"error": message, **why, **extra}, status_code=status,
                        headers=all_headers)


def _header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _sentence(problem: dict[str, Any], more: int) -> str:
    """One problem as a sentence: "body.items.0.quantity: ..." or "the X header is required"."""
    loc = [str(p) for p in problem.get("loc", ())]
    msg = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
    if loc[:1] == ["header"] and len(loc) > 1:
        name = _header_name(loc[1])
        text = (f"the {name} header is required" if problem.get("type") == "missing"
                else f"the {name} header is malformed: {msg}")
    else:
        text = f"{'.'.join(loc)}: {msg}"
    return text + (f" (and {more} more problems)" if more else "")


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    """400 when a header is at fault (the request is malformed outside its body), else 422;
    the sentence names the first problem of that kind."""
    errors = list(exc.errors())
    in_header = [e for e in errors if tuple(e.get("loc", ()))[:1] == ("header",)]
    status, first = (400, in_header[0]) if in_header else (422, errors[0] if errors else {})
    message = _sentence(first, len(errors) - 1) if first else "the request is invalid"
    detail = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")),
               "type": str(e.get("type", "value_error"))} for e in errors[:MAX_PROBLEMS]]
    return error_response(status, message, detail=detail)


def _routes(app: FastAPI) -> Iterable[Any]:
    try:  # FastAPI >= 0.120 keeps included routers whole; this walks their routes
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: the routes are flat already
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def _allowed_methods(request: Request) -> str:
    """The methods of every route at this path (a path's GET and PUT are two routes); a
    literal path beats a template, as in the OpenAPI document (`/prescriptions/paper` is not
    `/prescriptions/{tracking_code}`)."""
    scope = {**request.scope, "method": ""}  # no method: any route at the path is PARTIAL
    matching = [r for r in _routes(request.app) if r.matches(scope)[0] is Match.PARTIAL]
    literal = [r for r in matching if "{" not in str(getattr(r, "path", "{"))]
    return ", ".join(sorted({m for r in literal or matching for m in r.methods or ()}))


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as one JSON sentence; validation errors keep their detail list."""

    async def service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return error_response(exc.status, exc.message, exc.retry_after_s, reason=exc.reason)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation_response(exc)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: a 405 lists the methods the path has
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return error_response(exc.status_code, str(exc.detail), headers=headers)

    async def database_busy(_: Request, exc: Exception) -> JSONResponse:
        # Past the busy timeout (writers queued behind other replicas): try again shortly.
        return error_response(503, f"the database is busy ({exc}); try again shortly",
                              retry_after_s=1, reason=Reason.DATABASE_BUSY)

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(sqlite3.OperationalError, database_busy)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
