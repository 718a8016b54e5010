"""Check each actuals row (per-period rows or dated transactions) against the roster.

:func:`read_actuals` finds each row's rep and period (from its ``period`` label, or from
its placing date for transactions, with an optional ``split``) and reads its values into
:class:`ActualRows`; :func:`check_rows_fit` reports rows in a period in which their rep is
inactive, and repeated (rep, period) rows; :func:`outside_employment` and
:func:`outside_employment_text` flag and name transactions dated outside their rep's
employment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.core.errors import DataError
from engine.core.inputs import Inputs, PeriodInfo
from engine.core.periods import parse_period_label, period_for_date
from engine.data.cells import (
    Ids,
    arrow_strings,
    cell_text,
    column_dates,
    column_numbers,
    column_texts,
    factorized_ids,
)
from engine.data.problems import Problems, Suggester, Table
from engine.data.roster import NO_END, NO_START, Roster, repeats

__all__ = ["ActualRows", "check_rows_fit", "outside_employment", "outside_employment_text", "read_actuals"]


@dataclass(frozen=True)
class ActualRows:
    """The actuals rows, checked one by one.

    Attributes:
        rep: roster position of each row's rep, -1 where unknown or empty.
        period_key: each row's period as ``fiscal_year * 12 + number`` (chronological),
            -1 where the row has no valid period.
        periods: the periods present, by key.
        values: numeric column name -> each row's value (as written, not split).
        dates: each row's placing date ordinal for transactions; None for per-period rows.
        texts: text (attribute) column name -> each row's text ('' where empty).
        split: each row's split (1.0 for per-period rows or without a ``split`` column).
    """

    rep: np.ndarray
    period_key: np.ndarray
    periods: dict[int, PeriodInfo]
    values: dict[str, np.ndarray]
    dates: np.ndarray | None
    texts: dict[str, np.ndarray]
    split: np.ndarray | float


def read_actuals(
    table: Table,
    staff: Roster,
    aggregations: Mapping[str, str],
    texts: Sequence[str],
    kind: str,
    fiscal_year_start: int,
    problems: Problems,
    placing: str = "date",
    pending: bool = False,
) -> ActualRows:
    """Check each actuals row's rep, period (or placing date and split) and values."""
    frame = table.frame
    ids: Ids | _CellIds
    in_order = _rows_in_roster_order(frame["rep_id"], staff.ids) if table.ids is None else None
    if in_order is not None:
        rep, missing = in_order
        ids = _CellIds(frame["rep_id"])  # ids[i]: row i's id
    else:
        ids = table.ids if table.ids is not None else factorized_ids(frame["rep_id"])
        missing = ids.codes < 0
        rep = _roster_positions(staff.ids, ids)
    problems.rows(missing, lambda i: table.error("missing-value", "'rep_id' is empty", i, "rep_id"))
    suggest = Suggester(id_ for id_ in staff.ids if id_ is not None)
    problems.rows(
        (rep < 0) & ~missing,
        lambda i: table.error(
            "unknown-rep",
            f"rep_id '{ids[i]}' is not in the roster",
            i,
            "rep_id",
            ids[i],
            hint=suggest.hint(str(ids[i])),
        ),
    )
    if "period" in frame.columns and placing not in frame.columns or placing == "date" and "period" in frame.columns:
        period_key, periods = _labelled_periods(table, ids, kind, fiscal_year_start, problems)
        dates = None
    else:
        period_key, periods, dates = _dated_periods(table, ids, kind, fiscal_year_start, problems, placing, pending)

    split = _splits(table, ids, problems) if dates is not None and "split" in frame.columns else 1.0
    values = {}
    for name in aggregations:
        numbers, empty = column_numbers(frame[name])

        def empty_cell(i: int, name: str = name) -> DataError:
            return table.error("missing-value", f"'{name}' is empty", i, name, ids[i])

        def not_a_number(i: int, name: str = name) -> DataError:
            return table.error(
                "not-a-number",
                f"'{name}' must be a finite number (got {table.cell(i, name)!r})",
                i,
                name,
                ids[i],
            )

        problems.rows(empty, empty_cell)
        problems.rows(~np.isfinite(numbers) & ~empty, not_a_number)
        values[name] = numbers
    text_values = {name: column_texts(frame[name], empty="") for name in texts}
    return ActualRows(rep, period_key, periods, values, dates, text_values, split)


