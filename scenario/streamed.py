"""A history indexed, and written when asked, while it is recorded, and not kept.

A full-scale day records 1.5 * 10^7 ops (2.4 GB of them under PyPy). Kept in a list until
the run ends, they took the worker to 6.1 GB (each new page a fault, about 6 us of system
time on this VM), and the index and the JSON lines then read them all back from memory. A
`StreamedHistory` hands each chunk of ops, as it fills, to an `Indexer` and (given a path)
to history.jsonl, and drops it: the ops die young, the worker peaks at about 4 GB, and the
index and the file are those of the whole history (tests/scenario/test_streamed.py).

A runner that only summarises a seed, or summarises it and writes its history.jsonl where it
ran (`sim.runner.run_seed`), records into one of these; a runner that needs the ops
themselves (the twin, a Dask worker shipping them back) records into a plain `History`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from scenario.checkers.index import Index, Indexer
from scenario.history import JSONL_CHUNK, History, Op, OpType, jsonl_bytes

CHUNK = JSONL_CHUNK  # ops indexed and written together, as `History.write_jsonl` formats them


class StreamedHistory(History):
    """A history whose ops go to an index (and a file) as they come; use it as a context
    manager: leaving the block finishes the index and moves the file into place, and an
    exception removes the partial file instead."""

    __slots__ = ("_count", "_file", "_index", "_indexer", "_path", "_tmp")

    def __init__(self, path: Path | None = None) -> None:
        super().__init__([])
        self._indexer = Indexer()
        self._index: Index | None = None
        self._count = 0  # ops handed on
        self._path = path
        self._tmp = None if path is None else path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._file: BinaryIO | None = None

    def __enter__(self) -> StreamedHistory:
        if self._tmp is not None:
            self._file = self._tmp.open("wb")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._flush()
                self._index = self._indexer.finish()
                if self._file is not None and self._path is not None and self._tmp is not None:
                    self._file.close()
                    os.replace(self._tmp, self._path)
        finally:
            if self._file is not None:
                self._file.close()
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)  # gone already when it was moved

    # -- recording: the base class's, then a flush when a chunk is full ------------------
    def append(self, op: Op) -> None:
        """Record one event."""
        self.ops.append(op)
        if len(self.ops) >= CHUNK:
            self._flush()

    def invoke(self, process: str, f: str, time_s: float, key: str = "", priority: int = -1) -> Op:
        """Record and return the start of a client operation."""
        op = History.invoke(self, process, f, time_s, key, priority)
        if len(self.ops) >= CHUNK:
            self._flush()
        return op

    def complete(self, invoked: Op, type_: OpType, time_s: float, value: str = "",
                 error: str = "") -> Op:
        """Record the completion (ok / fail / info) of an invoked operation."""
        op = History.complete(self, invoked, type_, time_s, value, error)
        if len(self.ops) >= CHUNK:
            self._flush()
        return op

    def fault(self, start: bool, kind: str, target: str, time_s: float) -> Op:
        """Record that a fault started or stopped."""
        op = History.fault(self, start, kind, target, time_s)
        if len(self.ops) >= CHUNK:
            self._flush()
        return op

    def _flush(self) -> None:
        ops = self.ops
        if not ops:
            return
        if self._index is not None:
            raise RuntimeError("this streamed history is finished: nothing more is recorded")
        self._indexer.feed(ops)
        if self._file is not None:
            self._file.write(jsonl_bytes(ops))
        self._count += len(ops)
        self.ops = []

    # -- reading: only through the index ------------------------------------------------
    def own_index(self) -> Index:
        """The index of every op recorded (`scenario.checkers.index.index` answers with it)."""
        if self._index is None:
            raise RuntimeError("a streamed history is indexed when its block ends")
        return self._index

    def __len__(self) -> int:
        return self._count + len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        raise TypeError("a streamed history keeps none of its ops: read its index")

    def client_ops(self) -> Iterator[Op]:
        raise TypeError("a streamed history keeps none of its ops: read its index")

    def pairs(self) -> Iterator[tuple[Op, Op | None]]:
        raise TypeError("a streamed history keeps none of its ops: read its index")

    def write_jsonl(self, path: Path) -> None:
        raise TypeError("a streamed history keeps none of its ops: give StreamedHistory "
                        "the path to write")
