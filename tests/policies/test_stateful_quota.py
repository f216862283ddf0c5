"""Paper quota, reconciliation and the idempotency store against small models."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from policies.decisions import Admit, Reject
from policies.idempotency import Conflict as IdemConflict
from policies.idempotency import MemoryIdempotencyStore, New, Replay
from policies.quota import PaperQuota, Reconciler

pharmacies = st.sampled_from(["ph1", "ph2", "ph3"])
periods = st.sampled_from(["1404-01", "1404-02"])


class QuotaMachine(RuleBasedStateMachine):
    """Electronic and paper prescriptions in random order; reconciliation with repeats."""

    @initialize(share=st.sampled_from([0.2, 0.1, 0.5, 1.0, 0.33]))
    def setup(self, share: float) -> None:
        self.share = Fraction(str(share))
        self.quota = PaperQuota(share)
        self.counts: dict[tuple[str, str], list[int]] = {}  # electronic, paper, deferred
        self.reconciler = Reconciler()
        self.registered: set[tuple[str, str]] = set()

    def _c(self, ph: str, period: str) -> list[int]:
        return self.counts.setdefault((ph, period), [0, 0, 0])

    @rule(ph=pharmacies, period=periods)
    def electronic(self, ph: str, period: str) -> None:
        self.quota.record_electronic(ph, period)
        self._c(ph, period)[0] += 1

    @rule(ph=pharmacies, period=periods)
    def paper(self, ph: str, period: str) -> None:
        c = self._c(ph, period)
        fits = Fraction(c[1] + 1, c[0] + c[1] + 1) <= self.share
        answer = self.quota.request_paper(ph, period)
        assert answer == (Admit() if fits else Reject("deferred", None))
        c[1 if fits else 2] += 1

    @rule(ph=pharmacies, control=st.sampled_from(["100", "101", "102"]))
    def reconcile(self, ph: str, control: str) -> None:
        first = (ph, control) not in self.registered
        assert self.reconciler.register(ph, control) is first  # exactly once
        self.registered.add((ph, control))

    @invariant()
    def quota_never_exceeded_and_nothing_lost(self) -> None:
        for (ph, period), (electronic, paper, deferred) in getattr(self, "counts", {}).items():
            assert self.quota.counts(ph, period) == (electronic, paper, deferred)
            if electronic + paper:
                assert Fraction(paper, electronic + paper) <= self.share


TestQuotaMachine = QuotaMachine.TestCase

keys = st.sampled_from(["k1", "k2", "k3"])
payloads = st.sampled_from(["a", "b"])


class IdempotencyMachine(RuleBasedStateMachine):
    """Clients retrying writes with keys; a key's work must never be applied twice."""

    def __init__(self) -> None:
        super().__init__()
        self.store: MemoryIdempotencyStore[str] = MemoryIdempotencyStore()
        self.claimed: dict[str, str] = {}  # key -> payload, claimed and in progress
        self.done: dict[str, tuple[str, str]] = {}  # key -> (payload, response)
        self.applied: dict[str, int] = {}

    @rule(key=keys, payload=payloads)
    def begin(self, key: str, payload: str) -> None:
        answer = self.store.begin(key, payload)
        if key in self.done:
            p, response = self.done[key]
            assert answer == (Replay(response) if p == payload else IdemConflict(
                422, answer.reason if isinstance(answer, IdemConflict) else ""))
        elif key in self.claimed:
            assert isinstance(answer, IdemConflict)
            assert answer.status == (409 if self.claimed[key] == payload else 422)
        else:
            assert isinstance(answer, New)
            self.claimed[key] = payload

    @rule(key=keys, ok=st.booleans())
    def finish_or_abandon(self, key: str, ok: bool) -> None:
        if key not in self.claimed:
            return
        payload = self.claimed.pop(key)
        if ok:
            self.applied[key] = self.applied.get(key, 0) + 1
            self.store.finish(key, f"applied {payload}")
            self.done[key] = (payload, f"applied {payload}")
        else:
            self.store.abandon(key)

    @invariant()
    def a_key_never_applies_twice(self) -> None:
        assert all(n <= 1 for n in self.applied.values())
        assert len(self.store) == len(self.done)


TestIdempotencyMachine = IdempotencyMachine.TestCase
