"""The scenario pharmacies' paper bookkeeping (`clients.paper`) against the simulator's, without
a lab: the same failed dispenses give the same paper records, deferrals and backlogs; the
reconcile loop retries on the simulator's schedule; the final state counts the paper a
pharmacy keeps and the registrations under the keys they were sent with."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_services.lab.clients.driver import final_counts
from mock_services.lab.clients.paper import PaperBook, PaperRecord, paper_day, reconcile
from mock_services.seed import DEFAULT_SEED, demo_population
from policies.quota import CLAIM_PERIOD_S
from scenario.checkers.paper import MONTH_S
from scenario.history import FINAL, History, Op
from scenario.names import reconcile_key
from scenario.schema import load_scenario
from sim import pharmacy as sim_pharmacy
from sim import world as sim_world
from sim.policyset import policy_set

SCENARIO = Path(__file__).resolve().parents[3] / "scenarios" / "power_loss.toml"
PHARMACIST = demo_population(DEFAULT_SEED).pharmacies[0]
PATIENT = demo_population(DEFAULT_SEED).citizens[0].national_id
# (time_s, pharmacy, arrival n, dispensed ok): pharmacy-1 dispenses 4 electronically, then
# fails 3 times (under a 20 % cap: 1 on paper, 2 deferred); pharmacy-2 fails with no
# electronic one (deferred); all before the first reconcile try (300 s after the paper)
EVENTS = ([(float(t), "pharmacy-1", t, True) for t in range(1, 5)]
          + [(10.0, "pharmacy-1", 10, False), (11.0, "pharmacy-2", 11, False),
             (12.0, "pharmacy-1", 12, False), (13.0, "pharmacy-1", 13, False)])


def test_the_claim_period_is_the_checkers() -> None:
    assert CLAIM_PERIOD_S == MONTH_S  # the paper checkers' default claim period


def _sim_history(preset: str) -> tuple[list[tuple[str, str, str, str]], dict[str, list[str]]]:
    """The simulator's paper ops and backlogs over `EVENTS` (the world runs to each event's
    time; the reconcile loops it starts have not tried yet)."""
    scenario = load_scenario(SCENARIO)
    world = sim_world.World(scenario, policy_set(preset, scenario), seed=1)
    for t, pharmacy, n, ok in EVENTS:
        world.env.run(until=t)
        if ok:
            world.pharmacies.dispensed(pharmacy, t)
        else:
            sim_pharmacy.fallback(world, pharmacy, n)
    ops = [(op.type, op.process, op.key, op.error) for op in world.history.ops]
    return ops, world.pharmacies.backlog


def _live_history(preset: str) -> tuple[list[tuple[str, str, str, str]], PaperBook,
                                        list[PaperRecord]]:
    book = PaperBook(policy_set(preset, load_scenario(SCENARIO)).paper_quota_share, "r0a0b")
    history = History()
    firsts = []
    for t, pharmacy, n, ok in EVENTS:
        if ok:
            book.dispensed(pharmacy, t)
            continue
        first = book.fallback(history, pharmacy, n, t, pharmacist=PHARMACIST, patient=PATIENT,
                              day="14030715")
        if first is not None:
            firsts.append(first)
    return [(op.type, op.process, op.key, op.error) for op in history.ops], book, firsts


@pytest.mark.parametrize("preset", ["resilient", "baseline"])
def test_fallback_records_and_defers_as_the_simulator_does(preset: str) -> None:
    sim_ops, sim_backlog = _sim_history(preset)
    live_ops, book, firsts = _live_history(preset)
    assert live_ops == sim_ops
    assert {p: [r.control for r in rs] for p, rs in book.backlog.items()} == sim_backlog
    # a loop starts with each pharmacy's first record only
    assert [r.control for r in firsts] == [rs[0] for rs in sim_backlog.values()]


def test_resilient_keeps_paper_within_a_fifth_per_period() -> None:
    ops, book, _ = _live_history("resilient")
    done = [(process, key, error) for type_, process, key, error in ops if type_ != "invoke"]
    assert done == [("pharmacy-1/p10", "C-pharmacy-1-10", ""),
                    ("pharmacy-2/p11", "C-pharmacy-2-11", "deferred"),
                    ("pharmacy-1/p12", "C-pharmacy-1-12", "deferred"),
                    ("pharmacy-1/p13", "C-pharmacy-1-13", "deferred")]
    assert [r.control for r in book.backlog["pharmacy-1"]] == ["C-pharmacy-1-10"]
    record = book.backlog["pharmacy-1"][0]
    assert record.key == "reconcile:C-pharmacy-1-10"
    assert book.wire_keys == {record.key: "r0a0b.reconcile:C-pharmacy-1-10"}
    # a month later the electronic ones count no more: a new period, deferred again
    assert book.fallback(History(), "pharmacy-1", 99, MONTH_S + 5.0, pharmacist=PHARMACIST,
                         patient=PATIENT, day="14030815") is None
    for t in range(4):
        book.dispensed("pharmacy-1", MONTH_S + t)
    assert book.quota.paper_allowed("pharmacy-1", MONTH_S + 6.0)


def test_baseline_puts_every_failed_dispense_on_paper() -> None:
    ops, book, firsts = _live_history("baseline")
    assert all(error == "" for type_, _, _, error in ops if type_ != "invoke")
    assert [r.control for r in book.backlog["pharmacy-1"]] == [
        "C-pharmacy-1-10", "C-pharmacy-1-12", "C-pharmacy-1-13"]
    assert [r.pharmacy for r in firsts] == ["pharmacy-1", "pharmacy-2"]


def test_wire_control_numbers_are_the_portals_and_unique_to_the_run() -> None:
    ours, theirs = PaperBook(None, "r0001"), PaperBook(None, "r0002")
    history = History()
    a = ours.fallback(history, "pharmacy-40", 10**9, 0.0, pharmacist=PHARMACIST,
                      patient=PATIENT, day="14030715")
    b = theirs.fallback(history, "pharmacy-40", 10**9, 0.0, pharmacist=PHARMACIST,
                        patient=PATIENT, day="14030715")
    assert a is not None and b is not None
    assert a.control == b.control == "C-pharmacy-40-1000000000"  # the history's: 24 chars
    assert a.wire_control != b.wire_control
    for wire in (a.wire_control, b.wire_control):  # the portal's PaperIn.control_no
        assert 4 <= len(wire) <= 20 and wire.isalnum()


def _records(n: int) -> list[PaperRecord]:
    book = PaperBook(None, "r0a0b")
    history = History()
    for i in range(n):
        book.fallback(history, "pharmacy-1", i + 1, 0.0, pharmacist=PHARMACIST,
                      patient=PATIENT, day="14030715")
    return book.backlog["pharmacy-1"]


async def _loop(answers: list[bool], pending: list[PaperRecord], speed: float
                ) -> tuple[list[float], list[str]]:
    """Run the reconcile loop; the portal answers `answers` in turn; return the waits it
    asked for and the controls it tried, in order."""
    waits: list[float] = []
    tried: list[str] = []

    async def sleep(seconds: float) -> None:  # injected: the schedule is what is tested
        waits.append(seconds)

    async def register(record: PaperRecord) -> bool:
        tried.append(record.control)
        return answers.pop(0)

    await reconcile(pending, register, sleep, speed)
    return waits, tried


@pytest.mark.anyio
async def test_reconcile_backs_off_while_down_then_drains_oldest_first() -> None:
    pending = _records(3)
    # down, down, then up: the first succeeds, the second fails, then both succeed
    waits, tried = await _loop([False, False, True, False, True, True], pending, speed=1.0)
    assert waits == [300.0, 600.0, 1200.0, 600.0]
    assert tried == ["C-pharmacy-1-1"] * 3 + ["C-pharmacy-1-2"] * 2 + ["C-pharmacy-1-3"]
    assert pending == []


@pytest.mark.anyio
async def test_reconcile_waits_are_compressed_and_capped() -> None:
    pending = _records(1)
    waits, _ = await _loop([False] * 6 + [True], pending, speed=240.0)
    # 300 s doubling to the 3600 s cap, each divided by the speed (the calendar's)
    assert waits == [s / 240.0 for s in (300, 600, 1200, 2400, 3600, 3600, 3600)]


def test_final_counts_add_the_kept_paper_and_read_registrations_by_wire_key() -> None:
    history = History()
    for key, type_, f in (("C-pharmacy-1-10", "ok", "paper_record"),
                          ("C-pharmacy-1-12", "fail", "paper_record"),
                          (reconcile_key("C-pharmacy-1-10"), "ok", "reconcile"),
                          ("r0a0b.pharmacy-1-3.1", "ok", "dispense")):
        op = history.invoke("pharmacy-1/1", f, 1.0, key, 0)
        history.complete(op, type_, 2.0)  # type: ignore[arg-type]
    history.append(Op("info", FINAL, "applied", 3.0, key="ignored", value="9"))
    # the portal's counts are by the keys it was sent: the registration's is run-tagged
    applied = {"r0a0b.reconcile:C-pharmacy-1-10": 1, "r0a0b.pharmacy-1-3.1": 1}
    wire = {reconcile_key("C-pharmacy-1-10"): "r0a0b.reconcile:C-pharmacy-1-10"}
    assert final_counts(history, applied, wire) == {
        "C-pharmacy-1-10": 1, "C-pharmacy-1-12": 0, "reconcile:C-pharmacy-1-10": 1,
        "r0a0b.pharmacy-1-3.1": 1}


def test_paper_day_reads_the_scenario_calendar() -> None:
    assert paper_day("1403-07-15T09:00", 0.0) == "14030715"
    assert paper_day("1403-07-30T23:00", 7200.0) == "14030801"  # Mehr has 30 days


@pytest.mark.anyio
async def test_reconcile_stops_at_the_end_of_its_drain() -> None:
    """`until` (the simulator's rule, `policies.quota.reconcile_until_s`): no wait that would
    end after it and no registration at or after it start; the backlog stays on paper."""
    pending = _records(1)
    now = [0.0]
    waits: list[float] = []
    tried: list[float] = []

    async def sleep(seconds: float) -> None:  # a fake clock: the schedule is what is tested
        waits.append(seconds)
        now[0] += seconds

    async def register(record: PaperRecord) -> bool:
        tried.append(now[0])
        return False  # down to the end

    await reconcile(pending, register, sleep, 1.0, clock=lambda: now[0], until=1000.0)
    assert waits == [300.0, 600.0]  # the next, 1200 s, would end at 2100 > 1000
    assert tried == [300.0, 900.0] and len(pending) == 1
    assert await _loop([False, True], _records(1), speed=1.0) == ([300.0, 600.0],
                                                                   ["C-pharmacy-1-1"] * 2)
