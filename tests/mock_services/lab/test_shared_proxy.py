"""Two labs on one Toxiproxy stay apart: each creates, heals and deletes only its own proxies,
and `lab status` checks that its proxies are still there.

The first lab is this package's (with its embedded proxy); the second is started with that
proxy's URL as its external Toxiproxy, as `TOXIPROXY_URL=... chaoslab lab up` would.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoslab.lab import status
from mock_services.lab.faultsview import faults_topology
from mock_services.lab.supervisor import Lab, LabConfig, up
from mock_services.lab.testing import READY_TIMEOUT_S

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]
TOXIC = {"name": "mine", "type": "latency", "attributes": {"latency": 1}}


def _proxies(url: str) -> dict[str, dict[str, Any]]:
    """Every proxy on the server, by name."""
    body: dict[str, dict[str, Any]] = httpx.get(f"{url}/proxies", timeout=5).json()
    return body


def _wiring(proxies: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {name: (p["listen"], p["upstream"]) for name, p in proxies.items()}


def _status(run_dir: Path) -> int:
    return status(argparse.Namespace(dir=run_dir))


def test_a_second_lab_on_the_first_labs_toxiproxy_leaves_the_first_alone(
        healthy_lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = healthy_lab.state.toxiproxy_url
    first = _wiring(_proxies(url))
    assert len(first) == len(healthy_lab.state.topology.links)
    marked = sorted(first)[0]  # a toxic of the first lab's that the second must not heal
    httpx.post(f"{url}/proxies/{marked}/toxics", json=TOXIC, timeout=5).raise_for_status()
    try:
        second = up(LabConfig(tmp_path / "second", toxiproxy_url=url,
                              ready_timeout_s=READY_TIMEOUT_S))
        try:
            both = _proxies(url)
            assert {n: w for n, w in _wiring(both).items() if n in first} == first
            theirs = set(both) - set(first)
            assert len(theirs) == len(second.state.topology.links)
            assert all(n.startswith(f"{second.state.lab_id}-") for n in theirs)
            second.reset()  # heals its own proxies only
            assert [t["name"] for t in _proxies(url)[marked]["toxics"]] == ["mine"]
            assert _status(second.state.run_dir) == 0
        finally:
            second.down()
        assert _wiring(_proxies(url)) == first  # its proxies gone, the first lab's intact
        capsys.readouterr()
        assert _status(healthy_lab.state.run_dir) == 0, capsys.readouterr().out
    finally:
        httpx.delete(f"{url}/proxies/{marked}/toxics/mine", timeout=5)


def test_status_names_a_proxy_of_the_lab_that_is_gone(
        healthy_lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    url = healthy_lab.state.toxiproxy_url
    name = next(n for n in _proxies(url) if n.endswith("client-portal-b"))
    gone = httpx.get(f"{url}/proxies/{name}", timeout=5).json()
    httpx.delete(f"{url}/proxies/{name}", timeout=5).raise_for_status()
    try:
        capsys.readouterr()
        assert _status(healthy_lab.state.run_dir) == 1  # every process is still up
        out = capsys.readouterr().out
        assert f"{name} MISSING" in " ".join(out.split())
        assert "lab is partly down" in out
    finally:
        httpx.post(f"{url}/proxies", json={k: gone[k] for k in ("name", "listen", "upstream")},
                   timeout=5).raise_for_status()
    capsys.readouterr()
    assert _status(healthy_lab.state.run_dir) == 0


def test_the_injector_names_links_logically_and_drives_the_labs_own_proxies(lab: Lab) -> None:
    view = faults_topology(lab.state)
    on_server = set(_proxies(lab.state.toxiproxy_url))
    for link in lab.state.topology.links:
        proxy = view.links[link.name].proxy  # scenarios say "client-portal-a" ...
        assert proxy == f"{lab.state.lab_id}-{link.name}"  # ... the lab's proxy carries its id
        assert proxy in on_server
