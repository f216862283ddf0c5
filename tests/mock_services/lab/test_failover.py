"""The users' failover is the policy's field, and the live client follows it.

Without failover (baseline's users) every attempt of a call goes to the user's home replica,
index modulo the replicas as the simulator assigns homes; with it (resilient's), a retry goes
to another replica.
"""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from mock_services.lab.clients import http
from mock_services.lab.clients.replicas import ReplicaSet
from policies.presets import BASELINE, RESILIENT, PolicySet
from policies.resolve import resolve_policies

URLS = {"portal-a": "http://a", "portal-b": "http://b", "portal-c": "http://c"}


def _attempts(ps: PolicySet, home: int | None, failing: set[str]) -> tuple[list[str], str]:
    """The hosts a call's attempts went to, and how it ended."""
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(503 if request.url.host in failing else 200)

    async def no_sleep(_s: float) -> None:
        return None

    async def main() -> http.Completion:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await http.call(client, ReplicaSet(URLS), ps.user.build("portal"),
                                   http.HttpRequest("GET", "/records"),
                                   clock=asyncio.get_running_loop().time,
                                   rng=random.Random(1), sleep=no_sleep, home=home)

    return hosts, asyncio.run(main()).type


@pytest.mark.parametrize("home", [0, 1, 2, 4])
def test_without_failover_every_attempt_goes_to_the_home_replica(home: int) -> None:
    expected = "abc"[home % 3]
    hosts, result = _attempts(BASELINE, home, failing={expected})
    assert hosts == [expected] * BASELINE.user.retry.max_attempts  # refreshes the same page
    assert result == "fail"


def test_with_failover_a_retry_goes_to_another_replica() -> None:
    hosts, result = _attempts(RESILIENT, 0, failing={"a"})
    assert hosts == ["a", "b"] and result == "ok"


def test_the_field_decides_not_the_preset() -> None:
    pinned = resolve_policies("resilient", {"user": {"failover": False}})
    assert _attempts(pinned, 1, failing={"b"})[0] == ["b"] * pinned.user.retry.max_attempts
    roaming = resolve_policies("baseline", {"user": {"failover": True}})
    assert _attempts(roaming, 1, failing={"b"}) == (["b", "c"], "ok")


def test_homes_follow_the_user_index_in_name_order() -> None:
    rs = ReplicaSet({"portal-b": "http://b", "portal-a": "http://a"})
    assert [rs.home(i).name for i in range(4)] == ["portal-a", "portal-b"] * 2
    rs.mark_failed("portal-a")  # a home is a home, ready or not
    assert rs.home(0).name == "portal-a"
    assert [rs.home().name for _ in range(3)] == ["portal-a", "portal-b", "portal-a"]
