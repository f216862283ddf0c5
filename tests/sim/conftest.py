"""Small scenarios for the sim tests, written as TOML like the shipped ones."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL = """
description = "a five-minute switch failure at a few requests a second"
duration = "10m"
start = "1403-06-10T09:00"
[topology.upstreams.shahkar]
latency = { dist = "lognormal", p50 = "300ms", p99 = "2s" }
rack = "rack-a"
[workload]
rate_per_s = 4
[workload.kinds.login]
share = 0.3
service = { dist = "exponential", mean = "50ms" }
upstreams = ["shahkar"]
priority = 1
[workload.kinds.read_history]
share = 0.5
service = { dist = "exponential", mean = "30ms" }
[workload.kinds.submit_list]
share = 0.2
profile = "lists"
service = { dist = "lognormal", p50 = "200ms", p99 = "2s" }
priority = 1
[[faults]]
kind = "switch_failure"
switch = "switch-a"
start = "2m"
duration = "3m"
[invariants]
availability = { target = 0.99 }
no_lost_writes = {}
"""


@pytest.fixture
def small_scenario(tmp_path: Path) -> Path:
    """A small scenario file: ~4800 requests, a switch failure in the middle."""
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path
