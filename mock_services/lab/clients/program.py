"""What the lab's client programs share: run their coroutine, and answer bad input and
Ctrl-C with one line on stderr (exit 2 and 130), never a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any


def run_program(prog: str, main: Coroutine[Any, Any, int],
                bad_input: tuple[type[Exception], ...]) -> int:
    """`asyncio.run(main)`'s exit code; 2 with the error for `bad_input`, 130 on Ctrl-C."""
    try:
        return asyncio.run(main)
    except bad_input as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
