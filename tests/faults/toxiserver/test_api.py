"""Conformance of the HTTP API with Toxiproxy 2.12 (TOXIPROXY.md), against `toxiproxy_url`."""

from __future__ import annotations

import re
import socket

import httpx
import pytest

from tests.faults.toxiserver.support import create_proxy

pytestmark = pytest.mark.network

TEXT = "text/plain; charset=utf-8"


def error_of(response: httpx.Response) -> str:
    """The message of an error answer, checking its wire form on the way."""
    assert response.headers["content-type"] == TEXT
    assert response.text.endswith("\n")
    body = response.json()
    assert body["status"] == response.status_code
    message: str = body["error"]
    return message


def test_version_answers_json(toxiproxy: httpx.Client) -> None:
    response = toxiproxy.get("/version")
    assert response.status_code == 200
    assert response.json()["version"].startswith("2.")


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/version", 200), ("GET", "/proxies", 200), ("GET", "/proxies/absent", 404),
    ("POST", "/proxies", 400),
])
def test_every_routed_response_carries_a_request_id(toxiproxy: httpx.Client, method: str,
                                                    path: str, status: int) -> None:
    response = toxiproxy.request(method, path)
    assert response.status_code == status
    assert re.fullmatch("[0-9a-v]{20}", response.headers["x-toxiproxy-request-id"])  # an xid


def test_request_ids_differ(toxiproxy: httpx.Client) -> None:
    ids = {toxiproxy.get("/version").headers["x-toxiproxy-request-id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("path", ["/version", "/proxies"])
def test_a_browser_is_refused(toxiproxy: httpx.Client, path: str) -> None:
    response = toxiproxy.get(path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert response.status_code == 403
    assert response.text.strip() == "User agent not allowed"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/nope", "/proxies/", "/version/", "/proxies/a/toxics/"])
def test_unknown_path_is_404_text(toxiproxy: httpx.Client, path: str) -> None:
    response = toxiproxy.get(path)
    assert response.status_code == 404
    assert response.text == "404 page not found\n"
    assert response.headers["content-type"] == TEXT


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/proxies"), ("DELETE", "/version"), ("GET", "/reset"), ("GET", "/populate"),
    ("PUT", "/proxies/x/toxics"),
])
def test_known_path_with_another_method_is_405_empty(toxiproxy: httpx.Client, method: str,
                                                     path: str) -> None:
    response = toxiproxy.request(method, path)
    assert response.status_code == 405
    assert response.content == b""


def test_proxy_lifecycle(toxiproxy: httpx.Client, echo: str) -> None:
    assert toxiproxy.get("/proxies").json() == {}
    created = toxiproxy.post("/proxies", json={"name": "db", "listen": "localhost:0",
                                                "upstream": echo, "unknown": [1]})
    assert created.status_code == 201
    proxy = created.json()
    host, port = proxy["listen"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0  # localhost:0 is reported as bound
    assert (proxy["name"], proxy["upstream"], proxy["enabled"], proxy["toxics"]) == (
        "db", echo, True, [])
    assert toxiproxy.get("/proxies/db").json()["listen"] == proxy["listen"]
    create_proxy(toxiproxy, "api", echo)
    assert list(toxiproxy.get("/proxies").json()) == ["api", "db"]  # sorted by name
    patched = toxiproxy.patch("/proxies/db", json={"enabled": False})
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False
    assert patched.json()["listen"] == proxy["listen"]  # omitted fields keep their values
    assert toxiproxy.post("/proxies/db", json={"enabled": True}).json()["enabled"] is True
    assert toxiproxy.delete("/proxies/db").status_code == 204
    assert error_of(toxiproxy.get("/proxies/db")) == "proxy not found"
    assert toxiproxy.delete("/proxies/db").status_code == 404


def test_proxy_created_disabled_keeps_listen_verbatim(toxiproxy: httpx.Client, echo: str) -> None:
    response = toxiproxy.post("/proxies", json={"name": "off", "listen": "localhost:0",
                                                 "upstream": echo, "enabled": False})
    assert response.status_code == 201
    assert response.json()["listen"] == "localhost:0"
    assert response.json()["enabled"] is False


def test_proxy_path_segment_is_url_decoded(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "a b", echo)
    assert toxiproxy.get("/proxies/a%20b").json()["name"] == "a b"


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"", 400, "bad request body: EOF"),
    (b'{"upstream": "127.0.0.1:1"}', 400, "missing required field: name"),
    (b'{"name": "x"}', 400, "missing required field: upstream"),
    (b'{"name": "", "upstream": "127.0.0.1:1"}', 400, "missing required field: name"),
    (b'{"name": null, "upstream": "127.0.0.1:1"}', 400, "missing required field: name"),
])
def test_create_errors(toxiproxy: httpx.Client, body: bytes, status: int, message: str) -> None:
    response = toxiproxy.post("/proxies", content=body)
    assert response.status_code == status
    assert error_of(response) == message
    assert toxiproxy.get("/proxies").json() == {}


