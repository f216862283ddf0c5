"""What each kind of user does when they arrive (DOMAIN.md), as history operations.

- citizen: logs in and reads their insurance history or pay slips; some recover a password;
- employer: logs in and submits the month's insurance list for one of their workshops;
- doctor: logs in (password, then the SMS code) and prescribes for a patient's national ID;
- pharmacy: logs in and dispenses a prescription a doctor wrote earlier in the run (a
  scenario's pharmacy falls back to paper when that fails, and registers the paper later:
  `paper`, `register_paper`).

A person stays logged in for the run (their token is kept, as a browser keeps its session).
`BEHAVIOURS` are the rate profiles' user kinds; `KIND_BEHAVIOURS` play a scenario's request
kinds one each (a login, a read, a write...), as the scenario's arrivals ask, every arrival
exactly one operation of its kind as in the simulator: the arrival's person is chosen before
the run (`person_for`) so that the driver can log them in beforehand, and a pharmacy
dispenses the oldest prescription the run's doctors wrote, else one of its own stock (written
before the run). An arrival that still cannot be played (no session, nothing to dispense) is
recorded as a failed operation of its kind naming why (`UNPLAYABLE`), never dropped.
`attacker` is credential stuffing's wrong-password login.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from mock_services.domain.list_builder import WorkerFacts, build_list
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.http import Completion, HttpRequest
from mock_services.lab.clients.paper import PAPER_ITEMS, RECONCILE, PaperRecord
from mock_services.seed import Person, Population
from scenario.names import is_attacker, site_number

Submit = Callable[[HttpRequest], Awaitable[Completion]]
Perform = Callable[[str, str, Callable[[], Awaitable[Completion]], bool], Awaitable[Completion]]
Record = Callable[[str, str, str], None]  # (f, key, error): a failed operation, not sent
# (ok, pharmacist, patient): a scenario pharmacy's dispense ended (`paper` falls back on it)
Dispensed = Callable[[bool, Person, str], None]
DRUGS = ("AMOX500", "PARA500", "IBUP400", "METF850", "ATOR20", "OMEP20")
NO_SESSION = "no_session"  # the person could not log in: the operation never left
NO_PRESCRIPTION = "no_prescription"  # a pharmacy with nothing to dispense
UNPLAYABLE = (NO_SESSION, NO_PRESCRIPTION)  # the errors of arrivals that could not be played
# the kinds done by a logged-in person (the driver logs them in before a scenario run)
SESSION_KINDS = frozenset({"read_history", "read_payslip", "save_draft", "submit_list",
                           "register_workshop", "prescribe", "dispense"})


@dataclass(slots=True)
class RunState:
    """State the users of one run share: sessions, written prescriptions, key counters."""

    population: Population
    run_tag: str
    people: dict[str, Person] = field(default_factory=dict)  # everyone, by national ID
    tokens: dict[str, str] = field(default_factory=dict)
    login_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    prescriptions: list[tuple[str, str]] = field(default_factory=list)  # (code, patient)
    # the prescriptions written before the run, by pharmacy source ("pharmacy-3")
    stock: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    lists_sent: int = 0
    writes: int = 0

    def key(self, process: str) -> str:
        """A fresh logical idempotency key, unique across runs on the same database (and
        valid as a key and a draft's form id: a scenario process's "/" becomes "-")."""
        self.writes += 1
        return f"{self.run_tag}.{process.replace('/', '-')}.{self.writes}"


@dataclass(frozen=True, slots=True)
class Session:
    """How one user's operations are carried out: `perform(f, key, submit, write)`."""

    process: str
    shared: RunState
    perform: Perform
    submit: Submit
    sms: Callable[[str], Awaitable[str | None]]
    rng: random.Random
    source: str = ""  # the scenario's source ("clinic-3", "pharmacy-12", "attacker-2")
    person: Person | None = None  # who the arrival is, chosen before the run (`person_for`)
    record: Record | None = None  # records an operation that cannot be sent
    dispensed: Dispensed | None = None  # told how a dispense sent to the portal ended

    def site(self, people: tuple[Person, ...]) -> Person:
        """The arrival's person if chosen, else the person at the session's numbered site
        ("clinic-3": the third doctor, wrapping round), else a random one."""
        return self.person or site_person(self.source, people, self.rng)

    def citizen(self) -> Person:
        """The arrival's person if chosen, else a random active citizen."""
        return self.person or self.rng.choice(self.shared.population.citizens)

    def unplayable(self, f: str, key: str, error: str) -> None:
        """Record operation `f` as failed with `error` (it could not be sent)."""
        if self.record is not None:
            self.record(f, key, error)


