"""The API's wire as Go and gorilla/mux write it, byte for byte, against `toxiproxy_url`.

Expected values were measured on a Go 1.19 build of Toxiproxy's `Routes()` (api.go, gorilla/mux
1.8.0, zerolog 1.26, xid 1.4) and of `json.NewDecoder(body).Decode` (2026-12-07): the sources
are in `tests/faults/toxiserver/oracle/`. Raw sockets, because an HTTP client would clean the
paths these tests send.
"""

from __future__ import annotations

import base64
import re
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from faults.toxiserver.listen import nameserver
from tests.faults.toxiserver.support import create_proxy

pytestmark = pytest.mark.network


def raw(url: str, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send one request on a fresh connection; status line, headers (lower-case), body."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return status, headers, body


def cannot_unmarshal(response: httpx.Response) -> str:
    """What a 400 says Go could not unmarshal (after `bad request body: json: cannot
    unmarshal `)."""
    assert response.status_code == 400
    error: str = response.json()["error"]
    prefix = "bad request body: json: cannot unmarshal "
    assert error.startswith(prefix), error
    return error.removeprefix(prefix)


def get(url: str, target: str, method: str = "GET", agent: str = "curl/8") -> tuple[
        str, dict[str, str], bytes]:
    return raw(url, f"{method} {target} HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\n"
                    "Connection: close\r\n\r\n".encode())


@pytest.mark.parametrize(("target", "location"), [
    ("//proxies", "/proxies"), ("/a/../version", "/version"), ("/./version", "/version"),
    ("/version/.", "/version"), ("/proxies//toxics", "/proxies/toxics"),
    ("/proxies/a%2F..%2Fb", "/proxies/b"), ("/proxies/%2e%2e/version", "/version"),
    ("//version?x=1&y=%20", "/version?x=1&y=%20"),
    ("/proxies/caf%C3%A9/../x%C3%A9", "/proxies/x%C3%A9"), ("/proxies/a%21b/../c", "/proxies/c"),
])
def test_an_unclean_path_is_redirected_to_its_clean_form(toxiproxy_url: str, target: str,
                                                         location: str) -> None:
    status, headers, body = get(toxiproxy_url, target)
    assert status == "HTTP/1.1 301 Moved Permanently"
    assert headers["location"] == location
    assert (headers["content-length"], body) == ("0", b"")


@pytest.mark.parametrize(("method", "target", "status"), [
    ("GET", "/nope", "404 Not Found"), ("GET", "//proxies", "301 Moved Permanently"),
    ("PUT", "/proxies", "405 Method Not Allowed"), ("HEAD", "/version", "405 Method Not Allowed"),
])
def test_the_routers_own_answers_come_before_the_middleware(toxiproxy_url: str, method: str,
                                                            target: str, status: str) -> None:
    # no request id, and a browser is not refused where no route matched
    for agent in ("curl/8", "Mozilla/5.0"):
        got, headers, _ = get(toxiproxy_url, target, method, agent)
        assert got == f"HTTP/1.1 {status}"
        assert "x-toxiproxy-request-id" not in headers


def test_an_empty_head_answer_has_no_length(toxiproxy_url: str) -> None:
    _, head, _ = get(toxiproxy_url, "/version", "HEAD")
    _, options, _ = get(toxiproxy_url, "/version", "OPTIONS")
    assert "content-length" not in head
    assert options["content-length"] == "0"


def test_options_star_is_answered_by_the_server(toxiproxy_url: str) -> None:
    status, headers, body = get(toxiproxy_url, "*", "OPTIONS")
    assert (status, headers["content-length"], body) == ("HTTP/1.1 200 OK", "0", b"")


def test_a_bad_escape_is_the_servers_plain_400(toxiproxy_url: str) -> None:
    status, headers, body = get(toxiproxy_url, "/proxies/a%zz")
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers == {"content-type": "text/plain; charset=utf-8", "connection": "close"}
    assert body == b"400 Bad Request"


def test_request_ids_are_xids_of_now(toxiproxy: httpx.Client) -> None:
    ids = [toxiproxy.get("/version").headers["x-toxiproxy-request-id"] for _ in range(2)]
    for rid in ids:
        raw_id = base64.b32hexdecode(rid.upper() + "====")  # 12 bytes: seconds first
        assert abs(int.from_bytes(raw_id[:4], "big") - time.time()) < 60
    assert ids[0][:8] == ids[1][:8] and ids[0] != ids[1]  # same time, machine, process


def test_a_proxy_lists_its_logger_before_its_toxics(toxiproxy: httpx.Client, echo: str) -> None:
    create_proxy(toxiproxy, "db", echo)
    body = toxiproxy.get("/proxies/db").text
    assert re.fullmatch(r'\{"name":"db","listen":"[^"]+","upstream":"[^"]+","enabled":true,'
                        r'"Logger":\{\},"toxics":\[\]\}', body)


# (body, what Go's decoder says), measured; the API answers 400 "bad request body: " + it
SYNTAX = [
    (b"", "EOF"),
    (b"   ", "EOF"),
    (b"nul", "unexpected EOF"),
    (b"7e", "unexpected EOF"),
    (b"[[[[", "unexpected EOF"),
    (b"{bad", "invalid character 'b' looking for beginning of object key string"),
    (b"{,}", "invalid character ',' looking for beginning of object key string"),
    (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
    (b"\xef\xbb\xbf{}", "invalid character 'ï' looking for beginning of value"),
    (b"\x80", "invalid character '\\u0080' looking for beginning of value"),
    (b"\x00", "invalid character '\\x00' looking for beginning of value"),
    (b"\x7f", "invalid character '\\x7f' looking for beginning of value"),
    (b"[1,]", "invalid character ']' looking for beginning of value"),
    (b'{"a":NaN}', "invalid character 'N' looking for beginning of value"),
    (b'{"a":"\\u12"}', "invalid character '\"' in \\u hexadecimal character escape"),
    (b'{"a":"x\n"}', "invalid character '\\n' in string literal"),
    (b'{"a"}', "invalid character '}' after object key"),
    (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
    (b"[1 2]", "invalid character '2' after array element"),
    (b'["\\x"]', "invalid character 'x' in string escape code"),
    (b"falsy", "invalid character 'y' in literal false (expecting 'e')"),
    (b"ftr", "invalid character 't' in literal false (expecting 'a')"),
    (b"t]", "invalid character ']' in literal true (expecting 'r')"),
    (b"tr'uen", "invalid character '\\'' in literal true (expecting 'u')"),
    (b" nul4ql ", "invalid character '4' in literal null (expecting 'l')"),
    (b"n,ull", "invalid character ',' in literal null (expecting 'u')"),
    (b'{"a":-}', "invalid character '}' in numeric literal"),
    (b"6.[1].", "invalid character '[' after decimal point in numeric literal"),
    (b'{"a":1e}', "invalid character '}' in exponent of numeric literal"),
    (b"[" * 10001, "invalid character '[' exceeded max depth"),
]


@pytest.mark.parametrize(("body", "message"), SYNTAX)
def test_a_syntax_error_is_named_as_go_names_it(toxiproxy: httpx.Client, body: bytes,
                                                message: str) -> None:
    response = toxiproxy.post("/proxies", content=body)
    assert response.status_code == 400
    assert response.json()["error"] == f"bad request body: {message}"


@pytest.mark.parametrize(("body", "message"), [
    # a number is quoted only where it failed an integer or float field
    (b'{"name": 5}', "number into Go struct field Proxy.name of type string"),
    (b'{"name": 1.5e3}', "number into Go struct field Proxy.name of type string"),
    (b'{"enabled": 1}', "number into Go struct field Proxy.enabled of type bool"),
    (b'{"name": "a", "upstream": "b", "Logger": 5}',
     "number into Go struct field Proxy.Logger of type zerolog.Logger"),
    (b'{"name": 5, "name": "a", "upstream": "b"}',  # a repeated key is decoded each time
     "number into Go struct field Proxy.name of type string"),
    (b"[1]", "array into Go value of type toxiproxy.Proxy"),
    (b"12x", "number into Go value of type toxiproxy.Proxy"),  # the first value only
])
def test_a_type_error_is_named_as_go_names_it(toxiproxy: httpx.Client, body: bytes,
                                              message: str) -> None:
    response = toxiproxy.post("/proxies", content=body)
    assert cannot_unmarshal(response) == message


def test_null_decodes_into_a_struct_as_nothing(toxiproxy: httpx.Client, echo: str) -> None:
    assert toxiproxy.post("/proxies", content=b"null").json()["error"] == (
        "missing required field: name")
    create_proxy(toxiproxy, "db", echo)
    patched = toxiproxy.patch("/proxies/db", content=b"null")
    assert (patched.status_code, patched.json()["enabled"]) == (200, True)
    assert toxiproxy.post("/populate", content=b"[null]").json()["error"] == (
        "missing required field: name at proxy 1")


@pytest.mark.parametrize(("entries", "message"), [
    (b"{}", 'object into Go value of type []struct { toxiproxy.Proxy; '
            'Enabled *bool "json:\\"enabled\\"" }'),
    (b"[5]", 'number into Go value of type struct { toxiproxy.Proxy; '
             'Enabled *bool "json:\\"enabled\\"" }'),
    (b'[{"enabled": "x"}]', "string into Go struct field .enabled of type bool"),
])
def test_populate_names_its_entry_type_as_go_prints_it(toxiproxy: httpx.Client, entries: bytes,
                                                       message: str) -> None:
    response = toxiproxy.post("/populate", content=entries)
    assert cannot_unmarshal(response) == message


def test_text_decodes_as_go_decodes_it(toxiproxy: httpx.Client, echo: str) -> None:
    # a lone surrogate escape and each byte of invalid UTF-8 become U+FFFD
    body = b'{"name": "a\\ud800\xe2\x82", "upstream": "%s"}' % echo.encode()
    assert toxiproxy.post("/proxies", content=body).json()["name"] == "a\ufffd\ufffd\ufffd"


@pytest.mark.parametrize(("host", "asks_a_server"), [
    ("nosuchhost.invalid", True), ("a_b.invalid", True),
    ("bad host", False), ("x..y", False), ("-a.com", False), ("123", False),
])
def test_an_unknown_listen_host_is_named_as_gos_resolver_names_it(
        toxiproxy: httpx.Client, echo: str, host: str, asks_a_server: bool) -> None:
    # the real server is built with CGO_ENABLED=0: Go's resolver names the server it asked,
    # and asks none for what is not a domain name (net/dnsclient.go isDomainName)
    response = toxiproxy.post("/proxies", json={"name": "x", "listen": f"{host}:0",
                                                "upstream": echo})
    assert response.status_code == 500
    where = f" on {nameserver()}" if asks_a_server else ""
    assert response.json()["error"] == f"listen tcp: lookup {host}{where}: no such host"


def _plain(status: str, told: str = "") -> bytes:
    text = status + (f": {told}" if told else "")
    return (f"HTTP/1.1 {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close"
            f"\r\n\r\n{text}").encode()


@pytest.mark.parametrize(("request_bytes", "answer"), [
    (b"GET /version HTTP/1.1\r\n\r\n", _plain("400 Bad Request", "missing required Host header")),
    (b"GET /version HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", _plain("400 Bad Request")),
    (b"GET /version HTTP/1.1\r\nHost: x y\r\n\r\n",
     _plain("400 Bad Request", "malformed Host header")),
    (b"GET /version HTTP/2.0\r\nHost: x\r\n\r\n",
     _plain("505 HTTP Version Not Supported", "unsupported protocol version")),
    (b"GET version HTTP/1.1\r\nHost: x\r\n\r\n", _plain("400 Bad Request")),
    (b"POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nnull",
     _plain("400 Bad Request")),
    (b"POST /proxies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
     b"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\n"
     b"Connection: close\r\n\r\nUnsupported transfer encoding"),
    (b"POST /proxies HTTP/1.1\r\nHost: x\r\nExpect: later\r\nContent-Length: 4\r\n\r\nnull",
     b"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: <date>\r\n"
     b"Content-Length: 0\r\n\r\n"),
])
def test_a_request_go_cannot_take_gets_gos_own_answer(toxiproxy_url: str, request_bytes: bytes,
                                                     answer: bytes) -> None:
    parts = urlsplit(toxiproxy_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        data = b""
        while chunk := sock.recv(65536):  # the server closes after its answer
            data += chunk
    assert re.sub(rb"Date: [^\r]+", b"Date: <date>", data) == answer


def test_an_http_1_0_request_is_answered_in_1_0(toxiproxy_url: str) -> None:
    status, headers, _ = raw(toxiproxy_url, b"GET /version HTTP/1.0\r\n\r\n")
    assert (status, "connection" in headers) == ("HTTP/1.0 200 OK", False)
    parts = urlsplit(toxiproxy_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"GET /version HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = sock.recv(65536)
        sock.sendall(b"GET /version HTTP/1.0\r\n\r\n")  # the same connection answers again
        second = sock.recv(65536)
    assert b"\r\nConnection: keep-alive\r\n" in first
    assert second.startswith(b"HTTP/1.0 200 OK")


def test_headers_up_to_gos_limit_are_read(toxiproxy_url: str) -> None:
    padding = b"a" * (1 << 20)  # Go reads 1 MiB of headers plus 4096 bytes of slack
    status, _, _ = raw(toxiproxy_url, b"GET /version HTTP/1.1\r\nHost: x\r\nX: " + padding +
                       b"\r\nConnection: close\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"
    status, _, _ = raw(toxiproxy_url, b"GET /version HTTP/1.1\r\nHost: x\r\nX: " + padding +
                       b"a" * 8192 + b"\r\nConnection: close\r\n\r\n")
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"


@pytest.mark.parametrize(("body", "message"), [
    # the wrapper is decoded first, its attributes into a NoopToxic
    (b'{"type": "latency", "attributes": [1]}',
     "array into Go struct field ToxicWrapper.attributes of type toxics.NoopToxic"),
    # then the attributes into the toxic of the type, named as toxics/*.go name them
    (b'{"type": "reset_peer", "attributes": {"timeout": "x"}}',
     "string into Go struct field ResetToxic.attributes.timeout of type int64"),
    (b'{"type": "slicer", "attributes": {"delay": true}}',
     "bool into Go struct field SlicerToxic.attributes.delay of type int"),
    (b'{"type": "latency", "toxicity": 3.4028236e38}',
     "number 3.4028236e38 into Go struct field ToxicWrapper.toxicity of type float32"),
    # a number that misses an integer field is quoted as the body wrote it
    (b'{"type": "latency", "attributes": {"latency": 1.50}}',
     "number 1.50 into Go struct field LatencyToxic.attributes.latency of type int64"),
])
def test_a_toxic_type_error_is_named_as_go_names_it(toxiproxy: httpx.Client, echo: str,
                                                    body: bytes, message: str) -> None:
    create_proxy(toxiproxy, "db", echo)
    response = toxiproxy.post("/proxies/db/toxics", content=body)
    assert cannot_unmarshal(response) == message


def test_a_toxicity_that_rounds_to_float32s_largest_is_kept(toxiproxy: httpx.Client,
                                                           echo: str) -> None:
    create_proxy(toxiproxy, "db", echo)
    response = toxiproxy.post("/proxies/db/toxics", content=b'{"type": "latency", '
                              b'"toxicity": 3.4028235e38}')
    assert (response.status_code, response.json()["toxicity"]) == (200, 3.4028235e38)


@pytest.mark.parametrize(("body", "message"), [
    # 2.12 decodes an update into an anonymous struct holding the live toxic
    (b'{"attributes": [1]}', "array into Go struct field .attributes of type toxics.LatencyToxic"),
    (b'{"toxicity": "x"}', "string into Go struct field .toxicity of type float32"),
    (b'{"attributes": {"jitter": 1.5}}',
     "number 1.5 into Go struct field LatencyToxic.attributes.jitter of type int64"),
    (b"5", 'number into Go value of type struct { Attributes interface {} "json:\\"attributes\\""; '
           'Toxicity float32 "json:\\"toxicity\\"" }'),
])
def test_a_toxic_update_type_error_is_named_as_go_names_it(toxiproxy: httpx.Client, echo: str,
                                                           body: bytes, message: str) -> None:
    create_proxy(toxiproxy, "db", echo)
    toxiproxy.post("/proxies/db/toxics", json={"type": "latency", "name": "slow"})
    response = toxiproxy.patch("/proxies/db/toxics/slow", content=body)
    assert cannot_unmarshal(response) == message


@pytest.mark.parametrize(("chunks", "why"), [
    (b"zz\r\n", "invalid byte in chunk length"),
    (b"4 ; ext=1 \r\nnull\r\n0\r\n\r\n", "invalid byte in chunk length"),  # trimmed, then cut
    (b"11111111111111111\r\nnull\r\n", "http chunk length too large"),
    (b"4\r\nnullXX0\r\n\r\n", "malformed chunked encoding"),
])
def test_a_broken_chunked_body_is_the_handlers_bad_body(toxiproxy_url: str, chunks: bytes,
                                                        why: str) -> None:
    # Go reads the broken body in the handler: a routed 400 with a request id, then it closes
    status, headers, body = raw(toxiproxy_url, b"POST /proxies HTTP/1.1\r\nHost: x\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    assert status == "HTTP/1.1 400 Bad Request"
    assert (headers["connection"], "x-toxiproxy-request-id" in headers) == ("close", True)
    assert body == b'{"error":"bad request body: %s","status":400}\n' % why.encode()


def test_connect_to_an_authority_is_redirected_to_its_root(toxiproxy_url: str) -> None:
    status, headers, _ = get(toxiproxy_url, "x:80", "CONNECT")
    assert (status, headers["location"]) == ("HTTP/1.1 301 Moved Permanently", "//x:80/")