class _CellIds:
    """A ``rep_id`` column, read cell by cell for messages (``ids[i]``: row ``i``'s id)."""

    def __init__(self, column: pd.Series) -> None:
        self.column = column

    def __getitem__(self, row: int) -> str | None:
        cell = self.column.iloc[row]
        return None if pd.isna(cell) else cell_text(cell)


def _rows_in_roster_order(column: pd.Series, roster_ids: np.ndarray, block: int = 1 << 20
                          ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(roster position, empty)`` of each row, when the rows name the roster's reps in
    its order, period after period (row ``i`` is rep ``i % R``) or rep after rep (row ``i``
    is rep ``i // k`` of ``k`` rows each), as extracts often do; None otherwise, or when the
    column or the roster's ids are not all text. Checked at C speed (a sample first, then
    every row, a block at a time): a row matches its guessed rep only where its text (see
    :func:`~engine.data.cells.cell_text`) is that rep's id, so this never finds what hashing would not.
    An empty id is -1 and empty.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n, reps = len(column), len(roster_ids)
    roster = arrow_strings(roster_ids) if reps else None
    if roster is None or not n or not isinstance(column.dtype, pd.StringDtype):
        return None
    cells = pa.array(column.array)
    cells = pa.chunked_array([cells]) if isinstance(cells, pa.Array) else cells
    roster = roster.cast(pa.large_string())
    def by_period(rows: np.ndarray) -> np.ndarray:
        return rows % reps

    def by_rep(rows: np.ndarray) -> np.ndarray:
        return rows // (n // reps)

    guesses = [by_period, by_rep] if n % reps == 0 and n > reps else [by_period]

    def matches(rows: np.ndarray, guess: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        text = pc.utf8_trim_whitespace(_take_sorted(cells, rows)) if len(rows) < n else pc.utf8_trim_whitespace(cells)
        same = pc.equal(text.cast(pa.large_string()), roster.take(guess(rows)))
        blank = pc.equal(pc.utf8_length(text), 0)
        return np.asarray(pc.fill_null(pc.or_(same, blank), True), dtype=bool)  # null: an empty cell

    sample = np.unique(np.linspace(0, n - 1, min(n, 4096)).astype(np.int64))
    for guess in guesses:
        if not matches(sample, guess).all():
            continue
        positions = np.empty(n, dtype=np.int64)
        empty = np.zeros(n, dtype=bool)
        for start in range(0, n, block):
            rows = np.arange(start, min(start + block, n))
            chunk = cells.slice(start, len(rows))
            text = pc.utf8_trim_whitespace(chunk)
            same = np.asarray(pc.fill_null(pc.equal(text.cast(pa.large_string()), roster.take(guess(rows))), False),
                              dtype=bool)
            blank = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(text), 0), True), dtype=bool)
            if not (same | blank).all():
                return None
            positions[rows] = np.where(blank, -1, guess(rows))
            empty[rows] = blank
        return positions, empty
    return None


def _take_sorted(cells, rows: np.ndarray):
    """``cells.take(rows)`` for a chunked Arrow array and increasing ``rows``, chunk by chunk:
    Arrow's take on a chunked array joins every chunk into one array first (0.4 s for a
    column of 12 million ids, to take 4,096 of them)."""
    import pyarrow as pa

    parts, start = [], 0
    for chunk in cells.chunks:
        lo, hi = np.searchsorted(rows, [start, start + len(chunk)])
        if hi > lo:
            parts.append(chunk.take(rows[lo:hi] - start))
        start += len(chunk)
    return pa.chunked_array(parts, type=cells.type)


_RowIds = np.ndarray | Ids | _CellIds
"""Each actuals row's id (``ids[i]``), for messages."""


