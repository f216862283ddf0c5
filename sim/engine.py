"""The model's event loop: SimPy's `Environment` with less work per event, in the same order.

A peak day fires some 10^7 events, so the loop's own cost per event matters:

- `run(until=t)` pops and fires events exactly as SimPy's `step` does, in the same order,
  but inside one loop with its locals at hand instead of one method call and one exception
  frame per event;
- `timeout`, `event` and `process` are plain methods (SimPy binds its event classes to an
  environment at `__init__`, but only those named in the class itself, not in a subclass,
  so a subclass paid a bound-method allocation per `env.timeout`);
- a `Process`'s end becomes an event only when something waits on it (nothing waits on a
  client or a serve process);
- the cyclic garbage collector pauses while the loop runs: the model's objects are freed
  by reference counting as soon as they are done with (a run leaves a few hundred cycles),
  and the collector would only walk the ever longer history again and again, a fifth of
  a peak day's time (on CPython: PyPy frees nothing without its collector, which stays on);
- under PyPy the event queue is pushed and popped by `_pypy_heappush`/`_pypy_heappop`,
  which compare an entry's fields one by one where PyPy's heapq (Python, not C) compares
  whole tuples: a quarter of a peak day's simulation on PyPy, now an eighth; the same
  entry pops next either way (tests/sim/test_engine.py);
- an event scheduled for the very instant it is scheduled in (a process's Initialize, an
  event succeeded now, a zero timeout, a release or a grant: half of a peak day's events)
  waits in one of two FIFOs, URGENT and NORMAL, instead of the heap, and fires by the same
  (priority, id) against the heap's events due then: appending and popping a deque is
  cheaper than a push and a pop of a heap of hundreds (tests/sim/test_engine.py);
- `Workers` is SimPy's `Resource` (FIFO grants, a slot handed on when its release's event
  fires) without the request, release and queue objects, and with a grant left out when it
  would fire next;
- `Timers` keeps the clients' timeout timers, nearly all moot by the time they expire, out
  of the event queue but for the oldest live one, under the keys they would have had;
- `nothing_due()` tells a process that a zero timeout yielded now (or the Initialize of a
  process it starts) would be the very next event to fire, so it may go on at once instead
  (`start_now`): the same steps in the same order, with one event fewer.

An event left out (a process end nobody waits for, a zero timeout that would have fired
next) takes no event id, which only renumbers the later ones: their order is unchanged. A
moot timer left out takes its id and never fires, which changes nothing else.
"""

from __future__ import annotations

import gc
import sys
from collections import deque
from collections.abc import Callable, Generator
from heapq import heappop as _c_heappop
from heapq import heappush as _c_heappush
from operator import attrgetter
from typing import Any, Generic, Protocol, TypeVar

import simpy
from simpy.core import EmptySchedule, SimTime, StopSimulation
from simpy.events import NORMAL, PENDING, URGENT, EventPriority, Initialize, Timeout

_new = object.__new__
# CPython frees by reference counting (its cycle collector only walks the history) and has
# heapq in C; PyPy has neither: its collector is how anything is freed, so it stays on
# there, and its heapq is Python comparing whole tuples (`_pypy_heappush`)
_CPYTHON = sys.implementation.name == "cpython"

Entry = tuple[SimTime, EventPriority, int, simpy.Event]  # time, priority, id, event: SimPy's


def _pypy_heappush(heap: list[Entry], item: Entry) -> None:
    """heapq.heappush, comparing the entry's time, priority and id one by one (ids are
    unique: an event is never compared). Under PyPy, whose heapq is Python comparing whole
    tuples, this is about 3x as fast; the heap is the same kind of heap (a parent never
    after its children), so either module's pop takes the same entry next."""
    heap.append(item)
    pos = len(heap) - 1
    t, p, e = item[0], item[1], item[2]
    while pos > 0:
        up = (pos - 1) >> 1
        parent = heap[up]
        pt = parent[0]
        if t < pt or (t == pt and (p < parent[1] or (p == parent[1] and e < parent[2]))):
            heap[pos] = parent
            pos = up
        else:
            break
    heap[pos] = item


