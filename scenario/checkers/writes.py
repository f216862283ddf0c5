"""Checkers of durability: no acknowledged write lost, none applied twice, queued writes
applied once, saved drafts restorable — judged from the ok writes and the final state.
"""

from __future__ import annotations

from collections import defaultdict

from scenario.checkers.index import Index, index
from scenario.checkers.params import Params
from scenario.checkers.windows import during, select_faults
from scenario.history import WRITE_FS, History
from scenario.verdict import Checker, Verdict

_ALL_WRITES = tuple(sorted(WRITE_FS))


def _sample(keys: list[str]) -> str:
    return ", ".join(repr(k) for k in keys[:3]) + (" ..." if len(keys) > 3 else "")


class LostWritesParams(Params):
    """Which writes must survive: every write operation by default."""

    fs: tuple[str, ...] = _ALL_WRITES


def lost_writes(params: LostWritesParams, name: str = "no_lost_writes") -> Checker:
    """A write acknowledged (ok, including 202 accepted) must show applied >= 1 at the end."""
    fs = frozenset(params.fs)

    def check(history: History) -> Verdict:
        ix = index(history)
        acked = sorted({c.key for c in ix.calls if c.ok and c.f in fs and c.key})
        if not acked:
            return Verdict(name, "unknown", "no acknowledged write in the history")
        problem = ix.finals_problem()
        if problem:
            return Verdict(name, "unknown", problem)
        lost = [k for k in acked if ix.applied(k) == 0]
        if lost:
            return Verdict(name, False, f"{len(lost)} of {len(acked)} acknowledged writes "
                                        f"lost (absent from the final state): {_sample(lost)}")
        return Verdict(name, True, f"all {len(acked)} acknowledged writes are in the final state")

    return check


class DuplicateWritesParams(Params):
    """No thresholds: a write applied twice is always a violation."""


def duplicate_writes(params: DuplicateWritesParams, name: str = "no_duplicate_writes") -> Checker:
    """No idempotency key may be applied more than once in the final state."""

    def check(history: History) -> Verdict:
        ix = index(history)
        problem = ix.finals_problem()
        if problem:
            return Verdict(name, "unknown", problem)
        assert ix.finals is not None  # a readable final state lists at least one key
        dup = sorted(k for k, n in ix.finals.items() if n >= 2)
        if dup:
            return Verdict(name, False, f"{len(dup)} of {len(ix.finals)} writes applied more "
                                        f"than once: {_sample(dup)}")
        return Verdict(name, True, f"each of {len(ix.finals)} writes applied at most once")

    return check


class QueuedWritesParams(Params):
    """Which writes, and during which faults (every fault kind when empty)."""

    fs: tuple[str, ...] = _ALL_WRITES
    fault_kinds: tuple[str, ...] = ()


def queued_writes_once(params: QueuedWritesParams, name: str = "queued_writes_once") -> Checker:
    """Writes made during a fault, and every 202-accepted write, end applied exactly once
    when acknowledged and at most once otherwise (a timeout may or may not have applied).
    """
    fs = frozenset(params.fs)

    def check(history: History) -> Verdict:
        ix = index(history)
        in_fault = during(select_faults(ix, params.fault_kinds))
        acked: dict[str, bool] = defaultdict(bool)
        for c in ix.calls:
            if c.f in fs and c.key and (c.value == "accepted"
                                        or in_fault(c.start_s)):
                acked[c.key] |= c.ok
        if not acked:
            return Verdict(name, "unknown", "no write was made during a fault or queued")
        problem = ix.finals_problem()
        if problem:
            return Verdict(name, "unknown", problem)
        bad = sorted(k for k, ok in acked.items()
                     if (ix.applied(k) != 1 if ok else ix.applied(k) > 1))
        if bad:
            return Verdict(name, False, f"{len(bad)} of {len(acked)} writes made during faults "
                                        f"or queued were not applied exactly once: "
                                        f"{_describe(ix, bad)}")
        return Verdict(name, True, f"all {len(acked)} writes made during faults or queued are "
                                   "applied once (acknowledged) or at most once (unknown)")

    return check


def _describe(ix: Index, keys: list[str]) -> str:
    return ", ".join(f"{k!r} applied {ix.applied(k)}x" for k in keys[:3]) + (
        " ..." if len(keys) > 3 else "")


class DraftsParams(Params):
    """Restore errors that mean the draft is gone (other errors are availability's)."""

    missing_errors: tuple[str, ...] = ("not_found", "http_404")


def drafts_restorable(params: DraftsParams, name: str = "drafts_restorable") -> Checker:
    """Every acknowledged save_draft is restorable: a later restore finds it, and the final
    state (when the history has one) still holds it.
    """
    missing = frozenset(params.missing_errors)

    def check(history: History) -> Verdict:
        ix = index(history)
        saved_at: dict[str, float] = {}
        for c in ix.calls:
            if c.f == "save_draft" and c.ok and c.key and c.end_s is not None:
                saved_at.setdefault(c.key, c.end_s)
        if not saved_at:
            return Verdict(name, "unknown", "no draft was saved")
        lost: set[str] = set()
        judged = 0
        for c in ix.calls:
            if c.f == "restore_draft" and c.key in saved_at and c.start_s >= saved_at[c.key]:
                judged += 1
                if c.outcome == "fail" and c.error in missing:
                    lost.add(c.key)
        if ix.finals is not None and not ix.bad_finals:
            judged += len(saved_at)
            lost.update(k for k in saved_at if ix.applied(k) == 0)
        if not judged:
            return Verdict(name, "unknown", f"{len(saved_at)} drafts saved, but none restored "
                                            "later and no final state")
        if lost:
            keys = sorted(lost)
            return Verdict(name, False, f"{len(keys)} of {len(saved_at)} saved drafts not "
                                        f"restorable: {_sample(keys)}")
        return Verdict(name, True, f"all {len(saved_at)} saved drafts restorable")

    return check
