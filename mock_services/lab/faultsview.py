"""The lab as faults/ sees it: links (one proxy each), racks and services, by name.

The live runner builds the injector's `faults.topology.FaultTopology` from the running lab here,
so scenario targets ("switch-a", "rack-b", "portal-a-shahkar", "portal") resolve to the
lab's own proxies and processes. Links keep their logical names (what scenarios and faults
say); each `Link.proxy` is the lab's proxy for it (`LabState.proxy_name`: `<lab_id>-<link>`),
so the injector drives this lab's proxies and no other lab's on a shared Toxiproxy.
"""

from __future__ import annotations

from faults.topology import FaultTopology, Link
from mock_services.lab.access import admin_access
from mock_services.lab.state import LabState
from mock_services.lab.topology import CLIENT


def faults_topology(lab: LabState) -> FaultTopology:
    """Every link (by its logical name, carried by the lab's proxy), the processes of each
    rack, the replicas of each service kind; upstream links carry their upstream's direct
    address for admin faults."""
    t = lab.topology
    admin = admin_access(lab)  # HTTP-level faults go to the upstreams' admin listeners
    links = {}
    for x in t.links:
        proxy = lab.proxy_name(x.name)
        if x.source == CLIENT:  # the replica's admin address, for a degraded_replica
            links[x.name] = Link(proxy, x.switch, "client", admin_url=admin.url(x.target))
        else:
            links[x.name] = Link(proxy, x.switch, "upstream", admin_url=admin.url(x.target))
    racks = {rack: tuple(s.name for s in t.rack_services(rack)) for rack in t.racks}
    kinds = sorted({s.kind for s in t.services})
    services = {k: tuple(s.name for s in t.services if s.kind == k) for k in kinds}
    return FaultTopology(links=links, racks=racks, services=services)
