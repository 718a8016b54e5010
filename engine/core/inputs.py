"""The arrays a compiled plan is evaluated on: one roster, the plan's periods, actuals.

Shapes: reps on axis -2 and periods on axis -1, so ``(R, P)`` for statements (and
``(runs, R, P)`` in the simulator, where the leading axes are broadcast).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PeriodInfo:
    """One plan period.

    Attributes:
        label: canonical label (``2027-01``, ``2027-Q1``, ``2027-H1``, ``2027``).
        kind: ``month``, ``quarter``, ``half`` or ``year``.
        fiscal_year: the label's year: the calendar year in which the fiscal year starts.
        number: 1-based number of the period within its fiscal year (month 1-12, quarter
            1-4, half 1-2, year 1).
        start: first calendar day (inclusive).
        end: last calendar day (inclusive).
    """

    label: str
    kind: str
    fiscal_year: int
    number: int
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Calendar days in the period."""
        return (self.end - self.start).days + 1

    @property
    def ordinal(self) -> tuple[int, int]:
        """Sort key: chronological order."""
        return (self.fiscal_year, self.number)


@dataclass(frozen=True)
class Inputs:
    """Roster and actuals bound to the plan's periods, ready for evaluation.

    Attributes:
        rep_ids: ``(R,)`` rep identifiers as strings, in roster order.
        periods: the ``P`` periods present in the actuals, in chronological order.
        roster: column name -> ``(R,)`` array: float64 for numeric columns, object (str)
            for text columns. Only the columns the plan names (and ``rep_id``) are kept.
        actuals: column name -> ``(R, P)`` float64 array, one value per rep and period
            (transactions already gathered into periods with the column's aggregation;
            0 where an active rep has no row).
        active: ``(R, P)`` bool, True where the rep has at least one active day in the
            period (a statement row exists only there).
        proration: ``(R, P)`` float64, active days / calendar days of the period
            (1.0 without ``start_date``/``end_date``; 0 where inactive).
        counts: column name -> ``(R, P)`` float64 number of transactions gathered into
            each cell (only for transactions input; empty for per-period input). Used to
            carry ``mean`` aggregation correctly into year-to-date values.
        sources: human names of the inputs (``{"roster": "roster.csv", ...}``) for errors.
    """

    rep_ids: np.ndarray
    periods: tuple[PeriodInfo, ...]
    roster: dict[str, np.ndarray]
    actuals: dict[str, np.ndarray]
    active: np.ndarray
    proration: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def period_labels(self) -> list[str]:
        return [p.label for p in self.periods]

    @property
    def fiscal_years(self) -> np.ndarray:
        """``(P,)`` fiscal year of each period (plan-year boundaries for accumulation)."""
        return np.array([p.fiscal_year for p in self.periods], dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rep_ids), len(self.periods))

    @property
    def follows_previous(self) -> np.ndarray:
        """``(P,)`` bool: period p immediately follows period p-1 on the calendar (False for p=0).

        ``previous()`` is 0 where it does not: the run's periods may have gaps.
        """
        per_year = {"month": 12, "quarter": 4, "half": 2, "year": 1}
        idx = np.array([p.fiscal_year * per_year.get(p.kind, 1) + p.number - 1 for p in self.periods],
                       dtype=np.int64)
        out = np.zeros(len(idx), dtype=bool)
        out[1:] = np.diff(idx) == 1
        return out
