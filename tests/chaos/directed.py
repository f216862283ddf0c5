"""Directed chaos runs: a few user operations timed against a fault so the outcome is certain.

A scenario run under random load only sometimes has a write in flight when a switch dies; a
directed run makes sure it does: the writes are sent, the test polls the portal until it has
applied them (their answers still held back by a slow link), and only then is the fault
applied. The history is recorded in the users' vocabulary, the final state read from the
portal, and the same checkers as everywhere judge it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import pytest

from chaoslab.live.runner import record_final_state
from chaoslab.pytest_plugin import attached_path
from faults.injector import Injector
from mock_services.lab.clients import http
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.portal_api import applied_by_logical_key
from mock_services.lab.clients.replicas import ReplicaSet
from mock_services.lab.clients.user import Behaviour, perform
from mock_services.lab.supervisor import Lab
from mock_services.seed import demo_population
from policies.presets import load_policy_set
from scenario.history import WRITE_FS, History
from scenario.invariants import build_checkers
from scenario.verdict import safely

POLL_S = 0.05

PATIENT = Behaviour(patience_s=40.0)  # the directed tests' users: refresh, wait long


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdicts of a directed run: invariant name -> (valid, detail)."""

    verdicts: dict[str, tuple[object, str]]
    history: History


def needs_demand(config: pytest.Config, what: str) -> None:
    """Skip on an attached lab (the compose lab): its services cannot read a demand this
    process writes, and `what` sets the lab's demand emulation."""
    path = attached_path(config)
    if path is not None:
        pytest.skip(f"{what} through the demand emulation, which the attached lab {path} "
                    f"cannot take (its services do not read this run's files)")


def login_all(lab: Lab, n: int) -> list[tuple[str, str]]:
    """(national ID, token) of the first `n` citizens, logged in directly."""
    url = lab.state.url(lab.state.topology.portals()[0].name)
    out = []
    for person in demo_population().citizens[:n]:
        r = httpx.post(url + "/auth/login", timeout=10.0,
                       json={"national_id": person.national_id, "password": person.password})
        r.raise_for_status()
        out.append((person.national_id, str(r.json()["token"])))
    return out


def wait_applied(lab: Lab, keys: Sequence[str], deadline_s: float) -> None:
    """Poll the portal until every key is applied at least once (or fail at the deadline)."""
    admin, portal = lab.admin(), lab.state.topology.portals()[0].name
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        applied = applied_by_logical_key(admin.get(portal, "/admin/applied").json())
        if all(applied.get(k, 0) >= 1 for k in keys):
            return
        time.sleep(POLL_S)  # a poll with a deadline, not a synchronisation by sleep
    raise AssertionError(f"the portal did not apply {list(keys)} within {deadline_s} s")


def run_writes(lab: Lab, injector: Injector, preset: str, *, writes: int,
               fault_after_applied: Callable[[], None], invariants: dict[str, dict[str, object]],
               seed: int = 7, after_done: Callable[[], None] | None = None) -> Outcome:
    """`writes` draft saves, each first sent to portal-a (failover to portal-b on retry),
    under the client policies of `preset`; `fault_after_applied` runs once the portal has
    applied them all but before their answers arrive; then the checkers judge."""
    policies = load_policy_set(preset)
    history = injector.history
    clock = injector.clock
    sessions = login_all(lab, writes)
    tag = f"d{random.Random(seed).getrandbits(32):08x}{int(time.time() * 1000) % 10**6}"
    keys = [f"{tag}-{i}" for i in range(writes)]
    pipeline = policies.user.build("portal", [])

    async def one(client: httpx.AsyncClient, i: int, token: str) -> None:
        rng = random.Random(seed + i)
        # a replica set of its own: the first attempt goes to portal-a, a retry fails over
        replicas = ReplicaSet(lab.state.portal_urls())
        req = api.save_draft(token, keys[i], keys[i], {"field": i})

        async def submit() -> http.Completion:
            # both presets' users fail over here (baseline's would stay on portal-a): the
            # twin isolates the idempotency keys, a retry on portal-b with or without one
            return await http.call(client, replicas, pipeline, req, clock=time.monotonic,
                                   rng=rng, sleep=asyncio.sleep,
                                   stable_keys=policies.idempotency_keys, failover=True)

        await perform(history, f"user-{i}", "save_draft", key=keys[i], priority=1,
                      submit=submit, behaviour=PATIENT, rng=rng,
                      clock=clock, write=True)

    async def main() -> None:
        async with httpx.AsyncClient() as client:
            tasks = [asyncio.ensure_future(one(client, i, tok))
                     for i, (_, tok) in enumerate(sessions)]
            await asyncio.to_thread(wait_applied, lab, keys, 10.0)
            await asyncio.to_thread(fault_after_applied)
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=60.0)

    asyncio.run(main())
    if after_done is not None:
        after_done()
    injector.heal_all()
    return judge(lab, injector, invariants)


def judge(lab: Lab, injector: Injector, invariants: dict[str, dict[str, object]]) -> Outcome:
    """Heal, read the final state, and run the checkers of `invariants` on the history."""
    injector.heal_all()
    history = injector.history
    if any(op.f in WRITE_FS for op in history):
        record_final_state(lab, history, injector.clock())
    checkers = build_checkers(invariants)
    verdicts = {name: (v.valid, v.detail) for name, check in checkers
                for v in [safely(name, check, history)]}
    return Outcome(verdicts, history)


def run_ops(lab: Lab, injector: Injector, preset: str,
            ops: Sequence[tuple[str, Callable[[str], http.HttpRequest], int]],
            *, seed: int = 11, login: bool = True, behaviour: Behaviour = PATIENT) -> None:
    """Each op (f, request from token, citizen number) as one user operation through the
    `user` policies of `preset`, all at once, recorded in the injector's history."""
    policies = load_policy_set(preset)
    pipeline = policies.user.build("portal", [])
    n_people = 1 + max(n for *_, n in ops)
    tokens = dict(enumerate(tok for _, tok in login_all(lab, n_people))) if login else \
        dict.fromkeys(range(n_people), "")

    async def one(client: httpx.AsyncClient, i: int, f: str,
                  build: Callable[[str], http.HttpRequest], who: int) -> None:
        rng = random.Random(seed + i)
        replicas = ReplicaSet(lab.state.portal_urls())
        req = build(tokens[who])

        async def submit() -> http.Completion:
            return await http.call(client, replicas, pipeline, req, clock=time.monotonic,
                                   rng=rng, sleep=asyncio.sleep,
                                   stable_keys=policies.idempotency_keys)

        await perform(injector.history, f"user-{i}", f, key="", priority=api.PRIORITY[f],
                      submit=submit, behaviour=behaviour, rng=rng,
                      clock=injector.clock, write=req.write)

    async def main() -> None:
        async with httpx.AsyncClient() as client:
            await asyncio.wait_for(asyncio.gather(*(
                one(client, i, f, build, who) for i, (f, build, who) in enumerate(ops))),
                timeout=60.0)

    asyncio.run(main())
