"""The retry budget at its edges: the window's open end, the floor alone, bad parameters.

The window is (t - window_s, t]: a request or retry exactly window_s old has left it.
"""

from __future__ import annotations

import re

import pytest

from policies.budget import RetryBudget, RetryBudgetPolicy
from policies.errors import PolicyConfigError


def test_a_retry_exactly_one_window_old_no_longer_counts() -> None:
    budget = RetryBudget(ratio=0.0, window_s=10.0, min_per_s=0.1)  # floor: one per window
    assert budget.try_retry(0.0)
    assert not budget.try_retry(9.999)
    assert budget.try_retry(10.0)
    assert budget.counts(10.0) == (0, 1)


def test_a_request_exactly_one_window_old_no_longer_earns_retries() -> None:
    budget = RetryBudget(ratio=1.0, window_s=10.0, min_per_s=0.0)
    budget.record_request(0.0)
    assert budget.counts(9.999) == (1, 0)
    assert budget.counts(10.0) == (0, 0)
    assert not budget.try_retry(10.0)


def test_a_request_inside_the_window_earns_its_share() -> None:
    budget = RetryBudget(ratio=0.5, window_s=10.0, min_per_s=0.0)
    for t in (0.0, 1.0, 2.0, 3.0):
        budget.record_request(t)
    assert [budget.try_retry(9.0) for _ in range(3)] == [True, True, False]  # 0.5 * 4
    assert budget.counts(9.0) == (4, 2)


def test_a_refused_retry_leaves_the_budget_as_it_was() -> None:
    budget = RetryBudget(ratio=0.0, window_s=5.0, min_per_s=0.2)
    assert budget.try_retry(1.0)
    assert not budget.try_retry(2.0)
    assert not budget.try_retry(3.0)
    assert budget.counts(3.0) == (0, 1)
    assert budget.try_retry(6.0)  # only the granted retry at 1.0 had to leave the window


def test_the_config_builds_a_budget_with_its_parameters() -> None:
    budget = RetryBudgetPolicy(ratio=0.25, window_s=4.0, min_per_s=0.5).build()
    assert (budget.ratio, budget.window_s) == (0.25, 4.0)
    assert [budget.try_retry(0.0) for _ in range(3)] == [True, True, False]  # floor 0.5 * 4


@pytest.mark.parametrize("args,message", [
    ((1.5, 10.0, 1.0), "RetryBudgetPolicy.ratio: must be less than or equal to 1 (got 1.5)"),
    ((-0.1, 10.0, 1.0),
     "RetryBudgetPolicy.ratio: must be greater than or equal to 0 (got -0.1)"),
    ((0.1, 0.0, 1.0), "RetryBudgetPolicy.window_s: must be greater than 0 (got 0.0)"),
    ((0.1, 10.0, -1.0),
     "RetryBudgetPolicy.min_per_s: must be greater than or equal to 0 (got -1.0)"),
])
def test_a_budget_with_a_bad_parameter_is_refused_in_one_sentence(
        args: tuple[float, float, float], message: str) -> None:
    with pytest.raises(PolicyConfigError, match="^" + re.escape(message) + "$"):
        RetryBudget(*args)
