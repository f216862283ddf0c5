"""The OpenAPI document says what the services do: the cases schemathesis found, one each.

test_schemathesis.py fuzzes every operation; these name the rules so a regression reads as
one sentence: 405 with Allow, header problems are 400, the 422 body is the declared one, the
national ID's rule is a format, bodies are not coerced, literal paths are not templates.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mock_services.domain.dbf_writer import list_to_dbf_pair
from mock_services.seed import Workshop
from tests.mock_services.conftest import Lab
from tests.mock_services.test_portal_lists import body as list_json
from tests.mock_services.test_portal_lists import make_list

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


# -- every 2xx answer states its fields, and the bodies sent are what it states -------------


def _apps(lab: Lab) -> dict[str, FastAPI]:
    # lists paid on the request path (201) or queued for payment (202 "queued"); the list
    # queue's 202 "accepted" is asked of a second replica in `_employer_session`
    return {**lab.upstreams, "portal": lab.portal("resilient", overrides={"list_queue": "off"})}


def _whole_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the admin listener's paths, which the client
    listener's /openapi.json leaves out (they have no document of their own)."""
    return get_openapi(title=app.title, version=app.version, routes=app.routes)


def _states_fields(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object with `properties`, an open map whose values have a type, or an array of
    either; `{}` (anything) and `additionalProperties: true` say nothing."""
    schema = _resolve(document, schema)
    if schema.get("type") == "array":
        return _states_fields(document, schema.get("items", {}))
    extra = schema.get("additionalProperties")
    return bool(schema.get("properties")) or (isinstance(extra, dict) and extra != {})


def _untyped_2xx(name: str, app: FastAPI) -> list[str]:
    document, found = _whole_document(app), []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and (
                        schema is None or not _states_fields(document, schema)):
                    found.append(f"{name} {method.upper()} {path} {status}: {schema}")
    return found


def test_every_2xx_response_states_its_fields(lab: Lab) -> None:
    untyped = [line for name, app in _apps(lab).items() for line in _untyped_2xx(name, app)]
    assert untyped == []


def _closed(schema: Any) -> Any:
    """`schema` with every object of declared properties closed to other keys: a key the
    document does not name is a lie by omission."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {k: _closed(v) for k, v in schema.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


@dataclass
class Answers:
    """Every answer of a scripted session, by (service, method, path template, status)."""

    seen: list[tuple[str, str, str, httpx.Response]] = field(default_factory=list)

    async def ask(self, name: str, client: httpx.AsyncClient, method: str, url: str,
                  **kwargs: Any) -> httpx.Response:
        r = await client.request(method, url, **kwargs)
        assert r.status_code < 300, f"{method} {url}: {r.status_code} {r.text}"
        self.seen.append((name, method, r.request.url.path, r))
        return r


def _template(document: dict[str, Any], method: str, path: str) -> str:
    """The document's path template `path` matches (a literal one before a parameter's)."""
    matches = [t for t, operations in document["paths"].items()
               if method.lower() in operations
               and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), path)]
    assert matches, f"{method} {path} is in no path of the document"
    return min(matches, key=lambda t: t.count("{"))


def list_body(shop: Workshop, mm: int) -> dict[str, Any]:
    return list_json(make_list(shop, mm=mm))


async def _emulation_session(name: str, admin: httpx.AsyncClient, answers: Answers) -> None:
    """The demand emulator's admin routes every service mounts (no demand file: none)."""
    await answers.ask(name, admin, "GET", "/admin/demand")
    await answers.ask(name, admin, "POST", "/admin/demand")
    await answers.ask(name, admin, "POST", "/admin/breakdown", json={"work": "resume"})
    await answers.ask(name, admin, "DELETE", "/admin/breakdown")


