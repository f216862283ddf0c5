"""Builds correct insurance lists from a few worker facts: for seeds, load drivers and tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mock_services.domain.insurance_list import (
    EMPLOYER_SHARE_PCT,
    INSURED_SHARE_PCT,
    UNEMPLOYMENT_PCT,
    InsuranceList,
    ListHeader,
    WorkerRow,
    full_year,
    insurable_rial,
    pct,
)


@dataclass(frozen=True)
class WorkerFacts:
    """What an employer knows about one worker for the month; the rest is arithmetic."""

    national_id: str
    first_name: str
    last_name: str
    days: int
    daily_wage_rial: int
    benefits_rial: int = 0
    sex: str = "مرد"
    insurance_no: str = "1"


def build_list(
    workshop_code: str, workshop_name: str, employer_name: str, *, yy: int, mm: int,
    list_no: str, workers: Sequence[WorkerFacts],
) -> InsuranceList:
    """A list whose every derived field and total follows DOMAIN.md's arithmetic."""
    year = full_year(yy)
    rows: list[WorkerRow] = []
    for w in workers:
        mah = w.daily_wage_rial * w.days
        mash = insurable_rial(mah, w.benefits_rial, w.days, year)
        rows.append(WorkerRow(
            DSW_ID=workshop_code, DSW_YY=yy, DSW_MM=mm, DSW_LISTNO=list_no,
            DSW_ID1=w.insurance_no, DSW_FNAME=w.first_name, DSW_LNAME=w.last_name,
            DSW_SEX=w.sex, DSW_DD=w.days, DSW_ROOZ=w.daily_wage_rial, DSW_MAH=mah,
            DSW_MAZ=w.benefits_rial, DSW_MASH=mash, DSW_TOTL=mah + w.benefits_rial,
            DSW_BIME=pct(mash, INSURED_SHARE_PCT), PER_NATCOD=w.national_id,
        ))
    tmash = sum(r.DSW_MASH for r in rows)
    header = ListHeader(
        DSK_ID=workshop_code, DSK_NAME=workshop_name, DSK_FARM=employer_name, DSK_YY=yy,
        DSK_MM=mm, DSK_LISTNO=list_no, DSK_NUM=len(rows), DSK_TDD=sum(r.DSW_DD for r in rows),
        DSK_TROOZ=sum(r.DSW_ROOZ for r in rows), DSK_TMAH=sum(r.DSW_MAH for r in rows),
        DSK_TMAZ=sum(r.DSW_MAZ for r in rows), DSK_TMASH=tmash,
        DSK_TTOTL=sum(r.DSW_TOTL for r in rows), DSK_TBIME=sum(r.DSW_BIME for r in rows),
        DSK_TKOSO=pct(tmash, EMPLOYER_SHARE_PCT), DSK_BIC=pct(tmash, UNEMPLOYMENT_PCT),
    )
    return InsuranceList(header=header, workers=rows)
