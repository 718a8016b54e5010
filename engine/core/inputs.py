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


def month_offsets(periods) -> np.ndarray:
    """``(P,)`` whole months from the first period's start to each period's start."""
    if not periods:
        return np.zeros(0)
    first = periods[0].start
    return np.array([(p.start.year - first.year) * 12 + p.start.month - first.month for p in periods],
                    dtype=np.float64)


@dataclass(frozen=True)
class Rows:
    """Transaction rows, for row-level measures, line detail and pending rows.

    Attributes:
        rep: ``(N,)`` roster position of each row's rep.
        period: ``(N,)`` index of the run period the row is placed in, -1 for a pending row
            (its placing date is empty).
        columns: actuals column -> ``(N,)`` values as written (not multiplied by the split):
            float64 for numbers, object (str) for text attributes.
        split: ``(N,)`` each row's share (1 where the actuals have no ``split``).
        date: ``(N,)`` proleptic ordinal of the placing date (-1 when pending).
        file_row: ``(N,)`` each row's number as a spreadsheet shows it (header row 1).
        outside: ``(N,)`` bool, True where a placed row is dated before its rep's first
            ``start_date`` or after the last ``end_date`` (in a period where the rep is
            otherwise active: counted, but worth a word); None when not checked.
    """

    rep: np.ndarray
    period: np.ndarray
    columns: dict[str, np.ndarray]
    split: np.ndarray
    date: np.ndarray
    file_row: np.ndarray
    outside: np.ndarray | None = None

    @property
    def placed(self) -> np.ndarray:
        """``(N,)`` bool: the row is in a period (not pending)."""
        return self.period >= 0

    def order(self) -> np.ndarray:
        """Row positions in placing-date order, then file order (pending rows last)."""
        date = np.where(self.period >= 0, self.date, np.iinfo(np.int64).max)
        return np.lexsort((self.file_row, date))


@dataclass(frozen=True)
class Mix:
    """The deals inside each per-period row, where there are no transaction rows (the
    simulator's deal-level plans): ``J`` kinds of deal, each with its text attributes, its
    size relative to the period's mean deal, and its share of the deals.

    A row-level measure is evaluated on each kind with every amount column at ``size`` times
    the period's value divided by ``deals``, and every column in ``levels`` (a score or a rate,
    which the period's deals do not share out) at the period's value; ``sum`` adds ``deals x share`` of each kind's
    value, ``count`` is ``deals``, ``mean`` and ``last`` the share-weighted mean, ``min`` and
    ``max`` over the kinds.

    Attributes:
        attributes: text column -> ``(J,)`` values.
        size: ``(J,)`` deal size relative to the period's mean deal (share-weighted mean 1).
        share: ``(J,)`` share of the deals (sums to 1).
        deals: expected deals per rep and period.
        driven: attributes whose shares respond to effort: ``(column, the actuals columns
            carrying each value's weight, (J,) the value index of each kind, (J,) the fixed
            share ``share`` assumed for it)``; a cell's share of a kind is then ``share`` with
            the fixed share replaced by the value's weight over the column's total weight.
        credits: expected credit notes per rep and period (cancelled deals of a plan that
            pays at booking): rows of the same kinds with the negative amount, each amount
            column ``c`` at ``size`` times the period's credited value (the actuals column
            paired with ``c`` in ``credit_columns``) divided by ``credits``. ``sum`` and
            ``count`` add them, ``mean`` and ``last`` weigh them by number, ``min`` and ``max``
            include them.
        credit_columns: ``(amount column, actuals column of its credited value)`` pairs.
        levels: numeric columns each deal carries at the period's value: those the plan
            gathers with ``mean``, ``last``, ``min`` or ``max`` that do not ride on the deals
            (a survey score averaged over the period is not split over its deals; gathering
            the deals back with the column's aggregate gives the period's value).
    """

    attributes: dict[str, np.ndarray]
    size: np.ndarray
    share: np.ndarray
    deals: float
    driven: tuple[tuple[str, tuple[str, ...], np.ndarray, np.ndarray], ...] = ()
    credits: float = 0.0
    credit_columns: tuple[tuple[str, str], ...] = ()
    levels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Layer:
    """One roster row of each rep, for an effective-dated roster: its named columns
    ``(R,)`` and the share of each period's days it is in effect and the rep employed
    ``(R, P)`` (0 for a rep with fewer rows)."""

    roster: dict[str, np.ndarray]
    proration: np.ndarray


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
        rows: the transaction rows (None for per-period actuals and in the simulator).
        row_counts: ``(R, P)`` rows placed in each cell (transactions) or 1 where a
            per-period row exists; None: every active cell has one row (the simulator).
        layers: an effective-dated roster's rows, one :class:`Layer` per row rank (empty
            for a roster of one row per rep: then ``roster`` and ``proration`` say it all).
        roster_at: column -> ``(R, P)`` value of the roster row in effect on the period's
            last active day (effective-dated rosters only).
        tenure: ``(R, P)`` whole months of tenure at each period's start, where the plan
            names ``tenure_months`` (None: read the ``tenure_months`` roster column).
        mix: the deals inside each period row for row-level measures (the simulator), when
            there are no transaction rows.
    """

    rep_ids: np.ndarray
    periods: tuple[PeriodInfo, ...]
    roster: dict[str, np.ndarray]
    actuals: dict[str, np.ndarray]
    active: np.ndarray
    proration: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    rows: Rows | None = None
    row_counts: np.ndarray | None = None
    layers: tuple[Layer, ...] = ()
    roster_at: dict[str, np.ndarray] = field(default_factory=dict)
    tenure: np.ndarray | None = None
    mix: Mix | None = None

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

    def month_offsets(self) -> np.ndarray:
        """``(P,)`` whole months from the first period's start to each period's start."""
        return month_offsets(self.periods)

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
