"""The employers' monthly insurance list: DSKKAR00 header, DSKWOR00 rows and their arithmetic.

Field names are the DBF column names of DOMAIN.md, so a JSON submission and a DBF upload
parse into the same models. Extra columns (the newer DSK_INC/DSW_SPOUSE variant) are ignored.
"""

from __future__ import annotations

from typing import Annotated

import jdatetime
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mock_services.domain.national_id import NationalId

# Minimum daily wage in rials by Solar Hijri year [3p, DOMAIN.md].
MIN_DAILY_WAGE_RIAL: dict[int, int] = {1403: 2_388_728, 1404: 3_463_656}
INSURABLE_CAP_DAYS_FACTOR = 7  # DSW_MASH is capped at 7 x minimum daily wage x days
INSURED_SHARE_PCT = 7
EMPLOYER_SHARE_PCT = 20
UNEMPLOYMENT_PCT = 3
MAX_WORKERS = 5000
MAX_RIAL = 10**15

Text = Annotated[str, Field(max_length=100, pattern=r"^[^\"'<>&\x00]*$")]
def _existing_date(value: str) -> str:
    """A YYYYMMDD that passed the pattern must also be a day of the Solar Hijri calendar
    (no 31st in months 7-12, Esfand's 30th only in leap years)."""
    if value:
        try:
            jdatetime.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            raise ValueError(f"a Solar Hijri date YYYYMMDD that exists, got {value!r}") from None
    return value


Date8 = Annotated[str, Field(pattern=r"^(|1[34]\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01]))$"),
                  AfterValidator(_existing_date)]
Rial = Annotated[int, Field(ge=0, le=MAX_RIAL)]
WorkshopCode = Annotated[str, Field(pattern=r"^\d{10}$", examples=["1234567890"])]
Year = Annotated[int, Field(ge=0, le=1499, description="Solar Hijri year; 0-99 means 14xx")]
Month = Annotated[int, Field(ge=1, le=12)]
ListNo = Annotated[str, Field(pattern=r"^\d{1,3}$")]


class ListHeader(BaseModel):
    """One DSKKAR00 record: the workshop, the period and the list's totals."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    DSK_ID: WorkshopCode
    DSK_NAME: Text
    DSK_FARM: Text
    DSK_ADRS: Text = ""
    DSK_KIND: Annotated[int, Field(ge=0, le=0, description="must be 0")] = 0
    DSK_YY: Year
    DSK_MM: Month
    DSK_LISTNO: ListNo
    DSK_DISC: Text = ""
    DSK_NUM: Annotated[int, Field(ge=0, le=MAX_WORKERS)]
    DSK_TDD: Rial
    DSK_TROOZ: Rial
    DSK_TMAH: Rial
    DSK_TMAZ: Rial
    DSK_TMASH: Rial
    DSK_TTOTL: Rial
    DSK_TBIME: Rial
    DSK_TKOSO: Rial
    DSK_BIC: Rial
    DSK_RATE: Annotated[int, Field(ge=0, le=100)] = EMPLOYER_SHARE_PCT
    DSK_PRATE: Annotated[int, Field(ge=0, le=100)] = 0
    DSK_BIMH: Rial = 0
    MON_PYM: Text = ""


class WorkerRow(BaseModel):
    """One DSKWOR00 record: a worker's days, wages and insured share for the month."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    DSW_ID: WorkshopCode
    DSW_YY: Year
    DSW_MM: Month
    DSW_LISTNO: ListNo
    DSW_ID1: Annotated[str, Field(pattern=r"^\d{1,10}$")]
    DSW_FNAME: Text
    DSW_LNAME: Text
    DSW_DNAME: Text = ""
    DSW_IDNO: Text = ""
    DSW_IDPLC: Text = ""
    DSW_IDATE: Date8 = ""
    DSW_BDATE: Date8 = ""
    DSW_SEX: Annotated[str, Field(pattern=r"^(مرد|زن)$")]
    DSW_NAT: Text = "ایرانی"
    DSW_OCP: Text = ""
    DSW_SDATE: Date8 = ""
    DSW_EDATE: Date8 = ""
    DSW_DD: Annotated[int, Field(ge=0, le=31)]
    DSW_ROOZ: Rial
    DSW_MAH: Rial
    DSW_MAZ: Rial
    DSW_MASH: Rial
    DSW_TOTL: Rial
    DSW_BIME: Rial
    DSW_PRATE: Annotated[int, Field(ge=0, le=100)] = 0
    DSW_JOB: Annotated[str, Field(pattern=r"^\d{0,6}$")] = ""
    PER_NATCOD: NationalId


