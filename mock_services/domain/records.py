"""The registry's records as both sides of the wire read them: the registry answers them and
the portal checks every answer against the same models before serving it on."""

from __future__ import annotations

from pydantic import BaseModel


class HistoryRecord(BaseModel):
    """One month of insurance record, as the registry keeps it."""

    year: int
    month: int
    workshop_code: str
    days: int
    wage_rial: int


class Payslip(BaseModel):
    """One month's pay slip: gross wage, the insured's 7 % share, net."""

    year: int
    month: int
    gross_rial: int
    insurance_rial: int
    net_rial: int
