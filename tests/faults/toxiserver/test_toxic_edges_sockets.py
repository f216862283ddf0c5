"""Each toxic on real loopback sockets, with our server running in this process.

test_toxics.py is the conformance suite (a subprocess server, or the real Toxiproxy); these
show the same rules and their edges through `inproc_proxy`, so the toxics run where coverage
and mutation tools can see them (test_toxic_edges.py has the exact figures). Timing: only
lower bounds, on toxics whose purpose is delay (a proxy never releases early; TICK_S allows
for timer granularity), and QUIET_S where the point is that nothing arrives.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest

from tests.faults.toxiserver.support import (
    connect,
    create_proxy,
    recv_exactly,
    recv_until_closed,
    round_trip_s,
    start_reader,
    upstream,
    wait_closed,
)

pytestmark = pytest.mark.network

TICK_S = 0.001
QUIET_S = 0.2  # long enough to see that nothing arrives through a toxic that holds data


def add(api: httpx.Client, proxy: str, **body: object) -> dict[str, object]:
    response = api.post(f"/proxies/{proxy}/toxics", json=body)
    assert response.status_code == 200, response.text
    toxic: dict[str, object] = response.json()
    return toxic


def assert_quiet(sock: socket.socket) -> None:
    """Nothing arrives and nothing closes for QUIET_S."""
    sock.settimeout(QUIET_S)
    with pytest.raises(TimeoutError):
        sock.recv(16)
    sock.settimeout(5.0)


def test_noop_and_latency_zero_pass_bytes_unchanged(inproc_proxy: httpx.Client,
                                                    echo: str) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="noop", stream="upstream")
    add(inproc_proxy, "p", type="latency", attributes={"latency": 0})
    with connect(listen) as sock:
        round_trip_s(sock, bytes(range(256)) * 200)


def test_latency_with_jitter_delays_each_round_trip(inproc_proxy: httpx.Client,
                                                    echo: str) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="latency", attributes={"latency": 60, "jitter": 20})
    with connect(listen) as sock:
        for _ in range(3):
            assert round_trip_s(sock) >= 0.04 - TICK_S  # latency - jitter at the least


def test_bandwidth_paces_the_stream(inproc_proxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="bandwidth", attributes={"rate": 100})  # 100 KB/s
    with connect(listen) as sock:
        assert round_trip_s(sock, bytes(range(250)) * 80) >= 0.2 - TICK_S  # 20 kB: 0.2 s


def test_bandwidth_zero_holds_the_stream_until_removed(inproc_proxy: httpx.Client,
                                                       echo: str) -> None:
    # Removing a toxic puts back what it held (link.go RemoveToxic): nothing is lost.
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="bandwidth", attributes={"rate": 0})
    with connect(listen) as sock:
        sock.sendall(b"held back")
        assert_quiet(sock)
        assert inproc_proxy.delete("/proxies/p/toxics/bandwidth_downstream").status_code == 204
        assert recv_exactly(sock, 9) == b"held back"


def test_slicer_carries_everything_in_delayed_pieces(inproc_proxy: httpx.Client,
                                                     echo: str) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="slicer", stream="upstream",
        attributes={"average_size": 10, "size_variation": 10, "delay": 2000})
    add(inproc_proxy, "p", type="slicer", attributes={"average_size": 1})
    with connect(listen) as sock:
        # 100 bytes in pieces of at most 20: at least 5 pieces, 2 ms after each.
        assert round_trip_s(sock, bytes(range(100))) >= 5 * 0.002 - TICK_S


@pytest.mark.parametrize(("limit", "sent"), [(1000, 3000), (1000, 1000), (0, 10)])
def test_limit_data_forwards_exactly_its_bytes_then_closes(inproc_proxy: httpx.Client,
                                                           echo: str, limit: int,
                                                           sent: int) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="limit_data", attributes={"bytes": limit})
    with connect(listen) as sock:
        sock.sendall(b"d" * sent)
        assert recv_until_closed(sock) == b"d" * limit


def test_limit_data_counts_across_an_update(inproc_proxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="limit_data", attributes={"bytes": 1000})
    with connect(listen) as sock:
        round_trip_s(sock, b"a" * 600)
        updated = inproc_proxy.patch("/proxies/p/toxics/limit_data_downstream",
                                     json={"attributes": {"bytes": 1200}})
        assert updated.json()["attributes"] == {"bytes": 1200}
        sock.sendall(b"b" * 1000)
        assert recv_until_closed(sock) == b"b" * 600


def test_timeout_closes_after_its_idle_time(inproc_proxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="timeout", stream="upstream", attributes={"timeout": 100})
    with connect(listen) as sock:
        started = time.perf_counter()
        sock.sendall(b"lost")
        assert recv_until_closed(sock) == b""
        assert time.perf_counter() - started >= 0.1 - TICK_S


def test_timeout_zero_holds_until_removed(inproc_proxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="timeout", attributes={"timeout": 0})
    with connect(listen) as sock:
        sock.sendall(b"x")
        assert_quiet(sock)
        assert inproc_proxy.delete("/proxies/p/toxics/timeout_downstream").status_code == 204
        assert wait_closed(sock, 2.0) < 2.0


def test_reset_peer_present_at_connect_resets_after_its_timeout(inproc_proxy: httpx.Client,
                                                                echo: str) -> None:
    listen = create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="reset_peer", stream="upstream", attributes={"timeout": 50})
    with connect(listen) as sock:
        assert_quiet(sock)  # idle: left alone
        started = time.perf_counter()
        sock.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            recv_until_closed(sock)
        assert time.perf_counter() - started >= 0.05 - TICK_S


def test_slow_close_delays_the_close(inproc_proxy: httpx.Client) -> None:
    with upstream("goodbye") as address:
        listen = create_proxy(inproc_proxy, "p", address)
        add(inproc_proxy, "p", type="slow_close", attributes={"delay": 100})
        with connect(listen) as sock:
            started = time.perf_counter()
            assert recv_until_closed(sock) == b"bye"
            assert time.perf_counter() - started >= 0.1 - TICK_S


def test_chain_changes_under_load_lose_no_byte(inproc_proxy: httpx.Client, echo: str) -> None:
    # Every toxic interrupted mid-stream (updated, or its neighbour added or removed) gives
    # back what it held: bandwidth between slices, the slicer between pieces, latency.
    listen = create_proxy(inproc_proxy, "p", echo)
    payload = bytes(range(251)) * 1200  # ~300 kB, a length prime to every piece size
    received = bytearray()
    with connect(listen) as sock:
        reader = start_reader(sock, received, len(payload))
        steps: list[Callable[[], object]] = [
            lambda: add(inproc_proxy, "p", type="bandwidth", name="bw",
                        attributes={"rate": 2000}),
            lambda: add(inproc_proxy, "p", type="slicer", name="sl", stream="upstream",
                        attributes={"average_size": 3000, "size_variation": 1000,
                                    "delay": 100}),
            lambda: inproc_proxy.patch("/proxies/p/toxics/bw", json={"attributes": {"rate": 3000}}),
            lambda: add(inproc_proxy, "p", type="latency", name="la", attributes={"latency": 2}),
            lambda: inproc_proxy.patch("/proxies/p/toxics/sl", json={"attributes": {"delay": 0}}),
            lambda: inproc_proxy.delete("/proxies/p/toxics/bw"),
            lambda: inproc_proxy.delete("/proxies/p/toxics/la"),
            lambda: inproc_proxy.delete("/proxies/p/toxics/sl"),
        ]
        piece = len(payload) // len(steps) + 1
        for i, step in enumerate(steps):
            sock.sendall(payload[i * piece : (i + 1) * piece])
            step()
        reader.join(10.0)
    assert bytes(received) == payload


@pytest.mark.parametrize(("type_", "attributes", "error"), [
    ("bandwidth", {"rate": -1}, "bandwidth rate must be >= 0 KB/s, got -1"),
    ("slicer", {"average_size": 0}, "slicer average_size must be > 0 bytes, got 0"),
    ("slicer", {"average_size": 10, "size_variation": -1},
     "slicer size_variation must be >= 0 bytes, got -1"),
    ("slicer", {"average_size": 10, "size_variation": 11},
     "slicer size_variation (11) must be at most average_size (10)"),
])
def test_crashing_attributes_are_refused_in_one_sentence(inproc_proxy: httpx.Client,
                                                         echo: str, type_: str,
                                                         attributes: dict[str, int],
                                                         error: str) -> None:
    create_proxy(inproc_proxy, "p", echo)
    response = inproc_proxy.post("/proxies/p/toxics",
                                 json={"type": type_, "attributes": attributes})
    assert (response.status_code, response.json()) == (400, {
        "error": f"bad request body: {error}", "status": 400})
    assert inproc_proxy.get("/proxies/p/toxics").json() == []


@pytest.mark.parametrize(("type_", "attributes", "listed"), [
    ("bandwidth", {"rate": 0}, {"rate": 0}),
    ("slicer", {"average_size": 1}, {"average_size": 1, "size_variation": 0, "delay": 0}),
    ("slicer", {"average_size": 7, "size_variation": 7},
     {"average_size": 7, "size_variation": 7, "delay": 0}),
    ("latency", {"jitter": 3}, {"latency": 0, "jitter": 3}),
])
def test_boundary_attributes_are_accepted_and_listed_whole(inproc_proxy: httpx.Client,
                                                           echo: str, type_: str,
                                                           attributes: dict[str, int],
                                                           listed: dict[str, int]) -> None:
    create_proxy(inproc_proxy, "p", echo)
    assert add(inproc_proxy, "p", type=type_, attributes=attributes)["attributes"] == listed


def test_an_update_merges_the_given_attributes(inproc_proxy: httpx.Client, echo: str) -> None:
    create_proxy(inproc_proxy, "p", echo)
    add(inproc_proxy, "p", type="slicer", attributes={"average_size": 9, "delay": 4})
    updated = inproc_proxy.patch("/proxies/p/toxics/slicer_downstream",
                                 json={"attributes": {"size_variation": 2}})
    assert updated.json()["attributes"] == {"average_size": 9, "size_variation": 2, "delay": 4}
