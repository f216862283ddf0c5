"""The model reduced to textbook queues, and the closed forms to check each reduction against.

Every family is a scenario built through the same schema the scenario files use, so a check
runs the real model (arrivals, client, user pipeline, portal, faults), not a copy of it. One
replica (or a few workers) with Poisson arrivals and exponential service, no upstream unless
the family needs one; each family switches on the one rule it checks:

- Erlang B (loss): c workers, `max_queue = 0`, no retry. Blocking B(c, a) (Erlang 1917).
- Erlang C: c workers, unbounded queue, no timeout. P(wait) = C(c, a) (the table) and
  W_q = C(c, a) / (c mu - lambda) (tests/sim/test_validation.py).
- Erlang-A (Palm 1943; Garnett, Mandelbaum & Reiman 2002): c workers, users abandon the queue
  after an exponential patience (`give_up = "queue"`). P(abandon) and P(wait) from the
  birth-death chain with death rates min(n, c) mu + max(n - c, 0) theta, solved exactly.
- Retrial queue (Falin & Templeton 1997, M/M/1 with classical retrials): one worker, no
  waiting room; a blocked user retries after an Exp(theta) pause until served. The mean time
  to service is W = rho (1/mu + 1/theta) / (1 - rho); the mean sojourn W + 1/mu.
- M/M/1 with breakdowns (Avi-Itzhak & Naor 1963; independent exponential failures at rate xi,
  repairs at rate eta, preemptive resume). From the generating functions of the chain
  (derived in `breakdown_sojourn_s`): the mean number in system, then Little's law.
- Retry amplification: each upstream attempt fails with probability p (a reset_peer toxic of
  toxicity p), at most n attempts: (1 - p^n) / (1 - p) attempts per call; with a retry
  budget of ratio r (no floor) and a binding budget, 1 + r (to O(1 / (lambda window))).

`validate` runs a family over seeds and gives the mean, its 95 % confidence interval (Student t)
and the closed form; `benchmarks/bench_sim.py --validate` prints the table.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from policies.presets import load_policy_set
from scenario.history import History
from scenario.names import upstream_process
from scenario.schema import Scenario
from sim.model import Replication, simulate

MMC_SERVICE_S = 0.1  # mean service time of the reduced model
NO_TIMEOUT_S = 1e9  # a timeout no request reaches: the reduction has no client timeout
FOREVER = "400d"  # a patience no request reaches
# Student's t 97.5 % quantiles by degrees of freedom (a 95 % two-sided interval)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 15: 2.131, 19: 2.093, 24: 2.064, 29: 2.045}


# -- closed forms ---------------------------------------------------------------------------

def erlang_b(servers: int, offered: float) -> float:
    """Erlang B: the blocking probability of M/M/c/c at offered load `offered` (Erlangs),
    by the stable recursion B(k) = a B(k-1) / (k + a B(k-1))."""
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return b


def erlang_c(servers: int, offered: float) -> float:
    """Erlang C: the probability of waiting in M/M/c; requires offered < servers."""
    if not 0 <= offered < servers:
        raise ValueError(f"load {offered / servers:.3f} out of [0, 1): the queue is unstable")
    b = erlang_b(servers, offered)
    return servers * b / (servers - offered * (1 - b))


def erlang_c_wait_s(arrival_per_s: float, service_s: float, servers: int) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C); requires load < 1."""
    a = arrival_per_s * service_s
    return erlang_c(servers, a) * service_s / (servers - a)


def erlang_a(servers: int, arrival_per_s: float, service_s: float,
             patience_s: float) -> tuple[float, float]:
    """Erlang-A (M/M/c+M): (P(abandon), P(wait)) from the birth-death chain, truncated where
    the stationary probabilities fall below 1e-16 of the largest."""
    mu, theta = 1.0 / service_s, 1.0 / patience_s
    weights, w, n = [1.0], 1.0, 0
    while True:
        n += 1
        w *= arrival_per_s / (min(n, servers) * mu + max(n - servers, 0) * theta)
        weights.append(w)
        if n > servers and w < 1e-16 * max(weights):
            break
    total = sum(weights)
    queue = sum((k - servers) * p for k, p in enumerate(weights) if k > servers) / total
    waits = sum(weights[servers:]) / total
    return theta * queue / arrival_per_s, waits


