"""`engine.Timers` fires exactly the timers plain `env.timeout`s would have fired for
something, at the same times and in the same order, among the same other events."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.engine import Environment, Timers


class Item:
    """A thing a timer may find done (answered) before it expires."""

    __slots__ = ("done", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.done = False


Log = list[tuple[float, str]]


def _play(seed: int, *, lazy: bool) -> Log:
    """Items arriving at random, each with a timer (mostly one fixed timeout, sometimes a
    shorter one, sometimes set at the very same instant as the one before) and an answer
    that often comes first; the log of expiries and answers, in firing order. The timers are
    `Timers` (`lazy`) or plain timeouts."""
    env, rng, log = Environment(), random.Random(seed), []

    def expire(item: Item) -> None:
        item.done = True
        log.append((env.now, f"expired {item.name}"))

    timers = Timers(env, expire)

    def plain(item: Item) -> Callable[[simpy.Event], None]:
        def fire(_event: simpy.Event) -> None:
            if not item.done:
                expire(item)
        return fire

    def answer(item: Item, after_s: float) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(after_s)
        if not item.done:
            item.done = True
            log.append((env.now, f"answered {item.name}"))

    def source() -> Generator[simpy.Event, Any, None]:
        for n in range(3000):
            if rng.random() > 0.2:  # 1 in 5 arrives at the same instant as the one before
                yield env.timeout(rng.expovariate(5.0))
            item = Item(str(n))
            timeout_s = 10.0 if rng.random() < 0.9 else rng.uniform(0.5, 10.0)
            if lazy:
                timers.add(env.now + timeout_s, item)
            else:
                env.timeout(timeout_s).callbacks.append(plain(item))
            env.process(answer(item, rng.choice([0.0, rng.expovariate(1.0), 10.0, 30.0])))

    env.process(source())
    env.run(until=1e6)
    return log


def test_timers_fire_as_plain_timers_would() -> None:
    for seed in (1, 2, 3):
        plain, lazy = _play(seed, lazy=False), _play(seed, lazy=True)
        assert sum(e.startswith("expired") for _, e in plain) > 100  # the timers do fire
        assert sum(e.startswith("answered") for _, e in plain) > 100  # and are often moot
        assert lazy == plain
