"""The topology of a scenario, in the lab's names: switches, racks, portal replicas, upstreams.

Every default is the lab's (mock_services/lab/topology.py): two switches, two racks, a portal
replica on each, and the four upstreams. `[topology.upstreams]` left out means the lab's
four with their healthy latencies (`LAB_UPSTREAMS`); `upstreams = {}` means none (a portal
alone, as sim/validation.py's textbook queues and metastable_retry have).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from scenario.schema.distributions import Dist
from scenario.schema.fields import STRICT
from scenario.schema.problems import Problem, invalid


class Replica(BaseModel):
    """One portal replica: the switch its links cross, the rack it draws power from."""

    model_config = STRICT

    name: str
    """its name, e.g. "portal-a" (links are named after it: client-portal-a, portal-a-sms)"""
    switch: str
    """the switch its links cross (one of `switches`)"""
    rack: str
    """the rack it runs on (one of `racks`)"""
    workers: Annotated[int, Field(ge=1)] = 32
    """requests it serves at once"""
    max_queue: Annotated[int, Field(ge=0)] = 1024
    """requests waiting for a worker, at most; 0 is a loss system (refused with 503)"""


class Upstream(BaseModel):
    """An upstream service: its healthy latency and the rack it runs on (the lab's)."""

    model_config = STRICT

    latency: Dist
    """its latency when healthy (faults add to it)"""
    rack: str = "rack-a"
    """the rack it runs on (one of `racks`)"""


def _lab_upstream(rack: str, p50: str, p99: str) -> Upstream:
    return Upstream.model_validate(
        {"rack": rack, "latency": {"dist": "lognormal", "p50": p50, "p99": p99}})


# The lab's upstreams, on the lab's racks (mock_services/lab/topology.py) with the healthy
# latencies every shipped scenario declares (tests/scenario/test_upstream_defaults.py checks
# both).
LAB_UPSTREAMS: dict[str, Upstream] = {
    "shahkar": _lab_upstream("rack-a", "300ms", "2s"),
    "sms": _lab_upstream("rack-a", "100ms", "800ms"),
    "registry": _lab_upstream("rack-b", "50ms", "400ms"),
    "payment": _lab_upstream("rack-b", "200ms", "1500ms"),
}


def lab_upstreams() -> dict[str, Upstream]:
    """A fresh copy of `LAB_UPSTREAMS`, the default of `[topology.upstreams]`."""
    return dict(LAB_UPSTREAMS)


class Topology(BaseModel):
    """The lab's failure domains: a switch failure cuts the links of its replicas, a power
    loss stops every process on a rack."""

    model_config = STRICT

    switches: list[str] = ["switch-a", "switch-b"]
    """the server switches, each name once"""
    racks: list[str] = ["rack-a", "rack-b"]
    """the racks (power domains), named apart from the switches"""
    replicas: list[Replica] = [Replica(name="portal-a", switch="switch-a", rack="rack-a"),
                               Replica(name="portal-b", switch="switch-b", rack="rack-b")]
    """the portal replicas, at least one"""
    upstreams: dict[str, Upstream] = Field(default_factory=lab_upstreams)
    """the upstreams by name; left out: the lab's four (shahkar and sms on rack-a, registry
    and payment on rack-b, lognormal latencies); `upstreams = {}`: none"""
    clinics: Annotated[int, Field(ge=1)] = 50
    """clinics that prescribe"""
    pharmacies: Annotated[int, Field(ge=1)] = 50
    """pharmacies that dispense"""

    @model_validator(mode="after")
    def _wired(self) -> Topology:
        found = [*self._unique(), *self._placed()]
        if not self.replicas:
            found.append(Problem("replicas", "at least one replica"))
        if found:
            raise invalid(*found)
        return self

    def _unique(self) -> list[Problem]:
        found = []
        for key, names in (("switches", self.switches), ("racks", self.racks),
                           ("replicas", [r.name for r in self.replicas])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                found.append(Problem(key, "each name once", f"{twice[0]!r} twice"))
        shared = sorted(set(self.switches) & set(self.racks))
        if shared:
            found.append(Problem("racks", "names distinct from the switches'",
                                 f"{shared[0]!r} for both"))
        return found

    def _placed(self) -> list[Problem]:
        found = [Problem(f"replicas[{i}]", f"a switch among {self.switches} and a rack among "
                         f"{self.racks}", f"{r.switch!r}, {r.rack!r}")
                 for i, r in enumerate(self.replicas)
                 if r.switch not in self.switches or r.rack not in self.racks]
        misplaced = {n: u.rack for n, u in self.upstreams.items() if u.rack not in self.racks}
        if misplaced and "upstreams" not in self.model_fields_set:  # the lab's, by default
            found.append(Problem("upstreams", f"[topology.upstreams] on the racks "
                                 f"{self.racks}, or upstreams = {{}} for none", what=(
                                     f"is left out, which means the lab's four upstreams, "
                                     f"but the lab has {' and '.join(sorted(misplaced))} on "
                                     f"{' and '.join(sorted(set(misplaced.values())))}")))
            return found
        found += [Problem(f"upstreams.{n}.rack", f"one of {self.racks}", repr(rack))
                  for n, rack in misplaced.items()]
        return found

    def link_names(self) -> set[str]:
        """The lab's link (proxy) names: client-<replica> and <replica>-<upstream>."""
        names = {f"client-{r.name}" for r in self.replicas}
        names |= {f"{r.name}-{u}" for r in self.replicas for u in self.upstreams}
        return names


Orphans = Literal["policy", "serve", "drop"]
"""What a replica does with a queued request whose client has gone (timed out, disconnected):
"serve" it anyway, "drop" it when it reaches a worker, or "policy": drop it when the policy
set has admission control and the client propagates its deadline, serve it otherwise."""


class Server(BaseModel):
    """How the portal's replicas treat work whose client has gone (`Orphans`), for every
    policy set or per policy set name (`orphans_by`, e.g. baseline = "serve")."""

    model_config = STRICT

    orphans: Orphans = "policy"
    """a queued request whose client has gone: "serve" it, "drop" it, or "policy": drop it
    when the policy set has admission control and deadline propagation, serve it otherwise"""
    orphans_by: dict[str, Orphans] = {}
    """the same per policy set name, e.g. { baseline = "serve", resilient = "drop" }"""

    def orphans_for(self, policy_set: str) -> Orphans:
        """The orphaned-work rule under the policy set named `policy_set`."""
        return self.orphans_by.get(policy_set, self.orphans)


def topology_names(topology: Topology) -> dict[str, set[str]]:
    """The names a scenario may target, by what they are (for the checks across sections)."""
    return {"link": topology.link_names(), "switch": set(topology.switches),
            "rack": set(topology.racks), "service": {"portal"},
            "replica": {r.name for r in topology.replicas}}
