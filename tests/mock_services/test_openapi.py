"""The OpenAPI document says what the services do: the cases schemathesis found, one each.

test_schemathesis.py fuzzes every operation; these name the rules so a regression reads as
one sentence: 405 with Allow, header problems are 400, the 422 body is the declared one, the
national ID's rule is a format, bodies are not coerced, literal paths are not templates.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.mock_services.conftest import Lab

pytestmark = pytest.mark.anyio


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if not ref:
        return schema
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


async def test_405_names_every_method_of_the_path(lab: Lab) -> None:
    async with lab.client(lab.portal()) as c:
        drafts = await c.request("TRACE", "/drafts/form-1")  # GET and PUT are two routes
        paper = await c.request("DELETE", "/prescriptions/paper")  # not .../{tracking_code}
        health = await c.request("TRACE", "/healthz")
    assert drafts.status_code == 405 and drafts.headers["allow"] == "GET, PUT"
    assert paper.status_code == 405 and paper.headers["allow"] == "POST"
    assert health.headers["allow"] == "GET"  # FastAPI answers no HEAD
    assert drafts.json() == {"error": "Method Not Allowed"}


async def test_a_literal_path_is_not_a_template_parameter(lab: Lab) -> None:
    async with lab.client(lab.portal()) as c:
        dbf = await c.get("/lists/dbf")
        paper = await c.get("/prescriptions/paper")
    assert (dbf.status_code, dbf.headers["allow"]) == (405, "POST")
    assert (paper.status_code, paper.headers["allow"]) == (405, "POST")


async def test_header_problems_are_400_and_name_the_header(lab: Lab) -> None:
    async with lab.client(lab.upstreams["sms"]) as c:
        body = {"mobile": "09121234567", "text": "hi"}
        missing = await c.post("/sms", json=body)
        bad = await c.post("/sms", json=body, headers={"Idempotency-Key": "no spaces"})
    assert missing.status_code == 400
    assert missing.json()["error"] == "the Idempotency-Key header is required"
    assert bad.status_code == 400 and bad.json()["error"].startswith(
        "the Idempotency-Key header is malformed: ")
    assert bad.json()["detail"][0]["type"] == "string_pattern_mismatch"


async def test_the_422_body_is_the_declared_one(lab: Lab) -> None:
    app = lab.upstreams["registry"]
    async with lab.client(app) as c:
        r = await c.get("/persons/0000000000")
    document = app.openapi()
    declared = document["paths"]["/persons/{national_id}"]["get"]["responses"]["422"]
    schema = _resolve(document, declared["content"]["application/json"]["schema"])
    assert r.status_code == 422
    assert set(schema["required"]) <= set(r.json()) and set(r.json()) <= set(schema["properties"])
    assert r.json()["detail"] == [{"loc": ["path", "national_id"], "type": "value_error",
                                   "msg": "Value error, national ID 0000000000 must not have "
                                          "all digits equal"}]


async def test_the_national_id_rule_is_a_format_not_a_pattern(lab: Lab) -> None:
    document = lab.upstreams["shahkar"].openapi()
    query = _resolve(document, document["paths"]["/shahkar"]["post"]["requestBody"]["content"]
                     ["application/json"]["schema"])
    national_code = query["properties"]["national_code"]
    assert national_code["format"] == "ir-national-id" and "pattern" not in national_code
    assert "check digit" in national_code["description"]


async def test_a_body_is_not_coerced_to_its_declared_types(lab: Lab) -> None:
    portal = lab.portal()
    async with lab.client(portal) as c:
        headers = await lab.login(c, lab.population.citizens[0])
        r = await c.put("/drafts/form-1", json={"data": {}, "base_version": False},
                        headers={**headers, "Idempotency-Key": "k1"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "base_version"]


async def test_every_status_an_operation_answers_is_declared(lab: Lab) -> None:
    document = lab.portal().openapi()
    dispense = document["paths"]["/prescriptions/{tracking_code}/dispense"]["post"]
    assert set(dispense["responses"]) == {"200", "400", "401", "403", "404", "409", "410",
                                          "413", "422", "429", "502", "503"}
    assert "Retry-After" in dispense["responses"]["503"]["headers"]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
