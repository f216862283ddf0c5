"""What one proxy without toxics costs: added round-trip latency and carried throughput.

Three processes on loopback: this client, the proxy (ours, in a subprocess, or any server at
--url) and an upstream (echo on one port, a 200 MB source on another). Each round measures
the direct connection and the proxied one back to back, so both see the same machine noise;
the figures are medians over rounds (with their range). Where Linux's splice exists, each
round also streams through a reference relay: a bare process that splices each direction in
a blocking thread, with no API, no toxics and no event loop, the least any relay process can
cost. Its share of direct is the ceiling a proxy can reach on the machine at hand (on two
cores a proxied stream has three processes and two loopback connections where the direct one
has two and one), so `ours / reference` tells the proxy's own cost apart from the machine's.
A first stream on each path is thrown away: the first one after start-up is always slower
(cold caches, TCP buffers still small), whichever path it takes. The stream through a `noop`
toxic shows the toxic pipeline's cost, for comparison; the goal is on the path without toxics.

    .venv/bin/python benchmarks/bench_proxy.py [--rounds 5] [--url http://127.0.0.1:8474]

Goal (issue #4): added p50 <= 0.2 ms, throughput >= 0.5 of direct. The real Toxiproxy adds
about 0.04-0.11 ms at p50 and carries 0.4-1.0 of direct throughput on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import socket
import socketserver
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from faults.toxiserver import spawn

SMALL_BYTES = 64  # one small request, echoed back as its response
PAIRS = 2000  # request/response pairs per round and path
STREAM_BYTES = 200 * 1000 * 1000  # the 200 MB stream
BLOCK = b"s" * (1 << 20)
NAMES = ("bench_echo", "bench_source", "bench_noop")
PIPE_BYTES = 1 << 20  # the reference relay's pipe, as ours (faults/toxiserver/splice.py)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := sock.recv(65536):
            sock.sendall(data)


class _Source(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sent = 0
        while sent < STREAM_BYTES:
            chunk = BLOCK[: STREAM_BYTES - sent]
            self.request.sendall(chunk)
            sent += len(chunk)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def run_upstream() -> None:
    """Upstream process: print the echo and source ports, serve until stdin closes."""
    echo = _Server(("127.0.0.1", 0), _Echo)
    source = _Server(("127.0.0.1", 0), _Source)
    for server in (echo, source):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(echo.server_address[1], source.server_address[1], flush=True)
    sys.stdin.read()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """One direction of the reference relay: splice src into dst through a pipe, blocking."""
    pipe_r, pipe_w = os.pipe()
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe_w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    try:
        while n := os.splice(src.fileno(), pipe_w, PIPE_BYTES):
            while n:
                n -= os.splice(pipe_r, dst.fileno(), n)
    except OSError:
        pass  # a reset ends the stream like EOF
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        os.close(pipe_r)
        os.close(pipe_w)


def run_reference(upstream_port: int) -> None:
    """Reference relay process: print its port, relay each connection to the upstream."""
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        upstream = connect(upstream_port)
        upstream.settimeout(None)  # blocking: a socket with a timeout is non-blocking underneath
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for src, dst in ((upstream, client), (client, upstream)):
            threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trips_ms(port: int) -> list[float]:
    """Milliseconds of PAIRS small request/response pairs on one connection."""
    payload = b"q" * SMALL_BYTES
    times: list[float] = []
    with connect(port) as sock:
        for _ in range(PAIRS):
            started = time.perf_counter()
            sock.sendall(payload)
            got = 0
            while got < SMALL_BYTES:
                got += len(sock.recv(65536))
            times.append((time.perf_counter() - started) * 1000)
    return times


def stream_mb_per_s(port: int) -> float:
    """MB/s of reading the 200 MB stream to its end."""
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    got = 0
    with connect(port) as sock:
        started = time.perf_counter()
        while n := sock.recv_into(view):
            got += n
        elapsed = time.perf_counter() - started
    assert got == STREAM_BYTES, got
    return got / elapsed / 1e6


def cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used so far; 0 where /proc is missing."""
    stat = Path(f"/proc/{pid}/stat")
    if pid is None or not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def proxy_port(api: httpx.Client, name: str, upstream_port: int) -> int:
    response = api.post("/proxies", json={"name": name, "listen": "127.0.0.1:0",
                                          "upstream": f"127.0.0.1:{upstream_port}"})
    response.raise_for_status()
    return int(response.json()["listen"].rsplit(":", 1)[1])


