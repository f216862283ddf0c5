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
from scenario.history import OpType
from scenario.names import ATTACKER
from tests.chaos.bots import Bots
from tests.chaos.directed_login import source, stated

ATTACK_GROUP = 66  # attackers' addresses: 10.66.x.y, none shared with a legitimate user
# Each attacker sends at most this many attempts a second (a bot paced per connection): on an
# unlimited portal its attempts queue behind the hashes anyway, so the pace does not bind;
# on a limited one it keeps the cheap 429s from turning into a flood of their own.
ATTEMPTS_PER_S = 1.0
LOGIN_PATH = "/auth/login"


async def _attacker(base_url: str, injector: Injector, n: int, victims: Sequence[Person],
                    until_s: float, address: dict[str, str]) -> None:
    """Attacker `n`: wrong-password logins round the victims, paced, until `until_s`, from
    the address the signed headers `address` state (each attacker a source of its own, as
    the load balancer would see a botnet)."""
    process, i, next_s = f"{ATTACKER}{n}", 0, 0.0
    bot = Bots(base_url)
    headers = {"Content-Type": "application/json", **address}
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
                answer = await asyncio.wait_for(
                    bot.request("POST", LOGIN_PATH, headers, body), 30.0)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                injector.history.complete(op, "info", injector.clock(),
                                          error=type(exc).__name__)
                continue
            kind: OpType = "ok" if answer.status == 200 else "fail"
            injector.history.complete(op, kind, injector.clock(),
                                      error="" if kind == "ok" else f"http_{answer.status}")
    finally:
        await bot.aclose()


async def _user(client: httpx.AsyncClient, url: str, injector: Injector, i: int,
                person: Person, address: dict[str, str]) -> None:
    op = injector.history.invoke(f"user-{i}", "login", injector.clock(), priority=1)
    r = await client.post(url, json={"national_id": person.national_id,
                                     "password": person.password},
                          headers=address, timeout=30.0)
    kind: OpType = "ok" if r.status_code == 200 else "fail"
    injector.history.complete(op, kind, injector.clock(),
                              error="" if kind == "ok" else f"http_{r.status_code}")


def stuff(lab: Lab, injector: Injector, *, attackers: int, victims: Sequence[Person],
          users: Sequence[Person], group: int, user_gap_s: float, attack_s: float) -> None:
    """`attackers` attackers for `attack_s` seconds; once they are under way, the `users` log
    in one every `user_gap_s` seconds (spaced: the lab's Shahkar refuses bursts)."""
    base_url = lab.state.url(lab.state.topology.portals()[0].name)
    url = base_url + LOGIN_PATH
    limits = httpx.Limits(max_connections=len(users) + 4)

    async def main() -> None:
        async with httpx.AsyncClient(limits=limits) as client:
            until = injector.clock() + attack_s
            attack = [asyncio.ensure_future(_attacker(
                base_url, injector, n, victims, until, stated(lab, source(ATTACK_GROUP, n))))
                for n in range(attackers)]
            await asyncio.sleep(user_gap_s)  # pacing of the arrivals, not synchronisation
            legit = []
            for i, person in enumerate(users):
                legit.append(asyncio.ensure_future(_user(client, url, injector, i, person,
                                                         stated(lab, source(group, i)))))
                await asyncio.sleep(user_gap_s)
            await asyncio.wait_for(asyncio.gather(*legit, *attack), timeout=attack_s + 60.0)

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < attack_s + 60.0
