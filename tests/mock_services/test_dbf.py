"""The DSKKAR00/DSKWOR00 pair: written by our fixture writer, read back through dbfread."""

from __future__ import annotations

import struct

import pytest

from mock_services.domain.dbf_list import parse_dbf_pair
from mock_services.domain.dbf_writer import list_to_dbf_pair
from mock_services.domain.insurance_list import ListError
from mock_services.domain.list_builder import WorkerFacts, build_list


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
