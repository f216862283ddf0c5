"""The load driver: open-loop arrivals from a rate profile, every operation in the history.

Arrivals are drawn from the profile up front and started on time whatever the portal does
(an open loop: a slow portal faces more concurrent users, not fewer arrivals). Concurrency is
bounded by `max_in_flight` users; an arrival beyond it is recorded as shed by the client
(`fail`, error "shed", value "client"), never silently dropped. Every user operation goes
through the policy set's `user` pipeline (timeouts, retries, budget), with failover across
the portal replicas when that policy says so (else each user keeps to its home replica).
The clock, sleep and rng are injected.

A scenario's arrivals are played one operation each, as in the simulator: `warm_up`, before
the run's clock starts, chooses every arrival's person, logs in (unrecorded) everyone whose
arrival needs a session, as browsers keep theirs, and writes (unrecorded) each pharmacy as
many prescriptions as it has dispense arrivals. An arrival that still cannot be played is
recorded as a failed operation of its kind naming why (`workload.UNPLAYABLE`).

A scenario pharmacy's dispense that does not end ok falls back to paper within its quota and
is registered later by the pharmacy's reconcile loop (`paper`: the simulator's
sim/pharmacy.py, its waits compressed by `DriverConfig.speed`); the loops end with the run,
cancelled as the users still in flight are. The paper a pharmacy keeps and the keys its
registrations were sent under reach the final state through `final_counts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import httpx

from mock_services.common.access import client_headers
from mock_services.common.clock import AsyncSleep, Now
from mock_services.lab.clients import http, paper, user, workload
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.paper import PAPER_RECORD, RECONCILE, PaperBook, PaperRecord
from mock_services.lab.clients.portal_api import PRIORITY, applied_by_logical_key
from mock_services.lab.clients.profile import Arrival, RateProfile
from mock_services.lab.clients.replicas import ReplicaSet
from mock_services.lab.clients.user import Behaviour, perform
from mock_services.seed import DEFAULT_SEED, Person, demo_population
from policies.events import PolicyEvent
from policies.presets import PolicySet
from scenario.history import FINAL, POLICY, WRITE_FS, WRONG_PASSWORD, History, Op
from scenario.names import attacker_number, is_attacker, pharmacy_of

ClientFactory = Callable[[], httpx.AsyncClient]
WARM_LOGINS_AT_ONCE = 4  # the portal hashes two passwords at once per replica (scrypt)
WARM_WRITES_AT_ONCE = 8
WARM_ATTEMPTS = 5  # tries of one warm-up request (a refusal, a rate limit) before giving up
WARM_TIMEOUT_S = 10.0  # one warm-up request
DEFAULT_START = "1403-01-15T00:00"  # the scenario schema's default start (Solar Hijri)


def source_address(arrival: Arrival) -> str:
    """The address a scenario arrival comes from, as the simulator keys its limits: every
    user their own (the simulator's peer is the operation itself), each attacker source one
    for all its attempts; "" for a rate-profile arrival (no scenario source). Addresses are
    in 198.18.0.0/15 (RFC 2544's benchmarking range): header values only, never dialled.
    The driver is the load balancer's stand-in: it states this address in the signed
    X-Chaoslab-Client headers (`DriverConfig.client_key`), the only client address the
    portal believes; without the key the portal keys every user on the socket peer."""
    if not arrival.source:
        return ""
    attacker = attacker_number(arrival.source)
    if attacker is not None:
        return f"198.19.255.{attacker % 250 + 1}"
    n = arrival.index
    return f"198.{18 + n // 62_500 % 2}.{n // 250 % 250}.{n % 250 + 1}"

@dataclass(frozen=True, slots=True)
class Storm:
    """A refresh storm's window on the history's clock: users who arrive in it retry every
    failure or wait `max_retries` times after `retry_delay_s` (0: no backoff)."""

    start_s: float
    end_s: float
    max_retries: int
    retry_delay_s: float


@dataclass(frozen=True, slots=True)
class DriverConfig:
    """Where the portal is and how the users behave.

    portal_urls: replica name -> the address clients use (its client proxy in the lab).
    sms_url: where the doctors' phones read their codes (the SMS gateway's admin listener),
    None: no doctors.
    admin_token: what the admin listeners (`admin_urls`, `sms_url`) want; client_key: the
    lab's key that signs each user's address (b"": users are keyed on the socket peer).
    speed: scenario seconds per second of the history's clock (`--speed`): the pharmacies'
    reconcile waits are scenario times, divided by it; start: the scenario's calendar start,
    which dates paper prescriptions.
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
    storms: tuple[Storm, ...] = ()
    # how long users still in flight may finish after the last arrival; None: until done
    drain_s: float | None = None
    # when the pharmacies' reconcile loops stop, on the history's clock
    # (`policies.quota.reconcile_until_s`, the simulator's rule); None: with the last user
    reconcile_until_s: float | None = None
    # replica name -> its own address (not through a proxy), where `warm_up` resets the
    # policy state (login limits) it used up; empty: it waits out the rate limits instead
    admin_urls: Mapping[str, str] = field(default_factory=dict)
    admin_token: str = ""
    client_key: bytes = field(default=b"", repr=False)
    speed: float = 1.0
    start: str = DEFAULT_START

    def admin_headers(self) -> dict[str, str]:
        """The header of an admin request (none without a token)."""
        return {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}


@dataclass(frozen=True, slots=True)
class WarmUp:
    """What `LoadDriver.warm_up` did: sessions opened (of those needed), prescriptions
    written for the pharmacies (of those needed), and how long it took."""

    sessions: int = 0
    people: int = 0
    prescriptions: int = 0
    dispenses: int = 0
    seconds: float = 0.0


class LoadDriver:
    """Runs rate profiles against the portal and records the history."""

    def __init__(self, config: DriverConfig, *, rng: random.Random,
                 clock: Now = time.monotonic, sleep: AsyncSleep = asyncio.sleep,
                 sessions: dict[str, str] | None = None, run_tag: str | None = None,
                 client_factory: ClientFactory | None = None, t0: float | None = None) -> None:
        """`sessions` (national ID -> token) outlive the run when given: people who stay
        logged in between runs, as browsers keep their sessions. `run_tag` prefixes every
        idempotency key; by default it is fresh, so runs on one database never collide.
        `client_factory` makes the HTTP client (a test's `httpx.MockTransport`); `t0` is the
        clock's reading at the history's time 0 (default: now)."""
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
        self.shared = workload.RunState(
            workload.active(everyone, config.active_users),
            run_tag or f"r{secrets.token_hex(4)}",
            people={p.national_id: p for p in everyone.people()},
            tokens=sessions if sessions is not None else {})
        self._t0 = clock() if t0 is None else t0
        self.client_factory = client_factory or self._client
        self.drawn: Counter[str] = Counter()  # arrivals per kind: given to `run`
        self.played: Counter[str] = Counter()  # ... and those that reached the history
        self.stopped = False
        self.people: dict[int, Person] = {}  # arrival index -> its person (`warm_up`)
        # the scenario pharmacies' paper quota and backlogs, and their reconcile loops
        self.paper = PaperBook(config.policies.paper_quota_share, self.shared.run_tag)
        self._reconciling: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)  # process numbers of the registrations (`run`)
        self._running = False  # reconcile loops start only while the run lasts

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.config.max_in_flight * 2,
                              max_keepalive_connections=64)
        return httpx.AsyncClient(limits=limits, headers={"User-Agent": "chaoslab-load"})

    def stop(self) -> None:
        """Start no more arrivals (Ctrl-C): the run ends as after its last arrival."""
        self.stopped = True

    @property
    def start_s(self) -> float:
        """The clock's reading at the history's time 0 (to put other records on its time)."""
        return self._t0

    def _on_clock(self, history_s: float | None) -> float | None:
        """A time of the history's clock (`now`) on the driver's `clock`, the pipeline's."""
        return None if history_s is None else history_s + self._t0

    def now(self) -> float:
        """Seconds since the driver started: the history's clock."""
        return self.clock() - self._t0

    async def warm_up(self, arrivals: Sequence[Arrival]) -> WarmUp:
        """Prepare a scenario's `arrivals` (before its clock starts; nothing recorded).

        Chooses every arrival's person (`workload.person_for`), logs in everyone whose
        arrival needs a session (`workload.SESSION_KINDS`), and has the doctors write each
        pharmacy source as many prescriptions as it has dispense arrivals, for patients of
        the active population: its stock, so that a dispense always has something to
        dispense. A login limit met on the way is reset through the replicas' admin routes
        (`DriverConfig.admin_urls`; else its Retry-After is waited out), and every replica's
        policy state is reset at the end, so the run starts as the simulator's: sessions
        open, limits full, breakers closed."""
        started = time.monotonic()
        pop = self.shared.population
        rng = random.Random(self.rng.getrandbits(64))
        for a in arrivals:
            if a.source:
                person = workload.person_for(a.kind, a.source, pop, rng)
                if person is not None:
                    self.people[a.index] = person
        dispenses = Counter(a.source for a in arrivals
                            if a.kind == "dispense" and pharmacy_of(a.source) is not None)
        needed = {self.people[a.index].national_id: self.people[a.index] for a in arrivals
                  if a.kind in workload.SESSION_KINDS and a.index in self.people
                  and not is_attacker(a.source)}
        if dispenses and not any(p.role == "doctor" for p in needed.values()):
            needed[pop.doctors[0].national_id] = pop.doctors[0]
        urls = list(self.config.portal_urls.values())
        turn = itertools.count()
        written = 0
        async with self.client_factory() as c:
            resets = asyncio.Lock()

            async def reset() -> None:
                async with resets:
                    await self._reset_policies(c)

            async def submit(req: http.HttpRequest) -> http.Completion:
                for _ in range(WARM_ATTEMPTS):
                    url = urls[next(turn) % len(urls)]
                    try:
                        r = await c.request(req.method, url + req.path, json=req.json,
                                            headers=dict(req.headers), timeout=WARM_TIMEOUT_S)
                    except httpx.HTTPError:
                        continue
                    if r.status_code == 429:  # the login limits: all of us come from here
                        if self.config.admin_urls:
                            await reset()
                        else:
                            wait_s = http.retry_after(r) or 1.0
                            await self.sleep(min(wait_s, 5.0))
                        continue
                    ok = 200 <= r.status_code < 300
                    return http.Completion("ok" if ok else "fail", response=r)
                return http.Completion("fail", error="warm_up")

            async def perform(_f: str, _key: str, fn: Callable[[], Awaitable[http.Completion]],
                              _write: bool) -> http.Completion:
                return await fn()  # unrecorded: the run has not started

            async def sms(mobile: str) -> str | None:
                if self.config.sms_url is None:
                    return None
                return await workload.read_otp(c, self.config.sms_url, mobile,
                                               self.config.admin_headers())

            session = workload.Session("warm-up", self.shared, perform, submit, sms, rng)
            logins = asyncio.Semaphore(WARM_LOGINS_AT_ONCE)

            async def log_in(person: Person) -> None:
                async with logins:
                    await workload.login(session, person)

            await asyncio.gather(*(log_in(p) for p in needed.values()))
            doctors = [p for p in pop.doctors if p.national_id in self.shared.tokens]
            writes = asyncio.Semaphore(WARM_WRITES_AT_ONCE)

            async def prescribe(n: int, source: str) -> None:
                nonlocal written
                doctor = doctors[n % len(doctors)]
                patient = rng.choice(pop.citizens).national_id
                items = [{"drug_code": d, "quantity": rng.randint(1, 3)}
                         for d in rng.sample(workload.DRUGS, rng.randint(1, 3))]
                req = api.prescribe(self.shared.tokens[doctor.national_id],
                                    f"{self.shared.run_tag}.warm-up.{n}", patient, items)
                async with writes:
                    done = await submit(req)
                code = workload.json_body(done).get("tracking_code")
                if done.type == "ok" and isinstance(code, str):
                    self.shared.stock.setdefault(source, []).append((code, patient))
                    written += 1

            if doctors:
                order = [s for s, n in sorted(dispenses.items()) for _ in range(n)]
                await asyncio.gather(*(prescribe(n, s) for n, s in enumerate(order)))
            await self._reset_policies(c)
        return WarmUp(sum(nid in self.shared.tokens for nid in needed), len(needed), written,
                      sum(dispenses.values()), time.monotonic() - started)

    async def _reset_policies(self, client: httpx.AsyncClient) -> None:
        """Every replica's policy state back to its start (`POST /admin/policies/reset`)."""
        for url in self.config.admin_urls.values():
            with contextlib.suppress(httpx.HTTPError):
                await client.post(url + "/admin/policies/reset", timeout=WARM_TIMEOUT_S,
                                  headers=self.config.admin_headers())

    async def run(self, profile: RateProfile | Sequence[Arrival], *,
                  start_s: float | None = None) -> History:
        """Play `profile` (or a list of arrivals, e.g. a scenario's) to the end, wait for the
        users still in flight, return the history. Arrival times count from the clock's
        reading `start_s` (default: when the first arrival is due to be waited for)."""
        arrivals = profile.arrivals(self.rng) if isinstance(profile, RateProfile) else profile
        self.drawn.update(a.kind for a in arrivals)
        # registrations are numbered after every arrival: process names stay unique
        self._ids = itertools.count(max((a.index for a in arrivals), default=0) + 1)
        self._running = True
        async with self.client_factory() as c:
            replicas = ReplicaSet(self.config.portal_urls)
            await replicas.poll_once(c)
            watcher = asyncio.ensure_future(replicas.watch(c, self.config.health_interval_s))
            tasks: set[asyncio.Task[None]] = set()
            try:
                start = self.clock() if start_s is None else start_s
                for arrival in arrivals:
                    delay = start + arrival.time_s - self.clock()
                    if delay > 0 and not self.stopped:
                        await self.sleep(delay)  # the schedule, not a synchronisation
                    if self.stopped:
                        break
                    if self.in_flight >= self.config.max_in_flight:
                        self._shed(arrival)
                        continue
                    task = asyncio.ensure_future(self._user(c, replicas, arrival))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if tasks and not self.stopped:
                    await asyncio.wait(set(tasks), timeout=self.config.drain_s)
                await self._drain_reconciling()
            finally:
                watcher.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(watcher, *tasks, return_exceptions=True)
                await self._end_reconciling()
        self._record_policy_events()
        invoked = {op.process for op in self.history.ops if op.type == "invoke"}
        self.played.update(a.kind for a in arrivals if a.process in invoked)
        return self.history

    def _shed(self, arrival: Arrival) -> None:
        f = {"citizen": "read_history", "employer": "submit_list", "doctor": "prescribe",
             "pharmacy": "dispense"}.get(arrival.kind, arrival.kind)
        invoked = self.history.invoke(arrival.process, f, self.now(),
                                      priority=PRIORITY.get(f, -1))
        self.history.complete(invoked, "fail", self.now(), value="client", error="shed")

    async def _user(self, client: httpx.AsyncClient, replicas: ReplicaSet,
                    arrival: Arrival) -> None:
        self.in_flight += 1
        try:
            rng = random.Random(self.rng.getrandbits(64))  # the user's own stream: order-proof

            def dispensed(ok: bool, pharmacist: Person, patient: str) -> None:
                self._dispensed(client, replicas, arrival, ok=ok, pharmacist=pharmacist,
                                patient=patient)

            pharmacy = arrival.kind == "dispense" and pharmacy_of(arrival.source) is not None
            session = self._session(client, replicas, arrival, rng,
                                    dispensed if pharmacy else None)
            act: Callable[[workload.Session], Awaitable[None]]
            if is_attacker(arrival.source):
                act = workload.attacker
            elif arrival.source:  # a scenario's request kind
                act = workload.KIND_BEHAVIOURS[arrival.kind]
            else:
                act = workload.BEHAVIOURS[arrival.kind]
            await act(session)
        finally:
            self.in_flight -= 1

    def _session(self, client: httpx.AsyncClient, replicas: ReplicaSet, arrival: Arrival,
                 rng: random.Random, dispensed: workload.Dispensed | None = None
                 ) -> workload.Session:
        """How `arrival`'s user carries out operations: through the user pipeline to its home
        replica (or failing over), from its own address, as its behaviour says."""
        stable = self.config.policies.idempotency_keys
        address = source_address(arrival)
        stated = (client_headers(self.config.client_key, address)
                  if address and self.config.client_key else {})

        async def submit(req: http.HttpRequest) -> http.Completion:
            if stated:  # the user's own address, as the load balancer states (and signs) it
                req = replace(req, headers={**req.headers, **stated})
            # without failover (the user policy's), every attempt goes to the user's home
            return await http.call(client, replicas, self.pipeline, req, clock=self.clock,
                                   rng=rng, sleep=self.sleep, stable_keys=stable,
                                   deadline_s=self._on_clock(user.USER_DEADLINE.get()),
                                   home=arrival.index)

        attacking = is_attacker(arrival.source)
        behaviour = self._behaviour(rng)

        async def do(f: str, key: str, fn: Callable[[], Awaitable[http.Completion]],
                     write: bool) -> http.Completion:
            mark = WRONG_PASSWORD if attacking and f == "login" else ""
            if behaviour.refresh_on_failure:  # a scenario's user: the simulator's operation
                return await user.operation(self.history, arrival.process, f, key=key,
                                            priority=PRIORITY.get(f, -1), submit=fn,
                                            behaviour=behaviour, rng=rng, clock=self.now,
                                            value=mark, sleep=self.sleep)
            return await perform(self.history, arrival.process, f, key=key,
                                 priority=PRIORITY.get(f, -1), submit=fn,
                                 behaviour=behaviour, rng=rng, clock=self.now,
                                 write=write, value=mark, sleep=self.sleep)

        async def sms(mobile: str) -> str | None:
            if self.config.sms_url is None:
                return None
            return await workload.read_otp(client, self.config.sms_url, mobile,
                                           self.config.admin_headers())

        def record(f: str, key: str, error: str) -> None:
            invoked = self.history.invoke(arrival.process, f, self.now(), key=key,
                                          priority=PRIORITY.get(f, -1))
            self.history.complete(invoked, "fail", self.now(), error=error)

        return workload.Session(arrival.process, self.shared, do, submit, sms, rng,
                                arrival.source, self.people.get(arrival.index),
                                record if arrival.source else None, dispensed)

    def _dispensed(self, client: httpx.AsyncClient, replicas: ReplicaSet, arrival: Arrival, *,
                   ok: bool, pharmacist: Person, patient: str) -> None:
        """A scenario pharmacy's dispense ended: counted towards its quota when ok, else on
        paper or deferred (`PaperBook.fallback`); a first paper record starts the
        pharmacy's reconcile loop."""
        now = self.now()
        if ok:
            self.paper.dispensed(arrival.source, now)
            return
        day = paper.paper_day(self.config.start, now * self.config.speed)
        first = self.paper.fallback(self.history, arrival.source, arrival.index, now,
                                    pharmacist=pharmacist, patient=patient, day=day)
        if first is None or not self._running:
            return
        register = functools.partial(self._register, client, replicas)
        task = asyncio.ensure_future(paper.reconcile(
            self.paper.backlog[arrival.source], register, self.sleep, self.config.speed,
            clock=self.now, until=self.config.reconcile_until_s))
        self._reconciling.add(task)
        task.add_done_callback(self._reconciling.discard)

    async def _register(self, client: httpx.AsyncClient, replicas: ReplicaSet,
                        record: PaperRecord) -> bool:
        """One registration of a paper record: a user operation of its pharmacy, numbered
        after the run's arrivals (process "pharmacy-3/<n>", as the simulator names it)."""
        n = next(self._ids)
        arrival = Arrival(self.now(), RECONCILE, n, record.pharmacy)
        rng = random.Random(self.rng.getrandbits(64))
        return await workload.register_paper(self._session(client, replicas, arrival, rng),
                                             record)

    async def _drain_reconciling(self) -> None:
        """After the users: the reconcile loops run on to their end of drain (they start
        nothing after it), and a registration begun before it may finish within `drain_s`."""
        until = self.config.reconcile_until_s
        if self.stopped or until is None or not self._reconciling:
            return
        left = until - self.now() + (self.config.drain_s or 0.0)
        if left > 0:
            await asyncio.wait(set(self._reconciling), timeout=left)

    async def _end_reconciling(self) -> None:
        """The run is over: the reconcile loops end with it, a registration in flight cut
        as the users still in flight are (its invoke left open); no loop starts after."""
        self._running = False
        loops = list(self._reconciling)
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)

    def _behaviour(self, rng: random.Random) -> Behaviour:
        """The arriving user's behaviour: their own patience, storming in a refresh storm."""
        behaviour = self.config.behaviour.for_user(rng)
        now = self.now()
        for storm in self.config.storms:
            if storm.start_s <= now < storm.end_s:
                return behaviour.storming(storm.max_retries, storm.retry_delay_s)
        return behaviour

    def _record_policy_events(self) -> None:
        for e in self.events:
            self.history.append(Op("info", POLICY, e.policy, e.time_s - self._t0, key=e.key,
                                   value=e.value))
        self.events.clear()


