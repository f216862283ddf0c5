"""The scenario pharmacies' paper fallback and its reconciliation, as the simulator plays them.

sim/pharmacy.py step for step, so that `chaoslab twin` can compare paper_share and
paper_reconciled_once: a scenario dispense by pharmacy P (arrival n) that does not end ok
becomes the operation "paper_record" of process "P/p<n>", key the control number "C-P-n",
completed at once: ok when P's quota for the claim period allows one more paper prescription
(P keeps the paper: its final count is 1), else failed "deferred". Each ok record joins P's
backlog; a pharmacy with a backlog runs one reconcile loop, which waits `RECONCILE_EVERY_S`,
then registers the backlog oldest first ("reconcile" writes, key "reconcile:C-P-n"), and on
a failure doubles its wait, up to `MAX_RECONCILE_WAIT_S`.

The waits are scenario seconds: live they are divided by the run's speed, as the calendar is.
The claim period counts on the history's clock from time 0, as the simulator's and the paper
checkers' do. What goes on the wire differs from the history's keys only in being unique to
the run (the lab's database may outlive runs, and the portal registers a control number once
per pharmacy): `wire_key` is what the driver reads back in the final state.

This module holds the bookkeeping and the loop; the driver (`driver.LoadDriver`) does the
requests. The schedule's constants are the simulator's own, from `policies.quota`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import jdatetime

from mock_services.common.clock import AsyncSleep
from mock_services.seed import Person
from policies.quota import MAX_RECONCILE_WAIT_S, RECONCILE_EVERY_S, ClaimQuota
from scenario.history import History
from scenario.names import process_name, reconcile_key
from scenario.schema import parse_start

PAPER_RECORD = "paper_record"
RECONCILE = "reconcile"
DEFERRED = "deferred"
# what a paper prescription lists when registered: the pharmacy agent's (`pharmacy.py`) line;
# the scenario's stock keeps the tracking code and patient only
PAPER_ITEMS = ({"drug_code": "PARA500", "quantity": 1},)
WIRE_CONTROL_HEX = 16  # the portal's control numbers are 4-20 of [A-Za-z0-9-]


@dataclass(frozen=True, slots=True)
class PaperRecord:
    """A prescription pharmacy `pharmacy` dispensed on paper: its control number as the
    history names it ("C-pharmacy-3-17"), the control number and idempotency key its
    registration is sent with, who dispensed it to whom, and on which day (YYYYMMDD)."""

    pharmacy: str
    control: str
    wire_control: str
    wire_key: str
    pharmacist: Person
    patient: str
    day: str

    @property
    def key(self) -> str:
        """The history key of the record's registration ("reconcile:C-pharmacy-3-17")."""
        return reconcile_key(self.control)


@dataclass(slots=True)
class PaperBook:
    """The paper quota and the backlog of every pharmacy of one run, and the wire key of
    every registration (history key -> the key the portal was sent)."""

    max_share: float | None  # the policy set's paper_quota_share; None: no cap
    run_tag: str
    backlog: dict[str, list[PaperRecord]] = field(default_factory=dict)
    wire_keys: dict[str, str] = field(default_factory=dict)
    quota: ClaimQuota = field(init=False)  # the simulator's own bookkeeping

    def __post_init__(self) -> None:
        self.quota = ClaimQuota(self.max_share)

    def dispensed(self, pharmacy: str, now_s: float) -> None:
        """An electronic prescription counts towards the quota's denominator."""
        self.quota.dispensed(pharmacy, now_s)

    def fallback(self, history: History, pharmacy: str, n: int, now_s: float, *,
                 pharmacist: Person, patient: str, day: str) -> PaperRecord | None:
        """After pharmacy `pharmacy`'s failed dispense (arrival n): record it on paper, or
        defer it, in the history; the record when it starts the pharmacy's backlog (its
        reconcile loop must start), else None."""
        control = f"C-{pharmacy}-{n}"
        op = history.invoke(process_name(pharmacy, f"p{n}"), PAPER_RECORD, now_s, control, 0)
        if not self.quota.paper_allowed(pharmacy, now_s):
            history.complete(op, "fail", now_s, error=DEFERRED)
            return None
        history.complete(op, "ok", now_s)
        record = PaperRecord(pharmacy, control, self._wire_control(control),
                             f"{self.run_tag}.{reconcile_key(control)}", pharmacist,
                             patient, day)
        self.wire_keys[record.key] = record.wire_key
        pending = self.backlog.setdefault(pharmacy, [])
        pending.append(record)
        return record if len(pending) == 1 else None

    def _wire_control(self, control: str) -> str:
        """A control number for the portal, unique to the run and short enough for it."""
        digest = hashlib.blake2b(f"{self.run_tag}/{control}".encode(),
                                 digest_size=WIRE_CONTROL_HEX // 2)
        return digest.hexdigest()


async def reconcile(pending: list[PaperRecord], register: Callable[[PaperRecord], Awaitable[bool]],
                    sleep: AsyncSleep, speed: float = 1.0, *,
                    clock: Callable[[], float] | None = None, until: float | None = None) -> None:
    """Register a pharmacy's paper records, oldest first (`register`: True once the portal
    has it), until its backlog is empty; waits are scenario seconds divided by `speed`.
    With `until` (on `clock`: `policies.quota.reconcile_until_s`, the simulator's rule too)
    no wait that would end after it, and no registration, starts."""
    wait_s = RECONCILE_EVERY_S
    end = math.inf if until is None or clock is None else until
    now = clock or (lambda: 0.0)
    while pending:
        if now() + wait_s / speed > end:
            return
        await sleep(wait_s / speed)
        while pending:
            if now() >= end:
                return
            if not await register(pending[0]):  # the portal is still down: back off
                wait_s = min(2 * wait_s, MAX_RECONCILE_WAIT_S)
                break
            pending.pop(0)
            wait_s = RECONCILE_EVERY_S


def paper_day(start: str, scenario_s: float) -> str:
    """The Solar Hijri day (YYYYMMDD) of the calendar `scenario_s` seconds after the
    scenario's `start` ("1403-07-15T09:00"): the paper prescription's dispensing day."""
    when = parse_start(start) + jdatetime.timedelta(seconds=scenario_s)
    return f"{when.year:04d}{when.month:02d}{when.day:02d}"
