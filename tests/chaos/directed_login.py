"""Directed login runs: waves of real logins, each user from an address of its own.

Every lab client connects from 127.0.0.1, so these logins state their address as the load
balancer does, in the signed X-Chaoslab-Client headers (the lab's client key): the portal
then sees each as coming from that address. That is how the lab tells users and attackers
apart for the per-source login limit, and keeps one test's logins from spending another's
budget. (X-Forwarded-For is not believed: anyone could send it.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import httpx

from chaoslab.live.runner import fold_events
from faults.injector import Injector
from mock_services.lab.clients import http
from mock_services.lab.clients import portal_api as api
from mock_services.lab.supervisor import Lab
from mock_services.seed import Person, demo_population
from tests.chaos.directed import run_ops

POLL_S = 0.05


def people(first: int, n: int) -> list[Person]:
    """Citizens `first` .. `first + n - 1` of the demo population (each test its own range,
    so the per-account login limit of one test never meets another's logins)."""
    citizens = demo_population().citizens
    assert len(citizens) >= first + n, f"the demo population has {len(citizens)} citizens"
    return list(citizens[first:first + n])


def source(group: int, i: int) -> str:
    """The address user `i` of `group` logs in from (10.<group>.<i // 250>.<i % 250 + 1>)."""
    return f"10.{group}.{i // 250}.{i % 250 + 1}"


def stated(lab: Lab, address: str) -> dict[str, str]:
    """The signed headers that make the portal see a request as coming from `address`."""
    return lab.admin().client_headers(address)


def login_op(lab: Lab, person: Person, address: str,
             password: str | None = None) -> Callable[[str], http.HttpRequest]:
    """A login request of `person` (with `password`, theirs by default) from `address`."""
    req = api.login(person.national_id, person.password if password is None else password)
    headers = {**req.headers, **stated(lab, address)}
    return lambda _token: replace(req, headers=headers)


def login_wave(lab: Lab, injector: Injector, preset: str, users: Sequence[Person],
               group: int) -> None:
    """Every user of `users` logs in once, all at once, through the `user` policies."""
    run_ops(lab, injector, preset,
            [("login", login_op(lab, p, source(group, i)), i) for i, p in enumerate(users)],
            login=False)


def warm_logins(lab: Lab, users: Sequence[Person], group: int) -> list[tuple[str, str]]:
    """Each user logs in once, one after another, outside the history: a healthy Shahkar
    confirms their mobile, the verification a resilient portal falls back on. One at a time
    because the lab's Shahkar refuses a burst of concurrent lookups (the portal answers 503).
    Returns (national ID, token) of each."""
    url = lab.state.url(lab.state.topology.portals()[0].name) + "/auth/login"
    out = []
    with httpx.Client(timeout=30.0) as client:
        for i, p in enumerate(users):
            r = client.post(url, json={"national_id": p.national_id, "password": p.password},
                            headers=stated(lab, source(group, i)))
            assert r.status_code == 200, f"warm-up login of citizen {i}: {r.status_code} {r.text}"
            out.append((p.national_id, str(r.json()["token"])))
    return out


def wait_until(injector: Injector, t_s: float) -> None:
    """Return once the injector's clock reads `t_s` (a clock deadline, not a sync by sleep)."""
    while injector.clock() < t_s:
        time.sleep(POLL_S)


def wall_origin(injector: Injector) -> float:
    """The wall-clock time at which the injector's clock read 0 (to fold portal events)."""
    return time.time() - injector.clock()


def fold_portal_events(lab: Lab, injector: Injector, t0_wall: float) -> None:
    """Add the portals' upstream attempts and breaker events to the history, in time order."""
    fold_events(lab, injector.history, t0_wall)
    injector.history.ops.sort(key=lambda op: op.time_s)
