"""The load driver: open-loop arrivals from a rate profile, every operation in the history.

Arrivals are drawn from the profile up front and started on time whatever the portal does
(an open loop: a slow portal faces more concurrent users, not fewer arrivals). Concurrency is
bounded by `max_in_flight` users; an arrival beyond it is recorded as shed by the client
(`fail`, error "shed", value "client"), never silently dropped. Every user operation goes
through the policy set's `user` pipeline (timeouts, retries, budget) with failover across
the portal replicas. Clock, sleep and rng are injected.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

from mock_services.lab.clients import http, workload
from mock_services.lab.clients.portal_api import PRIORITY, applied_by_logical_key
from mock_services.lab.clients.profile import Arrival, RateProfile
from mock_services.lab.clients.replicas import ReplicaSet
from mock_services.lab.clients.user import Behaviour, perform
from mock_services.seed import DEFAULT_SEED, demo_population
from policies.events import PolicyEvent
from policies.presets import PolicySet
from scenario.history import FINAL, POLICY, WRITE_FS, History, Op

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class DriverConfig:
    """Where the portal is and how the users behave.

    portal_urls: replica name -> the address clients use (its client proxy in the lab).
    sms_url: where the doctors' phones read their codes (the SMS gateway), None: no doctors.
    """

    portal_urls: Mapping[str, str]
    policies: PolicySet
    sms_url: str | None = None
    behaviour: Behaviour = field(default_factory=Behaviour)
    max_in_flight: int = 200
    population_seed: int = DEFAULT_SEED
    health_interval_s: float = 0.1
    # the people who use the portal in this run (the first N of each kind); None: everyone
    active_users: int | None = None


class LoadDriver:
    """Runs rate profiles against the portal and records the history."""

    def __init__(self, config: DriverConfig, *, rng: random.Random,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep,
                 sessions: dict[str, str] | None = None, run_tag: str | None = None) -> None:
        """`sessions` (national ID -> token) outlive the run when given: people who stay
        logged in between runs, as browsers keep their sessions. `run_tag` prefixes every
        idempotency key; by default it is fresh, so runs on one database never collide."""
        if config.max_in_flight < 1:
            raise ValueError(f"max_in_flight {config.max_in_flight}: expected >= 1")
        self.config = config
        self.rng = rng
        self.clock = clock
        self.sleep = sleep
        self.history = History()
        self.in_flight = 0
        self.events: list[PolicyEvent] = []
        self.pipeline = config.policies.user.build("portal", self.events)
        everyone = demo_population(config.population_seed)
        self.shared = workload.Shared(
            workload.active(everyone, config.active_users),
            run_tag or f"r{secrets.token_hex(4)}",
            people={p.national_id: p for p in everyone.people()},
            tokens=sessions if sessions is not None else {})
        self._t0 = clock()

    @property
    def start_s(self) -> float:
        """The clock's reading at the history's time 0 (to put other records on its time)."""
        return self._t0

    def now(self) -> float:
        """Seconds since the driver started: the history's clock."""
        return self.clock() - self._t0

    async def run(self, profile: RateProfile) -> History:
        """Play `profile` to the end, wait for the users still in flight, return the history."""
        arrivals = profile.arrivals(self.rng)
        limits = httpx.Limits(max_connections=self.config.max_in_flight * 2,
                              max_keepalive_connections=64)
        async with httpx.AsyncClient(limits=limits, headers={"User-Agent": "chaoslab-load"}) as c:
            replicas = ReplicaSet(self.config.portal_urls)
            await replicas.poll_once(c)
            watcher = asyncio.ensure_future(replicas.watch(c, self.config.health_interval_s))
            tasks: set[asyncio.Task[None]] = set()
            try:
                start = self.clock()
                for arrival in arrivals:
                    delay = start + arrival.time_s - self.clock()
                    if delay > 0:
                        await self.sleep(delay)  # the schedule, not a synchronisation
                    if self.in_flight >= self.config.max_in_flight:
                        self._shed(arrival)
                        continue
                    task = asyncio.ensure_future(self._user(c, replicas, arrival))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if tasks:
                    await asyncio.wait(tasks)
            finally:
                watcher.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(watcher, *tasks, return_exceptions=True)
        self._record_policy_events()
        return self.history

    def _shed(self, arrival: Arrival) -> None:
        f = {"citizen": "read_history", "employer": "submit_list", "doctor": "prescribe",
             "pharmacy": "dispense"}[arrival.kind]
        invoked = self.history.invoke(arrival.process, f, self.now(),
                                      priority=PRIORITY.get(f, -1))
        self.history.complete(invoked, "fail", self.now(), value="client", error="shed")

    async def _user(self, client: httpx.AsyncClient, replicas: ReplicaSet,
                    arrival: Arrival) -> None:
        self.in_flight += 1
        stable = self.config.policies.idempotency_keys
        rng = random.Random(self.rng.getrandbits(64))  # the user's own stream: order-proof

        async def submit(req: http.HttpRequest) -> http.Completion:
            return await http.call(client, replicas, self.pipeline, req, clock=self.clock,
                                   rng=rng, sleep=self.sleep, stable_keys=stable)

        async def do(f: str, key: str, fn: Callable[[], Awaitable[http.Completion]],
                     write: bool) -> http.Completion:
            return await perform(self.history, arrival.process, f, key=key,
                                 priority=PRIORITY.get(f, -1), submit=fn,
                                 behaviour=self.config.behaviour, rng=rng, clock=self.now,
                                 write=write)

        async def sms(mobile: str) -> str | None:
            if self.config.sms_url is None:
                return None
            return await workload.read_otp(client, self.config.sms_url, mobile)

        session = workload.Session(arrival.process, self.shared, do, submit, sms, rng)
        try:
            await workload.BEHAVIOURS[arrival.kind](session)
        finally:
            self.in_flight -= 1

    def _record_policy_events(self) -> None:
        for e in self.events:
            self.history.append(Op("info", POLICY, e.policy, e.time_s - self._t0, key=e.key,
                                   value=e.value))
        self.events.clear()


async def record_final_state(history: History, admin_url: str, now_s: float) -> dict[str, int]:
    """Read how often each write was applied (`GET /admin/applied` on a portal replica,
    directly) and add one `final` op per write key of the history; return the counts."""
    async with httpx.AsyncClient() as c:
        r = await c.get(f"{admin_url}/admin/applied", timeout=10)
    r.raise_for_status()
    applied = applied_by_logical_key(r.json())
    keys = sorted({op.key for op in history if op.f in WRITE_FS and op.key
                   and op.type == "invoke"})
    for key in keys:
        history.append(Op("info", FINAL, "applied", now_s, key=key,
                           value=str(applied.get(key, 0))))
    return {k: applied.get(k, 0) for k in keys}