def _pypy_heappop(heap: list[Entry]) -> Entry:
    """heapq.heappop, comparing as `_pypy_heappush` does."""
    last = heap.pop()
    if not heap:
        return last
    first = heap[0]
    n = len(heap)
    t, p, e = last[0], last[1], last[2]
    pos, child = 0, 1
    while child < n:
        c = heap[child]
        if child + 1 < n:
            r = heap[child + 1]
            if r[0] < c[0] or (r[0] == c[0] and (r[1] < c[1] or (r[1] == c[1] and r[2] < c[2]))):
                child += 1
                c = r
        ct = c[0]
        if ct < t or (ct == t and (c[1] < p or (c[1] == p and c[2] < e))):
            heap[pos] = c
            pos = child
            child = 2 * pos + 1
        else:
            break
    heap[pos] = last
    return first


heappush: Callable[[list[Entry], Entry], None] = _c_heappush if _CPYTHON else _pypy_heappush
heappop: Callable[[list[Entry]], Entry] = _c_heappop if _CPYTHON else _pypy_heappop
_STARTED: simpy.Event = _new(simpy.Event)  # what a process's first step is resumed with
_STARTED._ok = True
_STARTED._value = None


class Process(simpy.Process):
    """A `simpy.Process` whose end is an event only when something waits on it."""

    def __init__(self, env: Environment, generator: Any, *, now: bool = False) -> None:
        if not hasattr(generator, "throw"):
            raise ValueError(f"{generator} is not a generator.")
        self.env = env
        self.callbacks = []
        self._generator = generator
        if now:  # see `Environment.start_now`
            caller = env._active_proc
            self._resume(_STARTED)
            env._active_proc = caller
            return
        init: Initialize = _new(Initialize)
        init.env = env
        init.callbacks = [self._resume]
        init._value = None
        init._ok = True
        env._urgent.append((next(env._eid), init))
        self._target = init

    def _resume(self, event: simpy.Event) -> None:
        """SimPy's `Process._resume`, step for step, but for the end of the generator."""
        env = self.env
        env._active_proc = self
        generator = self._generator
        while True:
            try:
                if event._ok:
                    event = generator.send(event._value)
                else:
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = generator.throw(exc)
            except StopIteration as stop:
                event = None  # type: ignore[assignment]
                self._ok = True
                self._value = stop.value
                if self.callbacks:
                    env.schedule(self)
                else:  # nobody waits: processed at once, as if its end event had fired
                    self.callbacks = None  # type: ignore[assignment]
                break
            except BaseException as exc:
                event = None  # type: ignore[assignment]
                self._ok = False
                exc.__traceback__ = exc.__traceback__.tb_next  # type: ignore[union-attr]
                self._value = exc
                env.schedule(self)  # an unhandled failure still crashes the run
                break
            callbacks = event.callbacks
            if callbacks is not None:
                callbacks.append(self._resume)
                break
        self._target = event
        env._active_proc = None


