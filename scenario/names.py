"""The history's packed names: the `Op` strings that carry more than one fact, written and
read here only.

history.jsonl keeps `Op`'s eight flat string fields (a format users and the live twin read,
digest-checked run to run), so a few of those strings pack several facts. Every producer
(simulator, live clients, portal) builds them with the constructors below and every reader
(checkers, summary, simulator, clients) takes them apart with the readers, so the format of
each lives in one docstring. A reader given a string not of its format returns None (or,
for a process, False): foreign names are not errors, they are someone else's.

| name                  | format                          | example                        |
|-----------------------|---------------------------------|--------------------------------|
| upstream key          | `name` or `name@replica`        | "shahkar@portal-a"             |
| upstream process      | "upstream:" + upstream key      | "upstream:shahkar@portal-a"    |
| site source           | `population-k`                  | "clinic-3", "pharmacy-12"      |
| attacker source       | "attacker-" + `n`               | "attacker-2"                   |
| scenario process      | `source/worker`                 | "pharmacy-12/7", "citizen/40"  |
| pharmacy process      | "pharmacy-" + id [+ "/" worker] | "pharmacy-3", "pharmacy-3/p17" |
| stale value           | "stale" or "stale:" + age_s     | "stale:42.5"                   |
| reconcile key         | "reconcile:" + control number   | "reconcile:C-pharmacy-3-17"    |

Constructors do not validate (they sit on the simulator's hot paths): an upstream or
source name holds no "@" or "/", as the scenario schema's names cannot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from scenario.history import FINAL, GAUGE, NEMESIS, POLICY

UPSTREAM = "upstream:"  # the prefix of an upstream's process
ATTACKER = "attacker-"  # the prefix of an attacker's source (and its processes)
PHARMACY = "pharmacy"  # the population of pharmacies: sources "pharmacy-<k>"
STALE = "stale"  # the ok value of a read served from the stale cache
RECONCILE_PREFIX = "reconcile:"  # the prefix of a paper prescription's registration key
_REPLICA = "@"
_WORKER = "/"
_SITE = "-"
_AGE = ":"
_STALE_AGED = STALE + _AGE
_NOT_CLIENTS = frozenset({NEMESIS, POLICY, FINAL, GAUGE})


@dataclass(frozen=True, slots=True)
class UpstreamRef:
    """An upstream as the history names it: its name, and the portal replica whose breaker
    and link it went through ("" when the runner has one breaker per upstream)."""

    name: str
    replica: str = ""

    @property
    def key(self) -> str:
        """The breaker event's key ("shahkar@portal-a"); see `upstream_key`."""
        return upstream_key(self.name, self.replica)


# -- upstreams ------------------------------------------------------------------------------

def upstream_key(name: str, replica: str = "") -> str:
    """An upstream's breaker key: "shahkar" for one breaker per upstream, "shahkar@portal-a"
    for replica portal-a's own breaker of it (per-replica breakers)."""
    return f"{name}{_REPLICA}{replica}" if replica else name


def upstream_ref(key: str) -> UpstreamRef:
    """The upstream a breaker key names ("shahkar@portal-a" -> ("shahkar", "portal-a"),
    "shahkar" -> ("shahkar", "")); the replica is everything after the first "@"."""
    name, _, replica = key.partition(_REPLICA)
    return UpstreamRef(name, replica)


def upstream_process(name: str, replica: str = "") -> str:
    """The process of upstream attempts (f "call") and short-circuits: "upstream:" + the
    upstream key ("upstream:shahkar", "upstream:shahkar@portal-a")."""
    return UPSTREAM + upstream_key(name, replica)


def upstream_of(process: str) -> UpstreamRef | None:
    """The upstream an `upstream_process` names; None for any other process."""
    if not process.startswith(UPSTREAM):
        return None
    return _upstream_ref(process)


@lru_cache(maxsize=1024)
def _upstream_ref(process: str) -> UpstreamRef:
    """One parse per distinct upstream process: a history has a handful, met per attempt."""
    return upstream_ref(process[len(UPSTREAM):])