def site_person(source: str, people: tuple[Person, ...], rng: random.Random) -> Person:
    """The person at `source`'s numbered site ("clinic-3": the third, wrapping round), or a
    random one when the source names no site."""
    site = site_number(source)
    if site is not None:
        return people[(site - 1) % len(people)]
    return rng.choice(people)


def person_for(kind: str, source: str, population: Population,
               rng: random.Random) -> Person | None:
    """Who does a scenario arrival of `kind` from `source`: a clinic's doctor, a pharmacy's
    pharmacist, an employer (of a random workshop, for lists), else a random citizen; None
    for the attacker (a real national ID, a wrong password: no one logs in)."""
    if is_attacker(source):
        return None
    if kind == "prescribe":
        return site_person(source, population.doctors, rng)
    if kind == "dispense":
        return site_person(source, population.pharmacies, rng)
    if kind == "submit_list":
        workshop = rng.choice(population.workshops)
        return next(p for p in population.employers if p.national_id == workshop.employer_id)
    if kind == "register_workshop":
        return rng.choice(population.employers)
    return rng.choice(population.citizens)


async def login(s: Session, person: Person, fresh: bool = False) -> str | None:
    """The person's session token, logging in first if needed (one login at a time each);
    `fresh`: log in anew whatever session they have (kept if the new login fails). A fresh
    login is an arrival of its own, as in the simulator: it waits for no other login of the
    same account (held behind one, it was invoked late, its wait off the record: at x1440
    a limited account's logins queued past the run's end)."""
    token = s.shared.tokens.get(person.national_id)
    if token and not fresh:
        return token
    if fresh:
        return await _log_in(s, person)
    lock = s.shared.login_locks.setdefault(person.national_id, asyncio.Lock())
    async with lock:
        if person.national_id in s.shared.tokens:
            return s.shared.tokens[person.national_id]
        return await _log_in(s, person)


async def _log_in(s: Session, person: Person) -> str | None:
    """One login operation (password, then the SMS code when asked): the token, kept."""

    async def submit() -> Completion:
        done = await s.submit(api.login(person.national_id, person.password))
        body = json_body(done)
        if done.type == "ok" and body.get("otp_required"):
            code = await s.sms(person.mobile)
            if code is None:
                return Completion("fail", "", "http_401", None, done.attempts)
            done = await s.submit(api.otp(str(body.get("challenge_id")), code))
        return done

    done = await s.perform("login", "", submit, False)
    token = json_body(done).get("token") if done.type == "ok" else None
    if isinstance(token, str):
        s.shared.tokens[person.national_id] = token
        return token
    return None


def json_body(done: Completion) -> dict[str, Any]:
    if done.response is None:
        return {}
    try:
        body = done.response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _forget_on_401(s: Session, person: Person, done: Completion) -> None:
    if done.error == "unauthorized":
        s.shared.tokens.pop(person.national_id, None)


async def citizen(s: Session) -> None:
    """Read one's insurance history or pay slips; now and then recover a password."""
    person = s.rng.choice(s.shared.population.citizens)
    if s.rng.random() < 0.05:
        req = api.recover_password(person.national_id, person.mobile)
        await s.perform("recover_password", "", lambda: s.submit(req), False)
        return
    token = await login(s, person)
    if token is None:
        return
    f = "read_history" if s.rng.random() < 0.7 else "read_payslip"
    build = api.read_history if f == "read_history" else api.read_payslip
    req = build(token, person.national_id)
    _forget_on_401(s, person, await s.perform(f, "", lambda: s.submit(req), False))