@pytest.mark.parametrize("body", [
    b"{", b"nope", b'{"name": 5, "upstream": "127.0.0.1:1"}', b'{"name": "x", "upstream": []}',
    b'{"name": "x", "upstream": "127.0.0.1:1", "enabled": "yes"}', b"[]", b'"x"',
])
def test_malformed_or_mistyped_body_is_400(toxiproxy: httpx.Client, body: bytes) -> None:
    response = toxiproxy.post("/proxies", content=body)
    assert response.status_code == 400
    assert error_of(response).startswith("bad request body: ")
    assert toxiproxy.get("/proxies").json() == {}


def test_body_is_json_whatever_the_content_type(toxiproxy: httpx.Client, echo: str) -> None:
    body = f'{{"name": "t", "upstream": "{echo}", "listen": "127.0.0.1:0"}}'
    response = toxiproxy.post("/proxies", content=body,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 201


def test_duplicate_proxy_is_409(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "dup", echo)
    response = toxiproxy.post("/proxies", json={"name": "dup", "upstream": echo,
                                                 "listen": "127.0.0.1:0"})
    assert response.status_code == 409
    assert error_of(response) == "proxy already exists"


def test_port_in_use_is_500_with_the_os_error(toxiproxy: httpx.Client, echo: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        response = toxiproxy.post("/proxies", json={"name": "busy", "upstream": echo,
                                                     "listen": f"127.0.0.1:{port}"})
    assert response.status_code == 500
    assert error_of(response) == f"listen tcp 127.0.0.1:{port}: bind: address already in use"
    assert toxiproxy.get("/proxies").json() == {}  # never a half-created proxy


@pytest.mark.parametrize(("listen", "message"), [
    ("nocolon", "listen tcp: address nocolon: missing port in address"),
    ("127.0.0.1:99999", "listen tcp: address 99999: invalid port"),
    ("127.0.0.1:nosuchservice", "listen tcp: lookup tcp/nosuchservice: unknown port"),
])
def test_bad_listen_address_is_500(toxiproxy: httpx.Client, echo: str, listen: str,
                                   message: str) -> None:
    response = toxiproxy.post("/proxies", json={"name": "bad", "upstream": echo,
                                                 "listen": listen})
    assert response.status_code == 500
    assert error_of(response) == message
    assert toxiproxy.get("/proxies").json() == {}


def test_update_errors(toxiproxy: httpx.Client, echo: str) -> None:
    assert toxiproxy.patch("/proxies/absent", json={}).status_code == 404
    create_proxy(toxiproxy, "u", echo)
    assert error_of(toxiproxy.patch("/proxies/u", content=b"")) == "bad request body: EOF"
    response = toxiproxy.patch("/proxies/u", json={"enabled": "no"})
    assert response.status_code == 400
    response = toxiproxy.patch("/proxies/u", json={"listen": "nocolon"})
    assert response.status_code == 500
    assert "missing port in address" in error_of(response)


def test_name_cannot_change_on_update(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "keep", echo)
    response = toxiproxy.patch("/proxies/keep", json={"name": "other"})
    assert response.status_code == 200
    assert response.json()["name"] == "keep"
    assert list(toxiproxy.get("/proxies").json()) == ["keep"]


def test_toxic_lifecycle_and_defaults(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "p", echo)
    response = toxiproxy.post("/proxies/p/toxics", json={"type": "latency",
                                                         "attributes": {"latency": 10}})
    assert response.status_code == 200  # not 201
    assert response.json() == {"attributes": {"latency": 10, "jitter": 0},
                               "name": "latency_downstream", "type": "latency",
                               "stream": "downstream", "toxicity": 1}
    up = toxiproxy.post("/proxies/p/toxics", json={"type": "limit_data", "stream": "UpStream",
                                                   "toxicity": 0.5})
    assert up.json()["name"] == "limit_data_UpStream"
    assert up.json()["stream"] == "UpStream"  # echoed as sent
    assert up.json()["attributes"] == {"bytes": 0}
    assert up.json()["toxicity"] == 0.5
    listed = toxiproxy.get("/proxies/p/toxics").json()
    assert [t["name"] for t in listed] == ["limit_data_UpStream", "latency_downstream"]
    assert toxiproxy.get("/proxies/p").json()["toxics"] == listed
    shown = toxiproxy.get("/proxies/p/toxics/latency_downstream").json()
    assert shown["attributes"]["latency"] == 10
    merged = toxiproxy.patch("/proxies/p/toxics/latency_downstream",
                             json={"attributes": {"jitter": 3}, "name": "x", "type": "noop",
                                   "stream": "upstream"})
    assert merged.status_code == 200
    assert merged.json() == {"attributes": {"latency": 10, "jitter": 3},
                             "name": "latency_downstream", "type": "latency",
                             "stream": "downstream", "toxicity": 1}
    again = toxiproxy.post("/proxies/p/toxics/latency_downstream", json={"toxicity": 0.25})
    assert again.json()["toxicity"] == 0.25
    assert again.json()["attributes"] == {"latency": 10, "jitter": 3}
    assert toxiproxy.delete("/proxies/p/toxics/latency_downstream").status_code == 204
    assert error_of(toxiproxy.get("/proxies/p/toxics/latency_downstream")) == "toxic not found"
    assert toxiproxy.delete("/proxies/p/toxics/latency_downstream").status_code == 404


@pytest.mark.parametrize("type_", ["latency", "bandwidth", "slow_close", "timeout",
                                   "reset_peer", "slicer", "limit_data", "noop"])
def test_every_type_lists_all_its_attributes(toxiproxy: httpx.Client, echo: str,
                                             type_: str) -> None:
    expected = {"latency": {"latency", "jitter"}, "bandwidth": {"rate"},
                "slow_close": {"delay"}, "timeout": {"timeout"}, "reset_peer": {"timeout"},
                "slicer": {"average_size", "size_variation", "delay"},
                "limit_data": {"bytes"}, "noop": set()}[type_]
    attributes = {"average_size": 10, "size_variation": 1} if type_ == "slicer" else {}
    create_proxy(toxiproxy, "p", echo)
    response = toxiproxy.post("/proxies/p/toxics", json={"type": type_, "stream": "upstream",
                                                         "attributes": attributes})
    assert response.status_code == 200, response.text
    assert set(response.json()["attributes"]) == expected


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"type": "latency", "stream": "sideways"}, 400,
     "stream was invalid, can be either upstream or downstream"),
    ({"type": "latency", "stream": ""}, 400,
     "stream was invalid, can be either upstream or downstream"),
    ({"type": "Latency"}, 400, "invalid toxic type"),
    ({"type": "nope"}, 400, "invalid toxic type"),
    ({}, 400, "invalid toxic type"),
])
def test_toxic_create_errors(toxiproxy: httpx.Client, echo: str, body: dict[str, object],
                             status: int, message: str) -> None:
    create_proxy(toxiproxy, "p", echo)
    response = toxiproxy.post("/proxies/p/toxics", json=body)
    assert response.status_code == status
    assert error_of(response) == message
    assert toxiproxy.get("/proxies/p/toxics").json() == []


