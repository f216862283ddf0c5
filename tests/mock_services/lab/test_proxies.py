"""The lab's proxy rules on the one Toxiproxy client, against a Toxiproxy played by an
`httpx.MockTransport` (the live server is exercised by test_shared_proxy.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from faults.client import ProxySpec, ToxiproxyClient
from faults.errors import ProxyExists, ProxyNotFound
from mock_services.lab import proxies

URL = "http://127.0.0.1:8474"


class FakeToxiproxy:
    """The few routes the lab uses, over a dict of proxies; every request is kept."""

    def __init__(self, **existing: dict[str, Any]) -> None:
        self.proxies = existing
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        self.requests.append(f"{request.method} {request.url.path}")
        assert request.headers["user-agent"] == "chaoslab"
        match request.method, parts:
            case "GET", ["proxies"]:
                return httpx.Response(200, json=self.proxies)
            case "POST", ["populate"]:
                for p in json.loads(request.content):
                    self.proxies[p["name"]] = {**p, "toxics": []}
                return httpx.Response(201, json={"proxies": list(self.proxies.values())})
            case _, ["proxies", name, *_] if name not in self.proxies:
                return httpx.Response(404, json={"error": "proxy not found"})
            case "GET", ["proxies", name]:
                return httpx.Response(200, json=self.proxies[name])
            case "POST", ["proxies", name]:
                self.proxies[name].update(json.loads(request.content))
                return httpx.Response(200, json=self.proxies[name])
            case "DELETE", ["proxies", name]:
                del self.proxies[name]
                return httpx.Response(204)
            case "DELETE", ["proxies", name, "toxics", toxic]:
                self.proxies[name]["toxics"] = [t for t in self.proxies[name]["toxics"]
                                                if t["name"] != toxic]
                return httpx.Response(204)
        return httpx.Response(405, json={"error": "not a route of this fake"})


def _proxy(name: str, *, enabled: bool = True, toxics: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": name, "listen": "127.0.0.1:7001", "upstream": "127.0.0.1:8001",
            "enabled": enabled,
            "toxics": [{"name": t, "type": "latency", "stream": "downstream", "toxicity": 1.0,
                        "attributes": {"latency": 100, "jitter": 0}} for t in toxics]}


def _client(server: FakeToxiproxy) -> ToxiproxyClient:
    return ToxiproxyClient(URL, transport=httpx.MockTransport(server))


def test_heal_clears_and_enables_the_labs_proxies_only() -> None:
    server = FakeToxiproxy(**{"lab1-a": _proxy("lab1-a", enabled=False, toxics=("slow",)),
                              "lab2-a": _proxy("lab2-a", toxics=("theirs",))})
    with _client(server) as client:
        proxies.heal(client, ["lab1-a"])
    assert server.proxies["lab1-a"]["enabled"] and server.proxies["lab1-a"]["toxics"] == []
    assert [t["name"] for t in server.proxies["lab2-a"]["toxics"]] == ["theirs"]
    assert "POST /reset" not in server.requests  # never the server-wide reset


def test_heal_names_a_proxy_that_is_gone() -> None:
    with _client(FakeToxiproxy()) as client, \
            pytest.raises(ProxyNotFound, match="has no proxy 'lab1-a'; expected every proxy"):
        proxies.heal(client, ["lab1-a"])


def test_create_refuses_a_taken_name_and_creates_nothing() -> None:
    server = FakeToxiproxy(**{"lab1-b": _proxy("lab1-b")})
    specs = [ProxySpec("lab1-a", "127.0.0.1:8001", "127.0.0.1:7001"),
             ProxySpec("lab1-b", "127.0.0.1:8002", "127.0.0.1:7002")]
    with _client(server) as client:
        with pytest.raises(ProxyExists, match="already has a proxy named 'lab1-b'"):
            proxies.create(client, specs)
        assert sorted(server.proxies) == ["lab1-b"]
        proxies.create(client, specs[:1])
        assert proxies.names(client) == ["lab1-a", "lab1-b"]


def test_delete_skips_a_missing_proxy() -> None:
    server = FakeToxiproxy(**{"lab1-a": _proxy("lab1-a"), "lab2-a": _proxy("lab2-a")})
    with _client(server) as client:
        proxies.delete(client, ["lab1-a", "lab1-gone"])
    assert sorted(server.proxies) == ["lab2-a"]
