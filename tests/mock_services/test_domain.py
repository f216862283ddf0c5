"""National ID, mobile and insurance-list arithmetic against DOMAIN.md's facts."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from mock_services.domain.insurance_list import (
    Date8,
    InsuranceList,
    ListError,
    check_list,
    payable_rial,
)
from mock_services.domain.list_builder import WorkerFacts, build_list
from mock_services.domain.mobile import normalise_mobile
from mock_services.domain.national_id import (
    check_digit,
    is_valid_national_id,
    make_national_id,
    national_id_problem,
)
from mock_services.seed import demo_population


def test_national_id_examples_of_domain_md() -> None:
    assert is_valid_national_id("0013542419")
    assert is_valid_national_id("0084575948")
    assert is_valid_national_id("1234567891")
    assert not is_valid_national_id("1234567890")
    assert not is_valid_national_id("1111111111")  # all digits equal
    assert "10 digits" in (national_id_problem("12345") or "")


def _reference_valid(s: str) -> bool:
    d = [int(c) for c in s]
    r = sum(d[i] * (10 - i) for i in range(9)) % 11
    return len(set(s)) > 1 and (d[9] == r if r < 2 else d[9] == 11 - r)


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_national_id_matches_the_rule(s: str) -> None:
    assert is_valid_national_id(s) == _reference_valid(s)


def test_about_ten_percent_of_random_strings_pass() -> None:
    rng = random.Random(7)
    passed = sum(is_valid_national_id(f"{rng.randrange(10**10):010d}") for _ in range(20_000))
    assert 0.08 < passed / 20_000 < 0.11


def test_generated_ids_are_valid_and_deterministic() -> None:
    a = [make_national_id(random.Random(3)) for _ in range(3)]
    assert a[0] == a[1] == a[2] and is_valid_national_id(a[0])
    assert check_digit("001354241") == 9


def test_mobile_normalised_and_bad_rejected() -> None:
    assert normalise_mobile("+989121234567") == "09121234567"
    assert normalise_mobile("9121234567") == "09121234567"
    with pytest.raises(ValueError, match="09xxxxxxxxx"):
        normalise_mobile("0812123456")


def _list(days: int = 30, wage: int = 4_000_000, benefits: int = 1_000_000) -> InsuranceList:
    workers = [WorkerFacts("0013542419", "رضا", "احمدی", days, wage, benefits),
               WorkerFacts("0084575948", "مریم", "کریمی", 20, 30_000_000, 0, "زن")]
    return build_list("1234567890", "کارگاه", "علی", yy=1404, mm=1, list_no="1", workers=workers)


def test_list_arithmetic_by_hand() -> None:
    lst = _list()
    check_list(lst)
    w0, w1 = lst.workers
    assert w0.DSW_MAH == 120_000_000 and w0.DSW_MASH == 121_000_000
    assert w0.DSW_BIME == 8_470_000  # 7 % of 121,000,000
    # 30,000,000 x 20 = 600 M, capped at 7 x 3,463,656 x 20 = 484,911,840
    assert w1.DSW_MASH == 484_911_840 and w1.DSW_BIME == 33_943_828
    h = lst.header
    assert h.DSK_TMASH == 605_911_840 and h.DSK_TKOSO == 121_182_368 and h.DSK_BIC == 18_177_355
    assert payable_rial(h) == h.DSK_TBIME + 121_182_368 + 18_177_355


@pytest.mark.parametrize(("field", "delta"), [("DSW_MAH", 1), ("DSW_BIME", -1), ("DSW_MASH", 5)])
def test_wrong_worker_arithmetic_named(field: str, delta: int) -> None:
    lst = _list()
    bad = lst.workers[0].model_copy(update={field: getattr(lst.workers[0], field) + delta})
    with pytest.raises(ListError, match=field):
        check_list(lst.model_copy(update={"workers": [bad, lst.workers[1]]}))


def test_wrong_total_named() -> None:
    lst = _list()
    header = lst.header.model_copy(update={"DSK_TKOSO": lst.header.DSK_TKOSO + 1})
    with pytest.raises(ListError, match="DSK_TKOSO"):
        check_list(lst.model_copy(update={"header": header}))


def test_forbidden_characters_and_bad_sex_refused() -> None:
    row = _list().workers[0].model_dump()
    with pytest.raises(ValidationError):
        type(_list().workers[0]).model_validate({**row, "DSW_FNAME": "<script>"})
    with pytest.raises(ValidationError):
        type(_list().workers[0]).model_validate({**row, "DSW_SEX": "x"})


def test_population_deterministic_and_valid() -> None:
    a, b = demo_population(5, 50), demo_population(5, 50)
    assert a == b and a != demo_population(6, 50)
    ids = [p.national_id for p in a.people()]
    assert len(ids) == len(set(ids)) and all(is_valid_national_id(i) for i in ids)
    assert all(len(w.code) == 10 for w in a.workshops)


@pytest.mark.parametrize("date", ["14031231", "14030731", "14021230"])
def test_a_date_that_does_not_exist_is_refused(date: str) -> None:
    # Months 7-11 have 30 days, Esfand 29 (30 in a leap year: 1403 is one, 1402 is not).
    with pytest.raises(ValidationError, match="a Solar Hijri date YYYYMMDD that exists"):
        TypeAdapter(Date8).validate_python(date)


@pytest.mark.parametrize("date", ["", "14030631", "14031230", "14040101"])
def test_dates_that_exist_pass(date: str) -> None:
    assert TypeAdapter(Date8).validate_python(date) == date
