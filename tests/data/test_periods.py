"""Fiscal period labels and the period containing a date."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.periods import KINDS
from engine.data import PeriodInfo, parse_period_label, period_for_date

D = dt.date
MONTHS = {"month": 1, "quarter": 3, "half": 6, "year": 12}

# label, kind, fiscal_year_start -> fiscal_year, number, start, end
LABELS = [
    ("2027-01", "month", 1, 2027, 1, D(2027, 1, 1), D(2027, 1, 31)),
    ("2027-02", "month", 1, 2027, 2, D(2027, 2, 1), D(2027, 2, 28)),
    ("2028-02", "month", 1, 2028, 2, D(2028, 2, 1), D(2028, 2, 29)),
    ("2027-12", "month", 1, 2027, 12, D(2027, 12, 1), D(2027, 12, 31)),
    ("2027-01", "month", 4, 2027, 1, D(2027, 4, 1), D(2027, 4, 30)),
    ("2027-10", "month", 4, 2027, 10, D(2028, 1, 1), D(2028, 1, 31)),
    ("2027-11", "month", 4, 2027, 11, D(2028, 2, 1), D(2028, 2, 29)),
    ("2027-12", "month", 4, 2027, 12, D(2028, 3, 1), D(2028, 3, 31)),
    ("2027-12", "month", 12, 2027, 12, D(2028, 11, 1), D(2028, 11, 30)),
    ("2027-Q1", "quarter", 1, 2027, 1, D(2027, 1, 1), D(2027, 3, 31)),
    ("2027-Q4", "quarter", 1, 2027, 4, D(2027, 10, 1), D(2027, 12, 31)),
    ("2027-Q1", "quarter", 4, 2027, 1, D(2027, 4, 1), D(2027, 6, 30)),
    ("2027-Q4", "quarter", 4, 2027, 4, D(2028, 1, 1), D(2028, 3, 31)),
    ("2027-Q1", "quarter", 12, 2027, 1, D(2027, 12, 1), D(2028, 2, 29)),
    ("2027-Q1", "quarter", 11, 2027, 1, D(2027, 11, 1), D(2028, 1, 31)),
    ("2027-H1", "half", 1, 2027, 1, D(2027, 1, 1), D(2027, 6, 30)),
    ("2027-H2", "half", 1, 2027, 2, D(2027, 7, 1), D(2027, 12, 31)),
    ("2027-H2", "half", 7, 2027, 2, D(2028, 1, 1), D(2028, 6, 30)),
    ("2027", "year", 1, 2027, 1, D(2027, 1, 1), D(2027, 12, 31)),
    ("2027", "year", 4, 2027, 1, D(2027, 4, 1), D(2028, 3, 31)),
    ("2027", "year", 3, 2027, 1, D(2027, 3, 1), D(2028, 2, 29)),
    ("2028", "year", 3, 2028, 1, D(2028, 3, 1), D(2029, 2, 28)),
]


@pytest.mark.parametrize("label, kind, fys, year, number, start, end", LABELS)
def test_label_names_fiscal_period(label, kind, fys, year, number, start, end):
    """A label names the fiscal period of its kind: a fiscal year is labelled by the
    calendar year in which it starts, and February has 29 days in leap years."""
    period = parse_period_label(label, kind, fys)
    assert period == PeriodInfo(label, kind, year, number, start, end)
    assert period.days == (end - start).days + 1


def test_leap_year_day_counts():
    """Day counts follow the calendar: 29 days in February 2028, 366 in a fiscal year
    that contains 29 February, 365 otherwise."""
    assert parse_period_label("2028-02", "month").days == 29
    assert parse_period_label("2100-02", "month").days == 28  # not a leap year
    assert parse_period_label("2000-02", "month").days == 29
    assert parse_period_label("2027", "year", 3).days == 366  # 2027-03-01 .. 2028-02-29
    assert parse_period_label("2028", "year", 3).days == 365
    assert parse_period_label("2028-Q1", "quarter").days == 91


BAD_LABELS = [
    ("2027-Q1", "month", "expected a month label like 2027-01 (got '2027-Q1')"),
    ("2027-13", "month", "expected a month label like 2027-01 (got '2027-13')"),
    ("2027-00", "month", "expected a month label like 2027-01 (got '2027-00')"),
    ("27-01", "month", "expected a month label like 2027-01 (got '27-01')"),
    ("2027-1", "month", "expected a month label like 2027-01 (got '2027-1')"),
    ("2027/01", "month", "expected a month label like 2027-01 (got '2027/01')"),
    ("2027-01-01", "month", "expected a month label like 2027-01 (got '2027-01-01')"),
    ("2027", "month", "expected a month label like 2027-01 (got '2027')"),
    ("2027-Q5", "quarter", "expected a quarter label like 2027-Q1 (got '2027-Q5')"),
    ("2027-q1", "quarter", "expected a quarter label like 2027-Q1 (got '2027-q1')"),
    ("2027Q1", "quarter", "expected a quarter label like 2027-Q1 (got '2027Q1')"),
    ("2027-01", "quarter", "expected a quarter label like 2027-Q1 (got '2027-01')"),
    ("2027-H3", "half", "expected a half label like 2027-H1 (got '2027-H3')"),
    ("2027-Q1", "half", "expected a half label like 2027-H1 (got '2027-Q1')"),
    ("FY2027", "year", "expected a year label like 2027 (got 'FY2027')"),
    ("2027-H1", "year", "expected a year label like 2027 (got '2027-H1')"),
    ("", "year", "expected a year label like 2027 (got '')"),
    (27, "year", "expected a year label like 2027 (got 27)"),
    (2027, "month", "expected a month label like 2027-01 (got 2027)"),
    (2027.0, "year", "expected a year label like 2027 (got 2027.0)"),
    (None, "year", "expected a year label like 2027 (got None)"),
    ("0000", "year", "'0000' is outside the calendar years 1-9999"),
]


@pytest.mark.parametrize("label, kind, message", BAD_LABELS)
def test_bad_label_says_expected_form(label, kind, message):
    """A label not of the kind's form is a ValueError that shows the expected form."""
    with pytest.raises(ValueError) as caught:
        parse_period_label(label, kind)
    assert str(caught.value) == message


