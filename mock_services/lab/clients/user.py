"""One user operation as a person lives it: wait, maybe refresh, maybe give up.

DOMAIN.md: a user whose request takes more than about 10 s re-submits with probability
0.5–0.7 after 3–10 s more; the browser drops the first request (the portal may still finish
it: that is the refresh storm's extra load). A user who waits past their patience abandons.
Each submission is its own invoke/completion pair in the history, so the history shows every
request the portal really received.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace

from mock_services.common.clock import AsyncSleep, Now
from mock_services.lab.clients.http import Completion
from scenario.dists import Sampler, sampler
from scenario.history import History, Op
from scenario.schema import Workload

MIN_PATIENCE_S = 0.001  # a drawn patience of 0 still lets the request leave


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How patient users are (seconds of the run's clock)."""

    refresh_after_s: float = 10.0
    refresh_probability: float = 0.6
    min_refresh_pause_s: float = 3.0
    max_refresh_pause_s: float = 10.0
    max_refreshes: int = 2
    patience_s: float = 60.0
    # the scenario's users: patience drawn per user, refresh pauses drawn per refresh, and a
    # failed answer may be refreshed too (as the simulator's users do)
    patience: Sampler | None = None
    refresh_pause: Sampler | None = None
    refresh_on_failure: bool = False

    @classmethod
    def of_workload(cls, workload: Workload) -> Behaviour:
        """The users of a scenario's workload: its patience and refresh habit."""
        r = workload.refresh
        return cls(refresh_probability=r.probability, max_refreshes=r.max_refreshes,
                   patience=sampler(workload.patience), refresh_pause=sampler(r.delay),
                   refresh_on_failure=True)

    def for_user(self, rng: random.Random) -> Behaviour:
        """This behaviour with the user's own patience drawn (when it is a distribution)."""
        if self.patience is None:
            return self
        return replace(self, patience_s=max(self.patience(rng), MIN_PATIENCE_S), patience=None)

    def storming(self, max_retries: int, retry_delay_s: float) -> Behaviour:
        """This behaviour in a refresh storm: every failure or wait retried, without pause
        beyond `retry_delay_s`, up to `max_retries` times."""
        return replace(self, refresh_probability=1.0, max_refreshes=max_retries,
                       refresh_pause=lambda _rng: retry_delay_s, refresh_on_failure=True)

    def pause(self, rng: random.Random) -> float:
        """Seconds a refreshing user waits before submitting again."""
        if self.refresh_pause is not None:
            return self.refresh_pause(rng)
        return rng.uniform(self.min_refresh_pause_s, self.max_refresh_pause_s)

    def __post_init__(self) -> None:
        if not 0 <= self.refresh_probability <= 1:
            raise ValueError(f"refresh_probability {self.refresh_probability}: expected 0..1")
        if not 0 < self.min_refresh_pause_s <= self.max_refresh_pause_s:
            raise ValueError("refresh pauses: expected 0 < min_refresh_pause_s <= "
                             "max_refresh_pause_s")
        if not self.patience_s > 0 or not self.refresh_after_s > 0:
            raise ValueError("patience_s and refresh_after_s must be > 0")


async def _wait(task: asyncio.Task[Completion], timeout_s: float) -> bool:
    try:
        done, _ = await asyncio.wait({task}, timeout=max(0.0, timeout_s))
    except asyncio.CancelledError:  # the user is cancelled (the run's drain ended): so is
        task.cancel()  # the request, which would otherwise outlive the driver's HTTP client
        raise
    return bool(done)


async def perform(history: History, process: str, f: str, *, key: str, priority: int,
                  submit: Callable[[], Awaitable[Completion]], behaviour: Behaviour,
                  rng: random.Random, clock: Now, write: bool, value: str = "",
                  sleep: AsyncSleep = asyncio.sleep) -> Completion:
    """Run one user operation (with its refreshes); record every submission; return the last.

    `value` goes on each invoke (e.g. "wrong_password"). With `refresh_on_failure`, a failed
    answer is refreshed too, after a pause, while the user's patience (from the first
    submission) lasts.
    """
    refreshes = 0
    deadline = clock() + behaviour.patience_s
    while True:
        invoked = Op("invoke", process, f, clock(), key=key, value=value, priority=priority)
        history.append(invoked)
        started = clock()
        task = asyncio.ensure_future(submit())
        if await _wait(task, behaviour.refresh_after_s):
            done = _complete(history, invoked, task.result(), clock)
            if done.type == "ok" or not behaviour.refresh_on_failure or \
                    refreshes >= behaviour.max_refreshes or \
                    not rng.random() < behaviour.refresh_probability:
                return done
            pause = behaviour.pause(rng)
            if clock() + pause >= deadline:
                return done
            await sleep(pause)
            refreshes += 1
            continue
        refresh = refreshes < behaviour.max_refreshes and (
            rng.random() < behaviour.refresh_probability)
        if refresh:
            pause = behaviour.pause(rng)
            wait_s = min(pause, behaviour.patience_s - (clock() - started))
        else:
            wait_s = behaviour.patience_s - (clock() - started)
        if await _wait(task, wait_s):
            return _complete(history, invoked, task.result(), clock)
        task.cancel()
        # the browser dropped the request; a write may still be applied by the portal
        history.complete(invoked, "info" if write else "fail", clock(),
                         value="refreshed" if refresh else "abandoned", error="timeout")
        if not refresh:
            return Completion("info" if write else "fail", "abandoned", "timeout")
        refreshes += 1


USER_DEADLINE: ContextVar[float | None] = ContextVar("user_deadline", default=None)
"""The current scenario operation's patience deadline (the run's clock), for its submit."""


async def operation(history: History, process: str, f: str, *, key: str, priority: int,
                    submit: Callable[[], Awaitable[Completion]], behaviour: Behaviour,
                    rng: random.Random, clock: Now, value: str = "",
                    sleep: AsyncSleep = asyncio.sleep) -> Completion:
    """One scenario operation as the simulator's user does it (sim/client.py `operation`).

    One invoke; the user policy's attempts (each with its timeout, retries as it decides)
    bounded by the user's patience, which `submit` reads from `USER_DEADLINE`; after a failed
    answer a refresh with the behaviour's probability and pause, at most `max_refreshes`
    times, while patience lasts; one completion (a write whose outcome is unknown ends as
    info). Refreshes stay inside the one operation, as in the simulator, so a history counts
    each arrival once in either runner.
    """
    invoked = Op("invoke", process, f, clock(), key=key, value=value, priority=priority)
    history.append(invoked)
    deadline = clock() + behaviour.patience_s
    token = USER_DEADLINE.set(deadline)
    try:
        refreshes = 0
        while True:
            done = await submit()
            if done.type == "ok":
                return _complete(history, invoked, done, clock)
            if refreshes < behaviour.max_refreshes and \
                    rng.random() < behaviour.refresh_probability:
                pause = behaviour.pause(rng)
                if clock() + pause < deadline:
                    refreshes += 1
                    await sleep(pause)
                    continue
            return _complete(history, invoked, done, clock)
    finally:
        USER_DEADLINE.reset(token)


def _complete(history: History, invoked: Op, c: Completion, clock: Now) -> Completion:
    history.complete(invoked, c.type, clock(), value=c.value, error=c.error)
    return c