def retrial_sojourn_s(arrival_per_s: float, service_s: float, retry_s: float) -> float:
    """M/M/1 retrial queue (classical retrials at rate 1/retry_s): mean sojourn, first
    attempt to the end of service (Falin & Templeton 1997, ch. 1)."""
    rho = arrival_per_s * service_s
    if not 0 <= rho < 1:
        raise ValueError(f"load {rho:.3f} out of [0, 1): the retrial queue is unstable")
    return rho * (service_s + retry_s) / (1 - rho) + service_s


def breakdown_sojourn_s(arrival_per_s: float, service_s: float, up_s: float,
                        repair_s: float) -> float:
    """M/M/1 whose server fails after Exp(up_s) of time (busy or idle) and is repaired after
    Exp(repair_s), work resumed (Avi-Itzhak & Naor 1963): the mean sojourn.

    With U(z), D(z) the generating functions of the number in system while up and down,
    the balance equations give D = xi U / (lambda + eta - lambda z) and
    U(z) = mu p0 / f(z), f(z) = mu - lambda z - xi lambda z / (lambda + eta - lambda z);
    U(1) = eta / (xi + eta). So E[N] = U'(1) + D'(1) with U'(1) = -U(1) f'(1) / f(1) and
    D'(1) = xi (U'(1) / eta + U(1) lambda / eta^2); the sojourn is E[N] / lambda (Little).
    """
    lam, mu, xi, eta = arrival_per_s, 1.0 / service_s, 1.0 / up_s, 1.0 / repair_s
    f1 = mu - lam - xi * lam / eta
    if f1 <= 0:
        raise ValueError("load above the available capacity: the queue is unstable")
    up = eta / (xi + eta)
    df1 = -lam - xi * lam * (lam + eta) / eta ** 2
    du = -up * df1 / f1
    dd = xi * (du / eta + up * lam / eta ** 2)
    return (du + dd) / lam


def amplification(p_fail: float, attempts: int, budget: float | None = None) -> float:
    """Attempts per call when each fails with probability `p_fail`, at most `attempts`:
    (1 - p^n) / (1 - p); a retry budget of ratio `budget` caps it at 1 + budget."""
    plain = float(attempts) if p_fail == 1 else (1 - p_fail ** attempts) / (1 - p_fail)
    return plain if budget is None else min(plain, 1 + budget)


# -- the reductions -------------------------------------------------------------------------

def reduced(name: str, servers: int, rate: float, requests: int, *, max_queue: int = 10 ** 9,
            service_s: float = MMC_SERVICE_S, workload: dict[str, Any] | None = None,
            kind: dict[str, Any] | None = None, policies: dict[str, Any] | None = None,
            extra: dict[str, Any] | None = None) -> Scenario:
    """One replica of `servers` workers, Poisson arrivals at `rate` for `requests` arrivals in
    expectation, exponential service of mean `service_s`; no timeout, retry or refresh
    unless `workload`, `kind`, `policies` or `extra` (top-level tables) say otherwise."""
    user = {"timeout": {"attempt_timeout_s": NO_TIMEOUT_S}, "retry": {"max_attempts": 1},
            "budget": "off", "failover": False}
    data: dict[str, Any] = {
        "name": name, "description": "a textbook queue: the model reduced",
        "duration": f"{requests / rate:.6f}s",
        "topology": {"switches": ["switch-a"], "racks": ["rack-a"], "upstreams": {}, "replicas": [
            {"name": "portal-a", "switch": "switch-a", "rack": "rack-a", "workers": servers,
             "max_queue": max_queue}]},
        "workload": {"rate_per_s": rate, "step": "400d",
                     "patience": {"dist": "deterministic", "value": FOREVER},
                     "kinds": {"read_history": {"share": 1, "profile": "flat", "service": {
                         "dist": "exponential", "mean": f"{service_s}s"}, **(kind or {})}},
                     **(workload or {})},
        "policies": {"overrides": {"admission": "off", "user": user, **(policies or {})}},
        **(extra or {}),
    }
    return Scenario.model_validate(data)


