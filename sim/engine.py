"""The model's event loop: SimPy's `Environment`, stepping a timed run in one tight loop.

`Environment.run(until=t)` pops and fires events exactly as SimPy's `step` does, in the
same order, but inside one loop with its locals at hand instead of one method call and one
exception frame per event: a peak day fires some 10^7 events.
"""

from __future__ import annotations

from heapq import heappop
from typing import Any

import simpy
from simpy.core import SimTime
from simpy.events import URGENT


class Environment(simpy.Environment):
    """A `simpy.Environment` whose numeric `run(until=...)` is one tight loop."""

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
        queue = self._queue
        while True:
            self._now, _, _, event = heappop(queue)
            if event is stop:
                return None
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                # a failed event nobody handled: crash the run, as SimPy's step does
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
