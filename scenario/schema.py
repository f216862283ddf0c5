"""The scenario file schema: one TOML file per scenario, validated before anything runs.

A scenario names its topology (the lab's names: switches, racks, portal replicas, upstreams,
client links), its workload on the Solar Hijri calendar, a timeline of faults, the policy set
(a preset name plus overrides) and the invariants with their parameters. Durations carry
units ("300ms", "90s", "20m", "2h", "1d") and are at most 400 days; no number may be inf or
nan. Everything the simulation relies on is checked here (the start parses on the calendar,
names are unique and known, ranges are ordered), so a run never starts on a bad scenario.
`load_scenario(path)` returns a frozen `Scenario` or raises `ScenarioError` whose message is
one sentence: file, key, what was expected.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import jdatetime
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from chaoslab.errors import BadInput
from faults.catalog import FAULT_TYPES, Fault, PeakLoad, RefreshStorm
from faults.records import fault_from_record
from policies.presets import PRESETS

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_START = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2})?$")
_NAME = re.compile(r"^[\w-][\w.-]{0,99}$")  # a run directory's name: no "/", no leading "."
MAX_DAYS = 400  # a year and a bit: longer durations are typos (or would run for ever)
MAX_DURATION_S = MAX_DAYS * 86_400.0
MAX_STEPS = 200_000  # calendar steps per run (a year at 3-minute steps)
MAX_FAILURES = 100_000  # expected stochastic failures per component and run
POPULATIONS = ("all", "citizens", "employers", "clinics", "pharmacies")  # peak_load's choices


class ScenarioError(BadInput):
    """A scenario file that cannot be read or does not match the schema (exit 2)."""


def parse_duration(value: object) -> float:
    """Seconds from a duration with units: "300ms", "90s", "20m", "2h", "1d", "1h30m"; at most
    `MAX_DAYS` days."""
    if isinstance(value, str) and _DURATION.match(value.strip()):
        seconds = sum(float(n) * _UNIT_S[u] for n, u in _PART.findall(value))
        if not seconds <= MAX_DURATION_S:  # inf too (a number of hundreds of digits)
            raise ValueError(f"a duration of at most {MAX_DAYS}d (a year and a bit), "
                             f"got {value!r}")
        return seconds
    raise ValueError(f'a duration with a unit like "300ms", "90s", "20m", "2h", got {value!r}')


def parse_positive_duration(value: object) -> float:
    """`parse_duration`, refusing zero."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f'a duration greater than 0 like "300ms", "90s", "20m", got {value!r}')
    return seconds


def parse_clock(value: object) -> float:
    """Hours since midnight from "HH:MM" (24:00 allowed as the end of a day)."""
    if isinstance(value, str):
        m = _CLOCK.match(value)
        if m and (m.group(1) != "24" or m.group(2) == "00"):
            return int(m.group(1)) + int(m.group(2)) / 60
    raise ValueError(f'a time of day "HH:MM", got {value!r}')


def parse_start(text: str) -> jdatetime.datetime:
    """The scenario's start, "1403-12-25T00:00" in Solar Hijri local time (scenario/calendar.py
    reads it with this parser too); ValueError when it is no such date and time."""
    date, _, clock = text.partition("T")
    year, month, day = (int(x) for x in date.split("-"))
    hour, _, minute = (clock or "00:00").partition(":")
    return jdatetime.datetime(year, month, day, int(hour), int(minute or 0))


def _check_start(value: str) -> str:
    try:
        if not _START.match(value):
            raise ValueError(value)
        parse_start(value)
    except (ValueError, OverflowError):
        raise ValueError(f'a Solar Hijri date and time "YYYY-MM-DDTHH:MM" like '
                         f'"1403-01-15T09:00" (months 1-12, days as in the month, hours '
                         f'00-23), got {value!r}') from None
    return value


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"a plain name of at most 100 letters, digits, '_', '-' and '.', not "
                         f"starting with '.' (it names the run's directory), got {value!r}")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_positive_duration)]
