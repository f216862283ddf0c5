"""The live runner's admin requests go through the `httpx.Client` it is handed: an
`httpx.MockTransport` plays the portal and the upstreams here, no lab needed."""

from __future__ import annotations

import json

import httpx

from chaoslab.live.runner import append_final_state, heal_upstreams
from mock_services.common.access import Secrets
from mock_services.lab.access import AdminAccess
from scenario.history import FINAL, History

ADDRESSES = {"portal-a": "127.0.0.1:9001", "shahkar": "127.0.0.1:9002",
             "registry": "127.0.0.1:9003"}


def _access(transport: httpx.MockTransport) -> tuple[AdminAccess, httpx.Client]:
    http = httpx.Client(transport=transport)
    return AdminAccess(ADDRESSES, Secrets("tok", b"k" * 32)).using(http), http


def test_the_final_state_is_read_through_the_injected_client() -> None:
    seen: list[httpx.Request] = []

    def portal(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"rx-1": 1, "rx-2:a2": 1, "rx-2": 1})

    history = History()
    history.invoke("doctor-1", "prescribe", 0.0, key="rx-1")
    history.invoke("doctor-2", "prescribe", 0.1, key="rx-2")
    history.invoke("doctor-3", "prescribe", 0.2, key="rx-3")
    admin, http = _access(httpx.MockTransport(portal))
    with http:
        append_final_state(admin, "portal-a", history, 5.0)
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:9001/admin/applied"]
    assert seen[0].headers["authorization"] == "Bearer tok"
    finals = [(op.key, op.value) for op in history if op.process == FINAL]
    assert finals == [("rx-1", "1"), ("rx-2", "2"), ("rx-3", "0")]  # attempts folded


def test_healing_the_upstreams_posts_ok_to_each_and_skips_one_that_is_down() -> None:
    posted: list[tuple[str, object]] = []

    def upstreams(request: httpx.Request) -> httpx.Response:
        if request.url.port == 9002:
            raise httpx.ConnectError("refused", request=request)
        posted.append((request.url.host + ":" + str(request.url.port) + request.url.path,
                       json.loads(request.content)))
        return httpx.Response(200, json={"mode": "ok"})

    admin, http = _access(httpx.MockTransport(upstreams))
    with http:
        heal_upstreams(admin, ["shahkar", "registry"])
    assert posted == [("127.0.0.1:9003/admin/fault", {"mode": "ok"})]
