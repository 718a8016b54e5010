"""Fiscal periods: parse period labels and find the period that contains a date.

A plan measures and pays per ``month``, ``quarter``, ``half`` or ``year``. Period labels
name *fiscal* periods: with ``fiscal_year_start=4`` the fiscal year ``2027`` runs from
2027-04-01 to 2028-03-31, so ``2027-Q1`` is April to June 2027, ``2027-01`` is April 2027
and ``2027-12`` is March 2028. A fiscal year is labelled by the calendar year in which it
starts.

Labels, one form per kind (surrounding whitespace is ignored, nothing else is):

==========  ============  =====================
kind        label         numbers
==========  ============  =====================
``month``   ``2027-01``   ``01`` to ``12``
``quarter`` ``2027-Q1``   ``Q1`` to ``Q4``
``half``    ``2027-H1``   ``H1`` and ``H2``
``year``    ``2027``      (an ``int`` is accepted)
==========  ============  =====================
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from numbers import Integral
from types import MappingProxyType

from engine.core.inputs import PeriodInfo

__all__ = [
    "KINDS",
    "MONTHS_PER_PERIOD",
    "MONTH_NAMES",
    "PERIOD_ADJECTIVE",
    "PERIOD_PLURAL",
    "check_period_kind",
    "parse_period_label",
    "period_for_date",
]

KINDS: tuple[str, ...] = ("month", "quarter", "half", "year")
"""The period kinds, shortest first."""

#: Months in one period of each kind: the one table every layer uses.
MONTHS_PER_PERIOD: Mapping[str, int] = MappingProxyType({"month": 1, "quarter": 3, "half": 6, "year": 12})

#: The kinds in words: ``2 quarters``, ``quarterly periods``; and calendar months' short names.
PERIOD_PLURAL: Mapping[str, str] = MappingProxyType(
    {"month": "months", "quarter": "quarters", "half": "halves", "year": "years"})
PERIOD_ADJECTIVE: Mapping[str, str] = MappingProxyType(
    {"month": "monthly", "quarter": "quarterly", "half": "half-yearly", "year": "yearly"})
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PATTERNS = {
    "month": re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])"),
    "quarter": re.compile(r"([0-9]{4})-Q([1-4])"),
    "half": re.compile(r"([0-9]{4})-H([12])"),
    "year": re.compile(r"([0-9]{4})"),
}
_EXAMPLES = {"month": "2027-01", "quarter": "2027-Q1", "half": "2027-H1", "year": "2027"}


def parse_period_label(label: str | int, kind: str, fiscal_year_start: int = 1) -> PeriodInfo:
    """The fiscal period a label names.

    Args:
        label: ``2027-01``, ``2027-Q1``, ``2027-H1`` or ``2027`` (the form of ``kind``),
            possibly surrounded by whitespace; for ``year`` also the int ``2027``.
        kind: ``month``, ``quarter``, ``half`` or ``year``.
        fiscal_year_start: month number (1-12) in which the fiscal year starts.

    Returns:
        The period, with its canonical label.

    Raises:
        ValueError: the label is not of the form ``kind`` expects (the message says which
            form is expected, e.g. ``expected a month label like 2027-01 (got '2027-13')``),
            or ``kind`` / ``fiscal_year_start`` is invalid.
    """
    check_period_kind(kind, fiscal_year_start)
    text = str(label) if isinstance(label, Integral) and not isinstance(label, bool) else label
    match = _PATTERNS[kind].fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected a {kind} label like {_EXAMPLES[kind]} (got {label!r})")
    year = int(match.group(1))
    number = int(match.group(2)) if kind != "year" else 1
    try:
        return _period(year, number, kind, fiscal_year_start)
    except ValueError:  # year 0000, or a fiscal year 9999 that ends in year 10000
        raise ValueError(f"{label!r} is outside the calendar years 1-9999") from None


def period_for_date(d: dt.date, kind: str, fiscal_year_start: int = 1) -> PeriodInfo:
    """The fiscal period that contains a date.

    Args:
        d: a calendar date (a ``datetime`` counts by its date).
        kind: ``month``, ``quarter``, ``half`` or ``year``.
        fiscal_year_start: month number (1-12) in which the fiscal year starts.

    Returns:
        The period ``p`` with ``p.start <= d <= p.end``.

    Raises:
        ValueError: ``kind`` or ``fiscal_year_start`` is invalid.
    """
    check_period_kind(kind, fiscal_year_start)
    months_into = d.year * 12 + (d.month - 1) - (fiscal_year_start - 1)
    fiscal_year, month_of_year = divmod(months_into, 12)
    return _period(fiscal_year, month_of_year // MONTHS_PER_PERIOD[kind] + 1, kind, fiscal_year_start)


def check_period_kind(kind: str, fiscal_year_start: int) -> None:
    """Check a plan's ``period`` and ``fiscal_year_start`` settings.

    Raises:
        ValueError: ``kind`` is not a period kind, or ``fiscal_year_start`` is not 1-12.
    """
    if kind not in MONTHS_PER_PERIOD:
        raise ValueError(f"period kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if not (isinstance(fiscal_year_start, Integral) and 1 <= fiscal_year_start <= 12):
        raise ValueError(
            f"fiscal_year_start must be a month number 1-12 (got {fiscal_year_start!r})"
        )


def _period(fiscal_year: int, number: int, kind: str, fiscal_year_start: int) -> PeriodInfo:
    """Period ``number`` (1-based) of ``kind`` in ``fiscal_year``."""
    span = MONTHS_PER_PERIOD[kind]
    first = (fiscal_year_start - 1) + (number - 1) * span  # months after January of fiscal_year
    last = first + span - 1
    start = dt.date(fiscal_year + first // 12, first % 12 + 1, 1)
    end_year, end_month = fiscal_year + last // 12, last % 12 + 1
    end = dt.date(end_year, end_month, calendar.monthrange(end_year, end_month)[1])
    label = {
        "month": f"{fiscal_year:04d}-{number:02d}",
        "quarter": f"{fiscal_year:04d}-Q{number}",
        "half": f"{fiscal_year:04d}-H{number}",
        "year": f"{fiscal_year:04d}",
    }[kind]
    return PeriodInfo(label, kind, fiscal_year, number, start, end)