def _roster_positions(roster_ids: np.ndarray, ids: Ids) -> np.ndarray:
    """The roster position of each id (its first row there), -1 where absent or None."""
    known = pd.Index(roster_ids)
    first = ~known.duplicated() & pd.notna(roster_ids)
    lookup = known[first]
    codes, uniques = ids.codes, ids.texts
    found = lookup.get_indexer(uniques)
    positions = np.flatnonzero(first)
    if not len(positions):  # no roster row has an id: every actuals row is unknown
        return np.full(len(ids.codes), -1, dtype=np.int64)
    table = np.append(np.where(found >= 0, positions[found], -1), -1)
    return table[codes]


def _period_key(period: PeriodInfo) -> int:
    """An int that orders periods of one kind chronologically."""
    return period.fiscal_year * 12 + period.number


def _labelled_periods(
    table: Table, ids: _RowIds, kind: str, fiscal_year_start: int, problems: Problems
) -> tuple[np.ndarray, dict[int, PeriodInfo]]:
    """Each row's period from its ``period`` label (parsed once per distinct label)."""
    codes, uniques = pd.factorize(table.frame["period"])
    keys = np.full(len(uniques) + 1, -1, dtype=np.int64)
    blank = np.zeros(len(uniques) + 1, dtype=bool)
    blank[-1] = True
    reasons: dict[int, DataError] = {}
    periods: dict[int, PeriodInfo] = {}
    for code, cell in enumerate(uniques):
        text = cell_text(cell)
        if text is None:
            blank[code] = True
            continue
        try:
            period = parse_period_label(text, kind, fiscal_year_start)
        except ValueError as reason:
            hint = (
                "the cell holds a date, not a label: format the column as text"
                if isinstance(cell, dt.date)
                else None
            )
            reasons[code] = DataError("bad-period", str(reason), hint=hint)
            continue
        keys[code] = key = _period_key(period)
        periods[key] = period
    row_keys, row_blank = keys[codes], blank[codes]
    problems.rows(
        row_blank, lambda i: table.error("missing-value", "'period' is empty", i, "period", ids[i])
    )
    problems.rows(
        (row_keys < 0) & ~row_blank,
        lambda i: table.error(
            "bad-period",
            reasons[codes[i]].message,
            i,
            "period",
            ids[i],
            hint=reasons[codes[i]].hint,
        ),
    )
    return row_keys, periods


def _dated_periods(
    table: Table, ids: _RowIds, kind: str, fiscal_year_start: int, problems: Problems,
    placing: str = "date", pending: bool = False,
) -> tuple[np.ndarray, dict[int, PeriodInfo], np.ndarray]:
    """Each transaction's period from its placing date (looked up once per distinct date);
    with ``pending``, an empty placing date leaves the row in no period (key -1)."""
    ordinals, empty, bad = column_dates(table.frame[placing])
    if not pending:
        problems.rows(
            empty, lambda i: table.error("missing-value", f"'{placing}' is empty", i, placing, ids[i])
        )
    problems.rows(
        bad,
        lambda i: table.error(
            "bad-date",
            f"'{placing}' must be a date like 2027-02-15 (got {table.cell(i, placing)!r})",
            i,
            placing,
            ids[i],
        ),
    )
    known = ~(empty | bad)
    unique, inverse = np.unique(ordinals[known], return_inverse=True)
    found = [period_for_date(dt.date.fromordinal(int(o)), kind, fiscal_year_start) for o in unique]
    unique_keys = np.array([_period_key(p) for p in found], dtype=np.int64)
    row_keys = np.full(len(ordinals), -1, dtype=np.int64)
    row_keys[known] = unique_keys[inverse]
    return row_keys, {_period_key(p): p for p in found}, ordinals


def _splits(table: Table, ids: _RowIds, problems: Problems) -> np.ndarray:
    """The ``split`` of each transaction: a share in [0, 1], 1 where empty."""
    values, empty = column_numbers(table.frame["split"])
    problems.rows(
        ~empty & ~((values >= 0) & (values <= 1)),
        lambda i: table.error(
            "bad-split",
            f"'split' must be a number between 0 and 1 (got {table.cell(i, 'split')!r})",
            i,
            "split",
            ids[i],
        ),
    )
    return np.where(empty, 1.0, values)