class Environment(simpy.Environment):
    """A `simpy.Environment` whose numeric `run(until=...)` is one tight loop."""

    now = property(attrgetter("_now"), doc="The current simulation time.")

    def __init__(self, initial_time: SimTime = 0.0) -> None:
        # a float from the start: an event popped from the heap set `now` to its (float)
        # time, but one due in the instant it was scheduled in leaves `now` as it is
        super().__init__(float(initial_time))
        self._solo = False  # the event being fired has one callback (set by `run` only)
        # events due at this very instant, scheduled in it: (id, event), oldest first
        self._urgent: deque[tuple[int, simpy.Event]] = deque()
        self._normal: deque[tuple[int, simpy.Event]] = deque()

    def schedule(self, event: simpy.Event, priority: EventPriority = NORMAL,
                 delay: SimTime = 0) -> None:
        """SimPy's `schedule`: an event due now to its instant's queue, any other to the
        heap."""
        at = self._now + delay
        if at != self._now:
            heappush(self._queue, (at, priority, next(self._eid), event))
        elif priority == NORMAL:
            self._normal.append((next(self._eid), event))
        elif priority == URGENT:
            self._urgent.append((next(self._eid), event))
        else:  # another priority (SimPy's StopSimulation resumes at -1): the heap orders it
            heappush(self._queue, (at, priority, next(self._eid), event))

    def timeout(self, delay: SimTime = 0, value: Any = None) -> Timeout:
        """A `simpy.Timeout` of `delay`, scheduled as its own `__init__` does."""
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        event: Timeout = _new(Timeout)
        event.env = self
        event.callbacks = []
        event._value = value
        event._delay = delay
        event._ok = True
        at = self._now + delay
        if at == self._now:
            self._normal.append((next(self._eid), event))
        else:
            heappush(self._queue, (at, NORMAL, next(self._eid), event))
        return event

    def event(self) -> simpy.Event:
        """A new untriggered `simpy.Event`."""
        return simpy.Event(self)

    def process(self, generator: Any) -> Process:
        """Start `generator` as a `Process`."""
        return Process(self, generator)

    def start_now(self, generator: Any) -> Process:
        """Start `generator` as a `Process` and run its first step at once, in the caller's
        step, instead of from an Initialize event. Only when `nothing_due()` (its Initialize
        would have fired next) and the caller's step schedules nothing more for this instant.
        """
        return Process(self, generator, now=True)

    def nothing_due(self) -> bool:
        """True when a zero timeout yielded now would fire next: no other event is due at
        this instant and the event being fired has no other callback left to run."""
        queue = self._queue
        return self._solo and not self._urgent and not self._normal and (
            not queue or queue[0][0] > self._now)

    def _pop_now(self) -> simpy.Event:
        """The next event when one scheduled in this instant is due now: the first, by
        (priority, id), of the instant's queues' heads and the heap's top if it is due now."""
        queue, urgent, normal = self._queue, self._urgent, self._normal
        top = queue[0] if queue and queue[0][0] == self._now else None
        if urgent:
            if top is not None and (top[1] < URGENT or (
                    top[1] == URGENT and top[2] < urgent[0][0])):
                return heappop(queue)[3]
            return urgent.popleft()[1]
        if top is not None and (top[1] < NORMAL or top[2] < normal[0][0]):
            return heappop(queue)[3]
        return normal.popleft()[1]

    def peek(self) -> SimTime:
        """The time of the next event (infinity when there is none)."""
        if self._urgent or self._normal:
            return self._now
        return super().peek()

    def step(self) -> None:
        """SimPy's `step`, taking the next event as `run` does."""
        if self._urgent or self._normal:
            event = self._pop_now()
        else:
            try:
                self._now, _, _, event = heappop(self._queue)
            except IndexError:
                raise EmptySchedule from None
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:  # the rest of its callbacks run when the simulation resumes
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            self.schedule(event, EventPriority(-1))
            raise
        if not event._ok and not hasattr(event, "_defused"):
            _crash(event)

    def run(self, until: SimTime | simpy.Event | None = None) -> Any | None:
        """Fire every event before `until` (a time); other forms go to SimPy's own loop."""
        if until is None or isinstance(until, simpy.Event):
            return super().run(until)
        at = float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = simpy.Event(self)
        stop._ok = True
        stop._value = None
        self.schedule(stop, URGENT, at - self._now)  # before every event due at `at`
        queue, urgent, normal = self._queue, self._urgent, self._normal
        self._solo = True
        collecting = gc.isenabled() and _CPYTHON
        if collecting:
            gc.disable()  # see the module docstring
        try:
            while True:
                if urgent or normal:
                    event = self._pop_now()
                else:
                    self._now, _, _, event = heappop(queue)
                if event is stop:
                    return None
                callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
                if len(callbacks) == 1:
                    callbacks[0](event)
                else:
                    self._solo = False
                    for callback in callbacks:
                        callback(event)
                    self._solo = True
                if not event._ok and not hasattr(event, "_defused"):
                    _crash(event)
        finally:
            self._solo = False
            if collecting:
                gc.enable()


def _crash(event: simpy.Event) -> None:
    """A failed event nobody handled crashes the run, as SimPy's step does: with a copy of
    its exception."""
    exc = type(event._value)(*event._value.args)
    exc.__cause__ = event._value
    raise exc


class Pending(Protocol):
    """What `Timers` holds: a thing whose timer is moot once it is `done`."""

    done: bool


P = TypeVar("P", bound=Pending)


