"""Every kind of the fault catalog has its effect in the simulated run, through the injector.

Each case runs a small scenario (10 minutes, ~2400 operations) with and without one fault, on
the same seed, and asks that the fault changed what the clients or the portal's upstream
calls saw. A `toxic` that the simulator ignored would leave both histories equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sim.links
from faults.admin import RecordingAdmin
from faults.catalog import RawToxic
from faults.injector import Injector
from faults.proxies import MemoryProxies
from faults.records import fault_to_record
from faults.schedule import Schedule
from faults.supervisor import RecordingSupervisor
from faults.toxics import TOXIC_UNITS, Stream, ToxicInfo, ToxicSpec
from scenario.history import NEMESIS, History
from scenario.schema import Scenario, ScenarioError, load_scenario
from sim.model import build, simulate
from sim.nemesis import HEAL_S, nemesis, timeline
from sim.policyset import policy_set
from sim.ports import sim_injector, sim_topology

BASE = """
name = "faults_small"
description = "a small portal for one fault at a time"
duration = "10m"
start = "1403-06-10T09:00"
[topology.upstreams.shahkar]
latency = { dist = "lognormal", p50 = "300ms", p99 = "2s" }
rack = "rack-a"
[topology.upstreams.payment]
latency = { dist = "lognormal", p50 = "200ms", p99 = "1s" }
rack = "rack-b"
[workload]
rate_per_s = 4
[workload.kinds.login]
share = 0.3
service = { dist = "exponential", mean = "50ms" }
upstreams = ["shahkar"]
priority = 1
[workload.kinds.read_history]
share = 0.4
service = { dist = "exponential", mean = "30ms" }
[workload.kinds.submit_list]
share = 0.3
service = { dist = "lognormal", p50 = "200ms", p99 = "2s" }
upstreams = ["payment"]
priority = 1
"""
START, DURATION = "2m", "5m"
SEED = 3


def scenario(tmp_path: Path, *faults: dict[str, Any]) -> Scenario:
    """The small scenario with `faults` (records, without start and duration) in its middle."""
    lines = [BASE]
    for fault in faults:
        lines.append("[[faults]]")
        fields = fault | {"start": START, "duration": DURATION}
        for key, value in fields.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {v!r}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {_toml(value)}")
    path = tmp_path / "faults_small.toml"
    path.write_text("\n".join(lines).replace("'", '"'), encoding="utf-8")
    return load_scenario(path)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def observed(history: History) -> list[tuple[object, ...]]:
    """What the clients and the upstream calls saw (the fault operations left out)."""
    return [(op.type, op.process, op.f, round(op.time_s, 6), op.key, op.value, op.error)
            for op in history.client_ops()]


def run(sc: Scenario, preset: str = "baseline") -> History:
    return simulate(sc, policy_set(preset, sc), SEED).history


def toxic(type_: str, link: str = "client-portal-a", stream: Stream = "upstream",
          **attributes: int) -> dict[str, Any]:
    """The record of a raw toxic, as a scenario's `[[faults]] kind = "toxic"` writes it."""
    spec = ToxicSpec(type_, tuple(attributes.items()), stream)
    return fault_to_record(RawToxic(link=link, toxic=spec))


CASES: dict[str, dict[str, Any]] = {
    "switch_failure": {"kind": "switch_failure", "switch": "switch-a"},
    "slow_upstream-latency": {"kind": "slow_upstream", "link": "portal-a-shahkar",
                              "latency_ms": 3000, "jitter_ms": 1000},
    "slow_upstream-bandwidth": {"kind": "slow_upstream", "link": "portal-a-shahkar",
                                "mode": "bandwidth", "rate_kb_per_s": 1},
    "upstream_outage-disabled": {"kind": "upstream_outage", "link": "portal-a-shahkar"},
    "upstream_outage-reset_peer": {"kind": "upstream_outage", "link": "portal-a-payment",
                                   "mode": "reset_peer", "reset_after_ms": 200},
    "upstream_outage-http_503": {"kind": "upstream_outage", "link": "portal-b-shahkar",
                                 "mode": "http_503", "retry_after_s": 5},
    "network_loss-blackhole": {"kind": "network_loss", "link": "client-portal-a"},
    "network_loss-cut_upload": {"kind": "network_loss", "link": "client-portal-b",
                                "mode": "cut_upload"},
    "power_loss": {"kind": "power_loss", "rack": "rack-b"},
    "deployment_window-rolling": {"kind": "deployment_window", "service": "portal"},
    "deployment_window-naive": {"kind": "deployment_window", "service": "portal",
                                "rolling": False},
    "peak_load": {"kind": "peak_load", "rate_multiplier": 2.0},
    "refresh_storm": {"kind": "refresh_storm", "rate_multiplier": 1.5},
    "toxic-latency": toxic("latency", stream="downstream", latency=800, jitter=200),
    "toxic-bandwidth": toxic("bandwidth", stream="downstream", rate=10),
    "toxic-timeout": toxic("timeout", timeout=2000),
    "toxic-reset_peer": toxic("reset_peer", timeout=100),
    "toxic-limit_data": toxic("limit_data", bytes=20_000),
    "toxic-slicer": toxic("slicer", stream="downstream", average_size=500, delay=50_000),
    "toxic-timeout-upstream-link": toxic("timeout", link="portal-b-payment",
                                         stream="downstream", timeout=500),
    "toxic-latency-upstream-link": toxic("latency", link="portal-a-shahkar",
                                         stream="upstream", latency=2000),
}


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def without(tmp_dir: Path) -> list[tuple[object, ...]]:
    return observed(run(scenario(tmp_dir)))


