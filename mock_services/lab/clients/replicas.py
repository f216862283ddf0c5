"""Client-side view of the portal replicas: which are in rotation, and which to try next.

The clients have no load balancer in front of the portal: like a client-side balancer they
poll each replica's `/readyz` through their own link, and pick among the ready ones in turn.
A replica that failed an attempt is skipped by the next attempt of the same call (failover),
and marked out until its next successful health poll. A client without failover (the user
policy's `failover = false`) sends every attempt to its home replica (`home`), ready or not,
as the simulator's users do (`home = n % replicas`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

HEALTH_INTERVAL_S = 0.1  # how fast a replica leaving rotation is noticed (< a deploy's drain)
HEALTH_TIMEOUT_S = 0.5


@dataclass(slots=True)
class Replica:
    """One portal replica as this client sees it."""

    name: str
    url: str
    ready: bool = True


class ReplicaSet:
    """The portal replicas, their readiness, and round-robin choice among the ready ones."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        if not urls:
            raise ValueError("a replica set needs at least one portal address")
        self.replicas = [Replica(name, url.rstrip("/")) for name, url in sorted(urls.items())]
        self._next = 0

    def pick(self, avoid: str | None = None, start: int | None = None) -> Replica:
        """The next ready replica, other than `avoid` if another is ready.

        Readiness comes first: failing over to a replica known to be out of rotation only
        wastes an attempt. With none ready, any replica other than `avoid`. `start` (modulo
        the replicas) is where the search begins, as the simulator's `home + attempt`; None:
        the next in turn.
        """
        n = len(self.replicas)
        if start is None:
            start = self._next
            self._next = (self._next + 1) % n
        candidates = [self.replicas[(start + i) % n] for i in range(n)]
        ranked = sorted(candidates, key=lambda r: (not r.ready, r.name == avoid))
        return ranked[0]

    def home(self, index: int | None = None) -> Replica:
        """The home replica of user `index` (index modulo the replicas, in name order, as
        the simulator assigns homes); None: the next in turn, readiness ignored."""
        n = len(self.replicas)
        if index is None:
            index = self._next
            self._next = (self._next + 1) % n
        return self.replicas[index % n]

    def mark_failed(self, name: str) -> None:
        """Take `name` out of rotation until a health poll finds it ready again."""
        for r in self.replicas:
            if r.name == name:
                r.ready = False

    async def poll_once(self, client: httpx.AsyncClient) -> None:
        """Ask every replica's /readyz once and update its state."""
        async def one(r: Replica) -> None:
            try:
                resp = await client.get(r.url + "/readyz", timeout=HEALTH_TIMEOUT_S)
                r.ready = resp.status_code == 200
            except httpx.HTTPError:
                r.ready = False
        await asyncio.gather(*(one(r) for r in self.replicas))

    async def watch(self, client: httpx.AsyncClient,
                    interval_s: float = HEALTH_INTERVAL_S) -> None:
        """Poll forever (run as a task; cancel it to stop)."""
        while True:
            with contextlib.suppress(Exception):
                await self.poll_once(client)
            await asyncio.sleep(interval_s)  # the health-check period itself