async def wait_for_lists(admin_url: str, admin_token: str, limit_s: float,
                         poll_s: float = 0.1) -> bool:
    """Until the list queue (`list_queue`: lists answered 202, processed in the background)
    is empty, `GET /admin/queue` on a portal replica's admin listener, or `limit_s`; whether
    it emptied. A list still queued is not applied yet: read the final state after this.
    The live runner gives it the simulator's drain (`sim.model.DRAIN_S`), which a speed
    does not compress, as it does not compress service times."""
    headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(headers=headers) as c:
        while True:
            r = await c.get(f"{admin_url}/admin/queue", timeout=10)
            r.raise_for_status()
            if not r.json().get("list_jobs", {}).get("pending"):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(poll_s)


async def record_final_state(history: History, admin_url: str, now_s: float,
                             admin_token: str = "",
                             wire_keys: Mapping[str, str] | None = None) -> dict[str, int]:
    """Read how often each write was applied (`GET /admin/applied` on a portal replica's admin
    listener, with the admin token) and add one `final` op per write key of the history
    (`final_counts`; `wire_keys`: `PaperBook.wire_keys`); return the counts."""
    headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
    async with httpx.AsyncClient(headers=headers) as c:
        r = await c.get(f"{admin_url}/admin/applied", timeout=10)
    r.raise_for_status()
    counts = final_counts(history, applied_by_logical_key(r.json()), wire_keys)
    for key, n in counts.items():
        history.append(Op("info", FINAL, "applied", now_s, key=key, value=str(n)))
    return counts


def final_counts(history: History, applied: Mapping[str, int],
                 wire_keys: Mapping[str, str] | None = None) -> dict[str, int]:
    """How many times each write key the history invoked is applied in the end, key by key
    in sorted order: the portal's count (`applied`, by logical key) of the key the write was
    sent under (`wire_keys`: history key -> that key; the history's own when absent), plus
    one for each paper prescription its pharmacy kept (an ok "paper_record": the paper holds
    it, not the portal, as the simulator commits it)."""
    wire = wire_keys or {}
    kept = {op.key for op in history if op.type == "ok" and op.f == PAPER_RECORD}
    keys = sorted({op.key for op in history if op.type == "invoke" and op.f in WRITE_FS
                   and op.key})
    return {k: applied.get(wire.get(k, k), 0) + (k in kept) for k in keys}
