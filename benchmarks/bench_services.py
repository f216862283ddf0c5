"""Throughput and latency of one portal replica on this machine: the SimPy model's calibration.

Starts the four upstreams and one portal (baseline policies: no cache, no shedding, no rate
limit) as real uvicorn processes on loopback, then drives three operations with a closed
loop of C concurrent clients (C up to 64): history reads (portal -> registry), logins
(scrypt n=2**14 + Shahkar) and list submissions (SQLite write + payment gateway). For each
point: the median requests/s of three 0.6-second rounds and p50/p99 over all rounds. The
portal *saturates* at the first C whose throughput is under 1.1x that of the previous C.

The load generator shares the two cores with the server processes (and, on a shared
machine, with everything else), so absolute figures move between runs. The ratio column
divides each throughput by the portal's own `GET /healthz` throughput at the same C,
measured in the same run: the cost of an operation relative to an empty request, which is
what carries over to another machine.

    .venv/bin/python benchmarks/bench_services.py
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from mock_services.domain.list_builder import WorkerFacts, build_list
from mock_services.seed import Person, demo_population

CONCURRENCY = (1, 4, 16, 64)
LOGIN_CONCURRENCY = (1, 2, 4)  # CPU-bound (scrypt): flat past 2 cores; more only adds wall time
LEVELS = {"login": LOGIN_CONCURRENCY,
          "healthz (ref)": tuple(sorted(set(CONCURRENCY) | set(LOGIN_CONCURRENCY)))}
ROUNDS, ROUND_S = 3, 0.6
CITIZENS = 300
USERS = 16  # citizens used for logins and reads (each logged in once first: hash upgrade)
EMPLOYERS = 8  # employers whose workshops submit lists
UPSTREAMS = ("shahkar", "registry", "payment", "sms")

Request = tuple[str, str, dict[str, Any]]  # method, path, httpx kwargs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def lab(data_dir: Path) -> Iterator[str]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        urls = {}
        for name in UPSTREAMS:
            port = free_port()
            procs.append(_start(name, port, data_dir))
            urls[name] = f"http://127.0.0.1:{port}"
        port = free_port()
        upstream_args = [a for n, u in urls.items() for a in ("--upstream", f"{n}={u}")]
        # named: the calibration is of the portal without fallbacks (no cache, shedding or
        # rate limit), not of whatever a portal runs when not told
        procs.append(_start("portal", port, data_dir, "--policies", "baseline", *upstream_args))
        for url in [*urls.values(), f"http://127.0.0.1:{port}"]:
            _wait_ready(url)
        yield f"http://127.0.0.1:{port}"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def _start(service: str, port: int, data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "mock_services", service, "--port", str(port), "--data-dir",
           str(data_dir), "--citizens", str(CITIZENS), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL)


def _wait_ready(url: str, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become ready in {deadline_s} s")


async def run_point(client: httpx.AsyncClient, requests: Iterator[Request],
                    concurrency: int) -> tuple[float, list[float], int]:
    """(median req/s of the rounds, all latencies in s, failed requests)."""
    rates: list[float] = []
    latencies: list[float] = []
    failed = 0
    for _ in range(ROUNDS):
        deadline = time.perf_counter() + ROUND_S
        done = 0

        async def worker(deadline: float) -> None:
            nonlocal done, failed
            while time.perf_counter() < deadline:
                method, path, kwargs = next(requests)
                t0 = time.perf_counter()
                r = await client.request(method, path, **kwargs)
                latencies.append(time.perf_counter() - t0)
                if r.status_code < 300:
                    done += 1
                else:
                    failed += 1

        t_start = time.perf_counter()
        await asyncio.gather(*(worker(deadline) for _ in range(concurrency)))
        rates.append(done / (time.perf_counter() - t_start))
    return statistics.median(rates), latencies, failed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def login(client: httpx.AsyncClient, who: Person) -> dict[str, str]:
    r = await client.post("/auth/login", json={"national_id": who.national_id,
                                               "password": who.password})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def bench(base: str) -> None:
    pop = demo_population(n_citizens=CITIZENS)
    users = pop.citizens[:USERS]
    limits = httpx.Limits(max_connections=max(CONCURRENCY) + 8)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        sem = asyncio.Semaphore(8)

        async def warm(who: Person) -> dict[str, str]:
            async with sem:
                return await login(client, who)

        tokens = await asyncio.gather(*(warm(u) for u in users))
        employers = {e.national_id: e for e in pop.employers[:EMPLOYERS]}
        employer_tokens = {nid: await login(client, e) for nid, e in employers.items()}
        reads: Iterator[Request] = (
            ("GET", f"/citizens/{u.national_id}/history", {"headers": t})
            for u, t in itertools.cycle(zip(users, tokens, strict=True)))
        logins: Iterator[Request] = (
            ("POST", "/auth/login", {"json": {"national_id": u.national_id,
                                              "password": u.password}})
            for u in itertools.cycle(users))
        lists = _lists([w for w in pop.workshops if w.employer_id in employers], employer_tokens)
        healthz: Iterator[Request] = itertools.repeat(("GET", "/healthz", {}))
        ops: dict[str, Iterator[Request]] = {"healthz (ref)": healthz, "history read": reads,
                                             "login": logins, "list submission": lists}
        reference: dict[int, float] = {}
        print(f"{'operation':<17} {'C':>3} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'failed':>6} {'x healthz':>9}")
        for name, requests in ops.items():
            previous: float | None = None
            saturated = ""
            for c in LEVELS.get(name, CONCURRENCY):
                rate, lat, failed = await run_point(client, requests, c)
                if name == "healthz (ref)":
                    reference[c] = rate
                ratio = f"{rate / reference[c]:.3f}" if c in reference else "-"
                print(f"{name:<17} {c:>3} {rate:>8.1f} {pct(lat, 0.5):>8.1f} "
                      f"{pct(lat, 0.99):>8.1f} {failed:>6} {ratio:>9}")
                if previous is not None and not saturated and rate < 1.1 * previous:
                    saturated = (f"{name}: saturates at C={c} ({rate:.0f} req/s, "
                                 f"{rate / previous:.2f}x the throughput at the previous C)")
                previous = rate
            print(f"  -> {saturated or name + ': not saturated at the highest C'}")


def _lists(workshops: Any, tokens: dict[str, dict[str, str]]) -> Iterator[Request]:
    n = 0
    for list_no in itertools.count(1):
        for mm in range(1, 13):
            for shop in workshops:
                n += 1
                facts = [WorkerFacts(w, "کارگر", "نمونه", 30, 4_000_000) for w in shop.worker_ids]
                lst = build_list(shop.code, "کارگاه", "کارفرما", yy=1404, mm=mm,
                                 list_no=str(list_no), workers=facts)
                headers = {**tokens[shop.employer_id], "Idempotency-Key": f"bench-{n}"}
                yield "POST", "/lists", {"json": lst.model_dump(mode="json"), "headers": headers}


def main(run: Callable[[str], Any] = lambda base: asyncio.run(bench(base))) -> None:
    t0 = time.perf_counter()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other work on the machine skews every figure)")
    with tempfile.TemporaryDirectory(prefix="bench-services-") as tmp, lab(Path(tmp)) as base:
        run(base)
    print(f"(wall {time.perf_counter() - t0:.0f} s; baseline policies; one portal replica)")


if __name__ == "__main__":
    main()
