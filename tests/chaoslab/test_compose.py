"""The docker-compose lab: generated from the topology, valid Compose, safe to run.

No Docker engine runs here or in CI: these tests check everything that needs none (drift,
the Compose specification's schema, ports and upstreams, the Dockerfile, the supervisor
against a mock engine). Tests needing an engine carry the `docker` marker and skip cleanly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from chaoslab import compose
from chaoslab.docker_lab import engine_available
from mock_services.lab.topology import CLIENT, default_topology

ROOT = Path(__file__).resolve().parents[2]


def load_compose() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_checked_in_files_match_the_topology() -> None:
    compose_text, config_text = compose.render(default_topology())
    assert (ROOT / "docker-compose.yml").read_text(encoding="utf-8") == compose_text, \
        "docker-compose.yml drifted from the topology: run python -m chaoslab.compose"
    assert (ROOT / "deploy" / "toxiproxy.json").read_text(encoding="utf-8") == config_text, \
        "deploy/toxiproxy.json drifted from the topology: run python -m chaoslab.compose"
    assert compose.main(["--check"]) == 0


def test_check_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "docker-compose.yml"
    stale.write_text("services: {}\n")
    monkeypatch.setattr(compose, "COMPOSE_FILE", stale)
    monkeypatch.setattr(compose, "ROOT", tmp_path)
    monkeypatch.setattr(compose, "TOXIPROXY_CONFIG", tmp_path / "toxiproxy.json")
    assert compose.main(["--check"]) == 1
    assert "out of date: docker-compose.yml, toxiproxy.json" in capsys.readouterr().err


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
                           "config", "--quiet"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
