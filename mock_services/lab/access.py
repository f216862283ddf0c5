"""The lab's own way into its services: the secrets file and the admin listeners' addresses.

`lab up` writes, before any process starts, `<run_dir>/secrets.json` (mode 0600: the admin
token and the client-address key, fresh per lab; every service gets `--secrets-file`) and
`<run_dir>/admin.json` (`{"addresses": {service: "host:port"}}`, each service's admin
listener, a port of its own that no proxy fronts; every service gets `--admin-port`). The
lab's tools (supervisor, demand, fault adapter, traffic driver, tests) read both through
`admin_access(lab)`; a client without them (curl, an attacker) reaches neither the admin
routes nor a signed client address.

Admin requests go through an `httpx.Client` handed in (`AdminAccess.using`: one pool for a
run, or a test's `httpx.MockTransport`); without one, each request opens and closes its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from mock_services.common.access import (
    Secrets,
    SecretsError,
    client_headers,
    new_secrets,
    read_secrets,
    write_secrets,
)
from mock_services.lab import ports
from mock_services.lab.config import LabError
from mock_services.lab.state import LabState

if TYPE_CHECKING:
    from mock_services.lab.supervisor import Lab

SECRETS_FILE = "secrets.json"
ADMIN_FILE = "admin.json"
ADMIN_TIMEOUT_S = 5.0


def secrets_path(run_dir: Path) -> Path:
    """Where the lab of `run_dir` keeps its secrets (each service's `--secrets-file`)."""
    return run_dir / SECRETS_FILE


def admin_path(run_dir: Path) -> Path:
    """Where the lab of `run_dir` keeps its admin listeners' addresses."""
    return run_dir / ADMIN_FILE


@dataclass(frozen=True, slots=True)
class AdminAccess:
    """The admin listeners of a lab and the token they want; the key that signs addresses."""

    addresses: Mapping[str, str]  # service name -> "host:port" of its admin listener
    secrets: Secrets
    http: httpx.Client | None = field(default=None, compare=False, repr=False)

    def using(self, http: httpx.Client | None) -> AdminAccess:
        """This access sending its requests through `http` (its pool and transport; the
        caller closes it); None: a client of its own per request."""
        return self if http is None else replace(self, http=http)

    @property
    def token(self) -> str:
        """The admin token."""
        return self.secrets.admin_token

    @property
    def headers(self) -> dict[str, str]:
        """The header every admin request carries."""
        return {"Authorization": f"Bearer {self.secrets.admin_token}"}

    def url(self, service: str) -> str:
        """The admin listener of `service`; `LabError` when the lab has none for it."""
        address = self.addresses.get(service)
        if address is None:
            raise LabError(f"service {service!r} has no admin listener in this lab; expected "
                           f"one of {', '.join(sorted(self.addresses))}")
        return f"http://{address}"

    def urls(self, services: list[str]) -> dict[str, str]:
        """`url` of each of `services`."""
        return {s: self.url(s) for s in services}

    def client_headers(self, address: str) -> dict[str, str]:
        """The signed headers that state `address` as a client's (the load balancer's word)."""
        return client_headers(self.secrets.client_key, address)

    def request(self, method: str, service: str, path: str, *,
                timeout_s: float = ADMIN_TIMEOUT_S, **kwargs: Any) -> httpx.Response:
        """One admin request to `service` with the token (httpx errors propagate)."""
        headers = {**kwargs.pop("headers", {}), **self.headers}
        url = self.url(service) + path
        if self.http is not None:
            return self.http.request(method, url, headers=headers, timeout=timeout_s, **kwargs)
        with httpx.Client() as http:
            return http.request(method, url, headers=headers, timeout=timeout_s, **kwargs)

    def get(self, service: str, path: str, **kwargs: Any) -> httpx.Response:
        """`request("GET", ...)`."""
        return self.request("GET", service, path, **kwargs)

    def post(self, service: str, path: str, **kwargs: Any) -> httpx.Response:
        """`request("POST", ...)`."""
        return self.request("POST", service, path, **kwargs)


def prepare(lab: LabState) -> AdminAccess:
    """Write fresh secrets and pick a free admin port per service (before anything starts)."""
    used = [s.port for s in lab.topology.services] + [x.listen_port for x in lab.topology.links]
    if lab.embedded_proxy:
        used.append(int(lab.toxiproxy_url.rsplit(":", 1)[1]))
    free = ports.allocate(used, len(lab.topology.services))
    addresses = {s.name: f"{ports.HOST}:{port}" for s, port in zip(lab.topology.services, free,
                                                                     strict=True)}
    value = new_secrets()
    write_secrets(secrets_path(lab.run_dir), value)
    path = admin_path(lab.run_dir)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"addresses": addresses}, indent=2) + "\n")
    tmp.replace(path)
    return AdminAccess(addresses, value)


def admin_access(lab: Lab | LabState) -> AdminAccess:
    """The admin access of a running lab, read from its run directory; `LabError` (one
    sentence) when the files are missing or malformed."""
    state = lab if isinstance(lab, LabState) else lab.state
    path = admin_path(state.run_dir)
    try:
        value = read_secrets(secrets_path(state.run_dir))
        data = json.loads(path.read_text())
    except SecretsError as exc:
        raise LabError(str(exc)) from None
    except FileNotFoundError:
        raise LabError(f"{path} does not exist; expected the admin addresses 'lab up' "
                       "writes") from None
    except (OSError, ValueError) as exc:
        raise LabError(f"{path} is unreadable ({exc}); expected the admin addresses 'lab up' "
                       "writes") from None
    addresses = data.get("addresses") if isinstance(data, dict) else None
    if not isinstance(addresses, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in addresses.items()):
        raise LabError(f"{path}: expected {{\"addresses\": {{service: \"host:port\"}}}}")
    return AdminAccess(dict(addresses), value)


def admin_port(lab: LabState, service: str) -> int:
    """The admin port `service` is started with."""
    return int(admin_access(lab).url(service).rsplit(":", 1)[1])
