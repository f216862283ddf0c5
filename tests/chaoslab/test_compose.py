"""The docker-compose lab: generated from the topology, valid Compose, safe to run.

No Docker engine runs here or in CI: these tests check everything that needs none (drift,
the Compose specification's schema, ports and upstreams, the Dockerfile, the supervisor
against a mock engine). Tests needing an engine carry the `docker` marker and skip cleanly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from chaoslab import compose
from chaoslab.docker_lab import engine_available
from mock_services.lab.state import load as load_map
from mock_services.lab.topology import CLIENT, default_topology

ROOT = Path(__file__).resolve().parents[2]


def load_compose() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_checked_in_files_match_the_topology() -> None:
    compose_text, config_text, map_text = compose.render(default_topology())
    assert (ROOT / "docker-compose.yml").read_text(encoding="utf-8") == compose_text, \
        "docker-compose.yml drifted from the topology: run python -m chaoslab.compose"
    assert (ROOT / "deploy" / "toxiproxy.json").read_text(encoding="utf-8") == config_text, \
        "deploy/toxiproxy.json drifted from the topology: run python -m chaoslab.compose"
    assert (ROOT / "deploy" / "lab.json").read_text(encoding="utf-8") == map_text, \
        "deploy/lab.json drifted from the topology: run python -m chaoslab.compose"
    assert compose.main(["--check"]) == 0


def test_check_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "docker-compose.yml"
    stale.write_text("services: {}\n")
    monkeypatch.setattr(compose, "COMPOSE_FILE", stale)
    monkeypatch.setattr(compose, "ROOT", tmp_path)
    monkeypatch.setattr(compose, "TOXIPROXY_CONFIG", tmp_path / "toxiproxy.json")
    monkeypatch.setattr(compose, "LAB_MAP", tmp_path / "lab.json")
    assert compose.main(["--check"]) == 1
    assert "out of date: docker-compose.yml, toxiproxy.json, lab.json" in capsys.readouterr().err


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema_file = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(load_compose()), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
    # the schema can fail: a typo'd key is rejected
    broken = load_compose() | {"servces": {}}
    assert list(validator.iter_errors(broken))


def test_every_service_and_link_of_the_topology_is_wired_through_toxiproxy() -> None:
    topology = default_topology()
    services = load_compose()["services"]
    assert isinstance(services, dict)
    config = {p["name"]: p for p in json.loads(
        (ROOT / "deploy" / "toxiproxy.json").read_text(encoding="utf-8"))}
    assert set(config) == {link.name for link in topology.links}
    for spec in topology.services:
        body = services[spec.name]
        assert body["command"][0] == spec.kind
        assert body["labels"]["chaoslab.rack"] == spec.rack
    for link in topology.links:
        proxy = config[link.name]
        assert proxy["upstream"] == f"{link.target}:{compose.SERVICE_PORT}"
        port = proxy["listen"].rpartition(":")[2]
        if link.source != CLIENT:
            command = services[link.source]["command"]
            kind = topology.service(link.target).kind
            # the portal reaches the upstream only through its proxy
            assert f"{kind}=http://toxiproxy:{port}" in command
            assert f"{kind}=http://{link.target}:" not in " ".join(command)


def test_only_the_api_and_the_portal_links_are_published_and_only_on_loopback() -> None:
    topology = default_topology()
    services = load_compose()["services"]
    assert isinstance(services, dict)
    published = {name: body.get("ports", []) for name, body in services.items()}
    assert [n for n, ports in published.items() if ports] == ["toxiproxy"]
    ports = published["toxiproxy"]
    assert all(p.startswith("127.0.0.1:") for p in ports)
    client_links = [link.name for link in topology.links if link.source == CLIENT]
    assert len(ports) == 1 + len(client_links)
    assert "127.0.0.1:8474:8474" in ports


def test_the_lab_map_names_every_service_and_proxy_by_its_container_host() -> None:
    topology = default_topology()
    lab = load_map(ROOT / "deploy" / "lab.json")
    config = {p["name"]: p for p in json.loads(
        (ROOT / "deploy" / "toxiproxy.json").read_text(encoding="utf-8"))}
    assert lab.toxiproxy_url == "http://toxiproxy:8474"
    assert lab.docker_project == load_compose()["name"] == "chaoslab"
    assert not lab.embedded_proxy
    for spec in topology.services:
        assert lab.url(spec.name) == f"http://{spec.name}:{compose.SERVICE_PORT}"
    for link in topology.links:
        port = config[link.name]["listen"].rpartition(":")[2]
        # the map's proxy is the one the Toxiproxy container listens on for that link
        assert lab.proxied_url(link.source, link.target) == f"http://toxiproxy:{port}"
    assert lab.portal_urls() == {"portal-a": "http://toxiproxy:21001",
                                 "portal-b": "http://toxiproxy:21006"}


def test_the_admin_routes_admit_exactly_the_compose_network() -> None:
    doc = load_compose()
    subnet = doc["networks"]["default"]["ipam"]["config"][0]["subnet"]  # type: ignore[index]
    assert subnet == compose.SUBNET
    services = doc["services"]
    assert isinstance(services, dict)
    for spec in default_topology().services:
        assert services[spec.name]["environment"] == {"CHAOSLAB_ADMIN_NETWORKS": f'["{subnet}"]'}
    assert "environment" not in services["toxiproxy"]


def test_load_and_chaos_run_once_on_the_test_image_unpublished_after_the_lab() -> None:
    services = load_compose()["services"]
    assert isinstance(services, dict)
    lab = ["toxiproxy", *(s.name for s in default_topology().services)]
    for name in ("load", "chaos"):
        body = services[name]
        assert body["profiles"] == [compose.TOOLS_PROFILE]  # `up` leaves them out
        assert body["build"] == {"context": ".", "target": "test"}
        assert "ports" not in body and "expose" not in body
        assert body["depends_on"] == {n: {"condition": "service_healthy"} for n in lab}
        assert body["environment"]["TOXIPROXY_URL"] == "http://toxiproxy:8474"
        assert body["environment"]["CHAOSLAB_LAB"] == "/lab/lab.json"
        assert "./deploy/lab.json:/lab/lab.json:ro" in body["volumes"]
    # the test target's entrypoint is pytest: chaos runs the chaos suite on the attached lab
    assert services["chaos"]["command"][-3:] == ["-m", "chaos", "tests/chaos"]
    assert "portal-data:/lab/data/portal:ro" in services["chaos"]["volumes"]
    load = services["load"]
    assert load["entrypoint"] == ["python", "-m", "mock_services.lab.clients.load_cli"]
    assert load["command"][load["command"].index("--duration-s") + 1] == "${CHAOSLAB_LOAD_S:-60}"
    # every service the lab starts has no profile: `docker compose up` starts exactly the lab
    assert [n for n, b in services.items() if "profiles" not in b] == lab


def test_the_load_driver_accepts_the_generated_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from mock_services.lab.clients import load_cli

    command = [c.replace("${CHAOSLAB_LOAD_S:-60}", "60")
               .replace("${CHAOSLAB_POLICIES:-resilient}", "resilient")
               for c in load_compose()["services"]["load"]["command"]]  # type: ignore[index]
    args = load_cli._parser().parse_args(command)
    assert args.duration_s == 60.0 and args.lab == Path("/lab/lab.json")


def test_healthchecks_and_start_order() -> None:
    services = load_compose()["services"]
    assert isinstance(services, dict)
    assert services["toxiproxy"]["healthcheck"]["test"] == ["CMD", "/toxiproxy-cli", "list"]
    assert services["toxiproxy"]["image"].startswith("ghcr.io/shopify/toxiproxy:2.")
    for portal in default_topology().portals():
        deps = services[portal.name]["depends_on"]
        assert deps["toxiproxy"] == {"condition": "service_healthy"}
        assert all(d == {"condition": "service_healthy"} for d in deps.values())


def test_dockerfile_is_slim_non_root_and_installs_from_the_project() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim AS runtime" in text
    assert "USER chaoslab" in text
    assert "COPY pyproject.toml" in text and "pip install -e ." in text
    assert "FROM runtime AS test" in text


docker = pytest.mark.skipif(not engine_available(), reason="no Docker engine on this machine")


@pytest.mark.docker
@docker
def test_docker_compose_config_accepts_the_file() -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    proc = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"),
                           "--profile", compose.TOOLS_PROFILE, "config", "--quiet"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.docker
@pytest.mark.slow
@docker
def test_the_load_service_runs_against_the_compose_lab() -> None:
    """Up, a short bounded load run from inside the network, down (never run here)."""
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    base = ["docker", "compose", "-f", str(ROOT / "docker-compose.yml")]
    env = {**os.environ, "CHAOSLAB_LOAD_S": "5"}
    try:
        up = subprocess.run([*base, "up", "-d", "--build", "--wait"], capture_output=True,
                            text=True, timeout=900, check=False)
        assert up.returncode == 0, up.stderr
        run = subprocess.run([*base, "run", "--rm", "load"], capture_output=True, text=True,
                             timeout=300, check=False, env=env)
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout)  # the driver's summary: "f type" -> count
        assert any(key.endswith(" ok") for key in summary), summary
    finally:
        subprocess.run([*base, "down", "-v"], capture_output=True, timeout=300, check=False)
