"""The replica's event log: upstream attempts and policy transitions, one JSON line each.

The lab folds it into the run's history (process `scenario.names.upstream_process(NAME)`,
f "call"; process "policy"). Lines are flushed as written so a SIGKILL loses at most the line
being written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO


class EventLog:
    """Appends `{"time_s", "process", "f", "key", "value"}` lines to `path` (None: no log)."""

    def __init__(self, path: Path | None) -> None:
        self._file: TextIO | None = path.open("a", encoding="utf-8") if path else None

    def write(self, time_s: float, process: str, f: str, key: str, value: str) -> None:
        """One event."""
        if self._file is None:
            return
        self._file.write(json.dumps({"time_s": time_s, "process": process, "f": f,
                                     "key": key, "value": value}) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file (at shutdown)."""
        if self._file is not None:
            self._file.close()
            self._file = None
