"""What only our server does: 400 where the real one crashes, seeded replay, metrics, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from faults.toxiserver import serve, spawn
from faults.toxiserver.server import raise_open_files_limit
from tests.faults.toxiserver.support import create_proxy

pytestmark = pytest.mark.network


@pytest.fixture
def ours(toxiproxy: httpx.Client, toxiproxy_kind: str) -> httpx.Client:
    """The session's server, when it is ours (the real one would crash on these inputs)."""
    if toxiproxy_kind != "ours":
        pytest.skip("deviation of our server; the real one crashes on this input")
    return toxiproxy


@pytest.mark.parametrize(("type_", "attributes", "fragment"), [
    ("bandwidth", {"rate": -1}, "rate must be >= 0"),
    ("slicer", {"average_size": 0}, "average_size must be > 0"),
    ("slicer", {"average_size": -5, "size_variation": 1}, "average_size must be > 0"),
    ("slicer", {"average_size": 10, "size_variation": 11}, "must be at most average_size"),
    ("slicer", {"average_size": 10, "size_variation": -1}, "size_variation must be >= 0"),
])
def test_crashing_attributes_are_400(ours: httpx.Client, echo: str, type_: str,
                                     attributes: dict[str, int], fragment: str) -> None:
    create_proxy(ours, "p", echo)
    response = ours.post("/proxies/p/toxics", json={"type": type_, "attributes": attributes})
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert ours.get("/proxies/p/toxics").json() == []


def test_crashing_update_is_400_and_changes_nothing(ours: httpx.Client, echo: str) -> None:
    create_proxy(ours, "p", echo)
    ours.post("/proxies/p/toxics", json={"type": "bandwidth", "attributes": {"rate": 5}})
    response = ours.patch("/proxies/p/toxics/bandwidth_downstream",
                          json={"attributes": {"rate": -3}, "toxicity": 0.5})
    assert response.status_code == 400
    toxic = ours.get("/proxies/p/toxics/bandwidth_downstream").json()
    assert (toxic["attributes"], toxic["toxicity"]) == ({"rate": 5}, 1)


def test_a_mistyped_update_changes_no_other_field(ours: httpx.Client, echo: str) -> None:
    """2.12 decodes an update into the running toxic, so the well-typed `jitter` would be 7
    after its 400 (faults/README.md, deviations); ours changes nothing, as 2.13 does."""
    create_proxy(ours, "p", echo)
    ours.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 5}})
    response = ours.patch("/proxies/p/toxics/latency_downstream",
                          json={"attributes": {"jitter": 7, "latency": "x"}})
    assert response.status_code == 400
    toxic = ours.get("/proxies/p/toxics/latency_downstream").json()
    assert toxic["attributes"] == {"latency": 5, "jitter": 0}


async def _draws(seed: int, echo: str, connections: int = 12) -> list[bool]:
    """Which of `connections` sequential round trips met a 50 %-toxic `limit_data` of 1 byte.

    The toxic's effect is binary (the echo comes back whole, or cut after one byte), so the
    draw is observed without timing: the test cannot misfire on a loaded machine.
    """
    async with serve(seed=seed) as server, httpx.AsyncClient(base_url=server.url) as api:
        created = await api.post("/proxies", json={"name": "r", "listen": "127.0.0.1:0",
                                                    "upstream": echo})
        host, port = created.json()["listen"].rsplit(":", 1)
        await api.post("/proxies/r/toxics", json={"type": "limit_data", "toxicity": 0.5,
                                                  "attributes": {"bytes": 1}})
        applied = []
        for _ in range(connections):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"??")
            try:
                await asyncio.wait_for(reader.readexactly(2), timeout=10)
                applied.append(False)
            except asyncio.IncompleteReadError:
                applied.append(True)
            writer.close()
        return applied


def test_toxicity_draws_replay_with_the_seed(echo: str) -> None:
    first = asyncio.run(_draws(7, echo))
    again = asyncio.run(_draws(7, echo))
    other = asyncio.run(_draws(8, echo))
    assert first == again
    assert True in first and False in first  # 0.5 really draws both ways
    assert other != first


async def _metrics_after_one_connection(echo: str) -> tuple[int, str, str]:
    async with serve(metrics=True) as server, httpx.AsyncClient(base_url=server.url) as api:
        created = await api.post("/proxies", json={"name": "m", "listen": "127.0.0.1:0",
                                                    "upstream": echo})
        listen = created.json()["listen"]
        host, port = listen.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"x" * 100)
        await reader.readexactly(100)
        writer.close()
        line = ('toxiproxy_proxy_received_bytes_total{direction="upstream",'
                f'listener="{listen}",proxy="m",upstream="{echo}"}} 100.0')
        deadline = time.monotonic() + 5
        text = ""
        while time.monotonic() < deadline and line not in text:  # counted when the link ends
            response = await api.get("/metrics")
            text = response.text
            await asyncio.sleep(0.02)
        return response.status_code, text, line


