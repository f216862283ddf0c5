"""No input gives a 500: schemathesis fuzzes each service's /openapi.json in process.

The strategies come from schemathesis's Python API (`operation.as_strategy()`) run under
Hypothesis directly: its pytest plugin (`from_fixture`) does not work with pytest 9 yet.
The portal is fuzzed twice: anonymously, and with an employer's valid session so the
generated bodies reach the routes' validation and business code, not only the 401.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from mock_services.common.settings import ServiceSettings
from tests.mock_services.conftest import SMALL, UPSTREAM_MODULES, Lab

# Bounded: 12 examples per operation (the portal has ~20 operations, fuzzed twice) keeps
# the five services under ~25 s on this 2-core machine.
FUZZ = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def portal_app(fuzz_lab: Lab) -> FastAPI:
    return fuzz_lab.portal("baseline")


@pytest.fixture(scope="module")
def portal_schema(portal_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", portal_app)


def _upstream_schema(name: str, tmp: Path) -> Any:
    app = UPSTREAM_MODULES[name].create_app(ServiceSettings(data_dir=tmp, **SMALL))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def upstream_schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("fuzz-upstreams")
    return {name: _upstream_schema(name, tmp) for name in UPSTREAM_MODULES}


def _no_server_error(case: Any, headers: dict[str, str] | None, seen: list[int]) -> None:
    response = case.call(headers=headers)
    seen.append(response.status_code)
    assert response.status_code < 500, (case.method, case.path, response.status_code,
                                        response.text[:300])
    content_type = str(response.headers.get("content-type", ""))
    if response.status_code >= 400 and "application/json" in content_type:
        assert "error" in response.json()  # one clear sentence, never a bare traceback


def _fuzz(schema: Any, headers: dict[str, str] | None = None,
          skip: frozenset[str] = frozenset()) -> list[int]:
    """Run every operation of `schema` on generated cases; the statuses seen."""
    seen: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in skip:
            continue

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            explicit = {k.lower() for k in (case.headers or {})}
            _no_server_error(case, None if "authorization" in explicit else headers, seen)

        run()
    return seen


def test_portal_anonymous(portal_schema: Any) -> None:
    assert len(_fuzz(portal_schema)) >= 100


def test_portal_logged_in(fuzz_lab: Lab, portal_app: FastAPI, portal_schema: Any) -> None:
    async def login() -> dict[str, str]:
        async with fuzz_lab.client(portal_app) as client:
            return await fuzz_lab.login(client, fuzz_lab.population.employers[0])

    token = asyncio.run(login())
    # logout would end the session and turn the rest into 401s
    seen = _fuzz(portal_schema, token, skip=frozenset({"/auth/logout"}))
    past_auth = [s for s in seen if s != 401]
    assert len(past_auth) > len(seen) // 2  # most cases reached validation or business code


@pytest.mark.parametrize("name", sorted(UPSTREAM_MODULES))
def test_upstream(name: str, upstream_schemas: dict[str, Any]) -> None:
    assert len(_fuzz(upstream_schemas[name])) >= 10