@pytest.mark.parametrize("name", list(CASES))
def test_each_kind_changes_the_simulated_history(name: str, tmp_path: Path,
                                                 without: list[tuple[object, ...]]) -> None:
    history = run(scenario(tmp_path, CASES[name]))
    nemesis_ops = [op for op in history if op.process == NEMESIS]
    assert [op.f for op in nemesis_ops] == ["fault:start", "fault:stop"]
    assert observed(history) != without


def test_slow_close_only_delays_the_close_so_no_exchange_changes(
        tmp_path: Path, without: list[tuple[object, ...]]) -> None:
    # HTTP reads its answer by length, before the close: a later close changes no timing.
    history = run(scenario(tmp_path, toxic("slow_close", stream="downstream", delay=5000)))
    assert [op.f for op in history if op.process == NEMESIS] == ["fault:start", "fault:stop"]
    assert observed(history) == without


def test_toxicity_zero_draws_nothing_and_a_half_acts_on_some_attempts(
        tmp_path: Path, without: list[tuple[object, ...]]) -> None:
    never = toxic("timeout", timeout=2000) | {"toxicity": 0.0}
    assert observed(run(scenario(tmp_path, never))) == without
    half = observed(run(scenario(tmp_path, toxic("timeout", timeout=2000) | {"toxicity": 0.5})))
    always = observed(run(scenario(tmp_path, toxic("timeout", timeout=2000))))
    assert half != without and half != always
    failed = [sum(1 for op in ops if op[0] == "fail" or op[0] == "info") for ops in
              (without, half, always)]
    assert failed[0] <= failed[1] <= failed[2]


def test_the_same_seed_gives_the_same_history_under_toxics(tmp_path: Path) -> None:
    sc = scenario(tmp_path, toxic("latency", stream="downstream", latency=800, jitter=700)
                  | {"toxicity": 0.5})
    assert observed(run(sc)) == observed(run(sc))


def test_every_toxic_type_is_simulated() -> None:
    assert set(TOXIC_UNITS) == sim.links.SIMULATED


def test_a_toxic_the_simulator_cannot_model_is_refused_before_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.links, "SIMULATED", sim.links.SIMULATED - {"slicer"})
    sc = scenario(tmp_path, CASES["toxic-slicer"])
    with pytest.raises(ScenarioError, match=r"toxic type 'slicer' cannot be simulated") as err:
        timeline(sc, SEED)
    assert "\n" not in str(err.value)


class Recorder:
    """Delegates to a `ProxyControl`, recording the calls as `MemoryProxies` does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, ...]] = []

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.calls.append(("set_enabled", name, str(enabled)))
        self.inner.set_enabled(name, enabled)

    def add_toxic(self, proxy: str, spec: ToxicSpec) -> ToxicInfo:
        self.calls.append(("add_toxic", proxy, spec.name))
        info: ToxicInfo = self.inner.add_toxic(proxy, spec)
        return info

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self.calls.append(("remove_toxic", proxy, toxic))
        self.inner.remove_toxic(proxy, toxic)


def _fault_ops(history: History) -> list[tuple[str, str, str, float]]:
    return sorted((op.f, op.value, op.key, op.time_s) for op in history
                  if op.process == NEMESIS)


def test_the_sim_and_in_memory_ports_record_the_same_fault_ops(tmp_path: Path) -> None:
    faults = [CASES["switch_failure"], CASES["upstream_outage-http_503"],
              CASES["network_loss-cut_upload"], CASES["power_loss"], CASES["peak_load"],
              CASES["toxic-latency-upstream-link"]]
    sc = scenario(tmp_path, *faults)
    windows = timeline(sc, SEED)
    # the simulated run, its proxy calls recorded
    world = build(sc, policy_set("baseline", sc), SEED)
    injector = sim_injector(world)
    recorder = Recorder(injector.proxies)
    injector.proxies = recorder
    for window in windows:
        world.env.process(nemesis(world, window))
    world.env.run(until=world.horizon_s)
    # the same plan on the in-memory ports, on a manual clock
    topology = sim_topology(sc)
    memory = MemoryProxies(link.proxy for link in topology.links.values())
    history, now = History(), [0.0]
    live = Injector(topology, history, lambda: now[0], memory,
                    supervisor=RecordingSupervisor(topology.racks), admin=RecordingAdmin())
    schedule = Schedule(tuple(windows), sc.duration + HEAL_S, HEAL_S)
    live.replay(schedule, lambda t: now.__setitem__(0, max(now[0], t)))
    assert _fault_ops(world.history) == _fault_ops(history)
    assert len(_fault_ops(history)) == 2 * len(faults)
    assert sorted(recorder.calls) == sorted(memory.calls)
    assert memory.healthy() and not world.links and not world.down


def test_a_deploy_runs_as_a_process_and_heals_when_it_has_finished(tmp_path: Path) -> None:
    sc = scenario(tmp_path, CASES["deployment_window-rolling"])
    world = build(sc, policy_set("baseline", sc), SEED)
    (window,) = timeline(sc, SEED)
    world.env.process(nemesis(world, window))
    downs: list[tuple[float, tuple[bool, ...]]] = []

    def watch() -> Iterator[Any]:
        while True:
            yield world.env.timeout(30.0)
            downs.append((world.env.now, tuple(r.down for r in world.replicas)))

    world.env.process(watch())
    world.env.run(until=window.end_s + 60)
    during = [d for t, d in downs if window.start_s < t < window.end_s]
    assert any(d == (True, False) for d in during) and any(d == (False, True) for d in during)
    assert not any(all(d) for d in during)  # rolling: one replica at a time
    assert all(not any(d) for t, d in downs if t > window.end_s)
    stop = [op for op in world.history if op.process == NEMESIS][-1]
    assert stop.f == "fault:stop" and stop.time_s == pytest.approx(window.end_s)
