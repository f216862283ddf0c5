"""The docker-compose lab: generated from the topology, valid Compose, safe to run.

These tests check what needs no engine (drift, the Compose specification's schema, ports and
upstreams, access, images, the Dockerfile, the stand-in Toxiproxy, the lab's secrets). The
lab itself runs for real in `make compose-test` (deploy/compose-test/); the test marked
`docker` here needs an engine and Compose and skips, saying which, without them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from chaoslab import compose
from chaoslab.docker_lab import engine_available
from mock_services.common.access import read_secrets
from mock_services.lab.state import load as load_map
from mock_services.lab.topology import CLIENT, default_topology

ROOT = Path(__file__).resolve().parents[2]


def load_compose() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_checked_in_files_match_the_topology() -> None:
    for path, text in compose.render(default_topology()).items():
        assert path.read_text(encoding="utf-8") == text, \
            f"{path.relative_to(ROOT)} drifted from the topology: run python -m chaoslab.compose"
    assert compose.main(["--check"]) == 0


def test_check_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "docker-compose.yml"
    stale.write_text("services: {}\n")
    monkeypatch.setattr(compose, "COMPOSE_FILE", stale)
    monkeypatch.setattr(compose, "ROOT", tmp_path)
    for name in ("STANDIN_FILE", "TOXIPROXY_CONFIG", "LAB_MAP", "ADMIN_MAP"):
        monkeypatch.setattr(compose, name, tmp_path / getattr(compose, name).name)
    assert compose.main(["--check"]) == 1
    assert ("out of date: docker-compose.yml, toxiproxy-standin.yml, toxiproxy.json, lab.json, "
            "admin.json") in capsys.readouterr().err


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


def test_admin_listeners_are_on_the_network_only_and_every_service_reads_the_secrets() -> None:
    doc = load_compose()
    services = doc["services"]
    assert isinstance(services, dict)
    admin = json.loads((ROOT / "deploy" / "admin.json").read_text(encoding="utf-8"))
    assert admin == {"addresses": {s.name: f"{s.name}:{compose.ADMIN_PORT}"
                                   for s in default_topology().services}}
    for spec in default_topology().services:
        command = " ".join(services[spec.name]["command"])
        assert f"--admin-host 0.0.0.0 --admin-port {compose.ADMIN_PORT}" in command
        assert "--secrets-file /run/secrets/chaoslab" in command
        assert services[spec.name]["secrets"] == ["chaoslab"]
        assert "ports" not in services[spec.name] and "environment" not in services[spec.name]
    # no proxy fronts an admin listener, and none is published
    proxied = {p["upstream"] for p in json.loads(
        (ROOT / "deploy" / "toxiproxy.json").read_text(encoding="utf-8"))}
    assert all(u.endswith(f":{compose.SERVICE_PORT}") for u in proxied)
    assert not [p for p in services["toxiproxy"]["ports"] if str(compose.ADMIN_PORT) in p]
    # the secrets: one file per lab, never checked in
    assert doc["secrets"] == {"chaoslab": {"file": "./runs/compose/secrets.json"}}
    ignored = subprocess.run(["git", "check-ignore", "-q", "runs/compose/secrets.json"],
                             cwd=ROOT, check=False, timeout=30)
    assert ignored.returncode == 0, "runs/compose/secrets.json must be git-ignored"


def test_the_lab_secrets_are_fresh_private_and_readable_by_the_images_user(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "compose" / "secrets.json"
    compose.write_lab_secrets(path, owner_uid=os.getuid())
    first = read_secrets(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    compose.write_lab_secrets(path, owner_uid=os.getuid())
    assert read_secrets(path).admin_token != first.admin_token  # fresh per lab
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"useradd --create-home --uid {compose.IMAGE_UID} chaoslab" in text
    chowned: list[tuple[int, int]] = []
    monkeypatch.setattr(compose.os, "chown", lambda _p, uid, gid: chowned.append((uid, gid)))
    compose.write_lab_secrets(path)
    assert chowned == [(compose.IMAGE_UID, compose.IMAGE_UID)]

    def refuse(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(compose.os, "chown", refuse)
    monkeypatch.setattr(compose, "SECRETS_FILE", path)
    monkeypatch.setattr(compose, "ROOT", tmp_path)
    assert compose.main(["--secrets"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot give {path} to uid 10001" in err


def test_load_and_chaos_run_once_unpublished_after_the_lab() -> None:
    services = load_compose()["services"]
    assert isinstance(services, dict)
    lab = ["toxiproxy", *(s.name for s in default_topology().services)]
    for name in ("load", "chaos"):
        body = services[name]
        assert body["profiles"] == [compose.TOOLS_PROFILE]  # `up` leaves them out
        assert "ports" not in body and "expose" not in body
        assert body["depends_on"] == {n: {"condition": "service_healthy"} for n in lab}
        assert body["environment"]["TOXIPROXY_URL"] == "http://toxiproxy:8474"
        assert body["environment"]["CHAOSLAB_LAB"] == "/lab/lab.json"
        # the map, the admin listeners and the secrets, all in the map's run directory
        assert "./deploy/lab.json:/lab/lab.json:ro" in body["volumes"]
        assert "./deploy/admin.json:/lab/admin.json:ro" in body["volumes"]
        assert body["secrets"] == [{"source": "chaoslab", "target": "/lab/secrets.json"}]
    # the test target's entrypoint is pytest: chaos runs the chaos suite on the attached lab
    assert services["chaos"]["image"] == compose.TEST_IMAGE
    assert services["chaos"]["build"]["target"] == "test"
    assert services["chaos"]["command"][-3:] == ["-m", "chaos", "tests/chaos"]
    assert "portal-data:/lab/data/portal:ro" in services["chaos"]["volumes"]
    load = services["load"]
    assert load["image"] == compose.IMAGE  # the driver ships with the services
    assert load["entrypoint"] == ["python", "-m", "mock_services.lab.clients.load_cli"]
    assert load["command"][load["command"].index("--duration-s") + 1] == "${CHAOSLAB_LOAD_S:-60}"
    # the driver signs its users' addresses: no need to keep them few any more
    assert "--active-users" not in load["command"]
    # every service the lab starts has no profile: `docker compose up` starts exactly the lab
    assert [n for n, b in services.items() if "profiles" not in b] == lab


def test_each_image_of_ours_is_built_by_one_service_and_never_pulled() -> None:
    """Compose pulls an image it does not build unless told not to: five services naming
    chaoslab:local without `build` made every `up` print five failed pulls."""
    services = load_compose()["services"]
    assert isinstance(services, dict)
    standin = yaml.safe_load((ROOT / "deploy" / "toxiproxy-standin.yml").read_text())
    bodies = [*services.values(), *standin["services"].values()]
    for image in (compose.IMAGE, compose.TEST_IMAGE):
        users = [b for b in bodies if b.get("image") == image]
        builders = [b for b in users if "build" in b]
        assert len(builders) == 1, image
        assert builders[0]["build"]["args"] == {"BASE_IMAGE": compose.BASE_IMAGE}
        assert all(b.get("pull_policy") == "never" for b in users if "build" not in b), image
    assert services["toxiproxy"]["image"] == compose.TOXIPROXY_IMAGE  # the real one is pulled


def test_the_standin_runs_our_server_with_the_same_api_and_proxies() -> None:
    from chaoslab.cli import build_parser

    standin = yaml.safe_load((ROOT / "deploy" / "toxiproxy-standin.yml").read_text())
    body = standin["services"]["toxiproxy"]
    assert set(standin) == {"services"} and set(standin["services"]) == {"toxiproxy"}
    assert body["entrypoint"] == ["python", "-m", "chaoslab", "proxy"]
    args = build_parser().parse_args(["proxy", *body["command"]])
    assert (args.host, args.port, str(args.config)) == ("0.0.0.0", 8474,
                                                        "/config/toxiproxy.json")
    # the config the real image reads is the one mounted for it (the override keeps volumes)
    real = load_compose()["services"]["toxiproxy"]  # type: ignore[index]
    assert "./deploy/toxiproxy.json:/config/toxiproxy.json:ro" in real["volumes"]
    assert "/version" in body["healthcheck"]["test"][-1]


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
    assert "ARG BASE_IMAGE=python:3.11-slim" in text  # today's base, unless told otherwise
    assert "FROM ${BASE_IMAGE} AS deps" in text
    assert "USER chaoslab" in text
    assert "COPY pyproject.toml" in text
    assert "pip install --no-deps --no-build-isolation -e ." in text
    assert "FROM devdeps AS test" in text


def _compose_cli() -> str | None:
    """Why `docker compose` cannot be asked here, or None when it can."""
    if not engine_available():
        return "no Docker engine on this machine (make compose-test starts one)"
    if shutil.which("docker") is None:
        return "no docker CLI"
    proc = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60,
                          check=False)
    return None if proc.returncode == 0 else "no Compose v2 plugin (make compose-test adds one)"


@pytest.mark.docker
def test_docker_compose_config_accepts_the_files() -> None:
    reason = _compose_cli()
    if reason:
        pytest.skip(reason)
    for extra in ([], ["-f", str(ROOT / "deploy" / "toxiproxy-standin.yml")]):
        proc = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"),
                               *extra, "--profile", compose.TOOLS_PROFILE, "config", "--quiet"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