def check_rows_fit(
    table: Table,
    staff: Roster,
    rows: ActualRows,
    column: np.ndarray,
    periods: Sequence[PeriodInfo],
    active: np.ndarray,
    problems: Problems,
) -> None:
    """Report rows in a period in which their rep is inactive, and repeated (rep, period)
    rows in per-period actuals."""
    placed = (rows.rep >= 0) & (rows.period_key >= 0) & (column >= 0)
    inactive = np.zeros(len(placed), dtype=bool)
    if not active.all():
        inactive[placed] = ~active[rows.rep[placed], column[placed]]
    problems.rows(
        inactive,
        lambda i: table.error(
            "inactive-rep",
            f"rep '{staff.ids[rows.rep[i]]}' has actuals in {periods[column[i]].label} "
            f"but is not active in it ({_employment(staff, rows.rep[i])})",
            i,
            rep=staff.ids[rows.rep[i]],
            hint="check the rep's start_date/end_date in the roster, or this row's period",
        ),
    )
    if rows.dates is not None:
        return
    later, first = repeats(rows.rep * len(periods) + column, placed)
    problems.report(
        len(later),
        (
            table.error(
                "duplicate-row",
                f"rep '{staff.ids[rows.rep[i]]}' has rows {table.row(j)} and {table.row(i)} "
                f"for period {periods[column[i]].label}",
                i,
                "period",
                staff.ids[rows.rep[i]],
                hint="keep one row per rep and period",
            )
            for i, j in zip(later.tolist(), first.tolist())
        ),
    )


def outside_employment(staff: Roster, rep: np.ndarray, dates: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """Which placed transactions are dated before their rep's first active day or after the
    last (over all of the rep's roster rows): counted (commission can be paid after leaving),
    but the payout names them."""
    first = np.full(len(staff.ids), NO_END, dtype=np.int64)
    last = np.full(len(staff.ids), NO_START, dtype=np.int64)
    np.minimum.at(first, staff.rep, staff.start.astype(np.int64))
    np.maximum.at(last, staff.rep, staff.end.astype(np.int64))
    where = np.where(placed, rep, 0)
    return placed & ((dates < first[where]) | (dates > last[where]))


def outside_employment_text(inputs: Inputs, listed: int = 3) -> str | None:
    """A warning naming the transactions dated outside their rep's employment (before the
    first ``start_date`` or after the last ``end_date``, in a period where the rep is
    otherwise active), or None when there are none. They are counted: commission paid after
    leaving can be legitimate.

    Args:
        inputs: loaded inputs with transaction rows.
        listed: how many rows to name.
    """
    rows = inputs.rows
    if rows is None or rows.outside is None or not rows.outside.any():
        return None
    which = np.flatnonzero(rows.outside)
    named = "; ".join(
        f"row {int(rows.file_row[i])} rep {inputs.rep_ids[rows.rep[i]]} dated {dt.date.fromordinal(int(rows.date[i]))}"
        for i in which[:listed])
    more = f"; and {len(which) - listed} more" if len(which) > listed else ""
    n = len(which)
    return (f"warning: {n} transaction{'s are' if n != 1 else ' is'} dated outside the rep's employment "
            f"(before start_date or after end_date) and counted in the period of {'their' if n != 1 else 'its'} "
            f"date: {named}{more} (check the dates, or the roster's start_date/end_date)")


def _employment(staff: Roster, rep: int) -> str:
    """A rep's start_date/end_date, for messages."""
    parts = []
    mine = np.flatnonzero(staff.rep == rep)
    first, last = staff.start[mine].min(), staff.end[mine].max()
    if first != NO_START:
        parts.append(f"start_date {dt.date.fromordinal(int(first))}")
    if last != NO_END:
        parts.append(f"end_date {dt.date.fromordinal(int(last))}")
    if len(mine) > 1:
        parts.append(f"{len(mine)} roster rows")
    return ", ".join(parts)
