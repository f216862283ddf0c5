"""What each kind of user does when they arrive (DOMAIN.md), as history operations.

- citizen: logs in and reads their insurance history or pay slips; some recover a password;
- employer: logs in and submits the month's insurance list for one of their workshops;
- doctor: logs in (password, then the SMS code) and prescribes for a patient's national ID;
- pharmacy: logs in and dispenses a prescription a doctor wrote earlier in the run.

A person stays logged in for the run (their token is kept, as a browser keeps its session).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from mock_services.domain.list_builder import WorkerFacts, build_list
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.http import Completion, HttpRequest
from mock_services.seed import Person, Population

Submit = Callable[[HttpRequest], Awaitable[Completion]]
Perform = Callable[[str, str, Callable[[], Awaitable[Completion]], bool], Awaitable[Completion]]
DRUGS = ("AMOX500", "PARA500", "IBUP400", "METF850", "ATOR20", "OMEP20")


@dataclass(slots=True)
class Shared:
    """State the users of one run share: sessions, written prescriptions, key counters."""

    population: Population
    run_tag: str
    people: dict[str, Person] = field(default_factory=dict)  # everyone, by national ID
    tokens: dict[str, str] = field(default_factory=dict)
    login_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    prescriptions: list[tuple[str, str]] = field(default_factory=list)  # (code, patient)
    lists_sent: int = 0
    writes: int = 0

    def key(self, process: str) -> str:
        """A fresh logical idempotency key, unique across runs on the same database."""
        self.writes += 1
        return f"{self.run_tag}.{process}.{self.writes}"


@dataclass(frozen=True, slots=True)
class Session:
    """How one user's operations are carried out: `perform(f, key, submit, write)`."""

    process: str
    shared: Shared
    perform: Perform
    submit: Submit
    sms: Callable[[str], Awaitable[str | None]]
    rng: random.Random


async def login(s: Session, person: Person) -> str | None:
    """The person's session token, logging in first if needed (one login at a time each)."""
    token = s.shared.tokens.get(person.national_id)
    if token:
        return token
    lock = s.shared.login_locks.setdefault(person.national_id, asyncio.Lock())
    async with lock:
        if person.national_id in s.shared.tokens:
            return s.shared.tokens[person.national_id]

        async def submit() -> Completion:
            done = await s.submit(api.login(person.national_id, person.password))
            body = _json(done)
            if done.type == "ok" and body.get("otp_required"):
                code = await s.sms(person.mobile)
                if code is None:
                    return Completion("fail", "", "http_401", None, done.attempts)
                done = await s.submit(api.otp(str(body.get("challenge_id")), code))
            return done

        done = await s.perform("login", "", submit, False)
        token = _json(done).get("token") if done.type == "ok" else None
        if isinstance(token, str):
            s.shared.tokens[person.national_id] = token
            return token
        return None


def _json(done: Completion) -> dict[str, Any]:
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
    workshop = s.rng.choice(pop.workshops)
    person = next(p for p in pop.employers if p.national_id == workshop.employer_id)
    token = await login(s, person)
    if token is None:
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
    person = s.rng.choice(pop.doctors)
    token = await login(s, person)
    if token is None:
        return
    patient = s.rng.choice(pop.citizens).national_id
    items = [{"drug_code": d, "quantity": s.rng.randint(1, 3)}
             for d in s.rng.sample(DRUGS, s.rng.randint(1, 3))]
    key = s.shared.key(s.process)
    req = api.prescribe(token, key, patient, items)
    done = await s.perform("prescribe", key, lambda: s.submit(req), True)
    code = _json(done).get("tracking_code")
    if done.type == "ok" and isinstance(code, str):
        s.shared.prescriptions.append((code, patient))
    _forget_on_401(s, person, done)


async def pharmacy(s: Session) -> None:
    """Dispense the oldest prescription of the run not yet dispensed (if any)."""
    if not s.shared.prescriptions:
        return
    code, patient = s.shared.prescriptions.pop(0)
    person = s.rng.choice(s.shared.population.pharmacies)
    token = await login(s, person)
    if token is None:
        return
    key = s.shared.key(s.process)
    req = api.dispense(token, key, code, patient)
    _forget_on_401(s, person, await s.perform("dispense", key, lambda: s.submit(req), True))


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


async def read_otp(client: httpx.AsyncClient, sms_url: str, mobile: str) -> str | None:
    """The newest code the phone `mobile` received (the SMS gateway's outbox)."""
    try:
        r = await client.get(f"{sms_url}/admin/messages", params={"mobile": mobile}, timeout=5)
    except httpx.HTTPError:
        return None
    return api.otp_from_messages(r.json()) if r.status_code == 200 else None
