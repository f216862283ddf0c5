"""Each service's OpenAPI document is true: `schemathesis run --checks all` finds nothing.

Runs schemathesis's own engine, the one its CLI runs (phases: examples, coverage, fuzzing,
stateful; every check: no 500, declared statuses, headers and bodies, schema-valid data
accepted, schema-violating data refused, 405 with Allow, missing headers, ignored auth...),
in process over ASGI, with a bounded number of examples and a fixed seed. What a JSON Schema
cannot say is in schemathesis.toml and schemathesis_hooks.py, which the command line uses too.

The portal is fuzzed anonymously, then with an employer's session (every route), a doctor's
and a pharmacy's (the prescription routes they own), so generated requests reach validation
and business code, not only the 401.
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

import tests.mock_services.schemathesis_hooks  # noqa: F401  (registers the national-ID format)
from mock_services.common.settings import ServiceSettings
from mock_services.seed import Person
from tests.mock_services.conftest import SMALL, UPSTREAM_MODULES, Lab

CONFIG = Path(__file__).with_name("schemathesis.toml")
# Bounded: 12 examples per operation and phase keeps the whole file under a minute on the
# 2-core machine (the portal's InsuranceList schema is the slow one to generate).
MAX_EXAMPLES = 12
SEED = 21


PORTAL_TAGS = ("ops", "auth", "records", "workshops", "lists", "prescriptions", "drafts")


def _config(token: str | None, phases: list[str] | None,
            skip: dict[str, Any] | None) -> SchemathesisConfig:
    data: dict[str, Any] = tomllib.loads(CONFIG.read_text())
    if token is not None:  # the portal's declared security scheme (HTTPBearer)
        data["auth"] = {"openapi": {"HTTPBearer": {"bearer": token}}}
    if skip is not None:  # the engine reads its operation filters from the configuration
        data["operations"] = [*data.get("operations", []), {**skip, "enabled": False}]
    config = SchemathesisConfig.from_dict(data, base_dir=str(CONFIG.parent))
    config.update(seed=SEED, max_failures=None)
    project = config.projects.override
    project.checks.update(included_check_names=["all"])
    project.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
    if phases is not None:
        project.phases.update(phases=phases)
    return config


@dataclass
class Run:
    """What a run found: one line per failing check or engine error; how many responses it
    saw; the operations that answered a 2xx (whose bodies the response-schema check held to
    their declared models)."""

    failures: list[str]
    answered: int
    succeeded: set[str]


def _failures(app: FastAPI, *, token: str | None = None, phases: list[str] | None = None,
              skip: dict[str, Any] | None = None) -> Run:
    """Run `--checks all` on `app` (but the operations `skip` selects, e.g.
    `{"include-path": "/auth/logout"}`)."""
    config = _config(token, phases, skip)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    found: set[str] = set()
    answered, succeeded = 0, set[str]()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            responses = [i.response for i in event.recorder.interactions.values()
                         if i.response is not None]
            answered += len(responses)
            if any(200 <= r.status_code < 300 for r in responses):
                succeeded.add(event.recorder.label)
            found |= {f"{event.recorder.label}: {check.name}: "
                      f"{check.failure_info.failure.title}"
                      for checks in event.recorder.checks.values() for check in checks
                      if check.failure_info is not None}
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            found.add(f"engine error: {event}")
    return Run(sorted(found), answered, succeeded)


@pytest.fixture(scope="module")
def fuzz_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def portal_app(fuzz_lab: Lab) -> FastAPI:
    return fuzz_lab.portal("baseline")


def _token(lab: Lab, app: FastAPI, who: Person) -> str:
    async def login() -> str:
        async with lab.client(app) as client:
            headers = await lab.login(client, who)
            return headers["Authorization"].removeprefix("Bearer ")

    return asyncio.run(login())


@pytest.mark.parametrize("name", sorted(UPSTREAM_MODULES))
def test_upstream(name: str, tmp_path: Path) -> None:
    app = UPSTREAM_MODULES[name].create_app(ServiceSettings(data_dir=tmp_path, **SMALL))
    run = _failures(app)
    assert run.failures == []
    assert run.answered >= 50


def test_portal_anonymous(portal_app: FastAPI) -> None:
    # without a session every stateful chain stops at its first 401: no stateful phase
    run = _failures(portal_app, phases=["examples", "coverage", "fuzzing"])
    assert run.failures == []
    assert run.answered >= 500


def test_portal_employer(fuzz_lab: Lab, portal_app: FastAPI) -> None:
    token = _token(fuzz_lab, portal_app, fuzz_lab.population.employers[0])
    # logout would end the session and turn the rest into 401s
    run = _failures(portal_app, token=token, skip={"include-path": "/auth/logout"})
    assert run.failures == []
    assert run.answered >= 500
    # writes and reads that succeed, so the response-schema check held typed bodies
    assert {"PUT /drafts/{form_id}", "GET /drafts/{form_id}", "POST /workshops"} <= run.succeeded


@pytest.mark.parametrize("role", ["doctors", "pharmacies"])
def test_portal_prescriptions(role: str, fuzz_lab: Lab, portal_app: FastAPI) -> None:
    who: Person = getattr(fuzz_lab.population, role)[0]
    others = [tag for tag in PORTAL_TAGS if tag != "prescriptions"]
    run = _failures(portal_app, token=_token(fuzz_lab, portal_app, who),
                    skip={"include-tag": others})
    assert run.failures == []
    assert run.answered >= 100
    if role == "pharmacies":  # a doctor's generated patients are not insured: no 2xx
        assert "GET /prescriptions/claims/{period}" in run.succeeded
