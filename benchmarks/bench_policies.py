"""Decision overhead per call: our breaker and retry against pybreaker and tenacity.

Each case wraps the same trivial function (the work itself is ~free, so what is timed is the
policy's bookkeeping) and is measured in this one run: medians of several rounds, ratios
printed as ours / theirs (below 1 = we are faster). Cases:

- breaker, success path: `try_acquire` + `on_result` vs `pybreaker.CircuitBreaker.call`;
- breaker, 10 % failures (never 5 in a row, so neither opens): pybreaker learns of a failure
  by an exception, as its API requires; ours by a boolean, as the sans-IO API does;
- retry, success first time: our `Call` state machine driven by a plain loop vs a reused
  `tenacity.Retrying` object (the cheapest way to call tenacity);
- retry, two failures then success, zero backoff (tenacity's sleep replaced by a no-op).

Run: `.venv/bin/python benchmarks/bench_policies.py` (about 20 s).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

import pybreaker
import tenacity

from policies.backoff import BackoffPolicy
from policies.breaker import CircuitBreakerPolicy
from policies.budget import RetryBudgetPolicy
from policies.decisions import Attempt, Sleep
from policies.outcome import Outcome
from policies.pipeline import ClientPolicy
from policies.retry import RetryPolicy
from policies.throttle import ThrottlePolicy

N = 20_000
ROUNDS = 7
OK = Outcome(True, status=200, duration_s=0.01)
FAIL = Outcome(False, error="timeout", duration_s=0.01)
FAILS = [i % 10 == 3 for i in range(N)]  # 10 %, never consecutive


class Boom(Exception):
    """The failure pybreaker and tenacity see."""


def per_call_us(body: Callable[[], None]) -> float:
    """Median over rounds of the time per call, in microseconds."""
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        body()
        samples.append((time.perf_counter() - start) / N * 1e6)
    return statistics.median(samples)


def ours_breaker(fails: list[bool]) -> Callable[[], None]:
    breaker = CircuitBreakerPolicy(window_size=100, minimum_calls=20).build("b")
    clock = iter(range(10**9))

    def body() -> None:
        for fail in fails:
            now = float(next(clock))
            if breaker.try_acquire(now):
                breaker.on_result(now, 0.01, fail)
    return body


def pybreaker_breaker(fails: list[bool]) -> Callable[[], None]:
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)

    def ok() -> int:
        return 1

    def boom() -> int:
        raise Boom

    def body() -> None:
        for fail in fails:
            try:  # noqa: SIM105 - contextlib.suppress would add its own cost to theirs
                breaker.call(boom if fail else ok)
            except Boom:
                pass
    return body


def ours_retry(script: list[Outcome], full: bool = False) -> Callable[[], None]:
    policy = ClientPolicy(retry=RetryPolicy(max_attempts=3, backoff=BackoffPolicy(
        base_s=0.0, max_s=0.0, jitter="none")))
    if full:
        policy = policy.model_copy(update={
            "budget": RetryBudgetPolicy(ratio=1.0, min_per_s=1e6),
            "breaker": CircuitBreakerPolicy(window_size=100, minimum_calls=20,
                                            failure_rate_threshold=1.0),
            "throttle": ThrottlePolicy(k=2.0)})
    pipeline = policy.build("r")
    rng = random.Random(1)
    clock = iter(range(10**9))

    def body() -> None:
        for _ in range(N):
            now = float(next(clock))
            call = pipeline.start(now, rng)
            outcomes = iter(script)
            while True:
                d = call.next(now)
                if isinstance(d, Attempt):
                    call.record(now, next(outcomes))
                elif not isinstance(d, Sleep):
                    break
    return body


def tenacity_retry(failures: int) -> Callable[[], None]:
    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_none(),
                                 retry=tenacity.retry_if_exception_type(Boom),
                                 sleep=lambda _s: None)
    state = {"left": 0}

    def fn() -> int:
        if state["left"]:
            state["left"] -= 1
            raise Boom
        return 1

    def body() -> None:
        for _ in range(N):
            state["left"] = failures
            retrying(fn)
    return body


def main() -> None:
    rows = [
        ("breaker, success path", ours_breaker([False] * N), pybreaker_breaker([False] * N)),
        ("breaker, 10% failures", ours_breaker(FAILS), pybreaker_breaker(FAILS)),
        ("retry, success at once", ours_retry([OK]), tenacity_retry(0)),
        ("retry, 2 failures then ok", ours_retry([FAIL, FAIL, OK]), tenacity_retry(2)),
    ]
    print(f"{'case':28} {'ours us':>9} {'theirs us':>10} {'ours/theirs':>12}")
    for name, ours, theirs in rows:
        a, b = per_call_us(ours), per_call_us(theirs)
        print(f"{name:28} {a:9.3f} {b:10.3f} {a / b:12.3f}")
    full = per_call_us(ours_retry([FAIL, OK], full=True))
    print(f"ours, full pipeline (timeout+retry+budget+breaker+throttle), 1 failure then ok: "
          f"{full:.3f} us per logical call")


if __name__ == "__main__":
    main()
