"""The refusals of bad policy parameters, sentence for sentence.

A user reads these (the CLI prints them, a service returns them as a 4xx detail), so the
whole sentence is the behaviour: which parameter, the allowed range, and the value given.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from policies.backoff import BackoffPolicy
from policies.errors import (
    PolicyConfigError,
    check_at_least,
    check_int_at_least,
    check_non_negative,
    check_positive,
    check_ratio,
    from_validation_error,
)
from policies.hedge import HedgePolicy


def refusal(build: Callable[[], object]) -> str:
    """The message of the `PolicyConfigError` that `build` raises."""
    with pytest.raises(PolicyConfigError) as info:
        build()
    return str(info.value)


@pytest.mark.parametrize(("build", "expected"), [
    (lambda: check_positive("hedge.delay_s", 0.0),
     "hedge.delay_s must be a finite number > 0 (got 0.0)"),
    (lambda: check_positive("hedge.delay_s", float("inf")),
     "hedge.delay_s must be a finite number > 0 (got inf)"),
    (lambda: check_non_negative("cache.ttl_s", -0.5),
     "cache.ttl_s must be a finite number >= 0 (got -0.5)"),
    (lambda: check_non_negative("cache.ttl_s", float("nan")),
     "cache.ttl_s must be a finite number >= 0 (got nan)"),
    (lambda: check_at_least("throttle.k", 0.5, 1.0),
     "throttle.k must be a finite number >= 1 (got 0.5)"),
    (lambda: check_at_least("throttle.k", 0.5, 1.5),
     "throttle.k must be a finite number >= 1.5 (got 0.5)"),
    (lambda: check_ratio("budget.ratio", 1.5), "budget.ratio must be in (0, 1] (got 1.5)"),
    (lambda: check_ratio("budget.ratio", 0), "budget.ratio must be in (0, 1] (got 0)"),
    (lambda: check_int_at_least("bulkhead.max_concurrent", 0, 1),
     "bulkhead.max_concurrent must be an integer >= 1 (got 0)"),
])
def test_each_check_names_the_parameter_the_range_and_the_value(
        build: Callable[[], object], expected: str) -> None:
    assert refusal(build) == expected


@pytest.mark.parametrize("value", [2.5, True, "3", None])
def test_an_integer_parameter_refuses_what_is_not_an_integer(value: object) -> None:
    """A bool is an int to Python, but `max_concurrent = true` is a typo, not a count."""
    message = refusal(lambda: check_int_at_least("bulkhead.max_concurrent", value, 0))  # type: ignore[arg-type]
    assert message == f"bulkhead.max_concurrent must be an integer >= 0 (got {value!r})"


def test_the_checks_return_the_value_as_given_when_it_is_in_range() -> None:
    assert check_positive("x", 3) == 3.0 and isinstance(check_positive("x", 3), float)
    assert check_non_negative("x", 0) == 0.0
    assert check_at_least("x", 1.0, 1.0) == 1.0
    assert check_ratio("x", 1) == 1.0
    assert check_int_at_least("x", 1, 1) == 1


def validation_error(build: Callable[[], object]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        build()
    return info.value


def test_a_field_error_names_the_field_under_its_prefix_with_the_value() -> None:
    error = validation_error(lambda: HedgePolicy.model_validate({"max_hedges": 0}))
    expected = "max_hedges: must be greater than or equal to 1 (got 0)"
    assert str(from_validation_error(error)) == expected  # no prefix by default
    assert str(from_validation_error(error, "policies.client.hedge.")) == (
        "policies.client.hedge." + expected)


def test_a_config_refuses_every_bad_field_in_one_line() -> None:
    message = refusal(lambda: HedgePolicy(max_hedges=0, delay_s=0))
    assert message == ("HedgePolicy.delay_s: must be greater than 0 (got 0); "
                       "HedgePolicy.max_hedges: must be greater than or equal to 1 (got 0)")


def test_a_type_error_keeps_pydantic_s_reason_in_our_words() -> None:
    message = refusal(lambda: HedgePolicy(quantile="x"))
    assert message == ("HedgePolicy.quantile: must be a valid number, unable to parse string "
                       "as a number (got 'x')")


def test_a_whole_model_error_names_the_model_and_omits_the_table_given() -> None:
    """A cross-field rule ("max_s >= base_s") has no field: the prefix without its dot names
    it, or "policy" with no prefix; the input is the whole table, not worth repeating."""
    assert refusal(lambda: BackoffPolicy(base_s=5.0, max_s=1.0)) == (
        "BackoffPolicy: max_s must be >= base_s (5.0)")
    error = validation_error(
        lambda: BackoffPolicy.model_validate({"base_s": 5.0, "max_s": 1.0}))
    assert str(from_validation_error(error)) == "policy: max_s must be >= base_s (5.0)"
    # only the trailing dot of the prefix goes; the rest of it is kept as written
    assert str(from_validation_error(error, ".retry.MAX.")) == (
        ".retry.MAX: max_s must be >= base_s (5.0)")


def test_a_root_location_is_not_shown() -> None:
    """pydantic 1 style '__root__' locations name no parameter: they are dropped."""
    error = ValidationError.from_exception_data("RetryPolicy", [
        {"type": "value_error", "loc": ("__root__",), "input": 3,
         "ctx": {"error": ValueError("too many")}},
        {"type": "value_error", "loc": ("backoff", "__root__"), "input": 4,
         "ctx": {"error": ValueError("too few")}},
    ])
    assert str(from_validation_error(error, "retry.")) == (
        "retry: too many (got 3); retry.backoff: too few (got 4)")


def test_a_refusal_is_a_value_error_of_one_line() -> None:
    with pytest.raises(ValueError, match=re.escape("(got 2.0)") + "$"):
        check_ratio("x", 2.0)
