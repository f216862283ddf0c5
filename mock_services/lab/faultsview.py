"""The lab as faults/ sees it: links (one proxy each), racks and services, by name.

The live runner builds the injector's `faults.topology.Topology` from the running lab here,
so scenario targets ("switch-a", "rack-b", "portal-a-shahkar", "portal") resolve to the
lab's own proxies and processes.
"""

from __future__ import annotations

from faults.topology import Link, Topology
from mock_services.lab.state import LabState
from mock_services.lab.topology import CLIENT


def faults_topology(lab: LabState) -> Topology:
    """Every link (named as its proxy), the processes of each rack, the replicas of each
    service kind; upstream links carry their upstream's direct address for admin faults."""
    t = lab.topology
    links = {}
    for x in t.links:
        if x.source == CLIENT:
            links[x.name] = Link(x.name, x.switch, "client")
        else:
            links[x.name] = Link(x.name, x.switch, "upstream", admin_url=lab.url(x.target))
    racks = {rack: tuple(s.name for s in t.rack_services(rack)) for rack in t.racks}
    kinds = sorted({s.kind for s in t.services})
    services = {k: tuple(s.name for s in t.services if s.kind == k) for k in kinds}
    return Topology(links=links, racks=racks, services=services)
