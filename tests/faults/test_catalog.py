"""The fault catalog: each fault plans the right steps and heals, and bad faults are refused."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest

from faults.actions import (
    AddToxic,
    AwaitDeploy,
    Deploy,
    KillRack,
    RemoveToxic,
    RestartRack,
    SetAdminFault,
    SetProxyEnabled,
    ShiftWorkload,
    StartReplica,
    Step,
    StopReplica,
)
from faults.catalog import (
    FAULT_TYPES,
    DegradedReplica,
    DeploymentWindow,
    Fault,
    NetworkLoss,
    PeakLoad,
    PowerLoss,
    RawToxic,
    RefreshStorm,
    ReplicaFailure,
    SlowUpstream,
    SwitchFailure,
    UpstreamOutage,
)
from faults.errors import FaultError, InvalidFault, UnknownTarget
from faults.records import fault_from_record, fault_to_record
from faults.topology import FaultTopology, Link
from faults.toxics import ToxicSpec

TOPOLOGY = FaultTopology(
    links={
        "citizens->portal": Link("citizens_portal", "sw-a", "client"),
        "pharmacy->portal": Link("pharmacy_portal", "sw-b", "client"),
        "portal->shahkar": Link("portal_shahkar", "sw-a", "upstream", "http://127.0.0.1:9101"),
        "portal->payment": Link("portal_payment", "sw-b", "upstream"),
    },
    racks={"rack-1": ("portal-1", "shahkar"), "rack-2": ("portal-2", "payment")},
    services={"portal": ("portal-1", "portal-2")},
)


def test_the_mission_faults_are_all_in_the_catalog() -> None:
    assert set(FAULT_TYPES) == {
        "switch_failure", "slow_upstream", "upstream_outage", "network_loss", "power_loss",
        "replica_failure", "degraded_replica", "deployment_window", "peak_load",
        "refresh_storm", "toxic"}


def test_switch_failure_disables_every_proxy_on_that_switch_and_heals_by_enabling() -> None:
    steps = SwitchFailure(switch="sw-a").plan(TOPOLOGY, "t1")
    assert [s.apply for s in steps] == [SetProxyEnabled("citizens_portal", False),
                                        SetProxyEnabled("portal_shahkar", False)]
    assert [s.heal for s in steps] == [SetProxyEnabled("citizens_portal", True),
                                       SetProxyEnabled("portal_shahkar", True)]


def test_an_unknown_switch_is_named_in_one_sentence() -> None:
    with pytest.raises(UnknownTarget, match=r"switch 'sw-z' is not in the topology.*sw-a"):
        SwitchFailure(switch="sw-z").plan(TOPOLOGY, "t1")


def test_slow_upstream_adds_a_named_latency_toxic_and_heals_by_removing_it() -> None:
    (step,) = SlowUpstream(link="portal->shahkar", latency_ms=3000, jitter_ms=500).plan(
        TOPOLOGY, "t7")
    assert isinstance(step.apply, AddToxic)
    assert step.apply.proxy == "portal_shahkar"
    assert step.apply.toxic.type == "latency"
    assert step.apply.toxic.attributes_dict() == {"latency": 3000, "jitter": 500}
    assert step.apply.toxic.stream == "downstream"
    assert step.heal == RemoveToxic("portal_shahkar", step.apply.toxic.name)
    assert step.apply.toxic.name.startswith("t7-")


def test_slow_upstream_in_bandwidth_mode_caps_the_rate() -> None:
    (step,) = SlowUpstream(link="portal->payment", mode="bandwidth", rate_kb_per_s=5).plan(
        TOPOLOGY, "t1")
    assert isinstance(step.apply, AddToxic)
    assert step.apply.toxic.type == "bandwidth"
    assert step.apply.toxic.attributes_dict() == {"rate": 5}


def test_slow_upstream_refuses_jitter_above_latency_and_client_links() -> None:
    with pytest.raises(InvalidFault, match="jitter_ms 600 exceeds latency_ms 500"):
        SlowUpstream(link="portal->shahkar", latency_ms=500, jitter_ms=600)
    with pytest.raises(UnknownTarget, match="is a client link; expected kind 'upstream'"):
        SlowUpstream(link="citizens->portal").plan(TOPOLOGY, "t1")


def test_upstream_outage_has_three_mechanisms() -> None:
    (down,) = UpstreamOutage(link="portal->payment").plan(TOPOLOGY, "t1")
    assert down.apply == SetProxyEnabled("portal_payment", False)
    assert down.heal == SetProxyEnabled("portal_payment", True)
    (reset,) = UpstreamOutage(link="portal->payment", mode="reset_peer").plan(TOPOLOGY, "t2")
    assert isinstance(reset.apply, AddToxic)
    assert reset.apply.toxic.type == "reset_peer"
    (http,) = UpstreamOutage(link="portal->shahkar", mode="http_503",
                             retry_after_s=20).plan(TOPOLOGY, "t3")
    assert http.apply == SetAdminFault("portal->shahkar", "http://127.0.0.1:9101",
                                       "unavailable", retry_after_s=20)
    assert isinstance(http.heal, SetAdminFault)
    assert http.heal.mode == "ok"


def test_an_http_outage_needs_the_upstreams_admin_url() -> None:
    with pytest.raises(UnknownTarget, match="has no admin_url"):
        UpstreamOutage(link="portal->payment", mode="http_503").plan(TOPOLOGY, "t1")


def test_network_loss_blackholes_both_directions_or_cuts_the_upload() -> None:
    steps = NetworkLoss(link="pharmacy->portal").plan(TOPOLOGY, "t1")
    toxics = [s.apply.toxic for s in steps if isinstance(s.apply, AddToxic)]
    assert [(t.type, t.stream) for t in toxics] == [("timeout", "upstream"),
                                                     ("timeout", "downstream")]
    assert len({t.name for t in toxics}) == 2
    (cut,) = NetworkLoss(link="pharmacy->portal", mode="cut_upload",
                         upload_limit_bytes=1000).plan(TOPOLOGY, "t2")
    assert isinstance(cut.apply, AddToxic)
    assert (cut.apply.toxic.type, cut.apply.toxic.stream) == ("limit_data", "upstream")
    assert cut.apply.toxic.attributes_dict() == {"bytes": 1000}
    with pytest.raises(UnknownTarget):
        NetworkLoss(link="portal->shahkar").plan(TOPOLOGY, "t3")


def test_power_loss_kills_the_rack_and_restarts_it_when_healed() -> None:
    (step,) = PowerLoss(rack="rack-2").plan(TOPOLOGY, "t1")
    assert (step.apply, step.heal) == (KillRack("rack-2"), RestartRack("rack-2"))
    with pytest.raises(UnknownTarget, match="rack 'rack-9'"):
        PowerLoss(rack="rack-9").plan(TOPOLOGY, "t1")


def test_deployment_window_restarts_the_service_replicas_and_heals_once_done() -> None:
    (step,) = DeploymentWindow(service="portal", rolling=False).plan(TOPOLOGY, "t1")
    assert step.apply == Deploy("portal", ("portal-1", "portal-2"), False, 5.0)
    assert step.heal == AwaitDeploy("portal")


def test_workload_faults_are_described_not_enacted() -> None:
    peak = PeakLoad(rate_multiplier=4.0, population="employers")
    storm = RefreshStorm(max_retries=10, retry_delay_s=0.0)
    assert peak.plan(TOPOLOGY, "t1")[0].apply == ShiftWorkload("peak_load", "load:employers")
    assert storm.plan(TOPOLOGY, "t1")[0].heal is None
    assert peak.target != storm.target  # a surge and a storm may overlap
    with pytest.raises(InvalidFault, match="rate_multiplier is 0; expected > 0"):
        PeakLoad(rate_multiplier=0)


def test_a_raw_toxic_goes_on_any_link_as_given() -> None:
    spec = ToxicSpec.of("slicer", average_size=100, size_variation=10, delay=50)
    (step,) = RawToxic(link="citizens->portal", toxic=spec).plan(TOPOLOGY, "t4")
    assert isinstance(step.apply, AddToxic)
    assert step.apply.toxic.attributes == spec.attributes
    assert step.apply.toxic.name == "t4-slicer-downstream"


@pytest.mark.parametrize(("build", "message"), [
    (lambda: ToxicSpec.of("lag"), "toxic type 'lag' is unknown"),
    (lambda: ToxicSpec.of("latency", delay=5), "has no attribute 'delay'"),
    (lambda: ToxicSpec.of("latency", latency=-1), "expected an integer >= 0"),
    (lambda: ToxicSpec.of("latency", latency=True), "expected an integer >= 0"),
    (lambda: ToxicSpec.of("slicer", average_size=0), "average_size > 0"),
    (lambda: ToxicSpec.of("slicer", average_size=5, size_variation=5), "size_variation <"),
    (lambda: ToxicSpec.of("noop", toxicity=1.5), "not between 0 and 1"),
    (lambda: NetworkLoss(link="x", upload_limit_bytes=-5), "upload_limit_bytes is -5"),
])
def test_bad_faults_are_refused_with_one_sentence(build: object, message: str) -> None:
    with pytest.raises(InvalidFault, match=message) as info:
        build()  # type: ignore[operator]
    assert "\n" not in str(info.value)
    assert isinstance(info.value, FaultError) and isinstance(info.value, ValueError)


def test_faults_are_frozen_hashable_and_plan_deterministically() -> None:
    fault = SlowUpstream(link="portal->shahkar", latency_ms=30000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fault.latency_ms = 1  # type: ignore[misc]
    assert fault.plan(TOPOLOGY, "t1") == fault.plan(TOPOLOGY, "t1")
    assert len({fault, SlowUpstream(link="portal->shahkar", latency_ms=30000)}) == 1


def test_a_topology_refuses_two_links_on_one_proxy() -> None:
    with pytest.raises(InvalidFault, match="two links share one proxy"):
        FaultTopology(links={"a": Link("p", "s", "client"), "b": Link("p", "s", "upstream")})


EXAMPLES: tuple[Fault, ...] = (
    SwitchFailure(switch="sw-a"), SlowUpstream(link="l", mode="bandwidth", rate_kb_per_s=3),
    UpstreamOutage(link="l", mode="http_503", retry_after_s=9), NetworkLoss(link="c"),
    PowerLoss(rack="r"), DeploymentWindow(service="portal", rolling=False, drain_s=1.5),
    PeakLoad(rate_multiplier=2.5), RefreshStorm(max_retries=2),
    RawToxic(link="l", toxic=ToxicSpec.of("latency", stream="upstream", toxicity=0.5,
                                          latency=100)),
)


@pytest.mark.parametrize("fault", EXAMPLES, ids=lambda f: f.kind)
def test_every_fault_round_trips_through_its_record(fault: Fault) -> None:
    record = fault_to_record(fault)
    assert record["kind"] == fault.kind
    assert fault_from_record(record) == fault


@pytest.mark.parametrize(("record", "message"), [
    ({"kind": "meteor"}, "t[1]: kind 'meteor' is unknown; expected one of"),
    ({"kind": "power_loss"}, "t[1]: power_loss field 'rack': Field required"),
    ({"kind": "power_loss", "rack": "r", "racks": 2}, "power_loss has no field 'racks'"),
    ({"kind": "slow_upstream", "link": "l", "latency_ms": -1},
     "t[1]: slow_upstream: latency_ms is -1; expected >= 0"),
    ({"kind": "upstream_outage", "link": "l", "mode": "gone"},
     "upstream_outage field 'mode': Input should be 'disabled', 'reset_peer' or 'http_503'"),
    ({"kind": "toxic", "link": "l", "type": "lag"}, "t[1]: toxic type 'lag' is unknown"),
    ({"kind": "toxic", "link": "l"}, "toxic needs 'link' (text) and 'type'"),
])
def test_a_bad_record_is_one_sentence_naming_where(record: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(InvalidFault, match=re.escape(message)) as info:
        fault_from_record(record, "t[1]")
    assert "\n" not in str(info.value)


def test_the_catalog_and_schedules_import_no_io() -> None:
    # sim/ imports them: they must not pull in HTTP clients or the Toxiproxy library.
    code = ("import sys, faults.catalog, faults.schedule, faults.records; "
            "print(sorted(m for m in ('httpx', 'toxiproxy', 'requests', 'socket') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


REPLICAS = FaultTopology(links={
    "client-portal-a": Link("lab1-client-portal-a", "sw-a", "client", "http://127.0.0.1:9201"),
    "client-portal-b": Link("lab1-client-portal-b", "sw-b", "client"),
})


def test_a_replica_failure_stops_and_starts_the_replica_with_its_work_rule() -> None:
    for work in ("drop", "resume", "restart"):
        fault = ReplicaFailure(replica="portal-a", work=work)  # type: ignore[arg-type]
        assert fault.target == "portal-a"
        assert fault.plan(REPLICAS, "t") == (
            Step(StopReplica("portal-a", work), StartReplica("portal-a", work)),)
    with pytest.raises(UnknownTarget, match=r"replica 'portal-z' is not in the topology; "
                       r"expected one of \['portal-a', 'portal-b'\]"):
        ReplicaFailure(replica="portal-z").plan(REPLICAS, "t")


def test_a_degraded_replica_sets_its_speed_through_its_admin_route_and_heals_at_full() -> None:
    (step,) = DegradedReplica(replica="portal-a", speed=0.25).plan(REPLICAS, "t")
    assert step.apply == SetAdminFault("portal-a", "http://127.0.0.1:9201", "ok", speed=0.25)
    assert step.heal == SetAdminFault("portal-a", "http://127.0.0.1:9201", "ok")
    assert step.apply.body()["speed"] == 0.25 and "speed" not in step.heal.body()
    with pytest.raises(UnknownTarget, match="has no admin_url"):
        DegradedReplica(replica="portal-b").plan(REPLICAS, "t")
    for speed in (0.0, -0.5, 1.5):
        with pytest.raises(InvalidFault, match="expected 0 < speed <= 1"):
            DegradedReplica(replica="portal-a", speed=speed)
    record = fault_to_record(DegradedReplica(replica="portal-a", speed=0.5))
    assert fault_from_record(record) == DegradedReplica(replica="portal-a", speed=0.5)
