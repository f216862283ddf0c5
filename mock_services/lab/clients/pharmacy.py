"""The pharmacy agent: dispenses electronically, falls back to paper in an outage, reconciles.

Each prescription is decided once and the decision committed to the local queue before
anything else happens (`PharmacyStore`): electronic when the portal dispensed it; paper when
the portal is unreachable and the paper share stays within the quota (20 % of the period's
prescriptions, `policies.quota.PaperQuota`); deferred beyond it (the insured comes back, it
is served electronically after recovery). `reconcile` registers every paper prescription
with its control number as the idempotency key, and marks it done only after the portal's
acknowledgement: a kill in between re-sends the same key, which the portal applies once.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mock_services.common.clock import AsyncSleep, Now
from mock_services.lab.clients import http
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.pharmacy_store import Kind, PharmacyStore
from mock_services.lab.clients.replicas import ReplicaSet
from policies.decisions import Admit
from policies.presets import PolicySet
from policies.quota import PaperQuota
from scenario.history import History
from scenario.names import pharmacy_process, reconcile_key

OUTAGE_ERRORS = frozenset({"refused", "timeout", "shed", "breaker_open"})


@dataclass(frozen=True, slots=True)
class Prescription:
    """A prescription the insured presents: tracking code, national ID, drugs, and the
    control number the pharmacy writes on it should it go on paper."""

    tracking_code: str
    patient: str
    control_no: str
    items: tuple[Mapping[str, Any], ...] = field(default=({"drug_code": "PARA500",
                                                         "quantity": 1},))


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Who the pharmacy is, where its queue lives, where the portal is."""

    portal_urls: Mapping[str, str]
    db_path: Path
    national_id: str
    password: str
    policies: PolicySet
    period: str = "140406"  # the claim period (Solar Hijri YYYYMM)
    # once the portal is found down, serve customers on paper without trying it for this
    # long: the queue at the counter does not wait out every retry of every prescription
    outage_recheck_s: float = 5.0


def is_outage(done: http.Completion) -> bool:
    """True when the portal could not be reached or could not serve (not a refusal)."""
    if done.type == "ok":
        return False
    return done.error in OUTAGE_ERRORS or done.error.startswith("http_5") or done.type == "info"


class PharmacyAgent:
    """One pharmacy's agent; use as an async context manager."""

    def __init__(self, config: AgentConfig, history: History, *, rng: random.Random,
                 clock: Now = time.monotonic, sleep: AsyncSleep | None = None) -> None:
        self.config = config
        self.history = history
        self.rng = rng
        self.clock = clock
        self.sleep: AsyncSleep = sleep or asyncio.sleep
        self.store = PharmacyStore(config.db_path)
        self.pipeline = config.policies.user.build("portal")
        self.process = pharmacy_process(config.national_id)
        self._client: httpx.AsyncClient | None = None
        self._replicas = ReplicaSet(config.portal_urls)
        self._token: str | None = None
        self._down_until = -math.inf

    async def __aenter__(self) -> PharmacyAgent:
        self._client = httpx.AsyncClient(headers={"User-Agent": "chaoslab-pharmacy"})
        await self._replicas.poll_once(self._client)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
        self.store.close()

    async def _call(self, f: str, key: str, req: http.HttpRequest) -> http.Completion:
        assert self._client is not None, "use the agent as an async context manager"
        invoked = self.history.invoke(self.process, f, self.clock(), key=key,
                                      priority=api.PRIORITY.get(f, -1))
        done = await http.call(self._client, self._replicas, self.pipeline, req,
                               clock=self.clock, rng=self.rng, sleep=self.sleep)
        self.history.complete(invoked, done.type, self.clock(), value=done.value,
                              error=done.error)
        return done

    async def _login(self) -> http.Completion | None:
        """None when logged in; else the failed login."""
        if self._token is not None:
            return None
        done = await self._call("login", "", api.login(self.config.national_id,
                                                       self.config.password))
        body = done.response.json() if done.type == "ok" and done.response is not None else {}
        if isinstance(body.get("token"), str):
            self._token = body["token"]
            return None
        return done

    def _key(self, what: str, control_no: str) -> str:
        return f"{what}-{self.config.national_id}-{control_no}"

    async def serve(self, rx: Prescription) -> Kind | None:
        """Dispense `rx`, on paper or deferred in an outage; None if the portal refused it."""
        failed = None
        if self.clock() >= self._down_until:
            failed = await self._login()
        if failed is None and self.clock() >= self._down_until:
            assert self._token is not None
            key = self._key("dispense", rx.control_no)
            done = await self._call("dispense", key, api.dispense(
                self._token, key, rx.tracking_code, rx.patient))
            if done.type == "ok":
                self.store.add(rx.control_no, rx.tracking_code, rx.patient,
                               period=self.config.period, kind="electronic", now_s=self.clock())
                return "electronic"
            failed = done
        if failed is not None and not is_outage(failed):
            return None
        if failed is not None:
            self._down_until = self.clock() + self.config.outage_recheck_s
        kind: Kind = "paper" if isinstance(self._quota().request_paper(
            self.config.national_id, self.config.period), Admit) else "deferred"
        invoked = self.history.invoke(self.process, "paper_record", self.clock(),
                                      key=self._key("paper", rx.control_no), priority=0)
        self.store.add(rx.control_no, rx.tracking_code, rx.patient, period=self.config.period,
                       kind=kind, now_s=self.clock())
        if kind == "paper":
            self.history.complete(invoked, "ok", self.clock())
        else:
            self.history.complete(invoked, "fail", self.clock(), error="deferred")
        return kind

    def _quota(self) -> PaperQuota:
        """The quota as the durable queue says it stands (replayed: the queue is the truth)."""
        # the policy set's cap, as in the simulator; none (baseline): every one on paper
        quota = PaperQuota(self.config.policies.paper_quota_share or 1.0)
        counts = self.store.counts(self.config.period)
        for _ in range(counts["electronic"]):
            quota.record_electronic(self.config.national_id, self.config.period)
        for _ in range(counts["paper"]):
            # electronic ones first: every paper one admitted then was admitted now too
            quota.request_paper(self.config.national_id, self.config.period)
        return quota

    async def reconcile(self) -> int:
        """Register pending paper prescriptions and serve deferred ones; return how many
        are still pending (stops at the first outage: the link is still down)."""
        if await self._login() is not None:
            return len(self.store.pending("paper")) + len(self.store.pending("deferred"))
        assert self._token is not None
        for entry in self.store.pending("paper"):
            # the registration of paper prescription K is the write "reconcile:K", as the
            # simulator and the paper checkers name it
            key = reconcile_key(self._key("paper", entry.control_no))
            # the control number fixes the request, so a re-sent key matches its first body
            done = await self._call("reconcile", key, api.register_paper(
                self._token, key, entry.control_no, patient=entry.national_id,
                items=[{"drug_code": "PARA500", "quantity": 1}],
                dispensed_on=f"{entry.period}01"))
            if done.type != "ok" and done.error != "http_409":
                break
            self.store.mark_registered(entry.control_no, self.clock())
        for entry in self.store.pending("deferred"):
            key = self._key("dispense", entry.control_no) + "-late"
            done = await self._call("dispense", key, api.dispense(
                self._token, key, entry.tracking_code, entry.national_id))
            if done.type != "ok" and done.error != "http_409":
                break
            self.store.mark_registered(entry.control_no, self.clock())
        return len(self.store.pending("paper")) + len(self.store.pending("deferred"))
