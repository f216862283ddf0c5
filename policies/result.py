"""The result of a logical call as a driver returns it (the same under asyncio and SimPy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from policies.outcome import Outcome

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallResult(Generic[T]):
    """ok: the call succeeded with `value`; else `reason` (history vocabulary) and `cause`.

    outcome: the last attempt's outcome (None if no attempt left); attempts: how many left.
    """

    ok: bool
    value: T | None
    outcome: Outcome | None
    attempts: int
    reason: str = ""
    cause: str = ""
