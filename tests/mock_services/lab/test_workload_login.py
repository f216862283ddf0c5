"""A scenario's login operation is an arrival of its own in the lab as in the simulator: two
fresh logins of one account run at once (neither invoked late behind the other), while the
logins a session needs are still made once per account."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import httpx

from mock_services.lab.clients.http import Completion, HttpRequest
from mock_services.lab.clients.workload import RunState, Session, login
from mock_services.seed import demo_population

POPULATION = demo_population()


def _session(entered: list[int], both_in: asyncio.Event, release: asyncio.Event,
             first_in: asyncio.Event | None = None) -> Session:
    async def perform(f: str, key: str, submit: Callable[[], Awaitable[Completion]],
                      write: bool) -> Completion:
        entered.append(len(entered))
        if first_in is not None:
            first_in.set()
        if len(entered) == 2:
            both_in.set()
        await release.wait()
        token = f"token-{len(entered)}"
        return Completion("ok", "", "", httpx.Response(200, json={"token": token}), 1)

    async def submit(request: HttpRequest) -> Completion:
        raise AssertionError("perform stands in for the portal")

    async def sms(mobile: str) -> str | None:
        return None

    return Session("citizen/1", RunState(POPULATION, "r0"), perform, submit, sms,
                   random.Random(1))


def test_two_fresh_logins_of_one_account_run_at_once() -> None:
    async def run() -> list[str | None]:
        entered: list[int] = []
        both_in, release = asyncio.Event(), asyncio.Event()
        s = _session(entered, both_in, release)
        person = POPULATION.citizens[0]
        tasks = [asyncio.create_task(login(s, person, fresh=True)) for _ in range(2)]
        # held behind the first, the second would not start until it ended: never, here
        await asyncio.wait_for(both_in.wait(), timeout=5.0)
        release.set()
        return list(await asyncio.gather(*tasks))

    assert sorted(t or "" for t in asyncio.run(run())) == ["token-2", "token-2"]


def test_a_session_s_login_is_made_once_per_account() -> None:
    async def run() -> tuple[list[str | None], int]:
        entered: list[int] = []
        both_in, release, first_in = asyncio.Event(), asyncio.Event(), asyncio.Event()
        s = _session(entered, both_in, release, first_in)
        person = POPULATION.citizens[0]
        tasks = [asyncio.create_task(login(s, person)) for _ in range(3)]
        await asyncio.wait_for(first_in.wait(), timeout=5.0)  # the first login under way ...
        release.set()  # ... and the others wait for its token
        return list(await asyncio.gather(*tasks)), len(entered)

    tokens, logins = asyncio.run(run())
    assert logins == 1 and tokens == ["token-1"] * 3