async def _upstream_session(lab: Lab, answers: Answers) -> None:
    who, shop = lab.population.citizens[0], lab.population.workshops[0]
    for name, app in lab.upstreams.items():
        async with lab.client(app) as c, lab.admin(app) as a:
            await answers.ask(name, c, "GET", "/healthz")
            await answers.ask(name, c, "GET", "/readyz")
            await answers.ask(name, a, "POST", "/admin/ready", json={"ready": True})
            await answers.ask(name, a, "POST", "/admin/fault", json={"mode": "ok"})
            await answers.ask(name, a, "GET", "/admin/fault")
            await _emulation_session(name, a, answers)
    async with lab.client(lab.upstreams["shahkar"]) as c:
        await answers.ask("shahkar", c, "POST", "/shahkar",
                          json={"mobile": who.mobile, "national_code": who.national_id})
    async with lab.client(lab.upstreams["registry"]) as c:
        for part in ("", "/history", "/payslips", "/eligibility"):
            await answers.ask("registry", c, "GET", f"/persons/{who.national_id}{part}")
        await answers.ask("registry", c, "GET", f"/workshops/{shop.code}")
    payment = {"payment_id": "P-1", "payer": shop.employer_id, "amount_rial": 1000}
    async with lab.client(lab.upstreams["payment"]) as c, lab.admin(lab.upstreams["payment"]) as a:
        await answers.ask("payment", c, "POST", "/payments", json=payment,
                          headers={"Idempotency-Key": "pay-1"})
        await answers.ask("payment", c, "POST", "/payments", json=payment,  # already paid: 200
                          headers={"Idempotency-Key": "pay-2"})
        await answers.ask("payment", c, "GET", "/payments/P-1")
        await answers.ask("payment", a, "GET", "/admin/payments")
    async with lab.client(lab.upstreams["sms"]) as c, lab.admin(lab.upstreams["sms"]) as a:
        await answers.ask("sms", c, "POST", "/sms", json={"mobile": who.mobile, "text": "hi"},
                          headers={"Idempotency-Key": "sms-1"})
        await answers.ask("sms", a, "GET", f"/admin/messages?mobile={who.mobile}")


async def _records_session(lab: Lab, answers: Answers, c: httpx.AsyncClient) -> None:
    """A citizen's history and pay slips, fresh and then stale (the registry down)."""
    me = lab.population.citizens[1]
    h = await lab.login(c, me)
    for stale in (False, True):
        if stale:
            lab.fault("registry", mode="unavailable")
            lab.clock.advance(600)  # past the cache's ttl, within max staleness
        for kind in ("history", "payslips"):
            r = await answers.ask("portal", c, "GET", f"/citizens/{me.national_id}/{kind}",
                                  headers=h)
            assert r.json()["stale"] is stale
    lab.fault("registry", mode="ok")
    await answers.ask("portal", c, "POST", "/auth/logout", headers=h)


async def _employer_session(lab: Lab, answers: Answers, c: httpx.AsyncClient) -> None:
    """A workshop registered; lists as rows and as the DBF pair, paid (201), then queued
    (202: the gateway down); their status."""
    shop = lab.population.workshops[0]
    employer = next(e for e in lab.population.employers if e.national_id == shop.employer_id)
    h = await lab.login(c, employer)
    await answers.ask("portal", c, "POST", "/workshops", json={"code": "9876543210",
                      "name": "New"}, headers={**h, "Idempotency-Key": "w-1"})
    await answers.ask("portal", c, "GET", "/workshops", headers=h)
    for month, (status, fault) in enumerate(((201, "ok"), (202, "unavailable"))):
        lab.fault("payment", mode=fault)
        kar, wor = list_to_dbf_pair(make_list(shop, mm=2 * month + 2))
        submitted = [
            await answers.ask("portal", c, "POST", "/lists", json=list_body(shop, 2 * month + 1),
                              headers={**h, "Idempotency-Key": f"rows-{month}"}),
            await answers.ask("portal", c, "POST", "/lists/dbf", json={
                "dskkar_b64": base64.b64encode(kar).decode(),
                "dskwor_b64": base64.b64encode(wor).decode()},
                headers={**h, "Idempotency-Key": f"dbf-{month}"})]
        assert [r.status_code for r in submitted] == [status, status]
        for r in submitted:
            await answers.ask("portal", c, "GET", f"/lists/{r.json()['list_id']}", headers=h)
    lab.fault("payment", mode="ok")
    async with lab.client(lab.portal("resilient", replica="r1")) as queued:  # the list queue
        r = await answers.ask("portal", queued, "POST", "/lists", json=list_body(shop, 5),
                              headers={**h, "Idempotency-Key": "rows-queued"})
        assert r.status_code == 202 and r.json()["status"] == "accepted"
        await answers.ask("portal", queued, "GET", f"/lists/{r.json()['list_id']}", headers=h)


