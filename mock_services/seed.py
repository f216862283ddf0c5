"""The deterministic demo population that the services seed and the load driver logs in as.

`demo_population(seed, ...)` returns the same people, passwords, mobiles and workshops for the
same arguments in every process, so the portal, the upstreams and the load driver agree on
credentials without sharing a file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from mock_services.domain.mobile import make_mobile
from mock_services.domain.national_id import make_national_id

Role = Literal["citizen", "employer", "doctor", "pharmacy"]
DEFAULT_SEED = 1
DEFAULT_CITIZENS = 300
DEFAULT_EMPLOYERS = 30
DEFAULT_DOCTORS = 10
DEFAULT_PHARMACIES = 10
HISTORY_END = (1404, 6)  # the last month with insurance records in the demo data
_FIRST = ("علی", "رضا", "محمد", "حسین", "مریم", "زهرا", "فاطمه", "سارا", "مهدی", "نرگس")
_LAST = ("احمدی", "کریمی", "حسینی", "رضایی", "موسوی", "محمدی", "جعفری", "کاظمی")


@dataclass(frozen=True)
class Person:
    """Someone who logs in: a citizen, an employer, a doctor or a pharmacy's pharmacist."""

    national_id: str
    password: str
    mobile: str
    first_name: str
    last_name: str
    role: Role


@dataclass(frozen=True)
class Workshop:
    """A workshop (10-digit code) of an employer, with the citizens who work there."""

    code: str
    name: str
    employer_id: str
    worker_ids: tuple[str, ...]


@dataclass(frozen=True)
class HistoryRecord:
    """One month of insurance history: where the citizen worked, how many days, which wage."""

    year: int
    month: int
    workshop_code: str
    days: int
    wage_rial: int


@dataclass(frozen=True)
class Population:
    """The whole demo world of one seed."""

    seed: int
    citizens: tuple[Person, ...]
    employers: tuple[Person, ...]
    doctors: tuple[Person, ...]
    pharmacies: tuple[Person, ...]
    workshops: tuple[Workshop, ...]

    def people(self) -> tuple[Person, ...]:
        """Everyone who can log in."""
        return self.citizens + self.employers + self.doctors + self.pharmacies


def _person(rng: random.Random, role: Role, used: set[str]) -> Person:
    nid = make_national_id(rng)
    while nid in used:
        nid = make_national_id(rng)
    used.add(nid)
    return Person(nid, f"pw-{rng.getrandbits(48):012x}", make_mobile(rng),
                  rng.choice(_FIRST), rng.choice(_LAST), role)


def demo_population(
    seed: int = DEFAULT_SEED, n_citizens: int = DEFAULT_CITIZENS,
    n_employers: int = DEFAULT_EMPLOYERS, n_doctors: int = DEFAULT_DOCTORS,
    n_pharmacies: int = DEFAULT_PHARMACIES,
) -> Population:
    """The people and workshops of `seed`; equal arguments give equal populations."""
    rng = random.Random(seed)
    used: set[str] = set()
    citizens = tuple(_person(rng, "citizen", used) for _ in range(n_citizens))
    employers = tuple(_person(rng, "employer", used) for _ in range(n_employers))
    doctors = tuple(_person(rng, "doctor", used) for _ in range(n_doctors))
    pharmacies = tuple(_person(rng, "pharmacy", used) for _ in range(n_pharmacies))
    codes: set[str] = set()
    workshops: list[Workshop] = []
    for employer in employers:
        for k in range(rng.randint(1, 2)):
            code = f"{rng.randrange(10**9, 10**10)}"
            while code in codes:
                code = f"{rng.randrange(10**9, 10**10)}"
            codes.add(code)
            size = min(len(citizens), rng.randint(1, 8))
            workers = tuple(sorted(c.national_id for c in rng.sample(citizens, size)))
            workshops.append(Workshop(code, f"کارگاه {employer.last_name} {k + 1}",
                                      employer.national_id, workers))
    return Population(seed, citizens, employers, doctors, pharmacies, tuple(workshops))


def insurance_history(seed: int, national_id: str, months: int = 24) -> tuple[HistoryRecord, ...]:
    """The citizen's last `months` months of insurance records (same seed and ID, same records)."""
    rng = random.Random(f"{seed}:{national_id}")
    workshop = f"{rng.randrange(10**9, 10**10)}"
    year, month = HISTORY_END
    out: list[HistoryRecord] = []
    for _ in range(months):
        if rng.random() < 0.1:
            workshop = f"{rng.randrange(10**9, 10**10)}"  # changed jobs
        out.append(HistoryRecord(year, month, workshop, rng.choice((30, 31, 30, 15)),
                                 rng.randrange(3_463_656, 20_000_000, 1000) * 30))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return tuple(reversed(out))
