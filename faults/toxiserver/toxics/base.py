"""The shape every toxic shares, and the stub through which it sees one stream.

As in Toxiproxy's toxics/*.go, a toxic is its attributes (a frozen dataclass of ints, the unit
in each field's comment) plus one coroutine, `pipe(stub)`, that moves chunks from
`stub.receive()` to `stub.send()`. Returning from `pipe` ends the stream: the pipeline closes
the output, and whatever the toxic still held is dropped on purpose.

A toxic never handles toxicity, direction or interrupts. The pipeline draws toxicity (and runs
`noop` instead), and interrupts a toxic (updated, or a neighbour added or removed) by
cancelling `pipe`; it then puts back what the stub says the toxic held, so no data is lost.
The contract that makes this possible: `send` forwards the next bytes of the chunk in hand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import Any, ClassVar, Self

from faults.toxiserver.channel import BUFFER_BYTES, Channel, Chunk
from faults.toxiserver.deadline import Deadlines


class ToxicStub:
    """One toxic's view of one direction of one connection: input, output, state, rng."""

    __slots__ = ("deadlines", "held", "input", "output", "rng", "saw_eof", "state")

    def __init__(self, input_: Channel, output: Channel, state: object | None) -> None:
        self.input = input_
        self.output = output
        self.state = state  # per connection and direction; survives restarts of the toxic
        self.rng = random.Random(0)  # replaced by the pipeline with a seeded one per run
        self.held: Chunk | None = None  # received but not yet (fully) sent
        self.saw_eof = False
        self.deadlines: Deadlines | None = None  # the loop's timerfd, set by the pipeline

    async def receive(self, timeout_s: float | None = None) -> Chunk | None:
        """The next chunk, or None at end of stream; TimeoutError after `timeout_s` of silence."""
        self.held = None
        if timeout_s is None:
            item = await self.input.get()
        else:
            async with asyncio.timeout(timeout_s):
                item = await self.input.get()
        if item is None:
            self.saw_eof = True
        self.held = item
        return item

    async def send(self, chunk: Chunk) -> None:
        """Forward `chunk`: the next bytes of the chunk in hand (or all of it)."""
        await self.output.put(chunk)
        held = self.held
        if held is not None:
            sent = len(chunk.data)
            self.held = None if sent >= len(held.data) else Chunk(held.data[sent:], held.arrival_s)

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (at once when <= 0); an interrupt cancels it like any await."""
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def sleep_until(self, deadline_s: float) -> None:
        """Wait until the loop's clock reads `deadline_s` (at once if it has passed).

        On the pipeline's loop the wait ends on a timerfd (deadline.py) to the tens of
        microseconds; elsewhere (a test's virtual clock) it is `sleep`.
        """
        if self.deadlines is not None:
            await self.deadlines.sleep_until(deadline_s)
        else:
            await self.sleep(deadline_s - asyncio.get_running_loop().time())

    async def stall(self) -> None:
        """Wait until interrupted or the connection closes."""
        await asyncio.get_running_loop().create_future()


@dataclasses.dataclass(frozen=True, slots=True)
class Toxic:
    """Base of every toxic: attributes as dataclass fields, behaviour in `pipe`."""

    wire_name: ClassVar[str]
    closes_on_removal: ClassVar[bool] = False  # timeout: removing it closes its connections
    resets_at_connect: ClassVar[bool] = False  # reset_peer: sockets get SO_LINGER 0
    buffer_bytes: ClassVar[int] = BUFFER_BYTES  # what the channel ahead of it may hold
    go_int: ClassVar[str] = "int64"  # the Go type of its attributes, named in type errors

    @classmethod
    def attribute_names(cls) -> tuple[str, ...]:
        """The attribute names, in wire order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def attributes(self) -> dict[str, Any]:
        """Every attribute of the type, for the JSON of the toxic."""
        return {name: getattr(self, name) for name in self.attribute_names()}

    def with_attributes(self, changes: dict[str, int]) -> Self:
        """A copy with `changes` merged in (only the given keys change)."""
        return dataclasses.replace(self, **changes)

    def problem(self) -> str | None:
        """Why these attributes cannot run (where the real server would crash), or None."""
        return None

    def new_state(self) -> object | None:
        """Per-connection state of a stateful toxic (limit_data), created when it starts."""
        return None

    async def pipe(self, stub: ToxicStub) -> None:
        """Move the stream from `stub.receive()` to `stub.send()`; return to end it."""
        raise NotImplementedError
