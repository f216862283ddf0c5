"""The scenario's service demand, handed to a running lab: build it, write it, reload it.

`demand_from_scenario` reads the demand off a scenario (replica workers and queue bound, the
kinds' service times, the upstreams' latencies); `apply_demand(lab, demand)` writes it to
`<run dir>/demand.json`, the file every service is started with (`--demand`, so a process
restarted after a power loss emulates it too), and asks every running service to re-read it;
`clear_demand(lab)` removes it, and the services serve as they do without one;
`served_demand(lab)`, before that, sums what the portal replicas served of it per kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from mock_services.common.demand import Demand, ReplicaDemand, write_demand
from mock_services.common.emulation import EmulatorState
from mock_services.lab.access import admin_access
from mock_services.lab.config import LabError
from mock_services.lab.state import LabState
from scenario.report_model import ServedDemand

if TYPE_CHECKING:
    from mock_services.lab.supervisor import Lab
    from scenario.schema import Scenario

DEMAND_FILE = "demand.json"
RELOAD_TIMEOUT_S = 5.0


def demand_path(run_dir: Path) -> Path:
    """Where the lab of `run_dir` keeps its demand (each service's `--demand`)."""
    return run_dir / DEMAND_FILE


def demand_from_scenario(scenario: Scenario, seed: int, time_factor: float = 1.0) -> Demand:
    """The service demand of `scenario`, drawn from `seed`, every draw times `time_factor`;
    replicas keyed by the scenario's (the lab's) replica names."""
    topo = scenario.topology
    return Demand(
        seed=seed, time_factor=time_factor,
        replicas={r.name: ReplicaDemand(workers=r.workers, max_queue=r.max_queue)
                  for r in topo.replicas},
        kinds={kind: spec.service for kind, spec in scenario.workload.kinds.items()},
        upstreams={name: up.latency for name, up in topo.upstreams.items()},
        **({"list_accept_share": lists.accept_share}
           if (lists := scenario.workload.kinds.get("submit_list")) is not None else {}))


def _state(lab: Lab | LabState) -> LabState:
    return lab if isinstance(lab, LabState) else lab.state


def for_lab(state: LabState, demand: Demand) -> Demand:
    """`demand` with its replicas keyed as the portal processes know themselves (their
    `--replica-id`); `LabError` naming a replica the lab does not have."""
    ids = {s.name: s.replica_id or s.name for s in state.topology.portals()}
    known = set(ids.values())
    replicas: dict[str, ReplicaDemand] = {}
    for name, shape in demand.replicas.items():
        if name not in ids and name not in known:
            raise LabError(f"demand: replica {name!r} is not a portal of this lab; expected "
                           f"one of {', '.join(sorted(ids))}", bad_input=True)
        replicas[ids.get(name, name)] = shape
    return demand.model_copy(update={"replicas": replicas})


def _reload(state: LabState) -> dict[str, str]:
    """POST /admin/demand to every service's admin listener: name -> "reloaded", or "down"
    when nothing listens (it reads the file when it starts again)."""
    out: dict[str, str] = {}
    admin = admin_access(state)
    for s in state.topology.services:
        try:
            r = admin.post(s.name, "/admin/demand", timeout_s=RELOAD_TIMEOUT_S)
        except httpx.ConnectError:
            out[s.name] = "down"
            continue
        except httpx.HTTPError as exc:
            raise LabError(f"{s.name} did not answer POST /admin/demand: {exc!r}") from None
        if r.status_code >= 400:
            raise LabError(f"{s.name} refused POST /admin/demand: HTTP {r.status_code} "
                           f"{r.text[:200]}")
        out[s.name] = "reloaded"
    return out


def apply_demand(lab: Lab | LabState, demand: Demand) -> dict[str, str]:
    """Write `demand` for the lab (atomically) and have every running service emulate it;
    returns each service's state ("reloaded" or "down")."""
    state = _state(lab)
    write_demand(demand_path(state.run_dir), for_lab(state, demand))
    return _reload(state)


def clear_demand(lab: Lab | LabState) -> dict[str, str]:
    """Remove the lab's demand: every running service serves without emulation again."""
    state = _state(lab)
    demand_path(state.run_dir).unlink(missing_ok=True)
    return _reload(state)


def served_demand(lab: Lab | LabState) -> dict[str, ServedDemand]:
    """What the portal replicas served of the demand since it was applied, per request kind,
    summed over the replicas (`GET /admin/demand`'s `served`): requests, drawn seconds and
    the seconds their worker slots were held (to the millisecond). A replica that restarted
    meanwhile (a power loss, a deploy) counts from its restart; one that does not answer
    counts nothing."""
    state = _state(lab)
    admin = admin_access(state)
    totals: dict[str, ServedDemand] = {}
    for s in state.topology.portals():
        try:
            r = admin.get(s.name, "/admin/demand", timeout_s=RELOAD_TIMEOUT_S)
        except httpx.HTTPError:
            continue
        if r.status_code != 200:
            continue
        for kind, served in (EmulatorState.model_validate(r.json()).served or {}).items():
            totals[kind] = totals[kind].plus(served) if kind in totals else served
    return {kind: d.model_copy(update={"drawn_s": round(d.drawn_s, 3),
                                       "held_s": round(d.held_s, 3)})
            for kind, d in sorted(totals.items())}
