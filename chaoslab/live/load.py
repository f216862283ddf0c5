"""The live workload: open-loop arrivals of the scenario's request kinds, every one recorded.

Arrivals are drawn before the run from the plan's phases (a Poisson process per phase), so
a slow portal faces the same arrivals as a healthy one. Each arrival is one user doing one
request kind through the policy set's `user` pipeline, with failover across the replicas
(`mock_services.lab.clients.http.call`) and the refreshing, abandoning user of DOMAIN.md
(`user.perform`). People keep their session token for the run, as browsers do. Writes carry
a fresh logical idempotency key each; the final state is read from the portal afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from mock_services.lab.clients import http
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.replicas import ReplicaSet
from mock_services.lab.clients.user import Behaviour, perform
from mock_services.seed import Person, demo_population
from policies.events import PolicyEvent
from policies.presets import PolicySet
from scenario.history import POLICY, History, Op

Clock = Callable[[], float]
# the request kinds the live driver can play, and who does them
LIVE_KINDS: frozenset[str] = frozenset({"login", "recover_password", "read_history",
                                        "read_payslip", "register_workshop", "save_draft"})
WRITES = frozenset({"register_workshop", "save_draft"})


@dataclass(frozen=True, slots=True)
class Arrival:
    """One user arriving at `time_s` (seconds from the start) to do `kind`."""

    time_s: float
    kind: str
    index: int

    @property
    def process(self) -> str:
        return f"user-{self.index}"


@dataclass(frozen=True, slots=True)
class LoadPhase:
    """A stretch of `duration_s` seconds with `rate_per_s` arrivals split by `shares`."""

    duration_s: float
    rate_per_s: float


def draw_arrivals(phases: list[LoadPhase], shares: Mapping[str, float],
                  rng: random.Random) -> list[Arrival]:
    """Every arrival of the phases, in time order; kinds drawn by their shares."""
    kinds = sorted(shares)
    weights = [shares[k] for k in kinds]
    out: list[Arrival] = []
    start = 0.0
    for phase in phases:
        if phase.rate_per_s > 0:
            t = start + rng.expovariate(phase.rate_per_s)
            while t < start + phase.duration_s:
                out.append(Arrival(t, rng.choices(kinds, weights)[0], len(out) + 1))
                t += rng.expovariate(phase.rate_per_s)
        start += phase.duration_s
    return out


@dataclass(slots=True)
class LoadConfig:
    """Where the portal is, who the users are, how they behave."""

    portal_urls: Mapping[str, str]
    policies: PolicySet
    behaviour: Behaviour = field(default_factory=lambda: Behaviour(patience_s=20.0))
    max_in_flight: int = 100
    users: int = 20  # the first N citizens and employers read and write
    drain_s: float = 15.0  # how long users still in flight may finish after the last arrival


class LoadDriver:
    """Plays arrivals against the portal into `history`, on the run's `clock`."""

    def __init__(self, config: LoadConfig, history: History, *, rng: random.Random,
                 clock: Clock) -> None:
        self.config = config
        self.history = history
        self.rng = rng
        self.clock = clock
        self.events: list[PolicyEvent] = []
        self.pipeline = config.policies.user.build("portal", self.events)
        pop = demo_population()
        self.everyone = pop.citizens
        self.citizens = pop.citizens[:config.users]
        self.employers = pop.employers[:config.users]
        self.tokens: dict[str, str] = {}
        self.tag = f"{rng.getrandbits(32):08x}"
        self.in_flight = 0
        self.stopped = False  # set by `stop`: no more arrivals start

    def stop(self) -> None:
        """Start no more arrivals (Ctrl-C): the run ends as after its last arrival."""
        self.stopped = True

    async def run(self, arrivals: list[Arrival], t0_mono: float) -> None:
        """Start each arrival on time (relative to `t0_mono`), then let the last ones finish."""
        limits = httpx.Limits(max_connections=self.config.max_in_flight * 2)
        async with httpx.AsyncClient(limits=limits) as client:
            replicas = ReplicaSet(self.config.portal_urls)
            await replicas.poll_once(client)
            await self._warm_sessions(client)
            watcher = asyncio.ensure_future(replicas.watch(client))
            tasks: set[asyncio.Task[None]] = set()
            try:
                for arrival in arrivals:
                    delay = t0_mono + arrival.time_s - time.monotonic()
                    if delay > 0 and not self.stopped:
                        await asyncio.sleep(delay)  # the arrival schedule itself
                    if self.stopped:
                        break
                    if self.in_flight >= self.config.max_in_flight:
                        op = self.history.invoke(arrival.process, arrival.kind, self.clock())
                        self.history.complete(op, "fail", self.clock(), "client", "shed")
                        continue
                    task = asyncio.ensure_future(self._user(client, replicas, arrival))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if tasks and not self.stopped:
                    await asyncio.wait(set(tasks), timeout=self.config.drain_s)
            finally:
                watcher.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(watcher, *tasks, return_exceptions=True)
        for e in self.events:
            self.history.append(Op("info", POLICY, e.policy, self.clock(), key=e.key,
                                   value=e.value))

    async def _warm_sessions(self, client: httpx.AsyncClient) -> None:
        """Log the run's readers and writers in before it starts (unrecorded: they arrive
        with a session, as browsers keep one), a few at a time, through their own link."""
        urls = list(self.config.portal_urls.values())
        people = [p for p in (*self.citizens, *self.employers)
                  if p.national_id not in self.tokens]
        gate = asyncio.Semaphore(4)

        async def one(n: int, person: Person) -> None:
            async with gate:
                with contextlib.suppress(httpx.HTTPError):
                    r = await client.post(urls[n % len(urls)] + "/auth/login", timeout=10.0,
                                          json={"national_id": person.national_id,
                                                "password": person.password})
                    token = r.json().get("token") if r.status_code == 200 else None
                    if isinstance(token, str):
                        self.tokens[person.national_id] = token

        await asyncio.gather(*(one(n, p) for n, p in enumerate(people)))

    async def _user(self, client: httpx.AsyncClient, replicas: ReplicaSet,
                    arrival: Arrival) -> None:
        self.in_flight += 1
        rng = random.Random(self.rng.getrandbits(64))  # the user's own stream
        stable = self.config.policies.idempotency_keys

        async def submit(req: http.HttpRequest) -> http.Completion:
            return await http.call(client, replicas, self.pipeline, req, clock=time.monotonic,
                                   rng=rng, sleep=asyncio.sleep, stable_keys=stable)

        async def do(f: str, key: str, req: http.HttpRequest) -> http.Completion:
            return await perform(self.history, arrival.process, f, key=key,
                                 priority=api.PRIORITY.get(f, -1), submit=lambda: submit(req),
                                 behaviour=self.config.behaviour, rng=rng, clock=self.clock,
                                 write=req.write)

        try:
            await self._act(arrival, rng, do)
        finally:
            self.in_flight -= 1

    async def _act(self, arrival: Arrival, rng: random.Random,
                   do: Callable[[str, str, http.HttpRequest], Awaitable[http.Completion]]
                   ) -> None:
        kind = arrival.kind
        employer = kind == "register_workshop"
        # fresh logins come from the whole population (per-account login limits are real);
        # reads and writes from the first `users` people, so their answers are cached
        people = self.everyone if kind in ("login", "recover_password") else self.citizens
        person = rng.choice(self.employers if employer else people)
        if kind == "recover_password":
            await do(kind, "", api.recover_password(person.national_id, person.mobile))
            return
        if kind == "login":  # a fresh session: every login reaches Shahkar's verification
            self.tokens.pop(person.national_id, None)
        token = await self._login(person, do)
        if token is None or kind == "login":
            return
        key = f"{self.tag}-{arrival.process}"
        if kind == "read_history":
            done = await do(kind, "", api.read_history(token, person.national_id))
        elif kind == "read_payslip":
            done = await do(kind, "", api.read_payslip(token, person.national_id))
        elif kind == "register_workshop":
            code = str(rng.randrange(10**9, 10**10))
            done = await do(kind, key, api.register_workshop(token, key, code, "کارگاه"))
        else:
            form = {"field": arrival.index, "typed_s": round(self.clock(), 3)}
            done = await do(kind, key, api.save_draft(token, key, key, form))
        if done.error == "unauthorized":
            self.tokens.pop(person.national_id, None)

    async def _login(self, person: Person,
                     do: Callable[[str, str, http.HttpRequest], Awaitable[http.Completion]]
                     ) -> str | None:
        token = self.tokens.get(person.national_id)
        if token is not None:
            return token
        done = await do("login", "", api.login(person.national_id, person.password))
        token = _json(done).get("token") if done.type == "ok" else None
        if isinstance(token, str):
            self.tokens[person.national_id] = token
            return token
        return None


def _json(done: http.Completion) -> dict[str, Any]:
    if done.response is None:
        return {}
    try:
        body = done.response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