def spread(values: list[float], digits: int) -> str:
    """Median and range, e.g. `0.52 (0.41-0.60)`."""
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default: 5)")
    parser.add_argument("--url", default=None, help="an existing server (default: spawn ours)")
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        run_upstream()
        return 0
    if args.reference:
        run_reference(args.reference)
        return 0

    upstream = subprocess.Popen([sys.executable, __file__, "--upstream"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    echo_port, source_port = map(int, upstream.stdout.readline().split())
    reference, reference_port = None, 0
    if hasattr(os, "splice"):
        reference = subprocess.Popen([sys.executable, __file__, "--reference", str(source_port)],
                                     stdout=subprocess.PIPE, text=True)
        assert reference.stdout is not None
        reference_port = int(reference.stdout.readline())
    spawned = None if args.url else spawn.start()
    url = args.url or (spawned.url if spawned else "")
    try:
        with httpx.Client(base_url=url, timeout=10) as api:
            for name in NAMES:
                api.delete(f"/proxies/{name}")
            echo_proxy = proxy_port(api, "bench_echo", echo_port)
            source_proxy = proxy_port(api, "bench_source", source_port)
            noop_proxy = proxy_port(api, "bench_noop", source_port)
            api.post("/proxies/bench_noop/toxics", json={"type": "noop"}).raise_for_status()
            added_p50, added_p99, ratios, noop_ratios, mb_s = [], [], [], [], []
            ceilings, of_ceiling = [], []  # the reference relay's share of direct; ours of it
            cpu_per_gb, noop_cpu_per_gb = [], []
            pid = spawned.process.pid if spawned else None
            for port in (source_port, source_proxy, noop_proxy, reference_port):
                if port:
                    stream_mb_per_s(port)  # the warm-up, thrown away
            for i in range(args.rounds):
                direct, proxied = round_trips_ms(echo_port), round_trips_ms(echo_proxy)
                added_p50.append(percentile(proxied, 0.5) - percentile(direct, 0.5))
                added_p99.append(percentile(proxied, 0.99) - percentile(direct, 0.99))
                direct_mb = stream_mb_per_s(source_port)
                cpu_before_s = cpu_s(pid)
                proxied_mb = stream_mb_per_s(source_proxy)
                cpu_per_gb.append((cpu_s(pid) - cpu_before_s) / (STREAM_BYTES / 1e9))
                ratios.append(proxied_mb / direct_mb)
                reference_mb = stream_mb_per_s(reference_port) if reference_port else 0.0
                if reference_mb:
                    ceilings.append(reference_mb / direct_mb)
                    of_ceiling.append(proxied_mb / reference_mb)
                cpu_before_s = cpu_s(pid)
                noop_mb = stream_mb_per_s(noop_proxy)
                noop_cpu_per_gb.append((cpu_s(pid) - cpu_before_s) / (STREAM_BYTES / 1e9))
                noop_ratios.append(noop_mb / direct_mb)
                mb_s.append((direct_mb, proxied_mb, reference_mb, noop_mb))
                print(f"round {i + 1}: direct p50 {percentile(direct, 0.5):.3f} ms, "
                      f"proxied p50 {percentile(proxied, 0.5):.3f} ms, "
                      f"direct {direct_mb:.0f} MB/s, proxied {proxied_mb:.0f} MB/s, "
                      f"reference relay {reference_mb:.0f} MB/s, noop toxic {noop_mb:.0f} MB/s")
            for name in NAMES:
                api.delete(f"/proxies/{name}")
    finally:
        if spawned is not None:
            spawned.stop()
        if reference is not None:
            reference.kill()
            reference.communicate()
        upstream.communicate("")
    print(f"added latency per small request/response: p50 {spread(added_p50, 3)} ms, "
          f"p99 {spread(added_p99, 3)} ms (goal p50 <= 0.2 ms)")
    print(f"throughput of a 200 MB stream: {spread(ratios, 2)} of direct (goal >= 0.5)")
    if ceilings:
        print(f"  the reference relay: {spread(ceilings, 2)} of direct (the machine's ceiling); "
              f"the proxy carried {spread(of_ceiling, 2)} of the reference")
    print(f"  through one noop toxic: {spread(noop_ratios, 2)} of direct")
    direct_mb, proxied_mb, reference_mb, noop_mb = (statistics.median(v)
                                                    for v in zip(*mb_s, strict=True))
    print(f"  medians: direct {direct_mb:.0f} MB/s, proxied {proxied_mb:.0f} MB/s, "
          f"reference relay {reference_mb:.0f} MB/s, noop toxic {noop_mb:.0f} MB/s")
    if pid is not None:
        # Machine noise moves the ratio a lot on 2 shared cores; the proxy's own CPU per
        # byte does not, so it is the figure to compare versions by.
        print(f"proxy CPU per GB relayed without toxics: {spread(cpu_per_gb, 2)} s, "
              f"through one noop toxic: {spread(noop_cpu_per_gb, 2)} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