def test_metrics_count_bytes_per_direction(echo: str) -> None:
    status, text, line = asyncio.run(_metrics_after_one_connection(echo))
    assert status == 200
    assert line in text
    assert "toxiproxy_proxy_sent_bytes_total{" in text


def test_metrics_are_404_when_off(toxiproxy: httpx.Client, toxiproxy_kind: str) -> None:
    if toxiproxy_kind != "ours":
        pytest.skip("the real server's metrics depend on its flags")
    assert toxiproxy.get("/metrics").status_code == 404


def _chaoslab(*args: str) -> list[str]:
    return [sys.executable, "-m", "chaoslab", "proxy", *args]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_loads_config_logs_json_and_stops_on_a_signal(tmp_path: Path, echo: str,
                                                          signum: int) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "c", "listen": "127.0.0.1:0", "upstream": echo}]))
    port = spawn.free_port()
    process = subprocess.Popen(_chaoslab("--port", str(port), "--config", str(config)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        spawn.wait_ready(url, process, 15.0)
        assert list(httpx.get(f"{url}/proxies").json()) == ["c"]
        process.send_signal(signum)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    lines = [json.loads(line) for line in err.decode().splitlines()]
    assert {"time", "level", "msg"} <= set(lines[0])
    assert any(line["msg"] == "signal received; shutting down" for line in lines)


_UP = '"upstream": "127.0.0.1:1"'


@pytest.mark.parametrize(("content", "fragment"), [
    (f"[{{{_UP}}}]", "missing required field: name at proxy 1; expected a JSON array of "
                     "proxies, each {name, listen, upstream, enabled?}"),
    ("{not json", "not valid JSON ("),
    ('{"name": "a"}', "the file holds a JSON object, not an array; expected a JSON array"),
    ('["a"]', "an entry is a JSON string, not an object; expected a JSON array"),
    (f'[{{"name": 5, {_UP}}}]', "field name is a JSON number, expected a string"),
    (f'[{{"name": "a", {_UP}, "enabled": "yes"}}]',
     "field enabled is a JSON string, expected true or false"),
    (f'[{{"name": "a", {_UP}}}, {{"name": "a", {_UP}}}]',
     "proxy name 'a' appears more than once; expected each proxy once"),
    (f'[{{"name": "a", {_UP}, "listen": "127.0.0.1:99999"}}]',
     "proxy 1 ('a'): listen tcp: address 99999: invalid port; expected a free listen address"),
])
def test_cli_rejects_a_bad_config_with_one_sentence(tmp_path: Path, content: str,
                                                    fragment: str) -> None:
    config = tmp_path / "bad.json"
    config.write_text(content)
    result = subprocess.run(_chaoslab("--port", "0", "--config", str(config)),
                            capture_output=True, text=True, timeout=30, check=False,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 2
    [line] = result.stderr.splitlines()  # the sentence alone: no log lines before it
    assert line.startswith(f"chaoslab: --config {config}: ")
    assert fragment in line


def test_cli_config_listen_in_use_names_the_proxy(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "proxies.json"
        config.write_text(json.dumps([{"name": "free", "listen": "127.0.0.1:0",
                                       "upstream": "127.0.0.1:1"},
                                      {"name": "taken", "listen": f"127.0.0.1:{port}",
                                       "upstream": "127.0.0.1:1"}]))
        result = subprocess.run(_chaoslab("--port", "0", "--config", str(config)),
                                capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert last == (f"chaoslab: --config {config}: proxy 2 ('taken'): listen tcp "
                    f"127.0.0.1:{port}: bind: address already in use; expected a free listen "
                    "address on this machine")
    assert "API listening" not in result.stderr


@pytest.mark.parametrize(("host", "sentence"), [
    ("", "chaoslab: --host is empty; expected an address of this machine, such as 127.0.0.1 "
         "(the default)"),
    ("nohost.invalid", "chaoslab: cannot listen on nohost.invalid:0 ("),
])
def test_cli_bad_host_is_one_sentence(host: str, sentence: str) -> None:
    result = subprocess.run(_chaoslab("--host", host, "--port", "0"), capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(sentence)


def test_cli_missing_config_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(_chaoslab("--config", str(tmp_path / "absent.json")),
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "cannot read it" in result.stderr


def test_cli_port_in_use_says_so() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(_chaoslab("--port", str(port)), capture_output=True, text=True,
                                timeout=30, check=False)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_spawned_server_answers_and_stops() -> None:
    spawned = spawn.start()
    try:
        assert httpx.get(f"{spawned.url}/version").json() == {"version": "2.12.0"}
    finally:
        spawned.stop()
    assert spawned.process.returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX")
def test_open_files_limit_is_lifted_to_the_hard_one() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("an unlimited hard limit cannot be the soft one on Linux")
    lowered = min(soft, 1024, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        raise_open_files_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
