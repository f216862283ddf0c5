"""The invariant registry: defaults, durations with units, and one clear sentence for an
unknown invariant or a bad threshold.
"""

from __future__ import annotations

import pytest

from scenario.history import History
from scenario.invariants import REGISTRY, InvariantError, build_checker, build_checkers


def test_every_invariant_builds_with_its_defaults() -> None:
    for name, entry in REGISTRY.items():
        entry.params()  # every threshold has a default
        assert build_checker(name, {})(History()).valid == "unknown"


def test_checkers_come_back_in_the_tables_order() -> None:
    spec = {"login_p99": {"slo_ms": 2500}, "availability": {"target": 0.995},
            "no_lost_writes": {}}
    assert [name for name, _ in build_checkers(spec)] == list(spec)


def test_durations_take_units() -> None:
    from scenario.checkers.breaker import BreakerWindowParams

    assert BreakerWindowParams.model_validate({"open_within_s": "250ms"}).open_within_s == 0.25
    assert BreakerWindowParams.model_validate({"open_within_s": "2m"}).open_within_s == 120.0
    assert BreakerWindowParams.model_validate({"open_within_s": 45}).open_within_s == 45.0


@pytest.mark.parametrize(("name", "raw", "says"), [
    ("availabilty", {}, "invariant 'availabilty' is unknown; expected one of: "),
    ("availability", {"target": 1.5}, "invariant 'availability': target: Input should be "
                                      "less than or equal to 1 (got 1.5)"),
    ("availability", {"trget": 0.9}, "invariant 'availability': unknown threshold 'trget'; "
                                     "expected thresholds among target (default 0.99)"),
    ("breaker_opens_in_time", {"open_within_s": "30 parsecs"}, "expected a duration like"),
    ("breaker_opens_in_time", {"open_within_s": "-5s"}, "expected a duration like"),
    ("login_p99", {"quantile": 0}, "quantile: Input should be greater than 0"),
    ("no_duplicate_writes", {"x": 1}, "unknown threshold 'x'; expected no thresholds"),
    ("login_p99", 3000, "invariant 'login_p99': expected a table of thresholds, got 3000"),
])
def test_bad_entries_are_one_clear_sentence(name: str, raw: object, says: str) -> None:
    with pytest.raises(InvariantError) as info:
        build_checkers({name: raw})  # type: ignore[dict-item]
    message = str(info.value)
    assert says in message and "\n" not in message
    assert isinstance(info.value, ValueError)
