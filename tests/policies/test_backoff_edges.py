"""A client's per-attempt rules at their edges: backoff, retry waits, timeouts, classification.

The jitters are checked at the ends of their intervals with a random source that always draws
the lowest or the highest value, so each formula of Brooker's article is pinned exactly.
"""

from __future__ import annotations

import random

import pytest

from policies.backoff import BackoffPolicy, decorrelated_jitter, equal_jitter, exponential
from policies.outcome import Classifier, Outcome
from policies.retry import RetryPolicy
from policies.timeout import attempt_timeout, decode_budget


class Lowest(random.Random):
    """A random source whose uniform(a, b) always draws a."""

    def uniform(self, a: float, b: float) -> float:
        return a


class Highest(random.Random):
    """A random source whose uniform(a, b) always draws b."""

    def uniform(self, a: float, b: float) -> float:
        return b


def policy(jitter: str) -> BackoffPolicy:
    return BackoffPolicy(base_s=1.0, multiplier=2.0, max_s=100.0,
                         jitter=jitter)  # type: ignore[arg-type]


# -- backoff --------------------------------------------------------------------------------

def test_exponential_keeps_growing_to_the_cap_with_a_multiplier_near_one() -> None:
    assert exponential(100, 1.0, 1.01, 100.0) == 1.01 ** 100
    assert exponential(500, 1.0, 1.01, 100.0) == 100.0


def test_exponential_is_total_where_the_power_overflows() -> None:
    assert exponential(5000, 0.5, 4.0, 30.0) == 30.0
    assert exponential(5000, 0.0, 4.0, 30.0) == 0.0  # base 0: immediate retries, always


@pytest.mark.parametrize("n,lowest,highest", [(0, 0.0, 1.0), (3, 0.0, 8.0), (9, 0.0, 100.0)])
def test_full_jitter_spans_zero_to_the_exponential(n: int, lowest: float,
                                                   highest: float) -> None:
    assert policy("full").delay(n, 0.0, Lowest()) == lowest
    assert policy("full").delay(n, 0.0, Highest()) == highest


@pytest.mark.parametrize("n,lowest,highest", [(0, 0.5, 1.0), (3, 4.0, 8.0), (9, 50.0, 100.0)])
def test_equal_jitter_spans_the_upper_half(n: int, lowest: float, highest: float) -> None:
    assert policy("equal").delay(n, 0.0, Lowest()) == lowest
    assert policy("equal").delay(n, 0.0, Highest()) == highest
    assert equal_jitter(n, 1.0, 2.0, 100.0, Highest()) == highest


def test_no_jitter_is_the_exponential_whatever_the_random_source() -> None:
    for rng in (Lowest(), Highest()):
        assert [policy("none").delay(n, 0.0, rng) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("previous,highest", [(2.0, 6.0), (10.0, 30.0), (50.0, 100.0)])
def test_decorrelated_jitter_reaches_three_times_the_previous_wait(previous: float,
                                                                  highest: float) -> None:
    assert decorrelated_jitter(previous, 1.0, 100.0, Highest()) == highest
    assert decorrelated_jitter(previous, 1.0, 100.0, Lowest()) == 1.0
    assert policy("decorrelated").delay(7, previous, Highest()) == highest


def test_decorrelated_jitter_starts_from_the_base_before_the_first_wait() -> None:
    assert policy("decorrelated").delay(0, 0.0, Highest()) == 3.0
    assert policy("decorrelated").delay(0, 0.0, Lowest()) == 1.0


# -- retry waits ----------------------------------------------------------------------------

def test_the_retry_wait_follows_the_previous_wait_with_decorrelated_jitter() -> None:
    retry = RetryPolicy(backoff=policy("decorrelated"))
    assert retry.wait_s(2, 4.0, Outcome(False, error="timeout"), Highest()) == 12.0


@pytest.mark.parametrize("advised,expected", [(0.5, 2.0), (2.0, 2.0), (5.0, 5.0), (60.0, 30.0)])
def test_retry_after_raises_the_wait_up_to_its_own_cap(advised: float,
                                                       expected: float) -> None:
    retry = RetryPolicy(backoff=policy("none"), max_retry_after_s=30.0)
    outcome = Outcome(False, status=503, retry_after_s=advised)
    assert retry.wait_s(1, 0.0, outcome, Lowest()) == expected


def test_retry_after_is_ignored_when_not_honoured() -> None:
    retry = RetryPolicy(backoff=policy("none"), honour_retry_after=False)
    assert retry.wait_s(1, 0.0, Outcome(False, status=503, retry_after_s=9.0), Lowest()) == 2.0


# -- timeouts and the budget header ---------------------------------------------------------

def test_no_attempt_when_the_budget_left_equals_the_minimum() -> None:
    assert attempt_timeout(9.0, 2.0, 10.0, min_budget_s=1.0) is None
    assert attempt_timeout(8.5, 2.0, 10.0, min_budget_s=1.0) == 1.5


@pytest.mark.parametrize("min_budget_s", [0.0, -1.0])
def test_no_attempt_without_budget_whatever_the_minimum(min_budget_s: float) -> None:
    """A timeout of zero or less is never handed out: the call would be dead on arrival."""
    assert attempt_timeout(10.0, 2.0, 10.0, min_budget_s) is None
    assert attempt_timeout(11.0, 2.0, 10.0, min_budget_s) is None
    assert attempt_timeout(9.5, 2.0, 10.0, min_budget_s) == 0.5


def test_the_attempt_timeout_when_it_equals_the_budget_left() -> None:
    assert attempt_timeout(8.0, 2.0, 10.0) == 2.0


def test_a_budget_header_of_twelve_digits_is_read_and_one_longer_is_not() -> None:
    assert decode_budget("9" * 12, 0.0) == 999_999_999.999
    assert decode_budget("0" * 11 + "5", 10.0) == 10.005
    assert decode_budget("1" + "0" * 12, 0.0) is None


# -- classification -------------------------------------------------------------------------

OUTCOMES = {
    "ok": Outcome(True, status=200),
    "timeout": Outcome(False, error="timeout"),
    "refused": Outcome(False, error="refused"),
    "tls": Outcome(False, error="tls_handshake"),
    "http_503": Outcome(False, status=503),
    "http_429": Outcome(False, status=429),
    "http_500": Outcome(False, status=500),
    "http_404": Outcome(False, status=404),
    "http_501": Outcome(False, status=501),
    "no answer": Outcome(False),
}


@pytest.mark.parametrize("name,retryable,failure,overload", [
    ("ok", False, False, False),
    ("timeout", True, True, False),
    ("refused", True, True, True),
    ("tls", False, True, False),
    ("http_503", True, True, True),
    ("http_429", True, True, True),
    ("http_500", True, True, False),
    ("http_404", False, False, False),
    ("http_501", False, False, False),
    ("no answer", False, True, False),
])
def test_each_outcome_is_classified_once_for_retry_breaker_and_throttle(
        name: str, retryable: bool, failure: bool, overload: bool) -> None:
    outcome, classifier = OUTCOMES[name], Classifier()
    assert classifier.is_retryable(outcome) is retryable
    assert classifier.is_failure(outcome) is failure
    assert Classifier.is_overload(outcome) is overload


def test_a_success_is_never_retried_even_with_a_retryable_status() -> None:
    assert not Classifier().is_retryable(Outcome(True, status=503))
    assert not Classifier().is_failure(Outcome(True, status=503))
    assert not Classifier.is_overload(Outcome(True, status=503))