@pytest.mark.parametrize("body", [
    b"", b"{", b'{"type": "latency", "attributes": {"latency": "slow"}}',
    b'{"type": "latency", "attributes": {"latency": 1.5}}', b'{"type": "latency", "toxicity": "x"}',
    b'{"type": "latency", "attributes": 5}', b'{"type": 7}',
])
def test_toxic_bad_body_is_400(toxiproxy: httpx.Client, echo: str, body: bytes) -> None:
    create_proxy(toxiproxy, "p", echo)
    response = toxiproxy.post("/proxies/p/toxics", content=body)
    assert response.status_code == 400
    assert error_of(response).startswith("bad request body: ")
    assert toxiproxy.get("/proxies/p/toxics").json() == []


def test_toxic_names_are_unique_across_streams(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "p", echo)
    toxiproxy.post("/proxies/p/toxics", json={"name": "t", "type": "noop"})
    response = toxiproxy.post("/proxies/p/toxics", json={"name": "t", "type": "latency",
                                                          "stream": "upstream"})
    assert response.status_code == 409
    assert error_of(response) == "toxic already exists"


def test_toxic_calls_on_a_missing_proxy_are_404(toxiproxy: httpx.Client) -> None:
    for method in ("GET", "POST"):
        response = toxiproxy.request(method, "/proxies/absent/toxics", json={"type": "noop"})
        assert error_of(response) == "proxy not found"
    for method in ("GET", "PATCH", "DELETE"):
        response = toxiproxy.request(method, "/proxies/absent/toxics/t", json={})
        assert response.status_code == 404
        assert error_of(response) == "proxy not found"