def mmc_scenario(servers: int, load: float, requests: int) -> Scenario:
    """The M/M/c reduction: `requests` arrivals (in expectation) at utilisation `load`."""
    return reduced(f"mmc-{servers}-{load}", servers, load * servers / MMC_SERVICE_S, requests)


def run(scenario: Scenario, seed: int) -> Replication:
    """One replication of a reduction under the baseline preset with its overrides."""
    return simulate(scenario, load_policy_set("baseline", scenario.policies.for_preset(
        "baseline")), seed)


def simulated_wait_s(servers: int, load: float, requests: int, seed: int) -> tuple[float, int]:
    """The model's mean wait in queue and the number of requests it served."""
    counters = run(mmc_scenario(servers, load, requests), seed).counters
    return counters.wait_sum_s / counters.served, counters.served


def _ends(history: History) -> list[tuple[float, str, str]]:
    """(latency_s, type, error) of every client operation that completed."""
    return [(end.time_s - invoke.time_s, end.type, end.error)
            for invoke, end in history.pairs() if end is not None]


def share_failed(history: History, error: str) -> float:
    """The share of operations that failed with `error`."""
    ends = _ends(history)
    return sum(1 for _, t, e in ends if t != "ok" and e == error) / len(ends)


def mean_ok_latency_s(history: History) -> float:
    """The mean latency of the operations that succeeded."""
    ok = [lat for lat, t, _ in _ends(history) if t == "ok"]
    return sum(ok) / len(ok)


def attempts_per_call(history: History, upstream: str) -> float:
    """Upstream attempts per logical call (a call is one key of the upstream's calls)."""
    process = upstream_process(upstream)
    calls = [op.key for op in history.ops if op.process == process and op.f == "call"]
    return len(calls) / len(set(calls))


# -- the families ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Family:
    """One check: what it measures, its closed form, and how one seed measures it."""

    name: str
    measure: str
    theory: float
    one_seed: Callable[[int], float]


