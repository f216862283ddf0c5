"""Each toxic on real loopback sockets, against `toxiproxy_url` (ours or the real server).

Timing margins: the lower bounds are the toxic's own figure (a proxy never releases early;
1 ms is allowed for timer granularity); the upper bounds add SLACK_S, what a loaded 2-core
CI machine adds to a Python echo round trip through two threads and an asyncio proxy (a
round trip without toxics takes well under 5 ms here; 150 ms is a thirty-fold margin).
Load can only add delay, never remove it, so where a whole measurement repeats cheaply the
upper bound is checked on the fastest of `TRIES` measurements (`within`), while every
measurement must respect the lower bound.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest

from tests.faults.toxiserver.support import (
    SOURCE_BYTES,
    connect,
    create_proxy,
    recv_until_closed,
    round_trip_s,
    start_reader,
    upstream,
    wait_closed,
)

pytestmark = pytest.mark.network

SLACK_S = 0.15
TICK_S = 0.001
TRIES = 3


def within(low_s: float, high_s: float, measure: Callable[[], float]) -> None:
    """Every measurement >= low_s; the fastest of up to TRIES <= high_s (noise only adds)."""
    seen: list[float] = []
    for _ in range(TRIES):
        seen.append(measure())
        assert seen[-1] >= low_s, f"released early: {seen[-1]:.4f} s < {low_s} s"
        if seen[-1] <= high_s:
            return
    raise AssertionError(f"slower than {high_s} s in all {TRIES} tries: {seen}")


def add(api: httpx.Client, proxy: str, **body: object) -> None:
    response = api.post(f"/proxies/{proxy}/toxics", json=body)
    assert response.status_code == 200, response.text


def test_no_toxic_passes_bytes_unchanged(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    payload = bytes(range(256)) * 400
    with connect(listen) as sock:
        assert round_trip_s(sock, payload) < 1.0


def test_noop_passes_bytes_unchanged(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="noop")
    add(toxiproxy, "p", type="noop", stream="upstream")
    with connect(listen) as sock:
        round_trip_s(sock, b"x" * 100_000)


def test_latency_delays_each_round_trip(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="latency", attributes={"latency": 100})
    with connect(listen) as sock:
        for _ in range(3):  # each round trip is delayed again: latency is not one-off
            within(0.1 - TICK_S, 0.1 + SLACK_S, lambda: round_trip_s(sock))


def test_latency_toxics_stack_across_streams(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="latency", attributes={"latency": 60})
    add(toxiproxy, "p", type="latency", stream="upstream", attributes={"latency": 60})
    with connect(listen) as sock:
        within(0.12 - TICK_S, 0.12 + SLACK_S, lambda: round_trip_s(sock))


def test_latency_toxics_stack_in_one_direction(toxiproxy: httpx.Client, echo: str) -> None:
    # toxics/latency.go Pipe moves the chunk's Timestamp on by its sleep: the next latency
    # toxic counts from there, so two in one direction add up.
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="latency", name="first", attributes={"latency": 60})
    add(toxiproxy, "p", type="latency", name="second", attributes={"latency": 60})
    with connect(listen) as sock:
        within(0.12 - TICK_S, 0.12 + SLACK_S, lambda: round_trip_s(sock))


def _stream_s(listen: str) -> float:
    """Seconds from connecting to the end of a `source` upstream's stream, checked whole."""
    with connect(listen) as sock:
        started = time.perf_counter()
        data = recv_until_closed(sock)
        elapsed = time.perf_counter() - started
    assert data == bytes(range(250)) * (SOURCE_BYTES // 250)
    return elapsed


def test_latency_keeps_a_streams_throughput(toxiproxy: httpx.Client) -> None:
    # The latency toxic's input channel holds 1024 chunks (GetBufferSize): a stream is
    # delayed by the latency once, not once per few chunks.
    with upstream("source") as address:
        listen = create_proxy(toxiproxy, "p", address)
        add(toxiproxy, "p", type="latency", attributes={"latency": 200})
        within(0.2 - TICK_S, 0.2 + 2 * SLACK_S, lambda: _stream_s(listen))


@pytest.mark.parametrize(("order", "low_s"), [
    (("latency", "bandwidth"), 1.0),  # held 0.5 s, then paced 0.5 s
    (("bandwidth", "latency"), 0.5),  # paced 0.5 s while the latency, counted from arrival, runs
])
def test_a_chain_composes_in_order(toxiproxy: httpx.Client, echo: str, order: tuple[str, str],
                                   low_s: float) -> None:
    # A chunk keeps its arrival Timestamp through bandwidth (toxics/bandwidth.go Pipe), and a
    # latency toxic waits for arrival + latency (toxics/latency.go Pipe).
    attributes = {"latency": {"latency": 500}, "bandwidth": {"rate": 100}}
    listen = create_proxy(toxiproxy, "p", echo)
    for type_ in order:
        add(toxiproxy, "p", type=type_, attributes=attributes[type_])

    def measure() -> float:
        with connect(listen) as sock:
            return round_trip_s(sock, b"c" * 50_000)  # 50 kB at 100 KB/s: 0.5 s

    within(low_s - 0.05, low_s + SLACK_S, measure)


def test_latency_jitter_stays_in_its_band(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="latency", attributes={"latency": 80, "jitter": 40})
    with connect(listen) as sock:
        for _ in range(4):
            within(0.04 - TICK_S, 0.12 + SLACK_S, lambda: round_trip_s(sock))


def test_toxics_act_on_open_connections_at_once(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    with connect(listen) as sock:
        assert round_trip_s(sock) < SLACK_S
        add(toxiproxy, "p", type="latency", attributes={"latency": 200})
        assert round_trip_s(sock) >= 0.2 - TICK_S
        toxiproxy.patch("/proxies/p/toxics/latency_downstream",
                        json={"attributes": {"latency": 100}})
        assert 0.1 - TICK_S <= round_trip_s(sock) < 0.2
        assert toxiproxy.delete("/proxies/p/toxics/latency_downstream").status_code == 204
        assert round_trip_s(sock) < SLACK_S


def test_toxicity_zero_never_applies(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="latency", toxicity=0, attributes={"latency": 1000})
    with connect(listen) as sock:
        assert round_trip_s(sock) < 0.5


def test_bandwidth_paces_within_ten_percent(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="bandwidth", attributes={"rate": 100})  # 100 KB/s

    def measure() -> float:
        with connect(listen) as sock:
            return round_trip_s(sock, b"b" * 50_000)  # 50 kB at 100 KB/s: 0.5 s

    within(0.45, 0.55, measure)


def test_slow_close_delays_the_close(toxiproxy: httpx.Client) -> None:
    with upstream("goodbye") as address:
        listen = create_proxy(toxiproxy, "p", address)
        add(toxiproxy, "p", type="slow_close", attributes={"delay": 300})

        def measure() -> float:
            with connect(listen) as sock:
                started = time.perf_counter()
                assert sock.recv(16) == b"bye"
                assert sock.recv(16) == b""
                return time.perf_counter() - started

        within(0.3 - TICK_S, 0.3 + SLACK_S, measure)


def test_timeout_drops_data_and_closes_after_idle_time(toxiproxy: httpx.Client,
                                                        echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="timeout", stream="upstream", attributes={"timeout": 300})

    def measure() -> float:
        with connect(listen) as sock:
            started = time.perf_counter()
            sock.sendall(b"lost")
            time.sleep(0.15)  # a second chunk 150 ms later restarts the idle timer
            sock.sendall(b"lost too")
            assert recv_until_closed(sock) == b""
            return time.perf_counter() - started

    within(0.45 - TICK_S, 0.45 + SLACK_S, measure)


def test_timeout_zero_holds_until_removed(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="timeout", attributes={"timeout": 0})
    with connect(listen) as sock:
        sock.sendall(b"x")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(16)  # nothing comes back, and nothing closes
        assert toxiproxy.delete("/proxies/p/toxics/timeout_downstream").status_code == 204
        assert wait_closed(sock, 2.0) < 2.0  # removing it closes the connection


def test_reset_peer_present_at_connect_resets(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="reset_peer", stream="upstream", attributes={"timeout": 0})
    with connect(listen) as sock:
        sock.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            recv_until_closed(sock)


def test_reset_peer_waits_its_timeout(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="reset_peer", stream="upstream", attributes={"timeout": 200})

    def measure() -> float:
        with connect(listen) as sock:
            started = time.perf_counter()
            sock.sendall(b"x")
            with pytest.raises(ConnectionResetError):
                recv_until_closed(sock)
            return time.perf_counter() - started

    within(0.2 - TICK_S, 0.2 + SLACK_S, measure)


def test_reset_peer_added_later_closes_plainly(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    with connect(listen) as sock:
        round_trip_s(sock)
        add(toxiproxy, "p", type="reset_peer", stream="upstream", attributes={"timeout": 0})
        sock.sendall(b"x")
        assert recv_until_closed(sock) == b""


def test_reset_peer_leaves_idle_connections_alone(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="reset_peer", stream="upstream", attributes={"timeout": 0})
    with connect(listen) as sock:
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(16)


def test_slicer_delivers_everything_in_delayed_pieces(toxiproxy: httpx.Client,
                                                      echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="slicer", stream="upstream",
        attributes={"average_size": 10, "size_variation": 2, "delay": 3000})
    payload = bytes(range(100))
    with connect(listen) as sock:
        # 100 bytes cut into pieces of at most 12: at least 9 pieces, 3 ms after each.
        assert round_trip_s(sock, payload) >= 9 * 0.003 - TICK_S


@pytest.mark.parametrize(("average", "variation"), [(1000, 1000), (1000, 0)])
def test_slicer_edge_values_carry_everything(toxiproxy: httpx.Client, echo: str, average: int,
                                             variation: int) -> None:
    # Equal values keep toxics/slicer.go chunk()'s cuts in bounds; a variation of 0 is
    # handled there since 2.4.0 (no rand.Intn(0)). The real server carries both.
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="slicer", attributes={"average_size": average,
                                                   "size_variation": variation})
    with connect(listen) as sock:
        round_trip_s(sock, bytes(range(256)) * 4096)  # 1 MiB, checked byte for byte


def test_toxicity_one_always_applies(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="latency", toxicity=1, attributes={"latency": 100})
    for _ in range(3):  # a draw per connection: every one of them meets the toxic
        with connect(listen) as sock:
            assert round_trip_s(sock) >= 0.1 - TICK_S


def test_limit_data_cuts_at_exactly_n_bytes(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="limit_data", attributes={"bytes": 1000})
    with connect(listen) as sock:
        sock.sendall(b"d" * 3000)
        assert recv_until_closed(sock) == b"d" * 1000


def test_limit_data_counts_across_updates(toxiproxy: httpx.Client, echo: str) -> None:
    # link.go UpdateToxic reruns the toxic on the same stub, whose State (bytes sent) stays.
    listen = create_proxy(toxiproxy, "p", echo)
    add(toxiproxy, "p", type="limit_data", attributes={"bytes": 1000})
    with connect(listen) as sock:
        round_trip_s(sock, b"a" * 600)
        response = toxiproxy.patch("/proxies/p/toxics/limit_data_downstream",
                                   json={"attributes": {"bytes": 1200}})
        assert response.status_code == 200
        sock.sendall(b"b" * 1000)
        assert recv_until_closed(sock) == b"b" * 600  # 1200 in all, then closed


def test_stream_names_the_direction_whatever_its_case(toxiproxy: httpx.Client) -> None:
    # stream.ParseDirection lower-cases; upstream is client to server, so a limit there
    # leaves what the server sends alone.
    with upstream("source") as address:
        listen = create_proxy(toxiproxy, "p", address)
        add(toxiproxy, "p", type="limit_data", stream="UpStream", attributes={"bytes": 10})
        _stream_s(listen)  # the whole stream, checked byte for byte
        add(toxiproxy, "p", type="limit_data", stream="DOWNSTREAM", attributes={"bytes": 10})
        with connect(listen) as sock:
            assert len(recv_until_closed(sock)) == 10


def test_disable_closes_open_connections_and_refuses_new(toxiproxy: httpx.Client,
                                                          echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    with connect(listen) as sock:
        round_trip_s(sock)
        assert toxiproxy.patch("/proxies/p", json={"enabled": False}).status_code == 200
        assert wait_closed(sock, 2.0) < 2.0
    with pytest.raises(ConnectionRefusedError):
        connect(listen)
    toxiproxy.patch("/proxies/p", json={"enabled": True})
    with connect(listen) as sock:
        round_trip_s(sock)


def test_delete_closes_open_connections(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    with connect(listen) as sock:
        round_trip_s(sock)
        assert toxiproxy.delete("/proxies/p").status_code == 204
        assert wait_closed(sock, 2.0) < 2.0


def test_update_restarts_only_when_address_changes(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    with connect(listen) as sock:
        same = toxiproxy.patch("/proxies/p", json={"listen": listen, "upstream": echo})
        assert same.json()["listen"] == listen
        round_trip_s(sock)  # untouched
        with upstream("echo") as other:
            moved = toxiproxy.patch("/proxies/p", json={"upstream": other})
            assert moved.status_code == 200
            assert wait_closed(sock, 2.0) < 2.0  # a new upstream restarts the proxy
            with connect(moved.json()["listen"]) as again:
                round_trip_s(again)


def test_unreachable_upstream_closes_the_client(toxiproxy: httpx.Client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    listen = create_proxy(toxiproxy, "p", dead)
    with connect(listen) as sock:
        assert wait_closed(sock, 2.0) < 2.0


def test_end_of_stream_closes_the_whole_connection(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    with connect(listen) as sock:
        round_trip_s(sock)
        sock.shutdown(socket.SHUT_WR)  # no half-close: the proxy closes both ways
        assert wait_closed(sock, 2.0) < 2.0


def test_chain_changes_under_load_lose_no_byte(toxiproxy: httpx.Client, echo: str) -> None:
    listen = create_proxy(toxiproxy, "p", echo)
    payload = bytes(range(251)) * 4000  # ~1 MB, a length prime to every chunk size
    received = bytearray()
    with connect(listen) as sock:
        reader = start_reader(sock, received, len(payload))
        for i in range(0, len(payload), 16384):
            sock.sendall(payload[i : i + 16384])
            step = (i // 16384) % 6
            if step == 0:
                add(toxiproxy, "p", type="noop", name="n1")
            elif step == 1:
                add(toxiproxy, "p", type="latency", name="l1", stream="upstream",
                    attributes={"latency": 1})
            elif step == 2:
                toxiproxy.patch("/proxies/p/toxics/n1", json={"toxicity": 0.5})
            elif step == 3:
                toxiproxy.delete("/proxies/p/toxics/n1")
            elif step == 4:
                add(toxiproxy, "p", type="slicer", name="s1",
                    attributes={"average_size": 4000, "size_variation": 100})
            else:
                toxiproxy.delete("/proxies/p/toxics/l1")
                toxiproxy.delete("/proxies/p/toxics/s1")
        reader.join(10.0)
    assert len(received) == len(payload)
    assert bytes(received) == payload
