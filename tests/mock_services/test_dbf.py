"""The DSKKAR00/DSKWOR00 pair: written by our fixture writer, read back through dbfread."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_services.domain.dbf_list import parse_dbf_pair
from mock_services.domain.dbf_writer import list_to_dbf_pair
from mock_services.domain.insurance_list import (
    MIN_DAILY_WAGE_RIAL,
    ListError,
    check_list,
    full_year,
)
from mock_services.domain.list_builder import WorkerFacts, build_list
from mock_services.domain.national_id import check_digit


def _pair() -> tuple[bytes, bytes]:
    workers = [WorkerFacts("0013542419", "یاسر", "کریمی", 30, 4_000_000, 500_000)]
    lst = build_list("1234567890", "کارگاه یک", "علی", yy=1404, mm=2, list_no="1",
                     workers=workers)
    return list_to_dbf_pair(lst)


def test_roundtrip_keeps_persian_letters() -> None:
    kar, wor = _pair()
    assert kar[29] == 0x7E  # cp1256 codepage byte
    lst = parse_dbf_pair(kar, wor, max_records=10)
    assert lst.workers[0].DSW_FNAME == "یاسر" and lst.header.DSK_NAME == "کارگاه یک"


def test_garbage_is_a_list_error() -> None:
    kar, wor = _pair()
    with pytest.raises(ListError, match="too short"):
        parse_dbf_pair(b"abc", wor, max_records=10)
    with pytest.raises(ListError, match="version byte"):
        parse_dbf_pair(b"\x05" + kar[1:], wor, max_records=10)


def test_header_claiming_more_records_than_bytes_refused() -> None:
    kar, wor = _pair()
    lying = wor[:4] + struct.pack("<I", 1000) + wor[8:]
    with pytest.raises(ListError, match="does not hold"):
        parse_dbf_pair(kar, lying, max_records=5000)
    with pytest.raises(ListError, match="more than"):
        parse_dbf_pair(kar, lying, max_records=10)


def test_bad_field_named_with_row() -> None:
    kar, wor = _pair()
    corrupted = wor.replace(b"0013542419", b"1234567890")
    with pytest.raises(ListError, match=r"DSKWOR00 row 1.*PER_NATCOD"):
        parse_dbf_pair(kar, corrupted, max_records=10)


def test_two_header_records_refused() -> None:
    kar, wor = _pair()
    n_header = struct.unpack("<H", kar[8:10])[0]
    rec_len = struct.unpack("<H", kar[10:12])[0]
    record = kar[n_header:n_header + rec_len]
    doubled = kar[:4] + struct.pack("<I", 2) + kar[8:n_header] + record + record + b"\x1a"
    with pytest.raises(ListError, match="exactly one"):
        parse_dbf_pair(doubled, wor, max_records=10)


_names = st.sampled_from(["علی", "مریم", "یاسر", "کاظم", "Sara"])


@given(st.lists(st.tuples(st.integers(0, 31), st.integers(0, 50_000_000),
                          st.integers(0, 20_000_000), _names), min_size=1, max_size=6),
       st.integers(1, 12), st.sampled_from([1403, 1404, 3, 4]))
def test_built_lists_check_and_roundtrip(rows: list[tuple[int, int, int, str]], mm: int,
                                         yy: int) -> None:
    ids = [f"{n:09d}" for n in range(100_000_001, 100_000_001 + len(rows))]
    facts = [WorkerFacts(i + str(check_digit(i)), name, "کریمی", days, wage, benefits)
             for i, (days, wage, benefits, name) in zip(ids, rows, strict=True)]
    lst = build_list("1234567890", "کارگاه", "علی", yy=yy, mm=mm, list_no="7", workers=facts)
    check_list(lst)  # what the builder makes, the checker accepts
    for w in lst.workers:  # the cap of DOMAIN.md holds
        assert 7 * MIN_DAILY_WAGE_RIAL[full_year(yy)] * w.DSW_DD >= w.DSW_MASH
    assert parse_dbf_pair(*list_to_dbf_pair(lst), max_records=10) == lst
