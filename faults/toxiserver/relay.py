"""Streams whose reader can hand data straight to a callback: the no-toxic fast path.

A link without toxics has nothing to do with a chunk but write it to the other socket. Doing
that inside the protocol's callback, instead of buffering it in the StreamReader and waking
the link's reader task, saves a task switch and two copies per chunk (the benchmark's
throughput). While `relay` is unset, or something is already buffered, the reader is an
ordinary StreamReader, so order is kept when a link switches between the two paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, SupportsIndex

STREAM_LIMIT_BYTES = 256 * 1024  # StreamReader buffer: one recv's worth; measured best of 64K-1M

Connected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


class RelayReader(asyncio.StreamReader):
    """A StreamReader that passes data to `relay` while it is set and nothing is buffered."""

    def __init__(self, limit: int = STREAM_LIMIT_BYTES) -> None:
        super().__init__(limit=limit)
        self.relay: Callable[[bytes], None] | None = None
        self.buffered_bytes = 0  # fed but not yet read

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        chunk = bytes(data) if not isinstance(data, bytes) else data  # transports feed bytes
        if self.relay is not None and self.buffered_bytes == 0:
            self.relay(chunk)
            return
        self.buffered_bytes += len(chunk)
        super().feed_data(chunk)

    async def read(self, n: int = -1) -> bytes:
        data = await super().read(n)
        self.buffered_bytes -= len(data)
        return data


def relay_protocol(connected: Connected) -> Callable[[], asyncio.StreamReaderProtocol]:
    """A protocol factory for loop.create_server: streams with a RelayReader, like start_server."""
    return lambda: asyncio.StreamReaderProtocol(RelayReader(), connected)


async def open_relay_connection(host: str, port: int) -> tuple[RelayReader, asyncio.StreamWriter]:
    """asyncio.open_connection, with a RelayReader."""
    loop = asyncio.get_running_loop()
    reader = RelayReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.create_connection(lambda: protocol, host, port)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)
