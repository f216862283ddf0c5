"""The toxics of one proxy: an ordered chain per direction, applied to every open link."""

from __future__ import annotations

from collections.abc import Callable

from faults.toxiserver.entry import DOWNSTREAM, UPSTREAM, ToxicEntry
from faults.toxiserver.link import Link


class ToxicCollection:
    """Upstream and downstream chains in insertion order; names unique across both."""

    def __init__(self, links: Callable[[str], list[Link]]) -> None:
        self.chains: dict[str, list[ToxicEntry]] = {UPSTREAM: [], DOWNSTREAM: []}
        self._links = links  # the open links of one direction

    def all(self) -> list[ToxicEntry]:
        """Upstream toxics first, then downstream, each in insertion order."""
        return [*self.chains[UPSTREAM], *self.chains[DOWNSTREAM]]

    def find(self, name: str) -> ToxicEntry | None:
        """The toxic called `name`, in either direction."""
        return next((e for e in self.all() if e.name == name), None)

    def snapshot(self) -> dict[str, list[ToxicEntry]]:
        """A copy of both chains, for a new connection."""
        return {d: list(chain) for d, chain in self.chains.items()}

    async def add(self, entry: ToxicEntry) -> None:
        """Append `entry` to its chain and to every open link of that direction."""
        self.chains[entry.direction].append(entry)
        for link in self._links(entry.direction):
            await link.add_toxic(entry)

    async def update(self, entry: ToxicEntry) -> None:
        """Restart `entry` (already changed in place) on every open link."""
        for link in self._links(entry.direction):
            await link.update_toxic(entry)

    async def remove(self, entry: ToxicEntry) -> None:
        """Take `entry` out of its chain and out of every open link."""
        self.chains[entry.direction].remove(entry)
        for link in self._links(entry.direction):
            await link.remove_toxic(entry)

    async def reset(self) -> None:
        """Remove every toxic."""
        for entry in self.all():
            await self.remove(entry)