class InsuranceList(BaseModel):
    """A whole list: the header and one row per worker (the JSON form of the DBF pair)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    header: ListHeader
    workers: Annotated[list[WorkerRow], Field(min_length=1, max_length=MAX_WORKERS)]


class ListError(ValueError):
    """The list breaks a rule of the format or its arithmetic; the message names where."""


def full_year(yy: int) -> int:
    """The four-digit Solar Hijri year of a DSK_YY/DSW_YY value (two-digit years are 14xx)."""
    return 1400 + yy if yy < 100 else yy


def insurable_rial(wage_rial: int, benefits_rial: int, days: int, year: int) -> int:
    """DSW_MASH: wage plus benefits, capped at 7 x minimum daily wage x days worked."""
    cap = INSURABLE_CAP_DAYS_FACTOR * MIN_DAILY_WAGE_RIAL[year] * days
    return min(wage_rial + benefits_rial, cap)


def pct(amount_rial: int, percent: int) -> int:
    """trunc(percent % of amount) in integer arithmetic (no float rounding on big rials)."""
    return amount_rial * percent // 100


def payable_rial(header: ListHeader) -> int:
    """What the employer pays for the list: insured share + employer share + unemployment."""
    return header.DSK_TBIME + header.DSK_TKOSO + header.DSK_BIC


def _check_worker(i: int, w: WorkerRow, h: ListHeader, year: int) -> None:
    where = f"worker row {i + 1} ({w.PER_NATCOD})"
    if (w.DSW_ID, w.DSW_YY, w.DSW_MM, w.DSW_LISTNO) != (h.DSK_ID, h.DSK_YY, h.DSK_MM, h.DSK_LISTNO):
        raise ListError(f"{where}: DSW_ID/DSW_YY/DSW_MM/DSW_LISTNO must match the header")
    expected = {
        "DSW_MAH": w.DSW_ROOZ * w.DSW_DD,
        "DSW_MASH": insurable_rial(w.DSW_MAH, w.DSW_MAZ, w.DSW_DD, year),
        "DSW_TOTL": w.DSW_MAH + w.DSW_MAZ,
        "DSW_BIME": pct(w.DSW_MASH, INSURED_SHARE_PCT),
    }
    for name, value in expected.items():
        if getattr(w, name) != value:
            raise ListError(f"{where}: {name} is {getattr(w, name)}, expected {value}")


def check_list(lst: InsuranceList) -> None:
    """Raise ListError naming the first field whose value breaks DOMAIN.md's arithmetic."""
    h, rows = lst.header, lst.workers
    year = full_year(h.DSK_YY)
    if year not in MIN_DAILY_WAGE_RIAL:
        known = sorted(MIN_DAILY_WAGE_RIAL)
        raise ListError(f"DSK_YY {h.DSK_YY}: no minimum wage known (known years {known})")
    seen: set[str] = set()
    for i, w in enumerate(rows):
        if w.PER_NATCOD in seen:
            raise ListError(f"worker row {i + 1}: PER_NATCOD {w.PER_NATCOD} appears twice")
        seen.add(w.PER_NATCOD)
        _check_worker(i, w, h, year)
    tmash = sum(w.DSW_MASH for w in rows)
    totals = {
        "DSK_NUM": len(rows), "DSK_TDD": sum(w.DSW_DD for w in rows),
        "DSK_TROOZ": sum(w.DSW_ROOZ for w in rows), "DSK_TMAH": sum(w.DSW_MAH for w in rows),
        "DSK_TMAZ": sum(w.DSW_MAZ for w in rows), "DSK_TMASH": tmash,
        "DSK_TTOTL": sum(w.DSW_TOTL for w in rows), "DSK_TBIME": sum(w.DSW_BIME for w in rows),
        "DSK_TKOSO": pct(tmash, EMPLOYER_SHARE_PCT), "DSK_BIC": pct(tmash, UNEMPLOYMENT_PCT),
    }
    for name, value in totals.items():
        if getattr(h, name) != value:
            raise ListError(f"header {name} is {getattr(h, name)}, expected {value}")
