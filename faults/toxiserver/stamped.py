"""Reading a socket with the kernel's arrival time of its bytes: the toxic chain's reader.

A latency deadline counts from when the bytes arrived. The loop's clock in the protocol's
callback is late by however long the proxy waited for a core after they came in, which
under CPU load is the scheduler's delay, added on top of the latency (in the benchmark's
loaded runs: p99 4-8 ms, worst 12-16 ms). With SO_TIMESTAMPNS, `recvmsg` also returns the
time the kernel received the last packet of the read (the latest one, so a deadline is never
early). That time is on the wall clock; reading the wall clock before the loop's clock turns
it into loop time on the late side, by the few microseconds between the two readings.

Like the `Splicer`, a `StampedReader` reads a duplicate of the socket's descriptor while the
transport's own reading is paused, and `stop` hands reading back to the transport. Reads
without a timestamp (the option refused, a wall-clock step) are stamped with the loop's time.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Python exposes it from 3.12 on
READ_BYTES = 256 * 1024  # as much as the selector transport reads at once
CMSG_BYTES = socket.CMSG_SPACE(16) if hasattr(socket, "CMSG_SPACE") else 0
MAX_AGE_S = 1.0  # the most a timestamp may move a deadline back (a wall-clock step)
AVAILABLE = hasattr(socket, "CMSG_SPACE") and os.uname().sysname == "Linux"

Stamped = Callable[[bytes, float], None]  # a read and its arrival, in loop time


def arrival_s(ancillary: list[tuple[int, int, bytes]], wall_s: float, loop_s: float) -> float:
    """The loop time the read's last packet arrived at, from its SO_TIMESTAMPNS message.

    `wall_s` was read before `loop_s`; without a timestamp (or with one from the future or
    from too long ago, as after a wall-clock step) the read counts as arriving at `loop_s`.
    """
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            age_s: float = wall_s - (seconds + nanoseconds / 1e9)
            if 0.0 <= age_s <= MAX_AGE_S:
                return loop_s - age_s
    return loop_s


class StampedReader:
    """Reads one transport's socket itself, handing each read and its arrival to `on_data`.

    `on_end(None)` at the end of the stream, `on_end(error)` when reading fails; the reader
    is closed then. `pause`/`resume` are the transport's, for the chain's back-pressure.
    """

    def __init__(self, src: asyncio.BaseTransport, on_data: Stamped,
                 on_end: Callable[[OSError | None], None]) -> None:
        sock = src.get_extra_info("socket")
        if sock is None:
            raise OSError("transport without a socket")
        self._transport = src
        # asyncio refuses add_reader on a transport's own descriptor: a duplicate, watched
        # only while the transport's reading is paused.
        self._sock = socket.socket(fileno=os.dup(sock.fileno()))
        try:
            self._sock.setblocking(False)
            self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            self._sock.close()
            raise
        self._loop = asyncio.get_running_loop()
        self._on_data = on_data
        self._on_end = on_end
        self.running = False  # reading instead of the transport
        self._paused = False
        self._closed = False

    def start(self) -> None:
        """Take over reading from the transport (nothing may be buffered in its reader)."""
        if self.running or self._closed:
            return
        self.running = True
        self._transport.pause_reading()  # type: ignore[attr-defined]
        if not self._paused:
            self._loop.add_reader(self._sock.fileno(), self._readable)

    def stop(self) -> None:
        """Give reading back to the transport."""
        if not self.running:
            return
        self.running = False
        self._loop.remove_reader(self._sock.fileno())
        if not self._paused and not self._transport.is_closing():
            self._transport.resume_reading()  # type: ignore[attr-defined]

    def pause(self) -> None:
        """Stop reading until `resume` (the chain ahead is full)."""
        self._paused = True
        if self.running:
            self._loop.remove_reader(self._sock.fileno())

    def resume(self) -> None:
        """Read again after `pause`."""
        self._paused = False
        if self.running and not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._readable)

    def close(self) -> None:
        """Stop reading and release the duplicate (idempotent); the transport stays paused."""
        if self._closed:
            return
        self._closed = True
        if self.running:
            self._loop.remove_reader(self._sock.fileno())
        self.running = False
        self._sock.close()

    def _readable(self) -> None:
        try:
            data, ancillary, _, _ = self._sock.recvmsg(READ_BYTES, CMSG_BYTES)
        except (BlockingIOError, InterruptedError):
            return  # a wake-up with nothing to read
        except OSError as exc:
            self.close()
            self._on_end(exc)
            return
        if not data:
            self.close()
            self._on_end(None)
            return
        wall_s = time.time()
        self._on_data(data, arrival_s(ancillary, wall_s, self._loop.time()))
