"""Parses an uploaded DSKKAR00/DSKWOR00 pair into an InsuranceList, with one-sentence errors."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path
from typing import Any

from dbfread import DBF
from pydantic import BaseModel, ValidationError

from mock_services.domain.insurance_list import InsuranceList, ListError, ListHeader, WorkerRow

_DBASE_VERSIONS = frozenset({0x03, 0x83})
_PERSIAN_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9"})  # Arabic yeh/kaf
_ACCEPTED_LANGUAGE_BYTES = frozenset({0x00, 0x7E})  # unset, or cp1256 as DOMAIN.md says


def _check_structure(name: str, data: bytes, max_records: int) -> None:
    """Reject files whose header does not describe the bytes that follow, before dbfread reads."""
    if len(data) < 33:
        raise ListError(f"{name} is {len(data)} bytes, too short to be a DBF file")
    version, _, _, _, n_records, header_len, record_len = struct.unpack("<BBBBIHH", data[:12])
    if version not in _DBASE_VERSIONS:
        raise ListError(f"{name} has version byte 0x{version:02x}, expected dBase III (0x03)")
    if data[29] not in _ACCEPTED_LANGUAGE_BYTES:
        raise ListError(f"{name} has codepage byte 0x{data[29]:02x}, expected 0x7e (cp1256)")
    if n_records > max_records:
        raise ListError(f"{name} holds {n_records} records, more than the {max_records} allowed")
    if header_len < 33 or record_len < 1 or header_len + n_records * record_len > len(data):
        raise ListError(f"{name} header says {n_records} records of {record_len} bytes, "
                        f"which the {len(data)}-byte file does not hold")


def _normalise(model: type[BaseModel], record: dict[str, Any]) -> dict[str, Any]:
    """dbfread gives numbers for N columns; text fields in a numeric column become strings."""
    out: dict[str, Any] = {}
    for key, raw in record.items():
        field = model.model_fields.get(key)
        value = raw
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if field is not None and value is None:
            continue  # an empty column: let the model's default (or its "missing" error) speak
        if field is not None and field.annotation is str and isinstance(value, int | float):
            value = str(value)
        if isinstance(value, str):
            value = value.translate(_PERSIAN_LETTERS)
        out[key] = value
    return out


def _read(name: str, data: bytes, max_records: int) -> list[dict[str, Any]]:
    _check_structure(name, data, max_records)
    with tempfile.TemporaryDirectory(prefix="dbf-") as tmp:
        path = Path(tmp) / f"{name}.DBF"
        path.write_bytes(data)
        try:
            table = DBF(str(path), encoding="cp1256", ignore_missing_memofile=True,
                        char_decode_errors="strict")
            return [dict(r) for r in table]
        # dbfread raises anything from struct.error to UnicodeDecodeError on a corrupt file;
        # at this boundary every one of them means the same thing to the employer.
        except Exception as exc:
            raise ListError(f"{name} is not a readable DBF file: {exc}") from exc


def _first_error(where: str, exc: ValidationError) -> ListError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return ListError(f"{where}: field {loc}: {err['msg']}")


def parse_dbf_pair(dskkar: bytes, dskwor: bytes, max_records: int) -> InsuranceList:
    """The list held by the two uploaded files; ListError says which file, row and field is bad."""
    headers = _read("DSKKAR00", dskkar, 100)
    if len(headers) != 1:
        raise ListError(f"DSKKAR00 must hold exactly one workshop record, it holds {len(headers)}")
    try:
        header = ListHeader.model_validate(_normalise(ListHeader, headers[0]))
    except ValidationError as exc:
        raise _first_error("DSKKAR00", exc) from exc
    workers: list[WorkerRow] = []
    for i, rec in enumerate(_read("DSKWOR00", dskwor, max_records)):
        try:
            workers.append(WorkerRow.model_validate(_normalise(WorkerRow, rec)))
        except ValidationError as exc:
            raise _first_error(f"DSKWOR00 row {i + 1}", exc) from exc
    if not workers:
        raise ListError("DSKWOR00 holds no worker records")
    return InsuranceList(header=header, workers=workers)
