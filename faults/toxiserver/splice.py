"""Zero-copy forwarding of one direction through a kernel pipe: the no-toxic path on Linux.

Profiling the relay showed the proxy's time in the kernel copying every byte into Python and
back out (`recv` and `send`), not in Python. `os.splice` moves the socket's pages into a pipe
and from the pipe into the other socket without those two copies, as Go's io.Copy does
between two TCP connections.

While a `Splicer` runs, the source transport's reading is paused and the splicer reads the
socket itself; the destination transport must have nothing buffered (else spliced bytes would
overtake it). `stop` hands back what is still in the pipe, so that the caller writes it to the
destination before anything else, and resumes the source transport: the stream is the same
bytes in the same order whichever path carried them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Callable

AVAILABLE = hasattr(os, "splice")  # Linux only; elsewhere the link keeps its relay path
PIPE_BYTES = 1024 * 1024  # pipe capacity asked for: Linux's default pipe-max-size
SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


def _fileno(transport: asyncio.BaseTransport) -> int | None:
    sock = transport.get_extra_info("socket")
    return None if sock is None else int(sock.fileno())


class Splicer:
    """Moves one socket's stream into another through a pipe while started."""

    def __init__(self, src: asyncio.BaseTransport, dst: asyncio.BaseTransport,
                 on_end: Callable[[], None]) -> None:
        src_fd, dst_fd = _fileno(src), _fileno(dst)
        if src_fd is None or dst_fd is None:
            raise OSError("transport without a socket")
        self._src_transport = src
        self._on_end = on_end
        self._loop = asyncio.get_running_loop()
        # asyncio refuses add_reader on a transport's own descriptor; a duplicate names the
        # same socket and is only watched while the transport's reading is paused.
        self._src = os.dup(src_fd)
        self._dst = os.dup(dst_fd)
        self._pipe_r, self._pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with contextlib.suppress(OSError):  # a lower pipe-max-size: the 64 KiB default works
            fcntl.fcntl(self._pipe_w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._pending = 0  # bytes in the pipe, read from src but not yet written to dst
        self.received_bytes = 0
        self.sent_bytes = 0
        self.running = False
        self._closed = False

    @property
    def pending_bytes(self) -> int:
        """Bytes in the pipe: read from the source, not yet written to the destination."""
        return self._pending

    def start(self) -> None:
        """Take over reading the source; its transport's buffers must be empty."""
        if self.running or self._closed:
            return
        self.running = True
        self._src_transport.pause_reading()  # type: ignore[attr-defined]
        if self._pending:
            self._loop.add_writer(self._dst, self._writable)
        else:
            self._loop.add_reader(self._src, self._readable)

    def stop(self) -> bytes:
        """Give reading back to the source transport; the bytes left in the pipe, in order."""
        if not self.running:
            return b""
        self.running = False
        self._unwatch()
        left = bytearray()
        while self._pending:
            try:
                data = os.read(self._pipe_r, self._pending)
            except BlockingIOError:
                break
            left += data
            self._pending -= len(data)
        self.sent_bytes += len(left)  # the caller writes them to the destination
        if not self._src_transport.is_closing():
            self._src_transport.resume_reading()  # type: ignore[attr-defined]
        return bytes(left)

    def close(self) -> None:
        """Stop watching and release the duplicates and the pipe (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.running = False
        self._unwatch()
        for fd in (self._src, self._dst, self._pipe_r, self._pipe_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _unwatch(self) -> None:
        self._loop.remove_reader(self._src)
        self._loop.remove_writer(self._dst)

    def _end(self) -> None:
        self.close()
        self._on_end()

    def _readable(self) -> None:
        try:
            n = os.splice(self._src, self._pipe_w, PIPE_BYTES, flags=SPLICE_FLAGS)
        except BlockingIOError:
            return  # a wake-up with nothing to read
        except OSError:
            self._end()  # a reset ends the stream like EOF
            return
        if n == 0:
            self._end()
            return
        self.received_bytes += n
        self._pending += n
        if not self._flush() and not self._closed:
            # The destination is full: stop reading until it takes the pipe's bytes.
            self._loop.remove_reader(self._src)
            self._loop.add_writer(self._dst, self._writable)

    def _writable(self) -> None:
        if self._flush() and not self._closed:
            self._loop.remove_writer(self._dst)
            self._loop.add_reader(self._src, self._readable)

    def _flush(self) -> bool:
        """Write the pipe to the destination; False if the destination would block."""
        # True after an error too: the splicer is closed then, and callers check that.
        while self._pending:
            try:
                n = os.splice(self._pipe_r, self._dst, self._pending, flags=SPLICE_FLAGS)
            except BlockingIOError:
                return False
            except OSError:
                self._end()
                return True
            self._pending -= n
            self.sent_bytes += n
        return True
