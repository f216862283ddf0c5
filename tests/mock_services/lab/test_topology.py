"""The topology model: the default lab's shape, and bad topologies refused with a reason."""

from __future__ import annotations

import pytest

from mock_services.lab.topology import (
    CLIENT,
    LabTopology,
    LabTopologyError,
    LinkSpec,
    ServiceSpec,
    default_topology,
    topology_from_mapping,
)


def test_default_topology_has_the_failure_domains_of_the_issue() -> None:
    t = default_topology()
    assert t.racks == ("rack-a", "rack-b") and t.switches == ("switch-a", "switch-b")
    assert [p.name for p in t.portals()] == ["portal-a", "portal-b"]
    assert {p.rack for p in t.portals()} == {"rack-a", "rack-b"}
    # a switch failure cuts one replica entirely: its client link and all its upstream links
    for switch, portal in (("switch-a", "portal-a"), ("switch-b", "portal-b")):
        links = t.switch_links(switch)
        assert {(x.source, x.target) for x in links} == (
            {(CLIENT, portal)} | {(portal, u.name) for u in t.upstreams()})
    assert len(t.links) == 10
    assert "portal-a" in [s.name for s in t.rack_services("rack-a")]


def _mapping() -> dict[str, object]:
    return {"racks": ["r"], "switches": ["s"],
            "services": [{"name": "portal-a", "kind": "portal", "rack": "r"}],
            "links": [{"source": "client", "target": "portal-a", "switch": "s"}]}


def test_topology_round_trips_from_plain_data() -> None:
    t = topology_from_mapping(_mapping())
    assert t.links[0].name == "client-portal-a"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda m: m["services"].append({"name": "x", "kind": "mainframe", "rack": "r"}),
         "service 'x' has unknown kind 'mainframe'"),
        (lambda m: m["links"].append({"source": "client", "target": "ledger", "switch": "s"}),
         "names unknown service 'ledger'"),
        (lambda m: m["links"].append({"source": "portal-z", "target": "portal-a", "switch": "s"}),
         "names unknown service 'portal-z'"),
        (lambda m: m["services"].append({"name": "y", "kind": "sms", "rack": "moon"}),
         "unknown rack 'moon'"),
        (lambda m: m["services"].append({"name": "y", "kind": "sms", "rack": "r", "port": 70000}),
         "port 70000; expected 0..65535"),
        (lambda m: m.pop("links"), "missing key 'links'"),
    ],
)
def test_bad_topologies_name_the_problem(change: object, fragment: str) -> None:
    m = _mapping()
    change(m)  # type: ignore[operator]
    with pytest.raises(LabTopologyError, match="topology: ") as exc:
        topology_from_mapping(m)
    assert fragment in str(exc.value)


def test_a_port_given_twice_is_refused() -> None:
    with pytest.raises(LabTopologyError, match="port 9100 is assigned twice"):
        LabTopology((ServiceSpec("portal-a", "portal", "r", 9100),),
                    (LinkSpec(CLIENT, "portal-a", "s", 9100),), ("r",), ("s",))


def test_unknown_rack_or_switch_lookups_are_refused() -> None:
    t = default_topology()
    with pytest.raises(LabTopologyError, match="unknown rack 'rack-z'"):
        t.rack_services("rack-z")
    with pytest.raises(LabTopologyError, match="unknown switch"):
        t.switch_links("switch-z")