def test_update_of_a_missing_toxic_is_404(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "p", echo)
    response = toxiproxy.patch("/proxies/p/toxics/absent", json={"toxicity": 1})
    assert error_of(response) == "toxic not found"


def test_update_toxic_bad_body_is_400(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "p", echo)
    toxiproxy.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 5}})
    for body in (b"", b'{"attributes": {"latency": "x"}}', b'{"toxicity": []}'):
        response = toxiproxy.patch("/proxies/p/toxics/latency_downstream", content=body)
        assert response.status_code == 400
        assert error_of(response).startswith("bad request body: ")
    assert toxiproxy.get("/proxies/p/toxics/latency_downstream").json()["attributes"] == {
        "latency": 5, "jitter": 0}


def test_populate_creates_and_lists_in_order(toxiproxy: httpx.Client, echo: str) -> None:
    body = [{"name": n, "listen": "127.0.0.1:0", "upstream": echo} for n in ("b", "a")]
    body.append({"name": "c", "listen": "127.0.0.1:0", "upstream": echo, "enabled": False})
    response = toxiproxy.post("/populate", json=body)
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    proxies = response.json()["proxies"]
    assert [p["name"] for p in proxies] == ["b", "a", "c"]
    assert [p["enabled"] for p in proxies] == [True, True, False]
    assert sorted(toxiproxy.get("/proxies").json()) == ["a", "b", "c"]


def test_populate_validates_every_entry_first(toxiproxy: httpx.Client, echo: str) -> None:
    body = [{"name": "ok", "listen": "127.0.0.1:0", "upstream": echo}, {"upstream": echo}]
    response = toxiproxy.post("/populate", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "missing required field: name at proxy 2"
    assert toxiproxy.get("/proxies").json() == {}


def test_populate_keeps_an_identical_proxy(toxiproxy: httpx.Client, echo: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    entry = {"name": "same", "listen": f"127.0.0.1:{port}", "upstream": echo}
    assert toxiproxy.post("/populate", json=[entry]).status_code == 201
    toxiproxy.post("/proxies/same/toxics", json={"type": "noop"})
    assert toxiproxy.post("/populate", json=[entry]).status_code == 201
    assert [t["name"] for t in toxiproxy.get("/proxies/same").json()["toxics"]] == [
        "noop_downstream"]  # kept untouched, toxics too
    changed = {**entry, "upstream": "127.0.0.1:1"}
    assert toxiproxy.post("/populate", json=[changed]).status_code == 201
    replaced = toxiproxy.get("/proxies/same").json()
    assert (replaced["upstream"], replaced["toxics"]) == ("127.0.0.1:1", [])


def test_populate_bind_error_keeps_earlier_entries(toxiproxy: httpx.Client, echo: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        body = [{"name": "first", "listen": "127.0.0.1:0", "upstream": echo},
                {"name": "second", "listen": f"127.0.0.1:{port}", "upstream": echo}]
        response = toxiproxy.post("/populate", json=body)
    assert response.status_code == 500
    answer = response.json()
    assert answer["error"] == f"listen tcp 127.0.0.1:{port}: bind: address already in use"
    assert [p["name"] for p in answer["proxies"]] == ["first"]
    assert list(toxiproxy.get("/proxies").json()) == ["first"]


def test_populate_bad_body_is_400(toxiproxy: httpx.Client) -> None:
    for body in (b"", b"{}", b"[5]", b'[{"name": 5}]'):
        response = toxiproxy.post("/populate", content=body)
        assert response.status_code == 400, body
        assert response.json()["error"].startswith("bad request body: ")


def test_reset_enables_proxies_and_removes_toxics(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "r", echo)
    toxiproxy.post("/proxies/r/toxics", json={"type": "latency", "stream": "upstream"})
    toxiproxy.post("/proxies/r/toxics", json={"type": "timeout"})
    toxiproxy.patch("/proxies/r", json={"enabled": False})
    response = toxiproxy.post("/reset")
    assert response.status_code == 204
    assert response.content == b""
    proxy = toxiproxy.get("/proxies/r").json()
    assert (proxy["enabled"], proxy["toxics"]) == (True, [])
