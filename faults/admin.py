"""The upstreams' admin fault route (`POST /admin/fault`): a protocol, HTTP and memory versions.

HTTP-level faults Toxiproxy cannot make (503 with Retry-After, slow or lost responses) are
set on the upstream service itself, on its admin listener (`admin_url`, which no proxy
fronts) with the lab's admin token (mock_services/README.md, "What the lab trusts").
"""

from __future__ import annotations

from typing import Protocol

import httpx

from faults.actions import SetAdminFault
from faults.errors import AdminError


class UpstreamAdmin(Protocol):
    """Sets an upstream's HTTP-level fault mode; raises `AdminError` when it cannot."""

    def set_fault(self, action: SetAdminFault) -> None:
        """Apply `action` (mode "ok" heals)."""


class HttpUpstreamAdmin:
    """`UpstreamAdmin` over HTTP, with a timeout and the admin token (`Authorization:
    Bearer`; "" sends none); `transport` is for tests."""

    def __init__(self, *, timeout_s: float = 5.0, token: str = "",
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(timeout=timeout_s, transport=transport, headers=headers)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def set_fault(self, action: SetAdminFault) -> None:
        url = action.admin_url.rstrip("/") + "/admin/fault"
        try:
            response = self._http.post(url, json=action.body())
        except httpx.HTTPError as exc:
            raise AdminError(f"upstream {action.upstream!r} admin route {url} failed: "
                             f"{exc}.") from exc
        if response.status_code >= 300:
            raise AdminError(f"upstream {action.upstream!r} admin route {url} answered "
                             f"HTTP {response.status_code}: {response.text.strip()[:200]}.")


class RecordingAdmin:
    """An in-memory `UpstreamAdmin`: the current mode of each upstream, and every call."""

    def __init__(self) -> None:
        self.modes: dict[str, str] = {}
        self.calls: list[SetAdminFault] = []

    def set_fault(self, action: SetAdminFault) -> None:
        self.calls.append(action)
        self.modes[action.upstream] = action.mode