async def employer(s: Session) -> None:
    """Submit this month's list for one of one's workshops."""
    pop = s.shared.population
    if s.person is not None:
        workshop = s.rng.choice([w for w in pop.workshops
                                 if w.employer_id == s.person.national_id])
    else:
        workshop = s.rng.choice(pop.workshops)
    person = next(p for p in pop.employers if p.national_id == workshop.employer_id)
    token = await login(s, person)
    if token is None:
        s.unplayable("submit_list", s.shared.key(s.process), NO_SESSION)
        return
    s.shared.lists_sent += 1
    n = s.shared.lists_sent
    by_id = s.shared.people
    workers = [WorkerFacts(nid, by_id[nid].first_name, by_id[nid].last_name,
                           days=s.rng.randint(20, 31), daily_wage_rial=s.rng.randint(4, 9) * 10**6)
               for nid in workshop.worker_ids]
    # a fresh (year, month, list number) per submission: a run never collides with itself
    period = int(s.shared.run_tag[-4:], 16) * 7 + n
    lst = build_list(workshop.code, workshop.name, person.last_name, yy=3 + period % 2,
                     mm=1 + (period // 2) % 12, list_no=str(1 + (period // 24) % 999),
                     workers=workers)
    key = s.shared.key(s.process)
    req = api.submit_list(token, key, lst.model_dump(mode="json"))
    _forget_on_401(s, person, await s.perform("submit_list", key, lambda: s.submit(req), True))


async def doctor(s: Session) -> None:
    """Prescribe one to three drugs for a citizen."""
    pop = s.shared.population
    person = s.site(pop.doctors)
    token = await login(s, person)
    if token is None:
        s.unplayable("prescribe", s.shared.key(s.process), NO_SESSION)
        return
    patient = s.rng.choice(pop.citizens).national_id
    items = [{"drug_code": d, "quantity": s.rng.randint(1, 3)}
             for d in s.rng.sample(DRUGS, s.rng.randint(1, 3))]
    key = s.shared.key(s.process)
    req = api.prescribe(token, key, patient, items)
    done = await s.perform("prescribe", key, lambda: s.submit(req), True)
    code = json_body(done).get("tracking_code")
    if done.type == "ok" and isinstance(code, str):
        s.shared.prescriptions.append((code, patient))
    _forget_on_401(s, person, done)


async def pharmacy(s: Session) -> None:
    """Dispense the oldest prescription of the run not yet dispensed, else one of the
    pharmacy's stock; with neither, a rate profile's pharmacy does nothing, a scenario's
    arrival is recorded as failed (`NO_PRESCRIPTION`). A dispense sent is reported to
    `Session.dispensed` (the scenario driver's paper fallback, as the simulator's
    `sim.pharmacy.dispense` follows its client operation)."""
    stock = s.shared.stock.get(s.source)
    if s.shared.prescriptions:
        code, patient = s.shared.prescriptions.pop(0)
    elif stock:
        code, patient = stock.pop(0)
    else:
        s.unplayable("dispense", s.shared.key(s.process), NO_PRESCRIPTION)
        return
    person = s.site(s.shared.population.pharmacies)
    token = await login(s, person)
    if token is None:
        s.unplayable("dispense", s.shared.key(s.process), NO_SESSION)
        return
    key = s.shared.key(s.process)
    req = api.dispense(token, key, code, patient)
    done = await s.perform("dispense", key, lambda: s.submit(req), True)
    _forget_on_401(s, person, done)
    if s.dispensed is not None:
        s.dispensed(done.type == "ok", person, patient)


async def register_paper(s: Session, record: PaperRecord) -> bool:
    """A pharmacy registers one of its paper prescriptions (the "reconcile" write, under its
    history key `record.key`); True once the portal has it: registered now, or before (409:
    an earlier attempt's answer was lost, and the portal registers a control number once)."""
    token = await login(s, record.pharmacist)
    if token is None:
        s.unplayable(RECONCILE, record.key, NO_SESSION)
        return False
    req = api.register_paper(token, record.wire_key, record.wire_control,
                             patient=record.patient, items=[dict(i) for i in PAPER_ITEMS],
                             dispensed_on=record.day)
    done = await s.perform(RECONCILE, record.key, lambda: s.submit(req), True)
    _forget_on_401(s, record.pharmacist, done)
    return done.type == "ok" or done.error == "http_409"


async def fresh_login(s: Session) -> None:
    """A citizen logs in anew (a fresh session: every login reaches Shahkar's check)."""
    await login(s, s.citizen(), fresh=True)


async def recover_password(s: Session) -> None:
    """A citizen asks for a password-recovery code."""
    person = s.citizen()
    req = api.recover_password(person.national_id, person.mobile)
    await s.perform("recover_password", "", lambda: s.submit(req), False)


async def _read(s: Session, f: str) -> None:
    person = s.citizen()
    token = await login(s, person)
    if token is None:
        s.unplayable(f, "", NO_SESSION)
        return
    build = api.read_history if f == "read_history" else api.read_payslip
    req = build(token, person.national_id)
    _forget_on_401(s, person, await s.perform(f, "", lambda: s.submit(req), False))


async def read_history(s: Session) -> None:
    """A citizen reads their insurance history."""
    await _read(s, "read_history")


async def read_payslip(s: Session) -> None:
    """A citizen reads their pay slips."""
    await _read(s, "read_payslip")


async def register_workshop(s: Session) -> None:
    """An employer registers a new workshop."""
    person = s.person or s.rng.choice(s.shared.population.employers)
    token = await login(s, person)
    if token is None:
        s.unplayable("register_workshop", s.shared.key(s.process), NO_SESSION)
        return
    key = s.shared.key(s.process)
    code = random.Random(key).randrange(10**9, 10**10)  # from the key: fresh every run
    req = api.register_workshop(token, key, str(code), "کارگاه")
    _forget_on_401(s, person, await s.perform("register_workshop", key,
                                              lambda: s.submit(req), True))


async def save_draft(s: Session) -> None:
    """A citizen's form autosaves a new draft (the form id is the write's key)."""
    person = s.citizen()
    token = await login(s, person)
    if token is None:
        s.unplayable("save_draft", s.shared.key(s.process), NO_SESSION)
        return
    key = s.shared.key(s.process)
    form = key.replace(".", "_")  # a form id has no dots
    req = api.save_draft(token, key, form, {"field": s.shared.writes, "by": s.process})
    _forget_on_401(s, person, await s.perform("save_draft", key, lambda: s.submit(req), True))


async def attacker(s: Session) -> None:
    """Credential stuffing: a login with a wrong password for a real national ID."""
    person = s.rng.choice(s.shared.population.citizens)
    req = api.login(person.national_id, f"wrong-{s.rng.getrandbits(32):08x}")
    await s.perform("login", "", lambda: s.submit(req), False)


# the user behaviour that does each scenario request kind (scenario/schema.py's Kind)
KIND_BEHAVIOURS: dict[str, Callable[[Session], Awaitable[None]]] = {
    "login": fresh_login, "recover_password": recover_password, "read_history": read_history,
    "read_payslip": read_payslip, "register_workshop": register_workshop,
    "save_draft": save_draft, "submit_list": employer, "prescribe": doctor,
    "dispense": pharmacy,
}


def active(population: Population, n: int | None) -> Population:
    """The population cut to its first `n` people of each kind (and their workshops)."""
    if n is None:
        return population
    if n < 1:
        raise ValueError(f"active_users {n}: expected >= 1")
    employers = population.employers[:n]
    ids = {e.national_id for e in employers}
    citizens = population.citizens
    return replace(population, citizens=citizens[:n], employers=employers,
                   doctors=population.doctors[:n], pharmacies=population.pharmacies[:n],
                   workshops=tuple(w for w in population.workshops if w.employer_id in ids))


BEHAVIOURS: dict[str, Callable[[Session], Awaitable[None]]] = {
    "citizen": citizen, "employer": employer, "doctor": doctor, "pharmacy": pharmacy,
}


async def read_otp(client: httpx.AsyncClient, sms_url: str, mobile: str,
                   headers: Mapping[str, str] | None = None) -> str | None:
    """The newest code the phone `mobile` received (the SMS gateway's outbox, on its admin
    listener: `headers` carry the admin token)."""
    try:
        r = await client.get(f"{sms_url}/admin/messages", params={"mobile": mobile}, timeout=5,
                             headers=dict(headers or {}))
    except httpx.HTTPError:
        return None
    return api.otp_from_messages(r.json()) if r.status_code == 200 else None
