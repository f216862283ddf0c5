"""The splicer on real loopback sockets: its hand-over keeps every byte in order, EOF ends it."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from faults.toxiserver.splice import AVAILABLE, Splicer

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="os.splice is Linux only")

DEADLINE_S = 10.0  # generous: the machine running the suite is shared and loaded


class _Collect(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.eof = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        self.eof.set()


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        outer = socket.create_connection(server.getsockname())
        inner, _ = server.accept()
    return outer, inner


async def _transport(sock: socket.socket) -> tuple[asyncio.Transport, _Collect]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_accepted_socket(_Collect, sock)
    return transport, protocol


async def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    got = bytearray()
    async with asyncio.timeout(DEADLINE_S):
        while len(got) < size:
            data = await loop.sock_recv(sock, size - len(got))
            assert data, "closed early"
            got += data
    return bytes(got)


async def _stop_while_destination_full() -> tuple[bytes, bytes]:
    payload = bytes(range(251)) * 40_000  # ~10 MB, more than the kernel buffers can hold
    src_peer, src = _tcp_pair()
    dst, dst_peer = _tcp_pair()
    dst_peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    dst_peer.setblocking(False)
    src_transport, src_protocol = await _transport(src)
    dst_transport, _ = await _transport(dst)
    splicer = Splicer(src_transport, dst_transport, on_end=lambda: None)

    def send() -> None:
        src_peer.sendall(payload)
        src_peer.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    splicer.start()
    deadline_s = asyncio.get_running_loop().time() + DEADLINE_S
    while not splicer.pending_bytes:  # the destination does not read: the pipe fills
        assert asyncio.get_running_loop().time() < deadline_s, "the pipe never filled"
        await asyncio.sleep(0.01)  # a poll with a deadline: the splicer announces nothing
    left = splicer.stop()
    assert left  # what was in the pipe comes back, to be written ahead of anything else
    dst_transport.write(left)
    through_dst = await _recv_exactly(dst_peer, splicer.sent_bytes)
    async with asyncio.timeout(DEADLINE_S):
        await src_protocol.eof.wait()  # the rest went to the source's own transport
    splicer.close()
    for transport in (src_transport, dst_transport):
        transport.close()
    src_peer.close()
    dst_peer.close()
    return through_dst + bytes(src_protocol.data), payload


def test_stop_hands_back_the_pipe_and_loses_or_reorders_nothing() -> None:
    got, payload = asyncio.run(_stop_while_destination_full())
    assert len(got) == len(payload)
    assert got == payload


async def _end_of_stream() -> bytes:
    src_peer, src = _tcp_pair()
    dst, dst_peer = _tcp_pair()
    dst_peer.setblocking(False)
    src_transport, _ = await _transport(src)
    dst_transport, _ = await _transport(dst)
    ended = asyncio.Event()
    splicer = Splicer(src_transport, dst_transport, on_end=ended.set)
    splicer.start()
    src_peer.sendall(b"last words")
    src_peer.close()
    got = await _recv_exactly(dst_peer, len(b"last words"))
    async with asyncio.timeout(DEADLINE_S):
        await ended.wait()
    assert not splicer.running
    splicer.close()  # idempotent after the end closed it
    for transport in (src_transport, dst_transport):
        transport.close()
    dst_peer.close()
    return got


def test_end_of_stream_calls_on_end_after_the_last_bytes() -> None:
    assert asyncio.run(_end_of_stream()) == b"last words"
