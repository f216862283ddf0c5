"""Random sequences of API calls against a ten-line model of the proxy table.

Whatever the calls, bodies and paths: never a 500, and the server's table always equals the
model. Runs against `toxiproxy_url`, so it checks the real server too when one is given
(bodies it would crash on are not generated).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from faults.testing import clear

pytestmark = pytest.mark.network

NAMES = st.sampled_from(["a", "b", "c"])
TOXIC_NAMES = st.sampled_from([None, "t1", "t2"])
STREAMS = st.sampled_from(["upstream", "downstream", "UpStream", "sideways", None])
ATTRIBUTES = {  # the attributes of each type, with values the real server survives
    "latency": {"latency": st.integers(0, 50), "jitter": st.integers(0, 10)},
    "bandwidth": {"rate": st.integers(0, 10_000)},
    "slow_close": {"delay": st.integers(0, 50)},
    "timeout": {"timeout": st.integers(0, 50)},
    "reset_peer": {"timeout": st.integers(0, 50)},
    "slicer": {"average_size": st.integers(20, 40), "size_variation": st.integers(1, 19),
               "delay": st.integers(0, 10)},
    "limit_data": {"bytes": st.integers(0, 10_000)},
    "noop": {},
}
TYPES = st.sampled_from([*ATTRIBUTES, "bogus", "Latency"])
JUNK_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                         lambda inner: st.lists(inner, max_size=3), max_leaves=5)
JUNK_BODIES = st.binary(max_size=30) | JUNK_JSON.map(lambda v: json.dumps(v).encode())
SEGMENTS = st.text("abcxyz019-._~!$&'()*+,;=:@", max_size=8) | st.sampled_from(
    ["proxies", "toxics", "a", "version", "%20", "%2F", ""])
FIRST_SEGMENTS = st.sampled_from(["proxies", "version", "populate", "reset", "metrics", "x"])


@dataclass
class ProxyModel:
    """What the server should say about one proxy."""

    upstream: str
    enabled: bool
    toxics: list[dict[str, Any]] = field(default_factory=list)

    def listed_toxics(self) -> list[dict[str, Any]]:
        """Upstream first, then downstream, each in insertion order."""
        up = [t for t in self.toxics if t["stream"].lower() == "upstream"]
        return up + [t for t in self.toxics if t["stream"].lower() != "upstream"]


class ApiMachine(RuleBasedStateMachine):
    """Drives the API and mirrors every accepted change in `model`."""

    def __init__(self, api: httpx.Client, upstream: str) -> None:
        super().__init__()
        self.api = api
        self.upstream = upstream
        self.model: dict[str, ProxyModel] = {}
        clear(api)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.api.request(method, path, **kwargs)
        assert response.status_code < 500, (method, path, response.text)
        # the middleware runs on a routed request only; the router's 301/404/405 come before it
        # (no route takes HEAD)
        routed = (method != "HEAD" and response.status_code not in (301, 405)
                  and response.text != "404 page not found\n")
        assert bool(response.headers.get("x-toxiproxy-request-id")) == routed
        return response

    @rule(name=NAMES, enabled=st.booleans())
    def create(self, name: str, enabled: bool) -> None:
        response = self.call("POST", "/proxies", json={
            "name": name, "listen": "127.0.0.1:0", "upstream": self.upstream,
            "enabled": enabled})
        if name in self.model:
            assert response.status_code == 409
        else:
            assert response.status_code == 201
            self.model[name] = ProxyModel(self.upstream, enabled)

    @rule(name=NAMES)
    def delete(self, name: str) -> None:
        response = self.call("DELETE", f"/proxies/{name}")
        assert response.status_code == (204 if self.model.pop(name, None) else 404)

    @rule(name=NAMES, enabled=st.none() | st.booleans(), move=st.booleans())
    def update(self, name: str, enabled: bool | None, move: bool) -> None:
        body: dict[str, Any] = {} if enabled is None else {"enabled": enabled}
        if move:
            body["upstream"] = "127.0.0.1:1"
        response = self.call("PATCH", f"/proxies/{name}", json=body)
        proxy = self.model.get(name)
        if proxy is None:
            assert response.status_code == 404
            return
        assert response.status_code == 200
        proxy.upstream = body.get("upstream", proxy.upstream)
        proxy.enabled = proxy.enabled if enabled is None else enabled

    @rule(proxy=NAMES, type_=TYPES, stream=STREAMS, name=TOXIC_NAMES,
          toxicity=st.sampled_from([None, 0, 0.5, 1]), data=st.data())
    def add_toxic(self, proxy: str, type_: str, stream: str | None, name: str | None,
                  toxicity: float | None, data: st.DataObject) -> None:
        strategies = ATTRIBUTES.get(type_, {"latency": st.integers(0, 5)})
        attributes = data.draw(st.fixed_dictionaries({}, optional=strategies))
        if type_ == "slicer":  # both or neither: size_variation must stay below the average
            attributes.update(average_size=30, size_variation=5)
        body = {"type": type_, "stream": stream, "name": name, "toxicity": toxicity,
                "attributes": attributes}
        response = self.call("POST", f"/proxies/{proxy}/toxics",
                             json={k: v for k, v in body.items() if v is not None})
        model = self.model.get(proxy)
        stream_sent = "downstream" if stream is None else stream
        full_name = name or f"{type_}_{stream_sent}"
        if model is None:
            assert response.status_code == 404
        elif stream_sent.lower() not in ("upstream", "downstream") or type_ not in ATTRIBUTES:
            assert response.status_code == 400
        elif any(t["name"] == full_name for t in model.toxics):
            assert response.status_code == 409
        else:
            assert response.status_code == 200
            defaults = dict.fromkeys(ATTRIBUTES[type_], 0)
            expected = {"attributes": {**defaults, **attributes}, "name": full_name,
                        "type": type_, "stream": stream_sent,
                        "toxicity": 1 if toxicity is None else toxicity}
            assert response.json() == expected
            model.toxics.append(expected)

    @rule(proxy=NAMES, name=st.sampled_from(["t1", "latency_downstream", "noop_upstream"]),
          toxicity=st.none() | st.sampled_from([0, 0.25, 1]))
    def update_toxic(self, proxy: str, name: str, toxicity: float | None) -> None:
        body = {} if toxicity is None else {"toxicity": toxicity}
        response = self.call("PATCH", f"/proxies/{proxy}/toxics/{name}", json=body)
        model = self.model.get(proxy)
        toxic = next((t for t in model.toxics if t["name"] == name), None) if model else None
        if toxic is None:
            assert response.status_code == 404
            return
        assert response.status_code == 200
        if toxicity is not None:
            toxic["toxicity"] = toxicity
        assert response.json() == toxic

    @rule(proxy=NAMES, name=st.sampled_from(["t1", "t2", "latency_downstream"]))
    def delete_toxic(self, proxy: str, name: str) -> None:
        response = self.call("DELETE", f"/proxies/{proxy}/toxics/{name}")
        model = self.model.get(proxy)
        toxic = next((t for t in model.toxics if t["name"] == name), None) if model else None
        assert response.status_code == (404 if toxic is None else 204)
        if model is not None and toxic is not None:
            model.toxics.remove(toxic)

    @rule()
    def reset(self) -> None:
        assert self.call("POST", "/reset").status_code == 204
        for proxy in self.model.values():
            proxy.enabled, proxy.toxics = True, []

    @rule(method=st.sampled_from(["GET", "PUT", "HEAD", "OPTIONS"]),
          first=FIRST_SEGMENTS, segments=st.lists(SEGMENTS, max_size=3), body=JUNK_BODIES)
    def junk_path(self, method: str, first: str, segments: list[str], body: bytes) -> None:
        self.call(method, "/" + "/".join([first, *segments]), content=body)

    @rule(method=st.sampled_from(["POST", "PATCH"]), body=JUNK_BODIES,
          path=st.sampled_from(["/proxies", "/populate", "/proxies/a", "/proxies/a/toxics"]))
    def junk_body(self, method: str, path: str, body: bytes) -> None:
        response = self.call(method, path, content=body)
        assert response.status_code in (200, 201, 400, 404, 405)

    @invariant()
    def table_equals_model(self) -> None:
        table = self.call("GET", "/proxies").json()
        assert sorted(table) == sorted(self.model)
        for name, proxy in self.model.items():
            got = table[name]
            assert (got["upstream"], got["enabled"]) == (proxy.upstream, proxy.enabled)
            assert got["toxics"] == proxy.listed_toxics()
            if proxy.enabled:
                assert re.fullmatch(r"127\.0\.0\.1:[1-9]\d*", got["listen"])


def test_api_matches_its_model(toxiproxy: httpx.Client) -> None:
    run_state_machine_as_test(
        lambda: ApiMachine(toxiproxy, "127.0.0.1:9"),
        settings=settings(settings(), stateful_step_count=20),
    )