class Timers(Generic[P]):
    """Timers that rarely fire, kept out of the event queue while they would do nothing.

    A client's timeout timer is set for every attempt the portal admits, and nearly every
    one finds its attempt answered long before it expires: in the event queue, each would
    be pushed, popped and fired for nothing (a third of a peak day's events). Here a timer
    takes its event id when it is set, as `Environment.timeout` does, and waits in a FIFO
    deque; only the oldest live one is in the event queue, under that same (time, priority,
    id) key, so it fires exactly when and in the order the plain timer would have. A timer
    whose item is `done` by the time it would enter the queue is dropped: it would have done
    nothing (nor delayed anything: a step that fires it schedules nothing). A timer that
    would expire before the newest one waiting (a shorter timeout) goes to the event queue
    at once, as a plain timer.
    """

    __slots__ = ("_armed", "_expire", "_fire_head", "_waiting", "env")

    def __init__(self, env: Environment, expire: Callable[[P], None]) -> None:
        self.env = env
        self._expire = expire  # what an expiry does to a live item
        self._waiting: deque[tuple[float, int, P]] = deque()  # time, event id, item
        self._armed = False  # the oldest waiting timer is in the event queue
        self._fire_head = self._fire  # bound once

    def add(self, at_s: float, item: P) -> None:
        """Call `expire(item)` at `at_s` unless `item` is done by then."""
        env = self.env
        eid = next(env._eid)
        waiting = self._waiting
        if waiting and at_s < waiting[-1][0]:  # out of order: a plain timer
            event: simpy.Event = _new(simpy.Event)
            event.env = env
            event.callbacks = [lambda _: self._expire_live(item)]
            event._ok = True
            event._value = None
            heappush(env._queue, (at_s, NORMAL, eid, event))
            return
        waiting.append((at_s, eid, item))
        if not self._armed:
            self._arm()

    def _expire_live(self, item: P) -> None:
        if not item.done:
            self._expire(item)

    def _arm(self) -> None:
        """Put the oldest waiting timer whose item is not done into the event queue."""
        waiting = self._waiting
        while waiting and waiting[0][2].done:
            waiting.popleft()
        if not waiting:
            self._armed = False
            return
        at_s, eid, _ = waiting[0]
        env = self.env
        event: simpy.Event = _new(simpy.Event)
        event.env = env
        event.callbacks = [self._fire_head]
        event._ok = True
        event._value = None
        heappush(env._queue, (at_s, NORMAL, eid, event))
        self._armed = True

    def _fire(self, _event: simpy.Event) -> None:
        _, _, item = self._waiting.popleft()
        self._expire_live(item)
        self._arm()


WITHDRAWN = "withdrawn"  # the value a withdrawn grant resumes its waiter with


class Workers:
    """A `simpy.Resource` of `capacity` slots that grants them in the same order, cheaper.

    `yield from workers.acquire()` takes a slot, waiting in FIFO order; `release()` gives it
    back. As in SimPy, a released slot is free at once, a request finds it only if nobody
    waits, and a waiter gets it when the release's own event fires (SimPy's `Release`). A
    grant is an event the waiter resumes on, left out when it would fire next
    (`nothing_due`). `count` and `len(queue)` are SimPy's `count` and `len(queue)`.
    """

    __slots__ = ("_grant_head", "capacity", "count", "env", "queue")

    def __init__(self, env: Environment, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError('"capacity" must be > 0.')
        self.env = env
        self.capacity = capacity
        self.count = 0  # slots held
        self.queue: deque[simpy.Event] = deque()  # the waiters' grants, oldest first
        self._grant_head = self._grant  # bound once: every release's event calls it

    def acquire(self) -> Generator[simpy.Event, Any, None]:
        """Take a slot, waiting for one if none is free (a generator: `yield from`)."""
        grant = self.request()
        if grant is not None:
            yield grant

    def request(self) -> simpy.Event | None:
        """`acquire` for a caller that may withdraw: None when a slot is taken at once, else
        the grant event to yield, which `withdraw` may take back while it waits."""
        env = self.env
        if self.count < self.capacity and not self.queue and env.nothing_due():
            self.count += 1  # granted at once, and its grant would have fired next
            return None
        grant: simpy.Event = _new(simpy.Event)
        grant.env = env
        grant.callbacks = []
        grant._value = PENDING
        self.queue.append(grant)
        self._grant()
        return grant

    def withdraw(self, grant: simpy.Event) -> bool:
        """Take a waiting request out of the queue (its waiter resumes at once with
        `WITHDRAWN`); False when it already has a slot."""
        if grant._value is not PENDING:
            return False
        self.queue.remove(grant)
        grant._ok = True
        grant._value = WITHDRAWN
        env = self.env
        env._urgent.append((next(env._eid), grant))
        return True

    def release(self) -> None:
        """Give a slot back; the first waiter gets it when this release's event fires."""
        self.count -= 1
        env = self.env
        event: simpy.Event = _new(simpy.Event)
        event.env = env
        event.callbacks = [self._grant_head]
        event._ok = True
        event._value = None
        env._normal.append((next(env._eid), event))

    def _grant(self, _event: simpy.Event | None = None) -> None:
        """SimPy's `_trigger_put`: the oldest waiter gets a slot if one is free."""
        queue = self.queue
        if queue and self.count < self.capacity:
            self.count += 1
            grant = queue.popleft()
            grant._ok = True
            grant._value = None
            env = self.env
            env._normal.append((next(env._eid), grant))