Clock = Annotated[float, BeforeValidator(parse_clock)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Factor = Annotated[float, Field(ge=0.0)]


class Strict(BaseModel):
    """Frozen, no unknown keys: a typo in a scenario is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Exponential(Strict):
    dist: Literal["exponential"]
    mean: PositiveDuration


class Lognormal(Strict):
    """Lognormal given by its median and 99th percentile, as latencies are usually quoted."""

    dist: Literal["lognormal"]
    p50: Duration
    p99: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Lognormal:
        if not self.p99 > self.p50 > 0:
            raise ValueError("p99 greater than p50 greater than 0")
        return self


class Deterministic(Strict):
    dist: Literal["deterministic"]
    value: Duration


class Uniform(Strict):
    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low > self.high:
            raise ValueError(f"low at most high, got low {self.low:g} s > high {self.high:g} s")
        return self


class Empirical(Strict):
    """Samples drawn from observed values, each with an optional weight."""

    dist: Literal["empirical"]
    values: Annotated[list[Duration], Field(min_length=1)]
    weights: list[Annotated[float, Field(gt=0)]] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> Empirical:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError("as many weights as values")
        return self


Dist = Annotated[
    Exponential | Lognormal | Deterministic | Uniform | Empirical, Field(discriminator="dist")
]


class Replica(Strict):
    name: str
    switch: str
    rack: str
    workers: Annotated[int, Field(ge=1)] = 32
    max_queue: Annotated[int, Field(ge=0)] = 1024


class Upstream(Strict):
    """An upstream service: its healthy latency and the rack it runs on (the lab's)."""

    latency: Dist
    rack: str = "rack-a"


class Topology(Strict):
    switches: list[str] = ["switch-a", "switch-b"]
    racks: list[str] = ["rack-a", "rack-b"]
    replicas: list[Replica] = [Replica(name="portal-a", switch="switch-a", rack="rack-a"),
                               Replica(name="portal-b", switch="switch-b", rack="rack-b")]
    upstreams: dict[str, Upstream] = {}
    clinics: Annotated[int, Field(ge=1)] = 50
    pharmacies: Annotated[int, Field(ge=1)] = 50

    @model_validator(mode="after")
    def _wired(self) -> Topology:
        for key, names in (("switches", self.switches), ("racks", self.racks),
                           ("replicas", [r.name for r in self.replicas])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"topology.{key}|each name once, got {twice[0]!r} twice")
        shared = sorted(set(self.switches) & set(self.racks))
        if shared:
            raise ValueError(f"topology.racks|names distinct from the switches', got "
                             f"{shared[0]!r} for both")
        for i, r in enumerate(self.replicas):
            if r.switch not in self.switches or r.rack not in self.racks:
                raise ValueError(f"topology.replicas[{i}]|a switch among {self.switches} and "
                                 f"a rack among {self.racks}, got {r.switch!r}, {r.rack!r}")
        for name, up in self.upstreams.items():
            if up.rack not in self.racks:
                raise ValueError(f"topology.upstreams.{name}.rack|one of {self.racks}, "
                                 f"got {up.rack!r}")
        if not self.replicas:
            raise ValueError("topology.replicas|at least one replica")
        return self

    def link_names(self) -> set[str]:
        """The lab's link (proxy) names: client-<replica> and <replica>-<upstream>."""
        names = {f"client-{r.name}" for r in self.replicas}
        names |= {f"{r.name}-{u}" for r in self.replicas for u in self.upstreams}
        return names


Profile = Literal["flat", "office", "lists", "pharmacy"]
Kind = Literal["login", "recover_password", "read_history", "read_payslip",
               "register_workshop", "submit_list", "prescribe", "dispense", "save_draft"]


class RequestKind(Strict):
    """One kind of portal request: its share of arrivals, calendar profile and cost."""

    share: Annotated[float, Field(gt=0)]
    profile: Profile = "office"
    service: Dist
    upstreams: list[str] = []
    priority: Annotated[int, Field(ge=0, le=2)] = 2


class Calendar(Strict):
    """Rate multipliers on the Solar Hijri calendar (DOMAIN.md, each a [guess] to tune)."""

    office_start: Clock = 8.0
    office_end: Clock = 14.0
    office_factor: Factor = 2.0
    evening_factor: Factor = 0.8
    night_factor: Factor = 0.15
    friday_factor: Factor = 0.35
    pharmacy_start: Clock = 8.0
    pharmacy_end: Clock = 23.0
    month_end_days: Annotated[int, Field(ge=0, le=10)] = 5
    month_end_factor: Factor = 3.0
    last_day_factor: Factor = 6.0
    last_evening_factor: Factor = 9.0
    esfand_factor: Factor = 1.7
    season_start_days: Annotated[int, Field(ge=0, le=15)] = 5
    season_start_factor: Factor = 1.5

    @model_validator(mode="after")
    def _ordered(self) -> Calendar:
        for what in ("office", "pharmacy"):
            start, end = getattr(self, f"{what}_start"), getattr(self, f"{what}_end")
            if not start < end:
                raise ValueError(f"{what}_start before {what}_end, got {_clock(start)} and "
                                 f"{_clock(end)}")
        return self


def _clock(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class Backoff(Strict):
    """Exponential backoff between a user's re-submissions: the k-th (k = 0, 1, ...) waits
    min(max, base * multiplier^k); with jitter "full" a uniform draw in [0, that) (AWS's
    "full jitter", Brooker 2015), with "none" exactly that."""

    base: PositiveDuration
    multiplier: Annotated[float, Field(ge=1.0)] = 2.0
    max: PositiveDuration = 3600.0  # defaults are not validated: seconds here
    jitter: Literal["full", "none"] = "full"

    @model_validator(mode="after")
    def _ordered(self) -> Backoff:
        if self.max < self.base:
            raise ValueError(f"max at least base, got max {self.max:g} s < base {self.base:g} s")
        return self


class Refresh(Strict):
    """Users who re-submit after a slow or failed response (DOMAIN.md: 0.5-0.7 after 3-10 s).

    The pause before a re-submission is drawn from `delay`, or, when `backoff` is given,
    grows exponentially with each re-submission of the same operation (not both)."""

    probability: Share = 0.0
    delay: Dist = Uniform.model_validate({"dist": "uniform", "low": "3s", "high": "10s"})
    backoff: Backoff | None = None
    max_refreshes: Annotated[int, Field(ge=0)] = 2

    @model_validator(mode="after")
    def _one_pause(self) -> Refresh:
        if self.backoff is not None and "delay" in self.model_fields_set:
            raise ValueError("workload.refresh|either delay or backoff, not both")
        return self


GiveUp = Literal["request", "queue"]
"""How a user's patience ends an operation: "request", a client timeout over the whole
request (wait and service; the server may still work on it: `Server.orphans`); "queue",
abandonment while waiting (the request leaves the queue; once served, the user waits for it)."""
Orphans = Literal["policy", "serve", "drop"]
"""What a replica does with a queued request whose client has gone (timed out, disconnected):
"serve" it anyway, "drop" it when it reaches a worker, or "policy": drop it when the policy
set has admission control and the client propagates its deadline, serve it otherwise."""


class Workload(Strict):
    rate_per_s: Annotated[float, Field(ge=0)]
    population: Annotated[int, Field(ge=1)] = 100_000
    arrivals: Literal["exponential", "deterministic"] = "exponential"
    kinds: dict[Kind, RequestKind]
    calendar: Calendar = Calendar()
    patience: Dist = Deterministic.model_validate({"dist": "deterministic", "value": "60s"})
    give_up: GiveUp = "request"  # how patience ends an operation (see `GiveUp`)
    give_up_by: dict[Literal["citizens", "employers", "clinics", "pharmacies"], GiveUp] = {}
    refresh: Refresh = Refresh()
    step: PositiveDuration = 900.0  # defaults are not validated: seconds here, units in files

    @model_validator(mode="after")
    def _shares(self) -> Workload:
        if not self.kinds:
            raise ValueError("workload.kinds|at least one request kind, such as "
                             "[workload.kinds.login]")
        if not math.isfinite(sum(k.share for k in self.kinds.values())):
            raise ValueError("workload.kinds|shares whose sum is a finite number")
        return self


class Server(Strict):
    """How the portal's replicas treat work whose client has gone (`Orphans`), for every
    policy set or per policy set name (`orphans_by`, e.g. baseline = "serve")."""

    orphans: Orphans = "policy"
    orphans_by: dict[str, Orphans] = {}

    def orphans_for(self, policy_set: str) -> Orphans:
        """The orphaned-work rule under the policy set named `policy_set`."""
        return self.orphans_by.get(policy_set, self.orphans)


class TimedFault(Strict):
    """One fault of the timeline: a fault of the catalog (faults/catalog.py), given as its
    record (`kind` plus the fault's fields), from `start` for `duration`."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str
    start: Duration
    duration: Duration

    @property
    def record(self) -> dict[str, Any]:
        """The catalog record: every key but start and duration."""
        return {"kind": self.kind, **(self.model_extra or {})}

    def fault(self, where: str) -> Fault:
        """The catalog's typed fault, or a `ValueError` naming `where`."""
        return fault_from_record(self.record, where)


class Attack(Strict):
    """Credential stuffing: logins with wrong passwords from a few sources (not a fault of the
    network: the load driver sends it)."""

    rate_per_s: Annotated[float, Field(gt=0)]
    start: Duration
    duration: Duration
    sources: Annotated[int, Field(ge=1)] = 8


class Stochastic(Strict):
    """Failures drawn per component from MTBF/MTTR, power cuts by zone, and deployments.

    `mtbf`/`mttr` (means) are keyed by component: a switch, a rack, an upstream or a portal
    replica (a `replica_failure` whose work is `replica_work`: see faults/catalog.py);
    power cuts fall in the scheduled 09:00-17:00 blocks of DOMAIN.md, on a random rack.
    """

    mtbf: dict[str, PositiveDuration] = {}
    mttr: dict[str, PositiveDuration] = {}
    replica_work: Literal["drop", "resume", "restart"] = "drop"  # a replica's breakdowns
    power_cuts_per_day: Factor = 0.0
    power_cut: Duration = 7200.0
    deploys_per_week: Factor = 0.0

    @model_validator(mode="after")
    def _paired(self) -> Stochastic:
        missing = sorted(set(self.mtbf) ^ set(self.mttr))
        if missing:
            raise ValueError(f"stochastic.mttr|both mtbf and mttr for {', '.join(missing)}")
        return self


class Policies(Strict):
    """The policy set: a preset (what `lab run` uses when not told) plus overrides.

    `overrides` apply to whichever preset runs (`--policies`); `baseline` and `resilient`
    apply only to that preset, e.g. to give the baseline a scenario's retry habit.
    """

    preset: str = "resilient"
    overrides: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    resilient: dict[str, Any] = {}

    @model_validator(mode="after")
    def _known(self) -> Policies:
        if self.preset not in PRESETS:
            raise ValueError(f"policies.preset|one of {sorted(PRESETS)}, got {self.preset!r}")
        for key in ("overrides", "baseline", "resilient"):
            _finite(getattr(self, key), f"policies.{key}")
        return self

    def for_preset(self, preset: str) -> dict[str, Any]:
        """The overrides for `preset`: the common ones, then the preset's own."""
        own = {"baseline": self.baseline, "resilient": self.resilient}.get(preset, {})
        return _deep_merge(self.overrides, own)


def _finite(value: object, where: str) -> None:
    """ValueError naming the first inf or nan inside a free-form table (policies, invariants,
    fault records), which the typed fields cannot see."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}|a finite number, got {value!r}")
    if isinstance(value, dict):
        for k, v in value.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _finite(v, f"{where}[{i}]")


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(
            out.get(k), dict) else v
    return out


class Scenario(Strict):
    """A whole scenario file."""

    name: Annotated[str, AfterValidator(_check_name)]
    description: Annotated[str, Field(min_length=1)]
    start: Annotated[str, AfterValidator(_check_start)] = "1403-01-15T00:00"
    duration: PositiveDuration
    topology: Topology = Topology()
    workload: Workload
    faults: list[TimedFault] = []
    attack: Attack | None = None
    stochastic: Stochastic = Stochastic()
    server: Server = Server()
    policies: Policies = Policies()
    invariants: dict[str, dict[str, Any]] = {}
    # calendar seconds per run second: 1 in a file (which may not set it), K once compressed
    time_scale: Annotated[float, Field(gt=0)] = 1.0

    def compressed(self, speed: float) -> Scenario:
        """This scenario with its scenario time compressed `speed`-fold (`--speed K`).

        Run-level times are divided by `speed`: the duration, every fault's start and
        duration, the attack's start and duration, the stochastic MTBF, MTTR and power-cut
        length, and the calendar step; `time_scale` is multiplied by it, so run second t reads
        the calendar at scenario second t * time_scale. Rates stay per second (one request
        stands for `speed` scenario requests), the population (distinct accounts) is divided
        by `speed`, rounded up, so that each account makes as many requests in the compressed
        run as in the scenario; request-level times (service times,
        latencies, patience, refresh delays) stay real. Compressing twice composes; speed 1
        returns this scenario.
        """
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed {speed!r}: expected a finite number greater than 0")
        if speed == 1:
            return self
        k = speed
        faults = [f.model_copy(update={"start": f.start / k, "duration": f.duration / k})
                  for f in self.faults]
        attack = None if self.attack is None else self.attack.model_copy(
            update={"start": self.attack.start / k, "duration": self.attack.duration / k})
        st = self.stochastic
        stochastic = st.model_copy(update={
            "mtbf": {n: v / k for n, v in st.mtbf.items()},
            "mttr": {n: v / k for n, v in st.mttr.items()},
            "power_cut": st.power_cut / k})
        # one request stands for k: the accounts shrink with it, so each account makes as
        # many requests in the compressed run as in the scenario (cache hits keep their rate)
        workload = self.workload.model_copy(update={
            "step": self.workload.step / k,
            "population": max(1, math.ceil(self.workload.population / k))})
        return self.model_copy(update={
            "duration": self.duration / k, "faults": faults, "attack": attack,
            "stochastic": stochastic, "workload": workload, "time_scale": self.time_scale * k})

    @model_validator(mode="after")
    def _targets(self) -> Scenario:
        topo = self.topology
        links = topo.link_names()
        self._calendar_fits()
        for i, timed in enumerate(self.faults):
            _finite(timed.model_extra or {}, f"faults[{i}]")
            try:
                fault = timed.fault(f"faults[{i}]")
            except ValueError as exc:
                raise ValueError(f"faults[{i}]|{exc}") from None
            if isinstance(fault, PeakLoad | RefreshStorm) and fault.population not in POPULATIONS:
                raise ValueError(f"faults[{i}].population|one of {list(POPULATIONS)}, got "
                                 f"{fault.population!r}")
            target = getattr(fault, "link", None) or getattr(fault, "switch", None) or \
                getattr(fault, "rack", None) or getattr(fault, "service", None) or \
                getattr(fault, "replica", None)
            known = {"link": links, "switch": set(topo.switches), "rack": set(topo.racks),
                     "service": {"portal"}, "replica": {r.name for r in topo.replicas}}
            for attr, names in known.items():
                if getattr(fault, attr, None) is not None and target not in names:
                    raise ValueError(f"faults[{i}].{attr}|one of {sorted(names)}, "
                                     f"got {target!r}")
        for name, mtbf in self.stochastic.mtbf.items():
            components = {*topo.switches, *topo.racks, *topo.upstreams,
                          *(r.name for r in topo.replicas)}
            if name not in components:
                raise ValueError(f"stochastic.mtbf.{name}|a switch, rack, upstream or replica: "
                                 f"one of {sorted(components)}")
            least = self.duration / MAX_FAILURES
            if mtbf + self.stochastic.mttr.get(name, least) < least:
                raise ValueError(f"stochastic.mtbf.{name}|mtbf + mttr of at least {least:g} s "
                                 f"(at most {MAX_FAILURES} failures in the run's duration)")
        if self.attack is not None and "login" not in self.workload.kinds:
            raise ValueError("attack|a workload with a login kind to attack")
        for name, kind in self.workload.kinds.items():
            for up in kind.upstreams:
                if up not in self.topology.upstreams:
                    raise ValueError(f"workload.kinds.{name}.upstreams|names declared in "
                                     f"[topology.upstreams], got {up!r}")
        self._invariants_known()
        return self

    def _calendar_fits(self) -> None:
        """The start plus the duration stays on the calendar, in a bounded number of steps."""
        try:
            parse_start(self.start) + jdatetime.timedelta(seconds=self.duration * self.time_scale)
        except (ValueError, OverflowError):
            raise ValueError(f"start|a start whose run ends on the calendar, got {self.start!r}"
                             ) from None
        step = self.workload.step
        if self.duration / step > MAX_STEPS:
            raise ValueError(f"workload.step|a step of at least {self.duration / MAX_STEPS:g} s "
                             f"(at most {MAX_STEPS} calendar steps in the duration), got "
                             f"{step:g} s")

    def _invariants_known(self) -> None:
        """Invariant thresholds that name an upstream or fault kinds name known ones: an
        unknown name would make the verdict "unknown", which passes `--check`."""
        ups = sorted(self.topology.upstreams)
        kinds = sorted(FAULT_TYPES)
        for name, params in self.invariants.items():
            _finite(params, f"invariants.{name}")
            up = params.get("upstream")
            if isinstance(up, str) and up not in ups:
                raise ValueError(f"invariants.{name}.upstream|an upstream declared in "
                                 f"[topology.upstreams], one of {ups}, got {up!r}")
            fault_kinds = params.get("fault_kinds")
            if isinstance(fault_kinds, list):
                for kind in fault_kinds:
                    if isinstance(kind, str) and kind not in kinds:
                        raise ValueError(f"invariants.{name}.fault_kinds|fault kinds among "
                                         f"{kinds}, got {kind!r}")


def _where(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and (
        p in _DIST_NAMES or p.startswith("function-after[")))]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "(top level)"


_DIST_NAMES = ("deterministic", "empirical", "exponential", "lognormal", "uniform")


def _sentence(path: Path, exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = _where(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    if "|" in msg:  # a cross-field check names its own key
        where, _, msg = msg.partition("|")
        if msg.startswith(f"{where}: "):  # the fault catalog's own sentence
            return f"{path}: key {where}: {msg.removeprefix(f'{where}: ')}"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{path}: key {where} is not allowed; expected one of the schema's keys"
    if kind == "missing":
        return f"{path}: key {where} is missing; expected it to be given"
    if kind == "literal_error":
        return f"{path}: key {where}: expected {msg}, got {err.get('input')!r}"
    if kind == "union_tag_invalid":
        return f"{path}: key {where}: expected dist = one of {', '.join(_DIST_NAMES)}"
    got = "" if kind.startswith("value_error") or "|" in str(err["msg"]) else \
        f", got {err.get('input')!r}"
    return f"{path}: key {where}: expected {msg[0].lower() + msg[1:]}{got}"


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file; raise `ScenarioError` with one sentence."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ScenarioError(
            f"{path}: cannot read ({exc.strerror}); expected a scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}); expected a scenario file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                            f"offset {exc.start}); expected a scenario file in UTF-8 TOML"
                            ) from None
    if "name" not in data and not _NAME.match(path.stem):
        raise ScenarioError(f"{path}: key name is missing and the file's name {path.stem!r} is "
                            f"not a plain name; expected name = letters, digits, '_', '-' and "
                            f"'.', not starting with '.'")
    data.setdefault("name", path.stem)
    if "time_scale" in data:
        raise ScenarioError(f"{path}: key time_scale is not allowed; expected --speed to "
                            f"compress a scenario's time")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_sentence(path, exc)) from None


def find_scenario(name_or_path: str, directory: Path) -> Path:
    """A scenario name ("year_end_peak") in `directory`, or a path to a .toml file."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return path
    candidate = directory / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in directory.glob("*.toml")))
    raise ScenarioError(f"scenario {name_or_path!r} not found in {directory}; expected one of "
                        f"{known or '(none)'} or a .toml path")
