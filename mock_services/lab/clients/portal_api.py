"""The portal's HTTP API as the clients call it: one request builder per operation.

Routes and bodies are those of mock_services/portal/routes. Writes carry an Idempotency-Key;
`http.call(stable_keys=...)` decides whether a retry reuses it (the idempotent clients of
`resilient`) or sends a fresh one per attempt (`baseline`: a retry may apply twice).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mock_services.lab.clients.http import HttpRequest

OTP = re.compile(r"\b(\d{6})\b")
PRIORITY: Mapping[str, int] = {  # the history's priority classes (scenario/history.py)
    "prescribe": 0, "dispense": 0, "paper_record": 0, "reconcile": 0,
    "login": 1, "recover_password": 1, "submit_list": 1, "register_workshop": 1,
    "save_draft": 1, "restore_draft": 1,
    "read_history": 2, "read_payslip": 2,
}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _write(token: str, key: str) -> dict[str, str]:
    return {**_auth(token), "Idempotency-Key": key}


def login(national_id: str, password: str) -> HttpRequest:
    """POST /auth/login (a doctor then needs `otp`)."""
    return HttpRequest("POST", "/auth/login", {"national_id": national_id,
                                                "password": password})


def otp(challenge_id: str, code: str) -> HttpRequest:
    """POST /auth/otp: the doctor's SMS code."""
    return HttpRequest("POST", "/auth/otp", {"challenge_id": challenge_id, "code": code})


def recover_password(national_id: str, mobile: str) -> HttpRequest:
    """POST /auth/recovery: Shahkar checks the mobile, the SMS gateway sends a code."""
    return HttpRequest("POST", "/auth/recovery", {"national_id": national_id, "mobile": mobile})


def read_history(token: str, national_id: str) -> HttpRequest:
    """GET the caller's insurance history."""
    return HttpRequest("GET", f"/citizens/{national_id}/history", headers=_auth(token))


def read_payslip(token: str, national_id: str) -> HttpRequest:
    """GET the caller's pay slips."""
    return HttpRequest("GET", f"/citizens/{national_id}/payslips", headers=_auth(token))


def submit_list(token: str, key: str, insurance_list: Mapping[str, Any]) -> HttpRequest:
    """POST /lists: a monthly insurance list as JSON rows."""
    return HttpRequest("POST", "/lists", dict(insurance_list), _write(token, key), write=True)


def register_workshop(token: str, key: str, code: str, name: str) -> HttpRequest:
    """POST /workshops."""
    return HttpRequest("POST", "/workshops", {"code": code, "name": name}, _write(token, key),
                       write=True)


def prescribe(token: str, key: str, patient: str, items: list[dict[str, Any]]) -> HttpRequest:
    """POST /prescriptions: the answer carries the 12-digit tracking code."""
    return HttpRequest("POST", "/prescriptions", {"patient_national_id": patient,
                                                  "items": items}, _write(token, key),
                       write=True)


def dispense(token: str, key: str, tracking_code: str, patient: str) -> HttpRequest:
    """POST /prescriptions/{code}/dispense."""
    return HttpRequest("POST", f"/prescriptions/{tracking_code}/dispense",
                       {"patient_national_id": patient}, _write(token, key), write=True)


def register_paper(token: str, key: str, control_no: str, *, patient: str,
                   items: list[dict[str, Any]], dispensed_on: str) -> HttpRequest:
    """POST /prescriptions/paper: a paper prescription registered after an outage."""
    return HttpRequest("POST", "/prescriptions/paper",
                       {"control_no": control_no, "patient_national_id": patient,
                        "items": items, "dispensed_on": dispensed_on},
                       _write(token, key), write=True)


def save_draft(token: str, key: str, form_id: str, data: Mapping[str, Any]) -> HttpRequest:
    """PUT /drafts/{form_id}: a new server-side version of the draft."""
    return HttpRequest("PUT", f"/drafts/{form_id}", {"data": dict(data)}, _write(token, key),
                       write=True)


def restore_draft(token: str, form_id: str) -> HttpRequest:
    """GET /drafts/{form_id}: the newest saved version."""
    return HttpRequest("GET", f"/drafts/{form_id}", headers=_auth(token))


def otp_from_messages(body: Mapping[str, Any]) -> str | None:
    """The newest one-time code in an SMS outbox answer (GET /admin/messages)."""
    for message in body.get("messages", []):
        match = OTP.search(str(message.get("text", "")))
        if match:
            return match.group(1)
    return None


def applied_by_logical_key(applied: Mapping[str, int]) -> dict[str, int]:
    """`GET /admin/applied` (attempt key -> count) folded onto logical write keys."""
    out: dict[str, int] = {}
    for key, n in applied.items():
        base, sep, attempt = key.rpartition(":a")
        logical = base if sep and attempt.isdigit() else key
        out[logical] = out.get(logical, 0) + n
    return out
