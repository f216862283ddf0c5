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
(cold caches, TCP buffers still small), whichever path it takes. The streams through one
`noop` toxic and through three toxics (latency 0, noop, bandwidth far above the stream's
rate) measure the toxic chain.

Then the timing of a 100 ms latency toxic: round trips of a small request through it, each
one's overshoot over 100 ms (minus the direct round trip's median), once on the idle machine
and once with a CPU burner per core (started and stopped here, so the proxy competes for
the cores as on a loaded CI machine).

When `toxiproxy-server` is on PATH, every figure is measured for it too (a second server,
the same rounds, interleaved) and printed next to ours, with ours over theirs.

    .venv/bin/python benchmarks/bench_proxy.py [--rounds 5] [--samples 100] [--url URL]

Goals: added p50 <= 0.2 ms and >= 0.5 of direct without toxics (issue #4); >= 0.25 of
direct through one toxic and >= 0.2 through three, 100 ms latency overshoot p90 <= 6 ms and
max <= 20 ms under load (issue #22).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
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
NAMES = ("bench_echo", "bench_source", "bench_noop", "bench_chain", "bench_latency")
LATENCY_MS = 100
CHAIN = ({"type": "latency", "name": "l0", "attributes": {"latency": 0}},
         {"type": "noop", "name": "n0"},
         {"type": "bandwidth", "name": "b0", "attributes": {"rate": 100_000_000}})  # 100 GB/s
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


class Burners:
    """One spinning process per core for the block (the machine under load)."""

    def __enter__(self) -> Burners:
        cmd = [sys.executable, "-c", "while True: pass"]
        self.processes = [subprocess.Popen(cmd) for _ in range(os.cpu_count() or 1)]
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


def overshoots_ms(port: int, direct_ms: float, samples: int) -> list[float]:
    """Per round trip through the latency proxy: milliseconds beyond LATENCY_MS + direct."""
    payload = b"q" * SMALL_BYTES
    out: list[float] = []
    with connect(port) as sock:
        for _ in range(samples):
            started = time.perf_counter()
            sock.sendall(payload)
            got = 0
            while got < SMALL_BYTES:
                got += len(sock.recv(65536))
            out.append((time.perf_counter() - started) * 1000 - LATENCY_MS - direct_ms)
    return out


class Server:
    """One server under test: its API, its proxies' ports, its process (for CPU time)."""

    def __init__(self, label: str, url: str, pid: int | None, echo_port: int,
                 source_port: int) -> None:
        self.label, self.pid = label, pid
        self.api = httpx.Client(base_url=url, timeout=10)
        for name in NAMES:
            self.api.delete(f"/proxies/{name}")
        self.echo = proxy_port(self.api, "bench_echo", echo_port)
        self.source = proxy_port(self.api, "bench_source", source_port)
        self.noop = proxy_port(self.api, "bench_noop", source_port)
        self.api.post("/proxies/bench_noop/toxics", json={"type": "noop"}).raise_for_status()
        self.chain = proxy_port(self.api, "bench_chain", source_port)
        for toxic in CHAIN:
            self.api.post("/proxies/bench_chain/toxics", json=toxic).raise_for_status()
        self.latency = proxy_port(self.api, "bench_latency", echo_port)
        self.api.post("/proxies/bench_latency/toxics", json={
            "type": "latency", "attributes": {"latency": LATENCY_MS}}).raise_for_status()
        self.figures: dict[str, list[float]] = {}

    def add(self, figure: str, value: float) -> None:
        self.figures.setdefault(figure, []).append(value)

    def close(self) -> None:
        for name in NAMES:
            self.api.delete(f"/proxies/{name}")
        self.api.close()


def stream_with_cpu(server: Server, port: int) -> tuple[float, float]:
    """MB/s of the 200 MB stream through `port`, and the server's CPU seconds per GB."""
    before_s = cpu_s(server.pid)
    mb_s = stream_mb_per_s(port)
    return mb_s, (cpu_s(server.pid) - before_s) / (STREAM_BYTES / 1e9)


def one_round(servers: list[Server], echo_port: int, source_port: int,
              reference_port: int) -> str:
    """Every stream and round-trip figure of one round, for every server."""
    direct = round_trips_ms(echo_port)
    direct_mb = stream_mb_per_s(source_port)
    reference_mb = stream_mb_per_s(reference_port) if reference_port else 0.0
    line = [f"direct {direct_mb:.0f} MB/s"]
    if reference_mb:
        line.append(f"reference relay {reference_mb:.0f}")
    for server in servers:
        proxied = round_trips_ms(server.echo)
        server.add("added_p50", percentile(proxied, 0.5) - percentile(direct, 0.5))
        server.add("added_p99", percentile(proxied, 0.99) - percentile(direct, 0.99))
        for path in ("source", "noop", "chain"):
            mb_s, cpu_per_gb = stream_with_cpu(server, getattr(server, path))
            server.add(f"{path}_ratio", mb_s / direct_mb)
            server.add(f"{path}_mb", mb_s)
            server.add(f"{path}_cpu", cpu_per_gb)
            line.append(f"{server.label} {path} {mb_s:.0f}")
        if reference_mb:
            server.add("of_reference", server.figures["source_mb"][-1] / reference_mb)
            server.add("reference_ratio", reference_mb / direct_mb)
    return ", ".join(line)


def latency_timing(servers: list[Server], echo_port: int, samples: int) -> None:
    """Overshoot of the 100 ms latency toxic, idle and under a burner per core."""
    for condition in ("idle", "loaded"):
        with Burners() if condition == "loaded" else contextlib.nullcontext():
            direct_ms = percentile(round_trips_ms(echo_port), 0.5)
            for server in servers:
                server.figures[f"over_{condition}"] = overshoots_ms(server.latency, direct_ms,
                                                                    samples)


def report(server: Server) -> None:
    """One server's figures: medians and ranges over rounds, overshoot percentiles."""
    print(f"== {server.label}")
    if "source_ratio" in server.figures:  # --rounds 0 measures the latency toxic only
        throughput(server)
    for condition in ("idle", "loaded"):
        over = server.figures.get(f"over_{condition}")
        if over:
            print(f"latency {LATENCY_MS} ms overshoot, {condition} ({len(over)} round trips): "
                  f"p50 {percentile(over, 0.5):.2f} ms, p90 {percentile(over, 0.9):.2f} ms, "
                  f"max {max(over):.2f} ms" + (" (goal p90 <= 6, max <= 20)"
                                               if condition == "loaded" else ""))


def throughput(server: Server) -> None:
    """The stream and round-trip figures of `server`."""
    f = server.figures
    print(f"added latency per small request/response: p50 {spread(f['added_p50'], 3)} ms, "
          f"p99 {spread(f['added_p99'], 3)} ms (goal p50 <= 0.2 ms)")
    print(f"throughput of a 200 MB stream: {spread(f['source_ratio'], 2)} of direct "
          "(goal >= 0.5)")
    if "of_reference" in f:
        print(f"  the reference relay: {spread(f['reference_ratio'], 2)} of direct (the "
              f"machine's ceiling); the proxy carried {spread(f['of_reference'], 2)} of it")
    print(f"  through one noop toxic: {spread(f['noop_ratio'], 2)} of direct (goal >= 0.25)")
    print(f"  through latency 0 + noop + bandwidth: {spread(f['chain_ratio'], 2)} of direct "
          "(goal >= 0.2)")
    print(f"  medians MB/s: no toxic {statistics.median(f['source_mb']):.0f}, noop "
          f"{statistics.median(f['noop_mb']):.0f}, three toxics "
          f"{statistics.median(f['chain_mb']):.0f}")
    if server.pid is not None:
        print(f"proxy CPU per GB: no toxic {spread(f['source_cpu'], 2)} s, noop "
              f"{spread(f['noop_cpu'], 2)} s, three toxics {spread(f['chain_cpu'], 2)} s")


def compare(ours: Server, theirs: Server) -> None:
    """Ours over theirs, medians (throughput: higher is better; the rest: lower)."""
    a, b = ours.figures, theirs.figures

    def ratio(key: str) -> str:
        return f"{statistics.median(a[key]) / statistics.median(b[key]):.2f}"

    print("== ours / theirs (medians)")
    if "source_mb" in a:
        print(f"throughput: no toxic {ratio('source_mb')}, noop {ratio('noop_mb')}, "
              f"three toxics {ratio('chain_mb')}")
    for condition in ("idle", "loaded"):
        key = f"over_{condition}"
        if a.get(key) and b.get(key):
            print(f"latency overshoot {condition}: p90 {percentile(a[key], 0.9):.2f} / "
                  f"{percentile(b[key], 0.9):.2f} ms, max {max(a[key]):.2f} / "
                  f"{max(b[key]):.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default: 5)")
    parser.add_argument("--samples", type=int, default=100,
                        help="latency round trips per condition (default: 100; 0 skips)")
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
    spawned = [] if args.url else [("ours", spawn.start())]
    binary = shutil.which("toxiproxy-server")
    if binary and not args.url:
        spawned.append(("theirs", spawn.start(binary)))
    servers: list[Server] = []
    try:
        if args.url:
            servers.append(Server("server at --url", args.url, None, echo_port, source_port))
        for label, process in spawned:
            servers.append(Server(label, process.url, process.process.pid, echo_port,
                                  source_port))
        for port in (source_port, reference_port):
            if port:
                stream_mb_per_s(port)  # the warm-up, thrown away
        for server in servers:
            for port in (server.source, server.noop, server.chain):
                stream_mb_per_s(port)
        for i in range(args.rounds):
            print(f"round {i + 1}: {one_round(servers, echo_port, source_port, reference_port)}",
                  flush=True)
        if args.samples:
            latency_timing(servers, echo_port, args.samples)
    finally:
        for server in servers:
            server.close()
        for _, process in spawned:
            process.stop()
        if reference is not None:
            reference.kill()
            reference.communicate()
        upstream.communicate("")
    for server in servers:
        report(server)
    if len(servers) == 2:
        compare(servers[0], servers[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
