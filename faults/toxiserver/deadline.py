"""Waking the event loop at a deadline to the tens of microseconds, not the millisecond.

asyncio's selector loop waits in `epoll_wait`, whose timeout is whole milliseconds: CPython
rounds every timeout up (selectors.EpollSelector), so a timer fires up to 1 ms after its
time, and the kernel adds a slack of 0.1 % of the timeout on top (0.1 ms for 100 ms). A
latency toxic's deadline counts from its chunk's arrival, so the loop's wait is set a little
after that arrival and the chunk leaves late by the time in between, on every chunk.

A timerfd armed at the absolute deadline (CLOCK_MONOTONIC, the clock of `loop.time()`)
wakes the same `epoll_wait` at the deadline, with the process's timer slack (50 µs by
default) and nothing else. One descriptor serves every sleeper of a loop: a heap of
deadlines, the timer armed at the earliest. Nothing spins: the loop sleeps in the kernel
until the timer fires.

`Deadlines.of(loop)` is None where timerfd is missing (not Linux, a libc without it) or the
loop keeps another clock (a test's virtual loop); callers then sleep with `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import heapq
import itertools
import math
import os
import time
import weakref

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    """The C library, if it has timerfd (glibc and musl on Linux)."""
    if time.get_clock_info("monotonic").implementation != "clock_gettime(CLOCK_MONOTONIC)":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.timerfd_create  # noqa: B018 - AttributeError where it is missing
        libc.timerfd_settime  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()
_OPEN: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deadlines | None]
_OPEN = weakref.WeakKeyDictionary()


def _close(fd: int) -> None:
    """Release a timer's descriptor once its loop is gone."""
    with contextlib.suppress(OSError):
        os.close(fd)


class Deadlines:
    """One timerfd on one loop, waking whoever sleeps until a deadline."""

    def __init__(self, loop: asyncio.AbstractEventLoop, libc: ctypes.CDLL, fd: int) -> None:
        self._loop = loop
        self._libc = libc
        self._fd = fd
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # ties keep their order, futures are never compared
        self._armed_s = math.inf
        loop.add_reader(fd, self._fired)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Deadlines | None:
        """The loop's timer (made on first use), or None where timerfd is unavailable."""
        if loop in _OPEN:
            return _OPEN[loop]
        deadlines = None
        stock_clock = type(loop).time is asyncio.BaseEventLoop.time  # time.monotonic()
        if _LIBC is not None and stock_clock:
            fd = _LIBC.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
            if fd >= 0:
                deadlines = cls(loop, _LIBC, fd)
                weakref.finalize(loop, _close, fd)
        _OPEN[loop] = deadlines
        return deadlines

    async def sleep_until(self, deadline_s: float) -> None:
        """Return at `deadline_s` (loop time) or just after; at once if it has passed."""
        if deadline_s <= self._loop.time():
            return
        future = self._loop.create_future()
        heapq.heappush(self._heap, (deadline_s, next(self._order), future))
        if deadline_s < self._armed_s:
            self._arm(deadline_s)
        await future

    def _arm(self, deadline_s: float) -> None:
        seconds = math.floor(deadline_s)
        nanoseconds = math.ceil((deadline_s - seconds) * 1e9)  # never before the deadline
        if nanoseconds >= 1_000_000_000:
            seconds, nanoseconds = seconds + 1, nanoseconds - 1_000_000_000
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(seconds, nanoseconds))
        if self._libc.timerfd_settime(self._fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None):
            self._loop.call_at(deadline_s, self._fired)  # refused: asyncio's timer, as before
        self._armed_s = deadline_s

    def _fired(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._fd, 8)
        now_s = self._loop.time()
        heap = self._heap
        while heap and heap[0][0] <= now_s:
            future = heapq.heappop(heap)[2]
            if not future.done():  # a cancelled sleeper left its entry behind
                future.set_result(None)
        self._armed_s = math.inf
        if heap:
            self._arm(heap[0][0])
