"""The Toxiproxy client wrapper: each known fault of toxiproxy-python, mended.

These run on `httpx.MockTransport` servers (what the wire would say) and on raw loopback
sockets for timeouts.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import toxiproxy
import toxiproxy.api

from faults.client import ProxySpec, ToxiproxyClient, server_url
from faults.errors import (
    BadToxiproxyRequest,
    InvalidFault,
    ProxyExists,
    ProxyNotFound,
    ToxiproxyServerError,
    ToxiproxyTimeout,
    ToxiproxyUnreachable,
)
from faults.toxics import ToxicSpec

Handler = Callable[[httpx.Request], httpx.Response]
TOXIC = {"name": "latency_downstream", "type": "latency", "stream": "downstream",
         "toxicity": 1, "attributes": {"latency": 3000, "jitter": 0}}


def proxy_json(name: str, listen: str, upstream: str = "127.0.0.1:9000") -> dict[str, object]:
    return {"name": name, "listen": listen, "upstream": upstream, "enabled": True,
            "toxics": []}


def recording(handler: Handler) -> tuple[ToxiproxyClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def wrapped(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return ToxiproxyClient("http://toxiproxy.test:8474",
                           transport=httpx.MockTransport(wrapped)), seen


def test_add_toxic_returns_the_toxic_the_server_created_from_one_request() -> None:
    client, seen = recording(lambda r: httpx.Response(200, json=TOXIC))
    toxic = client.add_toxic("shahkar", ToxicSpec.of("latency", latency=3000))
    assert toxic.name == "latency_downstream"
    assert dict(toxic.attributes) == {"jitter": 0.0, "latency": 3000.0}
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/proxies/shahkar/toxics")]
    assert json.loads(seen[0].content)["attributes"] == {"latency": 3000}


def test_a_500_is_our_server_error_with_the_servers_sentence_not_a_key_error() -> None:
    message = "listen tcp 127.0.0.1:3310: bind: address already in use"
    client, _ = recording(lambda r: httpx.Response(
        200 if r.method == "GET" else 500,
        json={} if r.method == "GET" else {"error": message, "status": 500}))
    with pytest.raises(ToxiproxyServerError) as info:
        client.create_proxy(ProxySpec("db", "127.0.0.1:5432", "127.0.0.1:3310"))
    assert message in str(info.value)
    assert info.value.status == 500
    assert not isinstance(info.value, KeyError)


@pytest.mark.parametrize(("status", "error"), [
    (400, BadToxiproxyRequest), (404, ProxyNotFound), (409, ProxyExists),
    (502, ToxiproxyServerError),
])
def test_each_error_status_maps_to_one_exception(status: int, error: type[Exception]) -> None:
    client, _ = recording(lambda r: httpx.Response(status, text="went wrong\n"))
    with pytest.raises(error, match=rf"Toxiproxy refused DELETE .*went wrong \(HTTP {status}\)"):
        client.remove_toxic("shahkar", "latency_downstream")


def test_an_answer_that_is_not_toxiproxy_json_is_a_server_error() -> None:
    client, _ = recording(lambda r: httpx.Response(200, json={"oops": 1}))
    with pytest.raises(ToxiproxyServerError, match="not Toxiproxy's JSON"):
        client.add_toxic("shahkar", ToxicSpec.of("noop"))
    client, _ = recording(lambda r: httpx.Response(200, text="<html>"))
    with pytest.raises(ToxiproxyServerError, match="not Toxiproxy's JSON"):
        client.proxies()


def test_the_librarys_own_exists_check_raises_ours() -> None:
    client, seen = recording(lambda r: httpx.Response(200, json={"db": proxy_json("db", "x:1")}))
    with pytest.raises(ProxyExists, match="already has that proxy"):
        client.create_proxy(ProxySpec("db", "127.0.0.1:5432"))
    assert [r.method for r in seen] == ["GET"]


def test_each_client_talks_to_its_own_server_even_across_threads() -> None:
    def server(tag: str) -> Handler:
        return lambda r: httpx.Response(200, json={tag: proxy_json(tag, "127.0.0.1:1")})

    a = ToxiproxyClient("http://a.test:1", transport=httpx.MockTransport(server("a")))
    b = ToxiproxyClient("http://b.test:2", transport=httpx.MockTransport(server("b")))
    host_before = (toxiproxy.api.APIConsumer.host, toxiproxy.api.APIConsumer.port)
    answers: list[tuple[str, list[str]]] = []

    def use(name: str, client: ToxiproxyClient) -> None:
        for _ in range(50):
            answers.append((name, list(client.proxies())))
            client.set_enabled(name, False)  # goes through the library's routed consumer

    threads = [threading.Thread(target=use, args=(n, c)) for n, c in (("a", a), ("b", b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(answers) == 100
    assert all(listed == [name] for name, listed in answers)
    assert (toxiproxy.api.APIConsumer.host, toxiproxy.api.APIConsumer.port) == host_before


def test_threads_sharing_one_client_each_get_their_own_toxic() -> None:
    # Force the interleaving that would mix answers up: thread A's answer is parsed only
    # after thread B has made and read its whole request.
    a_parsing, b_done = threading.Event(), threading.Event()

    class Answer(httpx.Response):
        def json(self, **kwargs: Any) -> Any:
            body = super().json(**kwargs)
            if body["name"] == "a":
                a_parsing.set()
                b_done.wait(timeout=5)
            else:
                b_done.set()
            return body

    def handler(request: httpx.Request) -> httpx.Response:
        return Answer(200, json=TOXIC | {"name": json.loads(request.content)["name"]})

    client = ToxiproxyClient("http://t.test:1", transport=httpx.MockTransport(handler))
    got: dict[str, str] = {}

    def add(name: str) -> None:
        got[name] = client.add_toxic("p", ToxicSpec.of("noop", name=name)).name

    thread_a = threading.Thread(target=add, args=("a",))
    thread_a.start()
    assert a_parsing.wait(timeout=5)
    add("b")
    thread_a.join(timeout=10)
    assert got == {"a": "a", "b": "b"}


def test_populate_keeps_proxies_whose_listen_is_a_hostname_or_port_zero() -> None:
    state = {"db": proxy_json("db", "127.0.0.1:40001"),
             "web": proxy_json("web", "127.0.0.1:40002")}
    posted: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            posted.append(body)
            for entry in body:
                state[entry["name"]] = proxy_json(entry["name"], "127.0.0.1:40009",
                                                  entry["upstream"])
            return httpx.Response(201, json={"proxies": [state[e["name"]] for e in body]})
        return httpx.Response(200, json=state)

    client = ToxiproxyClient("http://t.test:1", transport=httpx.MockTransport(handler))
    kept = client.populate([ProxySpec("db", "127.0.0.1:9000", "localhost:40001"),
                            ProxySpec("web", "127.0.0.1:9000", "127.0.0.1:0")])
    assert posted == []
    assert [p.listen for p in kept] == ["127.0.0.1:40001", "127.0.0.1:40002"]
    changed = client.populate([ProxySpec("web", "127.0.0.1:9000", "127.0.0.1:40002"),
                               ProxySpec("db", "127.0.0.1:9999", "127.0.0.1:40001")])
    assert posted == [[{"name": "db", "listen": "127.0.0.1:40001", "upstream": "127.0.0.1:9999",
                        "enabled": True}]]
    assert [(p.name, p.upstream) for p in changed] == [("web", "127.0.0.1:9000"),
                                                        ("db", "127.0.0.1:9999")]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (via the backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_server_that_never_answers_times_out(silent_port: int) -> None:
    client = ToxiproxyClient(f"http://127.0.0.1:{silent_port}", timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(ToxiproxyTimeout, match="did not answer GET"):
        client.version()
    # 0.3 s timeout; 5 s leaves room for a loaded 2-core machine and still proves a bound.
    assert time.monotonic() - started < 5


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ToxiproxyUnreachable, match="unreachable"):
        ToxiproxyClient(f"http://127.0.0.1:{port}", timeout_s=2).reset()


def test_toxiproxy_url_chooses_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOXIPROXY_URL", "http://127.0.0.1:18474/")
    assert server_url() == "http://127.0.0.1:18474/"
    assert ToxiproxyClient().url == "http://127.0.0.1:18474"
    monkeypatch.delenv("TOXIPROXY_URL")
    assert ToxiproxyClient().url == "http://127.0.0.1:8474"


@pytest.mark.parametrize("build", [
    lambda: ToxiproxyClient("127.0.0.1:8474"),
    lambda: ToxiproxyClient("http://127.0.0.1:8474", timeout_s=0),
    lambda: ToxiproxyClient("http://x.test:1").set_enabled("a/b", False),
    lambda: ToxiproxyClient("http://x.test:1").populate([ProxySpec("a", "u"),
                                                         ProxySpec("a", "v")]),
])
def test_bad_arguments_are_one_sentence_errors(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidFault) as info:
        build()
    assert "\n" not in str(info.value)


# --- Live: the same mends against a real Toxiproxy-compatible server ------------------------


@pytest.fixture
def live_client(toxiproxy_url: str) -> Iterator[ToxiproxyClient]:
    client = ToxiproxyClient(toxiproxy_url, timeout_s=5)
    before = set(client.proxies())
    yield client
    for name in set(client.proxies()) - before:
        client.delete_proxy(name)
    client.close()


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.mark.network
def test_live_add_toxic_returns_the_created_toxic(live_client: ToxiproxyClient) -> None:
    proxy = live_client.create_proxy(ProxySpec(_unique("shahkar"), "127.0.0.1:9"))
    toxic = live_client.add_toxic(proxy.name, ToxicSpec.of("latency", latency=3000))
    # The server fills in every attribute of the type and the default name.
    assert toxic.name == "latency_downstream"
    assert dict(toxic.attributes) == {"latency": 3000.0, "jitter": 0.0}
    assert live_client.toxics(proxy.name) == (toxic,)
    live_client.remove_toxic(proxy.name, toxic.name)
    with pytest.raises(ProxyNotFound, match="toxic not found"):
        live_client.remove_toxic(proxy.name, toxic.name)


@pytest.mark.network
def test_live_a_bind_error_is_a_server_error_sentence(live_client: ToxiproxyClient) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ToxiproxyServerError, match="address already in use") as info:
            live_client.create_proxy(ProxySpec(_unique("db"), "127.0.0.1:9",
                                               f"127.0.0.1:{port}"))
    assert info.value.status == 500


@pytest.mark.network
def test_live_errors_map_to_our_exceptions(live_client: ToxiproxyClient) -> None:
    name = _unique("web")
    live_client.create_proxy(ProxySpec(name, "127.0.0.1:9"))
    with pytest.raises(ProxyExists):
        live_client.create_proxy(ProxySpec(name, "127.0.0.1:9"))
    with pytest.raises(ProxyNotFound, match="proxy not found"):
        live_client.set_enabled(_unique("ghost"), False)
    live_client.add_toxic(name, ToxicSpec.of("noop", name="dup"))
    with pytest.raises(ProxyExists, match="toxic already exists"):
        live_client.add_toxic(name, ToxicSpec.of("noop", name="dup"))
    with pytest.raises(BadToxiproxyRequest, match="missing required field: upstream"):
        live_client.populate([ProxySpec(_unique("bad"), "")])


@pytest.mark.network
def test_live_populate_keeps_a_hostname_or_port_zero_proxy_untouched(
    live_client: ToxiproxyClient,
) -> None:
    specs = [ProxySpec(_unique("db"), "127.0.0.1:9", "localhost:0"),
             ProxySpec(_unique("web"), "127.0.0.1:9", "127.0.0.1:0")]
    first = live_client.populate(specs)
    assert [p.name for p in first] == [s.name for s in specs]
    live_client.add_toxic(first[0].name, ToxicSpec.of("noop", name="marker"))
    live_client.set_enabled(first[1].name, False)
    again = live_client.populate(specs)
    # Kept, not re-created: the toxic, the disabled state and the address survive.
    assert [t.name for t in again[0].toxics] == ["marker"]
    assert again[0].listen == first[0].listen
    assert again[1].enabled is False
    moved = live_client.populate([ProxySpec(specs[0].name, "127.0.0.1:10", "localhost:0")])
    assert moved[0].upstream == "127.0.0.1:10"
    assert moved[0].toxics == ()


@pytest.mark.network
def test_live_two_clients_keep_their_own_servers(live_client: ToxiproxyClient) -> None:
    mock = ToxiproxyClient("http://mock.test:1", transport=httpx.MockTransport(
        lambda r: httpx.Response(200, json={"only_in_mock": proxy_json("only_in_mock", "x:1")})))
    name = _unique("real")
    live_client.create_proxy(ProxySpec(name, "127.0.0.1:9"))
    for _ in range(3):
        assert list(mock.proxies()) == ["only_in_mock"]
        assert name in live_client.proxies()
    live_client.reset()
    assert live_client.version()


@pytest.fixture
def bare_library(toxiproxy_url: str, monkeypatch: pytest.MonkeyPatch) -> toxiproxy.Toxiproxy:
    """toxiproxy-python used directly, pointed at the test server through its globals."""
    host, _, port = toxiproxy_url.removeprefix("http://").rpartition(":")
    monkeypatch.setattr(toxiproxy.api.APIConsumer, "host", host)
    monkeypatch.setattr(toxiproxy.api.APIConsumer, "port", int(port))
    return toxiproxy.Toxiproxy()


@pytest.mark.network
def test_live_the_bare_library_has_the_faults_we_mend(
    bare_library: toxiproxy.Toxiproxy, live_client: ToxiproxyClient
) -> None:
    # Premise of this module: unwrapped, a bind error is a KeyError and populate re-creates.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(KeyError, match="name"):
            bare_library.create(upstream="127.0.0.1:9", name=_unique("db"),
                                listen=f"127.0.0.1:{port}")
    spec = {"name": _unique("web"), "upstream": "127.0.0.1:9", "listen": "localhost:0"}
    bare_library.populate([spec])
    live_client.add_toxic(spec["name"], ToxicSpec.of("noop", name="marker"))
    assert bare_library.populate([spec]) != []  # re-created ...
    assert live_client.get_proxy(spec["name"]).toxics == ()  # ... losing its toxic
