"""Helpers of the lab tests: drive load while something happens to the lab, read its DB."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mock_services.lab.clients.driver import DriverConfig, LoadDriver
from mock_services.lab.clients.profile import RateProfile
from mock_services.lab.clients.user import Behaviour
from mock_services.lab.supervisor import Lab
from policies.presets import load_policy_set
from scenario.history import History, Op

# short human patience, so a test's tail is short; retries still run inside it
BEHAVIOUR = Behaviour(refresh_after_s=8.0, refresh_probability=0.0, min_refresh_pause_s=1.0,
                      max_refresh_pause_s=2.0, patience_s=12.0)


@dataclass
class Disruption:
    """Something done to the lab from a thread, `after_s` into the load."""

    after_s: float
    action: Callable[[], None]
    error: list[BaseException] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        def run() -> None:
            try:
                self.action()
            except BaseException as exc:  # reported by the test, not lost in the thread
                self.error.append(exc)
            finally:
                self.done.set()

        timer = threading.Timer(self.after_s, run)
        timer.start()
        return timer


# The portal limits logins per source address, and every client of the lab reaches it from
# 127.0.0.1 through its proxy: a few dozen active users who stay logged in across the tests
# (as browsers keep their sessions) keep logins within that limit.
ACTIVE_USERS = 10
SESSIONS: dict[str, dict[str, str]] = {}  # per lab (its run directory): national ID -> token


def drive(lab: Lab, profile: RateProfile, *, seed: int, policies: str = "resilient",
          disruption: Disruption | None = None) -> tuple[History, LoadDriver]:
    """Play `profile` against the lab (with `disruption` meanwhile); return the history."""
    admin = lab.admin()
    config = DriverConfig(lab.state.portal_urls(), load_policy_set(policies),
                          sms_url=admin.url("sms"), behaviour=BEHAVIOUR,
                          active_users=ACTIVE_USERS, admin_token=admin.token)
    driver = LoadDriver(config, rng=random.Random(seed),
                        sessions=SESSIONS.setdefault(str(lab.state.run_dir), {}))
    timer = disruption.start() if disruption else None
    try:
        history = asyncio.run(driver.run(profile))
    finally:
        if timer is not None:
            timer.join(timeout=60)
    if disruption is not None:
        assert disruption.done.wait(60), "the disruption did not finish"
        assert not disruption.error, disruption.error
    return history, driver


def completions(history: History) -> list[Op]:
    """Every completion of a client operation."""
    return [op for op in history.client_ops() if op.type != "invoke" and op.process != "policy"]


def portal_db(lab: Lab) -> Path:
    """The portal replicas' shared SQLite file."""
    return lab.state.run_dir / "data" / "portal" / "portal.sqlite3"


def keys_in_db(lab: Lab) -> dict[str, int]:
    """Idempotency key -> rows carrying it, read straight from the portal's database."""
    conn = sqlite3.connect(f"file:{portal_db(lab)}?mode=ro", uri=True, timeout=15)
    try:
        counts: dict[str, int] = {}
        for table, column in (("prescriptions", "idem_key"), ("prescriptions", "dispense_key"),
                              ("lists", "idem_key"), ("paper_prescriptions", "idem_key"),
                              ("draft_versions", "idem_key"), ("workshops", "idem_key")):
            for key, n in conn.execute(f"SELECT {column}, COUNT(*) FROM {table} "
                                       f"WHERE {column} IS NOT NULL GROUP BY {column}"):
                counts[key] = counts.get(key, 0) + n
        return counts
    finally:
        conn.close()
