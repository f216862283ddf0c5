"""Checkers, Jepsen style: one pure function of a history per invariant of DESIGN.md.

Each module holds the checkers of one concern; each checker factory takes its thresholds
(a `Params` model) and returns a `Checker` (`History -> Verdict`). Where the history lacks
what a checker needs, the verdict is "unknown" with the reason, never a guess. The registry
that maps the scenario's invariant names to these lives in `scenario.invariants`.
"""

from __future__ import annotations

from scenario.checkers.index import Call, Index, Span, build_index, index

__all__ = ["Call", "Index", "Span", "build_index", "index"]