# -- sources and processes ------------------------------------------------------------------

def site_source(population: str, site: int) -> str:
    """The source of the `site`-th site of a population, numbered from 1 ("clinic-3",
    "pharmacy-12"); a rate profile's n-th user of a kind is named the same way
    ("citizen-17")."""
    return f"{population}{_SITE}{site}"


def site_number(source: str) -> int | None:
    """The site number a source ends with ("clinic-3" -> 3); None when it names no site."""
    _, dash, number = source.rpartition(_SITE)
    return int(number) if dash and number.isdecimal() else None


def attacker_source(n: int) -> str:
    """The source of the credential-stuffing attacker's n-th stream ("attacker-2")."""
    return f"{ATTACKER}{n}"


def is_attacker(name: str) -> bool:
    """True for an attacker's source or process ("attacker-2", "attacker-2/40")."""
    return name.startswith(ATTACKER)


def attacker_number(source: str) -> int | None:
    """The stream number of an attacker's source ("attacker-2" -> 2, a bare "attacker-" -> 0,
    as one stream); None for any other source."""
    if not source.startswith(ATTACKER):
        return None
    number = source[len(ATTACKER):].partition(_WORKER)[0]
    if not number:
        return 0
    return int(number) if number.isdecimal() else None


def process_name(source: str, worker: int | str) -> str:
    """The process of one worker of a source: `source/worker` ("pharmacy-12/7"; the
    simulator's operations number their worker by arrival, its paper records "p<n>")."""
    return f"{source}{_WORKER}{worker}"


def source_of(process: str) -> str:
    """The source a process works for: the part before the first "/" ("pharmacy-3/2/1" ->
    "pharmacy-3"), the whole name when it has none."""
    return process.partition(_WORKER)[0]


def pharmacy_process(pharmacy_id: str, worker: int | str = "") -> str:
    """A pharmacy's process: "pharmacy-<id>" (the pharmacy agent, id its national ID) or
    "pharmacy-<id>/<worker>"."""
    source = f"{PHARMACY}{_SITE}{pharmacy_id}"
    return process_name(source, worker) if worker != "" else source


def pharmacy_of(process: str) -> str | None:
    """The pharmacy ("pharmacy-3") a pharmacy's source or process belongs to; None for any
    other process."""
    source = source_of(process)
    return source if source.startswith(PHARMACY + _SITE) else None


def is_client(process: str) -> bool:
    """True for the processes whose operations are the portal's users' requests: every
    process but "nemesis", "policy", "final", "gauge", the upstreams' and the attackers'."""
    return not (process in _NOT_CLIENTS or process.startswith(UPSTREAM)
                or process.startswith(ATTACKER))


# -- values and keys ------------------------------------------------------------------------

def stale_value(age_s: float) -> str:
    """The ok value of a read served from the stale cache, with its answer's age to 0.1 s
    ("stale:42.5"); a bare `STALE` is a stale read of unknown age."""
    return f"{_STALE_AGED}{age_s:.1f}"


def is_stale(value: str) -> bool:
    """True for a stale read's value, with or without its age."""
    return value == STALE or value.startswith(_STALE_AGED)


def stale_age_s(value: str) -> float | None:
    """The age a stale read's value carries ("stale:42.5" -> 42.5); None for a bare "stale",
    an age that is not a finite number, or any other value."""
    if not value.startswith(_STALE_AGED):
        return None
    try:
        age = float(value[len(_STALE_AGED):])
    except ValueError:
        return None
    return age if math.isfinite(age) else None


def reconcile_key(control: str) -> str:
    """The idempotency key of paper prescription `control`'s electronic registration after
    recovery (the "reconcile" write): "reconcile:" + the paper record's key."""
    return RECONCILE_PREFIX + control


def reconciled_control(key: str) -> str | None:
    """The paper record a reconcile key registers ("reconcile:C-7" -> "C-7"); None for any
    other key."""
    return key[len(RECONCILE_PREFIX):] if key.startswith(RECONCILE_PREFIX) else None