def families(requests: int) -> list[Family]:
    """Every family at the parameters of the validation table, `requests` arrivals per seed."""
    c, a = 4, 3.0  # Erlang B and C: 4 workers at 3 Erlangs
    lam = a / MMC_SERVICE_S
    loss = reduced("erlang-b", c, lam, requests, max_queue=0)
    mmc = reduced("erlang-c", c, 2.8 / MMC_SERVICE_S, requests)
    patience_s = 0.2  # Erlang-A: 4 workers at 4 Erlangs offered (rho = 1), patience 2 x service
    impatient = reduced("erlang-a", c, 4.0 / MMC_SERVICE_S, requests, workload={
        "give_up": "queue", "patience": {"dist": "exponential", "mean": f"{patience_s}s"}})
    retry_s, lam1 = 0.2, 6.0  # retrial: rho 0.6, retries after Exp(0.2 s)
    retrial = reduced("retrial", 1, lam1, requests, max_queue=0, workload={"refresh": {
        "probability": 1.0, "max_refreshes": 10 ** 9,
        "delay": {"dist": "exponential", "mean": f"{retry_s}s"}}})
    up_s, repair_s, lam2 = 1.0, 0.2, 5.0  # breakdowns: effective load 0.6, availability 5/6
    breakdowns = reduced("breakdowns", 1, lam2, requests, extra={"stochastic": {
        "mtbf": {"portal-a": f"{up_s}s"}, "mttr": {"portal-a": f"{repair_s}s"},
        "replica_work": "resume"}})
    # amplification: 40 % of attempts reset, 4 attempts at most; a fifth of the arrivals
    # (a call's attempts vary little, and each costs a history op)
    p, n, ratio = 0.4, 4, 0.1
    retries = _amplified(requests // 5, p, n, None)
    budgeted = _amplified(requests // 5, p, n, ratio)
    return [
        Family("Erlang B (M/M/4/4, a=3)", "P(blocked)", erlang_b(c, a),
               lambda s: share_failed(run(loss, s).history, "http_503")),
        Family("Erlang C (M/M/4, a=2.8)", "P(wait)", erlang_c(c, 2.8),
               lambda s: _waited(run(mmc, s))),
        Family("Erlang-A (M/M/4+M, a=4, 1/theta=0.2 s)", "P(abandon)",
               erlang_a(c, 4.0 / MMC_SERVICE_S, MMC_SERVICE_S, patience_s)[0],
               lambda s: share_failed(run(impatient, s).history, "abandoned")),
        Family("retrial M/M/1 (rho=0.6, 1/theta=0.2 s)", "mean sojourn s",
               retrial_sojourn_s(lam1, MMC_SERVICE_S, retry_s),
               lambda s: mean_ok_latency_s(run(retrial, s).history)),
        Family("M/M/1 breakdowns (resume, up 1 s, repair 0.2 s)", "mean sojourn s",
               breakdown_sojourn_s(lam2, MMC_SERVICE_S, up_s, repair_s),
               lambda s: mean_ok_latency_s(run(breakdowns, s).history)),
        Family(f"retry amplification (p={p}, n={n})", "attempts/call",
               amplification(p, n), lambda s: attempts_per_call(run(retries, s).history,
                                                                "shahkar")),
        Family(f"  with a retry budget (ratio {ratio})", "attempts/call",
               amplification(p, n, ratio), lambda s: attempts_per_call(
                   run(budgeted, s).history, "shahkar")),
    ]


def _waited(rep: Replication) -> float:
    return rep.counters.waited / rep.counters.served


def _amplified(requests: int, p_fail: float, attempts: int, budget: float | None) -> Scenario:
    """Calls to an upstream whose every attempt is reset with probability `p_fail`."""
    rate = 100.0
    duration_s = requests / rate
    client: dict[str, Any] = {
        "timeout": {"attempt_timeout_s": 30.0},
        "retry": {"max_attempts": attempts, "honour_retry_after": False,
                  "backoff": {"base_s": 0.0, "multiplier": 1.0, "max_s": 0.0, "jitter": "none"}},
        "budget": "off" if budget is None else {"ratio": budget, "window_s": 10.0,
                                                "min_per_s": 0.0},
        "breaker": "off"}
    return reduced(
        "amplification", 64, rate, requests, service_s=0.001,
        kind={"upstreams": ["shahkar"]}, policies={"client": client},
        extra={"faults": [{"kind": "toxic", "link": "portal-a-shahkar", "type": "reset_peer",
                           "attributes": {"timeout": 0}, "stream": "upstream",
                           "toxicity": p_fail, "start": "0s",
                           "duration": f"{duration_s:.6f}s"}]}
        | {"topology": {"switches": ["switch-a"], "racks": ["rack-a"],
                        "upstreams": {"shahkar": {"latency": {"dist": "deterministic",
                                                              "value": "1ms"}}},
                        "replicas": [{"name": "portal-a", "switch": "switch-a",
                                      "rack": "rack-a", "workers": 64}]}})


@dataclass(frozen=True, slots=True)
class Check:
    """One family over seeds: the mean, its 95 % interval's half-width, the closed form."""

    family: Family
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def half_width(self) -> float:
        k = len(self.values)
        t = T975[max(d for d in T975 if d <= k - 1)]
        return t * statistics.stdev(self.values) / math.sqrt(k)

    @property
    def error(self) -> float:
        """The mean's relative error against the closed form."""
        return self.mean / self.family.theory - 1

    def within(self, tolerance: float) -> bool:
        """The whole 95 % interval lies within `tolerance` (relative) of the closed form."""
        return abs(self.error) + self.half_width / self.family.theory <= tolerance


def validate(family: Family, seeds: range) -> Check:
    """Run `family` once per seed."""
    return Check(family, tuple(family.one_seed(seed) for seed in seeds))
