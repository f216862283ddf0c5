"""One direction of one proxied connection: the reader, a chain of toxic stages, a sink.

Like Toxiproxy's link.go, but an asyncio task per stage, joined by `Channel`s. With no toxics
the reader's protocol writes straight to the destination and, once bytes flow, hands the
stream to the kernel (`Splicer`, where splice exists): the fast path the benchmark measures.
It switches to the chain as soon as one is added and back once the chain has drained.

With toxics, only the stages are tasks. A `StampedReader` (where SO_TIMESTAMPNS exists; else
the reader's protocol) pushes each read into the first stage's channel as it arrives,
stamped with the time the kernel received its bytes (a latency deadline counts from there,
not from when the loop or a task got round to it), and the last stage writes into a `Sink`,
which writes to the destination socket at once: a chunk costs one task switch per toxic and
none for reading or writing, and a latency toxic's deadline, kept on the loop's timerfd
(deadline.py), is the moment its bytes reach the socket.

Changing the chain acts on the open connection at once (Toxiproxy's AddToxic, UpdateToxic,
RemoveToxic): the affected stage is interrupted by cancelling its task, what it held is put
back in the stream, the channels are re-plumbed and the stage restarts. Every (re)start draws
the stage's toxicity and its rng from a generator seeded by (seed, proxy, connection,
direction, toxic, run number), so a run replays whatever the interleaving of connections.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from faults.toxiserver.channel import Channel, Chunk, Item
from faults.toxiserver.deadline import Deadlines
from faults.toxiserver.entry import ToxicEntry
from faults.toxiserver.relay import RelayReader
from faults.toxiserver.splice import AVAILABLE as SPLICE_AVAILABLE
from faults.toxiserver.splice import Splicer
from faults.toxiserver.stamped import AVAILABLE as STAMP_AVAILABLE
from faults.toxiserver.stamped import StampedReader
from faults.toxiserver.toxics import NoopToxic, Toxic, ToxicStub

DIRECT_READ_BYTES = 8 * 1024 * 1024  # > the reader's buffer: take all of it, no memmove
HIGH_WATER_BYTES = 512 * 1024  # unsent bytes in the destination before waiting for it
NOOP = NoopToxic()

log = logging.getLogger("faults.toxiserver")


class Sink(Channel):
    """The end of a chain: every chunk put here is written to the destination at once.

    Toxiproxy's link ends in a goroutine copying the last channel to the socket; here that
    copy is a plain call, so the last stage's `send` is the socket write. `put` waits only
    while the destination's transport holds more than HIGH_WATER_BYTES unsent.
    """

    __slots__ = ("_dst", "_on_end", "sent_bytes")

    def __init__(self, dst: asyncio.StreamWriter, on_end: Callable[[], None]) -> None:
        super().__init__()
        self._dst = dst
        self._on_end = on_end
        self.sent_bytes = 0

    def full(self) -> bool:
        return self._dst.transport.get_write_buffer_size() > HIGH_WATER_BYTES

    async def wait_space(self) -> None:
        if self.full():
            try:
                await self._dst.drain()
            except OSError:
                self._on_end()

    async def put(self, item: Item) -> None:
        self.push(item)
        if item is not None:
            await self.wait_space()

    def push(self, item: Item) -> None:
        if item is None:
            self._on_end()  # the end of the stream closes the whole connection
            return
        self._dst.write(item.data)
        self.sent_bytes += len(item.data)

    def push_front(self, item: Item) -> None:
        self.push(item)

    async def get(self) -> Item:
        raise RuntimeError("a sink is written, never read")


@dataclass(slots=True)
class Stage:
    """One toxic of the chain, running on its stub."""

    entry: ToxicEntry
    stub: ToxicStub
    runs: int = 0
    task: asyncio.Task[None] | None = field(default=None)


class Link:
    """Moves one direction of a connection through the chain of that direction's toxics."""

    def __init__(
        self,
        key: str,
        src: RelayReader,
        src_transport: asyncio.BaseTransport,
        dst: asyncio.StreamWriter,
        *,
        entries: list[ToxicEntry],
        on_end: Callable[[], None],
    ) -> None:
        self.key = key  # seed/proxy/connection/direction: the root of every draw
        self._src = src
        self._src_transport = src_transport
        self._dst = dst
        self._loop = asyncio.get_running_loop()
        self._draining: asyncio.Task[None] | None = None  # the relay path waiting on dst
        self._waiting: asyncio.Task[None] | None = None  # the chain path waiting on stage 0
        self._on_end = on_end
        self.sink = Sink(dst, on_end)
        self.channels: list[Channel] = [Channel(e.toxic.buffer_bytes) for e in entries]
        self.channels.append(self.sink)
        self.stages = [
            Stage(e, ToxicStub(self.channels[i], self.channels[i + 1], e.toxic.new_state()))
            for i, e in enumerate(entries)
        ]
        self._received_bytes = 0
        self._sent_bytes = 0
        self._splicer: Splicer | None = None  # made on the first hand-over, then kept
        self._may_splice = SPLICE_AVAILABLE
        self._stamped: StampedReader | None = None  # the chain path's reader, once made
        self._may_stamp = STAMP_AVAILABLE
        self._deadlines = Deadlines.of(self._loop)
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def received_bytes(self) -> int:
        """Bytes read from the source so far, by either path."""
        spliced = self._splicer.received_bytes if self._splicer is not None else 0
        return self._received_bytes + spliced

    @property
    def sent_bytes(self) -> int:
        """Bytes written to the destination so far, by either path."""
        spliced = self._splicer.sent_bytes if self._splicer is not None else 0
        return self._sent_bytes + self.sink.sent_bytes + spliced

    def start(self) -> None:
        """Start every stage and the reader."""
        for stage in self.stages:
            self._start_stage(stage)
        self._spawn(self._read())

    def _spawn(self, coro: object) -> asyncio.Task[None]:
        task: asyncio.Task[None] = self._loop.create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def cancel(self) -> None:
        """Stop every task of this link but the caller's own."""
        self._src.relay = None
        if self._splicer is not None:
            self._splicer.close()
        if self._stamped is not None:
            self._stamped.close()
        current = asyncio.current_task()
        for task in list(self.tasks):
            if task is not current:
                task.cancel()
        for stage in self.stages:
            if stage.task is not None and stage.task is not current:
                stage.task.cancel()

    # -- the data path -------------------------------------------------------------------

    def _route(self) -> None:
        """Point the reader's protocol at the path of the moment (nothing may be buffered)."""
        if self.stages:
            self._src.relay = self._push
            self._stamp()
        else:
            if self._stamped is not None:
                self._stamped.stop()
            self._src.relay = self._relay

    def _stamp(self) -> None:
        """Read the chain path with the kernel's arrival times (stamped.py), where possible."""
        if self._stamped is None:
            if not self._may_stamp:
                return
            try:
                self._stamped = StampedReader(self._src_transport, self._push, self._stamped_end)
            except OSError as exc:  # out of descriptors, say: the transport still reads
                self._may_stamp = False
                log.info("arrival timestamps unavailable", extra={"link": self.key,
                                                                   "error": str(exc)})
                return
            if self._waiting is not None:
                self._stamped.pause()  # the chain is full: read once it has room
        self._stamped.start()

    def _stamped_end(self, error: OSError | None) -> None:
        """The stamped reader's end of stream, handed to `_read` as the transport's would be."""
        if error is None:
            self._src.feed_eof()
        else:
            self._src.set_exception(error)

    def _pause_reading(self) -> None:
        self._src_transport.pause_reading()  # type: ignore[attr-defined]
        if self._stamped is not None:
            self._stamped.pause()

    def _resume_reading(self) -> None:
        if self._stamped is not None:
            self._stamped.resume()
            if self._stamped.running:
                return  # it reads; the transport stays paused
        if not self._src_transport.is_closing():
            self._src_transport.resume_reading()  # type: ignore[attr-defined]

    async def _read(self) -> None:
        """Waits for the end of the stream; carries only what the reader buffered meanwhile."""
        src, dst = self._src, self._dst
        try:
            while True:
                if not src.buffered_bytes:
                    self._route()
                data = await src.read(DIRECT_READ_BYTES)
                if not data:
                    break
                self._received_bytes += len(data)
                if self.stages:
                    await self.channels[0].put(Chunk(data, self._loop.time()))
                else:
                    dst.write(data)
                    self._sent_bytes += len(data)
                    if dst.transport.get_write_buffer_size() > HIGH_WATER_BYTES:
                        await dst.drain()
        except OSError:
            pass  # a reset or a closed peer ends the stream like EOF
        if self.stages:
            await self.channels[0].put(None)
        else:
            self._on_end()

    def _push(self, data: bytes, arrival_s: float | None = None) -> None:
        """The chain path, called by the stamped reader (or the reader's protocol, which has
        no arrival time: now, then): queue the read with its arrival."""
        self._received_bytes += len(data)
        head = self.channels[0]
        head.push(Chunk(data, self._loop.time() if arrival_s is None else arrival_s))
        if self._waiting is None and head.target().full():
            self._pause_reading()
            self._waiting = self._spawn(self._resume_when_space(head))

    async def _resume_when_space(self, head: Channel) -> None:
        try:
            await head.wait_space()
        finally:
            self._waiting = None
        self._resume_reading()

    def _relay(self, data: bytes) -> None:
        """The fast path, called by the reader's protocol: write at once, pause if backed up.

        Where it can, it hands the stream over to the splicer.
        """
        self._received_bytes += len(data)
        self._sent_bytes += len(data)
        self._dst.write(data)
        if self._draining is not None:
            return
        unsent_bytes = self._dst.transport.get_write_buffer_size()
        if unsent_bytes > HIGH_WATER_BYTES:
            self._src_transport.pause_reading()  # type: ignore[attr-defined]
            self._draining = self._spawn(self._drain_then_resume())
        elif self._may_splice and not unsent_bytes:
            # Bytes flow this way and none wait in the transport, so spliced ones cannot
            # overtake them. Only then: a splicer waiting on an idle direction made the
            # other direction's toxic chain cost more CPU (bench_proxy's noop stream), and
            # idle or toxic directions keep their two descriptors.
            self._splice()

    def _splice(self) -> None:
        if self._splicer is None:
            try:
                self._splicer = Splicer(self._src_transport, self._dst.transport, self._on_end)
            except OSError as exc:  # out of descriptors, say: relaying still works
                self._may_splice = False
                log.info("splice unavailable; relaying", extra={"link": self.key,
                                                                "error": str(exc)})
                return
        self._splicer.start()

    async def _drain_then_resume(self) -> None:
        try:
            await self._dst.drain()
        except OSError:
            self._on_end()
            return
        finally:
            self._draining = None
        if not self._src_transport.is_closing():
            self._src_transport.resume_reading()  # type: ignore[attr-defined]

    # -- the chain -----------------------------------------------------------------------

    def _start_stage(self, stage: Stage) -> None:
        stage.runs += 1
        rng = random.Random(f"{self.key}/{stage.entry.name}/{stage.runs}")
        stage.stub.rng = rng
        stage.stub.deadlines = self._deadlines
        toxic = stage.entry.toxic if rng.random() < stage.entry.toxicity else NOOP
        stage.task = asyncio.get_running_loop().create_task(self._run(stage.stub, toxic))

    async def _run(self, stub: ToxicStub, toxic: Toxic) -> None:
        try:
            await toxic.pipe(stub)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("toxic failed; closing its stream", extra={"link": self.key})
        stub.output.target().push(None)

    async def _interrupt(self, stage: Stage) -> bool:
        """Stop the stage's toxic and put back what it held; False if it had ended."""
        task = stage.task
        if task is None or task.done():
            return False
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled():
            return False
        stub = stage.stub
        if stub.held is not None:
            stub.output.target().push(stub.held)
            stub.held = None
        if stub.saw_eof:
            stub.input.push_front(None)
            stub.saw_eof = False
        return True

    def _index(self, name: str) -> int | None:
        for i, stage in enumerate(self.stages):
            if stage.entry.name == name:
                return i
        return None

    async def add_toxic(self, entry: ToxicEntry) -> None:
        """Append a stage at the end of the chain, restarting the previous last one."""
        if self._splicer is not None and self._splicer.running:
            left = self._splicer.stop()
            if left:
                self._dst.write(left)  # ahead of anything the chain will write
        new_in = Channel(entry.toxic.buffer_bytes)
        tail = self.channels[-1]
        previous = self.stages[-1] if self.stages else None
        if previous is not None:
            if not await self._interrupt(previous):
                return  # the stream is ending; the new toxic would see nothing
            previous.stub.output = new_in
        self.channels.insert(len(self.channels) - 1, new_in)
        stage = Stage(entry, ToxicStub(new_in, tail, entry.toxic.new_state()))
        self.stages.append(stage)
        if not self._src.buffered_bytes:
            self._route()  # reads go to the chain from now on
        self._start_stage(stage)
        if previous is not None:
            self._start_stage(previous)

    async def update_toxic(self, entry: ToxicEntry) -> None:
        """Restart the toxic's stage with its new attributes and a fresh toxicity draw."""
        i = self._index(entry.name)
        if i is not None and await self._interrupt(self.stages[i]):
            self._start_stage(self.stages[i])

    async def remove_toxic(self, entry: ToxicEntry) -> None:
        """Take the toxic's stage out of the chain, keeping every byte in flight."""
        i = self._index(entry.name)
        if i is None:
            return
        stage = self.stages[i]
        if not await self._interrupt(stage):
            return
        if entry.toxic.closes_on_removal:
            self._on_end()
            return
        previous = self.stages[i - 1] if i > 0 else None
        restart = previous is not None and await self._interrupt(previous)
        self.channels[i].retire_into(self.channels[i + 1])
        del self.channels[i]
        del self.stages[i]
        if previous is not None:
            previous.stub.output = self.channels[i]
            if restart:
                self._start_stage(previous)
        if not self._src.buffered_bytes:
            self._route()  # the last one gone: reads are relayed (and spliced) again