async def _prescription_session(lab: Lab, answers: Answers, c: httpx.AsyncClient) -> None:
    """A doctor's login (its SMS code) and prescription, a pharmacy's lookup, dispense,
    paper prescription and claim."""
    doctor, pharmacy = lab.population.doctors[0], lab.population.pharmacies[0]
    patient = lab.population.citizens[0]
    first = await answers.ask("portal", c, "POST", "/auth/login", json={
        "national_id": doctor.national_id, "password": doctor.password})
    code = await lab.sms_code(doctor.mobile)
    session = await answers.ask("portal", c, "POST", "/auth/otp", json={
        "challenge_id": first.json()["challenge_id"], "code": code})
    dh = {"Authorization": f"Bearer {session.json()['token']}"}
    items = [{"drug_code": "AMOX500", "quantity": 2}]
    rx = await answers.ask("portal", c, "POST", "/prescriptions", json={
        "patient_national_id": patient.national_id, "items": items},
        headers={**dh, "Idempotency-Key": "rx-1"})
    tracking = rx.json()["tracking_code"]
    ph = await lab.login(c, pharmacy)
    await answers.ask("portal", c, "GET", f"/prescriptions/{tracking}?patient_national_id="
                      f"{patient.national_id}", headers=ph)
    await answers.ask("portal", c, "POST", f"/prescriptions/{tracking}/dispense",
                      json={"patient_national_id": patient.national_id},
                      headers={**ph, "Idempotency-Key": "dx-1"})
    await answers.ask("portal", c, "POST", "/prescriptions/paper", json={
        "control_no": "C-1001", "patient_national_id": patient.national_id, "items": items,
        "dispensed_on": "14040315"}, headers={**ph, "Idempotency-Key": "pp-1"})
    await answers.ask("portal", c, "GET", "/prescriptions/claims/140403", headers=ph)


async def _citizen_session(lab: Lab, answers: Answers, c: httpx.AsyncClient) -> None:
    """A draft saved and restored; a password recovered."""
    me = lab.population.citizens[2]
    h = await lab.login(c, me)
    await answers.ask("portal", c, "PUT", "/drafts/form-1", json={"data": {"a": [1, 2.5]}},
                      headers={**h, "Idempotency-Key": "d-1"})
    await answers.ask("portal", c, "GET", "/drafts/form-1", headers=h)
    sent = await answers.ask("portal", c, "POST", "/auth/recovery", json={
        "national_id": me.national_id, "mobile": me.mobile})
    code = await lab.sms_code(me.mobile)
    await answers.ask("portal", c, "POST", "/auth/recovery/confirm", json={
        "challenge_id": sent.json()["challenge_id"], "code": code,
        "new_password": "a new password"}, headers={"Idempotency-Key": "rc-1"})


async def _portal_session(lab: Lab, answers: Answers, portal: FastAPI) -> None:
    async with lab.client(portal) as c, lab.admin(portal) as a:
        await answers.ask("portal", c, "GET", "/healthz")
        await answers.ask("portal", c, "GET", "/readyz")
        await _records_session(lab, answers, c)
        await answers.ask("portal", a, "POST", "/admin/policies/reset")  # the open breaker
        await _employer_session(lab, answers, c)
        await _prescription_session(lab, answers, c)
        await _citizen_session(lab, answers, c)
        await answers.ask("portal", a, "GET", "/admin/applied")
        await answers.ask("portal", a, "GET", "/admin/queue")
        await answers.ask("portal", a, "POST", "/admin/ready", json={"ready": True})
        await answers.ask("portal", a, "POST", "/admin/fault", json={"mode": "ok"})
        await answers.ask("portal", a, "GET", "/admin/fault")
        await _emulation_session("portal", a, answers)


async def test_every_2xx_body_is_what_its_schema_says(lab: Lab) -> None:
    apps = _apps(lab)
    answers = Answers()
    await _upstream_session(lab, answers)
    await _portal_session(lab, answers, apps["portal"])
    documents = {name: _whole_document(app) for name, app in apps.items()}
    untrue, answered = [], set()
    for name, method, path, r in answers.seen:
        document = documents[name]
        template = _template(document, method, path)
        answered.add((name, method, template, str(r.status_code)))
        declared = document["paths"][template][method.lower()]["responses"]
        schema = declared.get(str(r.status_code), {}).get("content", {}).get(
            "application/json", {}).get("schema")
        if schema is None:
            untrue.append(f"{name} {method} {template} {r.status_code}: undeclared")
            continue
        root = _closed({**schema, "components": document.get("components", {})})
        for error in jsonschema.Draft202012Validator(root).iter_errors(r.json()):
            untrue.append(f"{name} {method} {template} {r.status_code}: {error.message} "
                          f"at {list(error.absolute_path)}")
    assert untrue == []
    declared_2xx = {(name, method.upper(), path, status)
                    for name, document in documents.items()
                    for path, operations in document["paths"].items()
                    for method, operation in operations.items()
                    for status in operation["responses"] if status.startswith("2")}
    assert declared_2xx - answered == set()  # the session answers every declared 2xx
