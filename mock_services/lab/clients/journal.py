"""A history that is also appended, op by op, to a JSON-lines file.

A client that may be SIGKILLed (the pharmacy agent, the draft typist) keeps its history this
way: every op is on disk (flushed) when the next one starts, so the history of a killed run
is complete up to the kill, and a restarted run appends to the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from scenario.history import History, Op, OpType


class JournalHistory(History):
    """`History` whose every recorded op is also written to `path` at once."""

    __slots__ = ("_file",)

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def _write(self, op: Op) -> Op:
        self._file.write(json.dumps(op._asdict(), ensure_ascii=False, separators=(",", ":")))
        self._file.write("\n")
        self._file.flush()
        return op

    def append(self, op: Op) -> None:
        """Record one event."""
        super().append(op)
        self._write(op)

    def invoke(self, process: str, f: str, time_s: float, key: str = "",
               priority: int = -1) -> Op:
        """Record and write the start of a client operation."""
        return self._write(super().invoke(process, f, time_s, key, priority))

    def complete(self, invoked: Op, type_: OpType, time_s: float, value: str = "",
                 error: str = "") -> Op:
        """Record and write a completion."""
        return self._write(super().complete(invoked, type_, time_s, value, error))

    def close(self) -> None:
        """Close the file."""
        self._file.close()
