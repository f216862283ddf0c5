"""A 503 says why in a structured `reason` (a fixed vocabulary); the sentence stays for people."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from fastapi import FastAPI

from mock_services.common.errors import ErrorOut, Unavailable, install_error_handlers
from mock_services.common.reasons import Reason, reason_of, upstream_reason


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/locked")
    async def locked() -> None:
        raise sqlite3.OperationalError("database is locked")

    @app.get("/breaker")
    async def breaker() -> None:
        raise Unavailable("registry is unavailable (breaker_open); try later",
                          Reason.BREAKER_OPEN, retry_after_s=5)

    return app


@pytest.mark.anyio
async def test_every_503_of_the_handlers_states_its_reason() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
        busy = await client.get("/locked")
        breaker = await client.get("/breaker")
    assert busy.status_code == 503 and reason_of(busy.content) is Reason.DATABASE_BUSY
    assert "database is busy" in busy.json()["error"]  # the sentence kept for people
    assert breaker.status_code == 503 and reason_of(breaker.content) is Reason.BREAKER_OPEN
    assert breaker.headers["retry-after"] == "5"


def test_reason_of_reads_only_the_vocabulary() -> None:
    assert reason_of(b'{"error": "x", "reason": "shed"}') is Reason.SHED
    assert reason_of(b'{"error": "shed, overloaded, busy, breaker"}') is None
    assert reason_of(b'{"reason": "overloaded"}') is None
    assert reason_of(b'["shed"]') is None
    assert reason_of(b"\xff not json") is None
    assert upstream_reason("breaker_open") is Reason.BREAKER_OPEN
    assert upstream_reason("throttled") is Reason.UPSTREAM_UNAVAILABLE


def test_the_openapi_document_lists_the_reasons() -> None:
    schema = ErrorOut.model_json_schema()
    listed = schema["$defs"]["Reason"]["enum"]
    assert listed == [r.value for r in Reason]
