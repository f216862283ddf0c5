"""The model reduced to M/M/c, and Erlang C to check it against.

With Poisson arrivals, exponential service, one replica of c workers, an unbounded queue,
no upstream, no timeout and no retry, the portal is an M/M/c queue; its mean wait in queue
is Erlang C's  W_q = C(c, a) / (c mu - lambda)  with a = lambda / mu. `mmc_scenario` builds
that scenario through the same schema the scenario files use, so the check runs the real
model (arrivals, client, pipeline, portal), not a copy of it.
"""

from __future__ import annotations

import math

from policies.presets import load_policy_set
from scenario.schema import Scenario
from sim.model import simulate

MMC_SERVICE_S = 0.1  # mean service time of the reduced model
NO_TIMEOUT_S = 1e9  # a timeout no request reaches: the reduction has no client timeout


def erlang_c_wait_s(arrival_per_s: float, service_s: float, servers: int) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C); requires load < 1."""
    a = arrival_per_s * service_s
    rho = a / servers
    if not 0 <= rho < 1:
        raise ValueError(f"load {rho:.3f} out of [0, 1): the queue is unstable")
    top = a ** servers / math.factorial(servers) / (1 - rho)
    p_wait = top / (sum(a ** k / math.factorial(k) for k in range(servers)) + top)
    return p_wait * service_s / (servers * (1 - rho))


def mmc_scenario(servers: int, load: float, requests: int) -> Scenario:
    """The M/M/c reduction: `requests` arrivals (in expectation) at utilisation `load`."""
    rate = load * servers / MMC_SERVICE_S
    return Scenario.model_validate({
        "name": f"mmc-{servers}-{load}", "description": "M/M/c reduction of the model",
        "duration": f"{requests / rate:.6f}s",
        "topology": {"switches": ["switch-a"], "racks": ["rack-a"], "replicas": [
            {"name": "portal-a", "switch": "switch-a", "rack": "rack-a", "workers": servers,
             "max_queue": 10 ** 9}]},
        "workload": {"rate_per_s": rate, "step": "400d",
                     "patience": {"dist": "deterministic", "value": "400d"},
                     "kinds": {"read_history": {"share": 1, "profile": "flat", "service": {
                         "dist": "exponential", "mean": f"{MMC_SERVICE_S}s"}}}},
        "policies": {"overrides": {"admission": "off", "user": {
            "timeout": {"attempt_timeout_s": NO_TIMEOUT_S}, "retry": {"max_attempts": 1},
            "budget": "off"}}},
    })


def simulated_wait_s(servers: int, load: float, requests: int, seed: int) -> tuple[float, int]:
    """The model's mean wait in queue and the number of requests it served."""
    scenario = mmc_scenario(servers, load, requests)
    ps = load_policy_set("baseline", scenario.policies.for_preset("baseline"))
    counters = simulate(scenario, ps, seed).counters
    return counters.wait_sum_s / counters.served, counters.served
