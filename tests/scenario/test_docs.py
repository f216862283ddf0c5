"""docs/scenarios.md is generated from the schema, the fault catalog and the invariant
registry: it fails here when it drifts from them."""

from __future__ import annotations

from pathlib import Path

from faults.catalog import FAULT_TYPES
from scenario.docs import COMMAND, render
from scenario.invariants import REGISTRY
from scenario.schema import Scenario, Topology, Workload

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def test_the_reference_is_what_the_code_says() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), \
        f"docs/scenarios.md is out of date: regenerate it with `{COMMAND}`"


def test_the_reference_names_every_key_fault_kind_and_invariant() -> None:
    text = render()
    for model in (Scenario, Topology, Workload):
        for name in model.model_fields:
            assert f"| `{name}` |" in text, name
    for kind in FAULT_TYPES:
        assert f"### `{kind}`" in text
    for name in REGISTRY:
        assert f"### `{name}`" in text


def test_defaults_are_written_as_a_file_would_write_them() -> None:
    text = render()
    assert "| `slo_ms` | number > 0 | 3000 |" in text  # login_p99's SLO, documented at last
    assert '| `step` | duration > 0 | "15m" |' in text
    assert '| `office_start` | "HH:MM" | "08:00" |' in text
    assert 'sms = { latency = { dist = "lognormal", p50 = "100ms", p99 = "800ms" }, ' \
        'rack = "rack-a" }' in text
