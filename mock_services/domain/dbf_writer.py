"""A minimal dBase III writer for the DSKKAR00/DSKWOR00 pair.

dbfread (a dependency) only reads; the `dbf` package writes but would be a second DBF stack
and a new dependency for about sixty lines of struct packing. The writer serves the test
fixtures and the load driver, which upload lists the way an employer's software does.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mock_services.domain.insurance_list import InsuranceList

CP1256_LANGUAGE_BYTE = 0x7E  # the header byte DOMAIN.md names for codepage cp1256


@dataclass(frozen=True)
class DbfField:
    """One column: name (<= 10 ASCII chars), type "C" (text) or "N" (integer), width in bytes."""

    name: str
    kind: str
    width: int


def _encode(field: DbfField, value: object) -> bytes:
    if field.kind == "N":
        text = str(int(value)) if value not in (None, "") else ""  # type: ignore[call-overload]
        raw = text.rjust(field.width).encode("ascii")
    else:
        # cp1256 has no Persian yeh (U+06CC): Iranian software writes the Arabic yeh instead.
        raw = str(value).replace("\u06cc", "\u064a").encode("cp1256").ljust(field.width, b" ")
    if len(raw) > field.width:
        raise ValueError(f"value {value!r} does not fit column {field.name} ({field.width} bytes)")
    return raw


def write_dbf(fields: Sequence[DbfField], records: Sequence[Mapping[str, object]]) -> bytes:
    """The bytes of a dBase III file (cp1256) holding `records` in the columns `fields`."""
    record_len = 1 + sum(f.width for f in fields)
    header_len = 32 + 32 * len(fields) + 1
    out = bytearray(struct.pack("<BBBBIHH", 0x03, 125, 1, 1, len(records), header_len, record_len))
    out += bytes(17) + bytes([CP1256_LANGUAGE_BYTE]) + bytes(2)
    for f in fields:
        out += f.name.encode("ascii").ljust(11, b"\0") + f.kind.encode("ascii")
        out += bytes(4) + bytes([f.width, 0]) + bytes(14)
    out += b"\r"
    for rec in records:
        out += b" " + b"".join(_encode(f, rec.get(f.name, "")) for f in fields)
    out += b"\x1a"
    return bytes(out)


_MONEY = 16
HEADER_FIELDS: tuple[DbfField, ...] = tuple(
    DbfField(n, k, w) for n, k, w in [
        ("DSK_ID", "C", 10), ("DSK_NAME", "C", 100), ("DSK_FARM", "C", 100),
        ("DSK_ADRS", "C", 100), ("DSK_KIND", "N", 1), ("DSK_YY", "N", 4), ("DSK_MM", "N", 2),
        ("DSK_LISTNO", "C", 3), ("DSK_DISC", "C", 100), ("DSK_NUM", "N", 5),
        ("DSK_TDD", "N", 6), ("DSK_TROOZ", "N", _MONEY), ("DSK_TMAH", "N", _MONEY),
        ("DSK_TMAZ", "N", _MONEY), ("DSK_TMASH", "N", _MONEY), ("DSK_TTOTL", "N", _MONEY),
        ("DSK_TBIME", "N", _MONEY), ("DSK_TKOSO", "N", _MONEY), ("DSK_BIC", "N", _MONEY),
        ("DSK_RATE", "N", 5), ("DSK_PRATE", "N", 2), ("DSK_BIMH", "N", _MONEY),
        ("MON_PYM", "C", 3),
    ]
)
WORKER_FIELDS: tuple[DbfField, ...] = tuple(
    DbfField(n, k, w) for n, k, w in [
        ("DSW_ID", "C", 10), ("DSW_YY", "N", 4), ("DSW_MM", "N", 2), ("DSW_LISTNO", "C", 3),
        ("DSW_ID1", "C", 10), ("DSW_FNAME", "C", 100), ("DSW_LNAME", "C", 100),
        ("DSW_DNAME", "C", 100), ("DSW_IDNO", "C", 15), ("DSW_IDPLC", "C", 100),
        ("DSW_IDATE", "C", 8), ("DSW_BDATE", "C", 8), ("DSW_SEX", "C", 3), ("DSW_NAT", "C", 10),
        ("DSW_OCP", "C", 100), ("DSW_SDATE", "C", 8), ("DSW_EDATE", "C", 8), ("DSW_DD", "N", 2),
        ("DSW_ROOZ", "N", _MONEY), ("DSW_MAH", "N", _MONEY), ("DSW_MAZ", "N", _MONEY),
        ("DSW_MASH", "N", _MONEY), ("DSW_TOTL", "N", _MONEY), ("DSW_BIME", "N", _MONEY),
        ("DSW_PRATE", "N", 2), ("DSW_JOB", "C", 6), ("PER_NATCOD", "C", 10),
    ]
)


def list_to_dbf_pair(lst: InsuranceList) -> tuple[bytes, bytes]:
    """The (DSKKAR00, DSKWOR00) file contents of a list."""
    kar = write_dbf(HEADER_FIELDS, [lst.header.model_dump()])
    wor = write_dbf(WORKER_FIELDS, [w.model_dump() for w in lst.workers])
    return kar, wor
