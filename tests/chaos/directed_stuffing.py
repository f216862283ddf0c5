"""Directed credential stuffing: attacker processes hammering login with wrong passwords
while legitimate users log in one after another, all recorded in the injector's history."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

import httpx

from faults.injector import Injector
from mock_services.lab.supervisor import Lab
from mock_services.seed import Person
from scenario.history import ATTACKER, OpType
from tests.chaos.directed_login import source

ATTACK_GROUP = 66  # attackers' addresses: 10.66.x.y, none shared with a legitimate user
# Each attacker sends at most this many attempts a second (a bot paced per connection): on an
# unlimited portal its attempts queue behind the hashes anyway, so the pace does not bind;
# on a limited one it keeps the cheap 429s from turning into a flood of their own.
ATTEMPTS_PER_S = 1.0


class _Bot:
    """A lean credential-stuffing bot: one keep-alive HTTP/1.1 connection, requests written
    pre-encoded and answers read to their status line and body.

    The attackers share the test's process and its two cores with the users whose logins
    are timed: a full HTTP client costs about a millisecond a request here, and 64 of them
    starved the users' event loop (429s answered in < 0.1 s by the portal were seen after
    1.3 s by the client). Real bots run elsewhere; this keeps their cost on the portal.
    """

    def __init__(self, url: str) -> None:
        parts = httpx.URL(url)
        self.host, self.port, self.path = parts.host, parts.port or 80, parts.path
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes, forwarded_for: str) -> int:
        """Send one login; the answer's status code (a new connection when one closed)."""
        if self._conn is None:
            self._conn = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._conn
        writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"X-Forwarded-For: %s\r\nContent-Length: %d\r\n\r\n%s" % (
                         self.path.encode(), self.host.encode(), forwarded_for.encode(),
                         len(body), body))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return int(lines[0].split()[1])

    async def close(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None


async def _attacker(url: str, injector: Injector, n: int, victims: Sequence[Person],
                    until_s: float) -> None:
    """Attacker `n`: wrong-password logins round the victims, paced, until `until_s`."""
    process, i, next_s = f"{ATTACKER}{n}", 0, 0.0
    bot = _Bot(url)
    try:
        while (now := injector.clock()) < until_s:
            await asyncio.sleep(max(0.0, next_s - now))  # the bot's pace, not a synchronisation
            next_s = max(now, next_s) + 1.0 / ATTEMPTS_PER_S
            victim = victims[(n + i) % len(victims)]
            i += 1
            body = json.dumps({"national_id": victim.national_id,
                               "password": f"wrong-{n}-{i}"}).encode()
            op = injector.history.invoke(process, "login", injector.clock(), priority=1)
            try:
                status = await asyncio.wait_for(bot.post(body, source(ATTACK_GROUP, n)), 30.0)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                injector.history.complete(op, "info", injector.clock(),
                                          error=type(exc).__name__)
                continue
            kind: OpType = "ok" if status == 200 else "fail"
            injector.history.complete(op, kind, injector.clock(),
                                      error="" if kind == "ok" else f"http_{status}")
    finally:
        await bot.close()


async def _user(client: httpx.AsyncClient, url: str, injector: Injector, i: int,
                person: Person, group: int) -> None:
    op = injector.history.invoke(f"user-{i}", "login", injector.clock(), priority=1)
    r = await client.post(url, json={"national_id": person.national_id,
                                     "password": person.password},
                          headers={"X-Forwarded-For": source(group, i)}, timeout=30.0)
    kind: OpType = "ok" if r.status_code == 200 else "fail"
    injector.history.complete(op, kind, injector.clock(),
                              error="" if kind == "ok" else f"http_{r.status_code}")


def stuff(lab: Lab, injector: Injector, *, attackers: int, victims: Sequence[Person],
          users: Sequence[Person], group: int, user_gap_s: float, attack_s: float) -> None:
    """`attackers` attackers for `attack_s` seconds; once they are under way, the `users` log
    in one every `user_gap_s` seconds (spaced: the lab's Shahkar refuses bursts)."""
    url = lab.state.url(lab.state.topology.portals()[0].name) + "/auth/login"
    limits = httpx.Limits(max_connections=len(users) + 4)

    async def main() -> None:
        async with httpx.AsyncClient(limits=limits) as client:
            until = injector.clock() + attack_s
            attack = [asyncio.ensure_future(_attacker(url, injector, n, victims, until))
                      for n in range(attackers)]
            await asyncio.sleep(user_gap_s)  # pacing of the arrivals, not synchronisation
            legit = []
            for i, person in enumerate(users):
                legit.append(asyncio.ensure_future(_user(client, url, injector, i, person,
                                                         group)))
                await asyncio.sleep(user_gap_s)
            await asyncio.wait_for(asyncio.gather(*legit, *attack), timeout=attack_s + 60.0)

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < attack_s + 60.0