def test_surrounding_whitespace_is_ignored():
    """Whitespace around a label is tolerated, and the label comes back canonical."""
    assert parse_period_label("  2027-Q2\t", "quarter").label == "2027-Q2"
    assert parse_period_label(" 2027 ", "year").label == "2027"


def test_year_label_may_be_an_int():
    """A year label read by pandas as the int 2027 names the year 2027."""
    assert parse_period_label(2027, "year", 4) == parse_period_label("2027", "year", 4)


@pytest.mark.parametrize(
    "kind, fys, message",
    [
        ("week", 1, "period kind must be one of month, quarter, half, year (got 'week')"),
        ("month", 0, "fiscal_year_start must be a month number 1-12 (got 0)"),
        ("month", 13, "fiscal_year_start must be a month number 1-12 (got 13)"),
    ],
)
def test_bad_kind_or_fiscal_year_start(kind, fys, message):
    """An unknown period kind or a fiscal_year_start outside 1-12 is a ValueError."""
    with pytest.raises(ValueError) as caught:
        parse_period_label("2027", kind, fys)
    assert str(caught.value) == message
    with pytest.raises(ValueError):
        period_for_date(D(2027, 1, 1), kind, fys)


@pytest.mark.parametrize(
    "day, kind, fys, label",
    [
        (D(2027, 3, 31), "month", 4, "2026-12"),
        (D(2027, 4, 1), "month", 4, "2027-01"),
        (D(2028, 2, 29), "quarter", 4, "2027-Q4"),
        (D(2027, 12, 31), "quarter", 12, "2027-Q1"),
        (D(2027, 11, 30), "quarter", 12, "2026-Q4"),
        (D(2027, 6, 30), "half", 7, "2026-H2"),
        (D(2027, 7, 1), "half", 7, "2027-H1"),
        (D(2027, 1, 15), "year", 2, "2026"),
        (dt.datetime(2027, 1, 31, 23, 59), "month", 1, "2027-01"),
    ],
)
def test_period_for_date(day, kind, fys, label):
    """A date belongs to the fiscal period that contains it (a datetime by its date)."""
    assert period_for_date(day, kind, fys).label == label


def test_fiscal_year_is_tiled_by_its_periods():
    """For every kind and fiscal_year_start, the periods of a fiscal year follow each
    other without gap or overlap and cover exactly the fiscal year."""
    for fys in range(1, 13):
        year = parse_period_label("2027", "year", fys)
        for kind, count, form in [
            ("month", 12, "2027-{:02d}"),
            ("quarter", 4, "2027-Q{}"),
            ("half", 2, "2027-H{}"),
        ]:
            periods = [parse_period_label(form.format(n), kind, fys) for n in range(1, count + 1)]
            assert periods[0].start == year.start
            assert periods[-1].end == year.end
            for before, after in itertools.pairwise(periods):
                assert after.start == before.end + dt.timedelta(days=1)


@given(
    day=st.dates(min_value=D(1001, 1, 1), max_value=D(9998, 12, 31)),
    kind=st.sampled_from(KINDS),
    fys=st.integers(min_value=1, max_value=12),
)
def test_every_date_is_in_exactly_its_period(day, kind, fys):
    """Every date falls in the period period_for_date gives (start <= d <= end), the next
    period starts the day after it ends, and its label parses back to the same period."""
    period = period_for_date(day, kind, fys)
    assert period.start <= day <= period.end
    assert parse_period_label(period.label, kind, fys) == period
    assert period_for_date(period.start, kind, fys) == period
    assert period_for_date(period.end, kind, fys) == period
    following = period_for_date(period.end + dt.timedelta(days=1), kind, fys)
    assert following.start == period.end + dt.timedelta(days=1)
    assert following.ordinal > period.ordinal
    months_into_year = (period.start.year - period.fiscal_year) * 12 + period.start.month - fys
    assert period.start.day == 1
    assert months_into_year == (period.number - 1) * MONTHS[kind]
