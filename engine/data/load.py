"""Load a roster and actuals (CSV, Excel or Parquet) into the arrays a plan runs on.

:func:`read_table` reads one table; :func:`load_inputs` checks a roster and its actuals
against what a plan names and binds them to the plan's periods as :class:`Inputs`.

Everything the data can get wrong is collected (up to :data:`MAX_ERRORS` problems) and
raised once as :class:`~engine.core.errors.DataErrors`. Each error names the file, the row as a
spreadsheet shows it (the header is row 1, the first data row is row 2), the column and the
rep. Error codes:

==================  ==========================================================
``unknown-format``  the file's extension is not one this module reads
``unreadable-file`` the file is missing, corrupt, or not UTF-8 text
``duplicate-column`` two columns share a name (after stripping whitespace)
``missing-column``  a column the plan names (or ``rep_id``, ``period``/``date``) is absent
``ambiguous-actuals`` the actuals have both ``period`` and ``date``
``missing-value``   an empty cell where a value is needed
``not-a-number``    a measure (or numeric roster) cell that is not a finite number
``duplicate-rep``   a rep_id appears twice in the roster
``duplicate-row``   two actuals rows for the same rep and period
``bad-period``      a period label not of the plan's kind
``bad-date``        a cell that is not an ISO date, or an end_date before start_date
``bad-split``       a split that is not a number between 0 and 1
``overlapping-rows`` two roster rows of one rep in effect on the same day
``no-tenure``       the plan names ``tenure_months`` but a rep has no ``start_date`` nor ``tenure_months``
``unknown-rep``     an actuals row for a rep that is not in the roster
``inactive-rep``    an actuals row in a period in which the rep has no active day
``too-many-errors`` more problems than :data:`MAX_ERRORS`; only those are listed
==================  ==========================================================

Values are never guessed: ``1,234.5`` is not a number, and a date must be ISO 8601
(``2027-02-15``, optionally with a time) or a date cell.

The work follows the data, one module a step: :mod:`engine.data.read` reads each file,
:mod:`engine.data.cells` converts its cells, :mod:`engine.data.problems` collects what is
wrong and checks the columns, :mod:`engine.data.roster` and :mod:`engine.data.actuals` check
the two tables, and this module places the actuals into (rep, period) cells.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import ParamSpec, TypeVar

import numpy as np

from engine.core.errors import DataError
from engine.core.inputs import Inputs, Layer, Rows
from engine.core.periods import check_period_kind
from engine.data.actuals import (
    check_rows_fit,
    outside_employment,
    outside_employment_text,
    read_actuals,
)
from engine.data.problems import (
    MAX_ERRORS,
    Problems,
    Table,
    require_actual_columns,
    require_columns,
)
from engine.data.read import (
    TableSource,
    read_table,
    read_table_with_ids,
    release_arrow_memory,
    source_name,
)
from engine.data.roster import activity, check_amounts, read_roster, tenure_months

__all__ = ["AGGREGATIONS", "MAX_ERRORS", "TableSource", "load_inputs", "outside_employment_text", "read_table"]

AGGREGATIONS: tuple[str, ...] = ("sum", "mean", "last", "min", "max")
"""How transactions are gathered into a period, per actuals column."""

_NO_COLUMNS: Mapping[str, str] = MappingProxyType({})
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _releasing_arrow_memory(load: Callable[_P, _R]) -> Callable[_P, _R]:
    """``load``, then what Arrow's allocator kept of the tables it read handed back to the
    system: once ``load`` has returned, its frames and intermediate arrays are gone."""

    @functools.wraps(load)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return load(*args, **kwargs)
        finally:
            release_arrow_memory()

    return run


@_releasing_arrow_memory
def load_inputs(
    roster: TableSource,
    actuals: TableSource,
    *,
    period: str,
    fiscal_year_start: int = 1,
    roster_columns: Iterable[str] = (),
    actual_columns: Mapping[str, str] = _NO_COLUMNS,
    amount_columns: Iterable[str] = (),
    sheet: str | int | None = None,
    text_columns: Iterable[str] = (),
    text_roster_columns: Iterable[str] = (),
    placing_date: str = "date",
    pending: bool = False,
    tenure: bool = False,
) -> Inputs:
    """Check a roster and its actuals against a plan and bind them to its periods.

    The actuals are either one row per rep and period (columns ``rep_id``, ``period`` and
    the measures) or transactions (``rep_id``, ``date``, amounts and an optional ``split``
    share, empty meaning 1) that are multiplied by their split and gathered into periods
    with each column's aggregation (``last`` takes the latest-dated row, the later row in
    the file on a tie). The periods of the run are the distinct periods present in the
    actuals, in chronological order.

    A named roster column is numeric (float64) when every non-empty cell is a number, and
    text otherwise (empty cells become ``""``). Optional ``start_date``/``end_date`` roster
    columns (inclusive, empty meaning unbounded) give each rep's active days; they appear
    in :attr:`Inputs.roster` only when named, as ISO text.

    Args:
        roster: path or DataFrame, one row per rep.
        actuals: path or DataFrame.
        period: the plan's period kind: ``month``, ``quarter``, ``half`` or ``year``.
        fiscal_year_start: month number (1-12) in which the plan year starts.
        roster_columns: the ``roster.X`` columns the plan names.
        actual_columns: the ``actuals.X`` columns the plan names, each mapped to its
            aggregation (one of :data:`AGGREGATIONS`).
        amount_columns: roster columns that must be finite numbers of 0 or more (quota,
            target incentive, base salary, what targets read): a negative value is an
            error (``negative-value``), never a negative statement.
        sheet: the Excel sheet of both tables (name or 0-based number; default the first).
        text_columns: actuals columns the plan uses as text (attributes): kept as text,
            never summed or checked as numbers.
        text_roster_columns: roster columns the plan uses as text (kept as text even where
            every cell is a number).
        placing_date: the date column that places a transaction in a period.
        pending: a transaction whose placing date is empty is pending (in no period)
            rather than an error (the plan declares ``transactions:``).
        tenure: compute ``tenure_months`` (the plan names it).

    A roster with ``effective_from``/``effective_to`` columns may hold several rows per rep
    (not overlapping): each period's proration is then split by row (:attr:`Inputs.layers`)
    and :attr:`Inputs.roster_at` gives the row in effect on the period's last active day.

    Returns:
        The inputs, reps in roster order (of each rep's first row).

    Raises:
        DataErrors: every problem found in the data (see the module's table of codes).
        ValueError: ``period``, ``fiscal_year_start`` or an aggregation is invalid (a
            plan that passed validation never causes this).
    """
    check_period_kind(period, fiscal_year_start)
    aggregations = dict(actual_columns)
    for column, how in aggregations.items():
        if how not in AGGREGATIONS:
            raise ValueError(
                f"aggregation of '{column}' must be one of {', '.join(AGGREGATIONS)} (got {how!r})"
            )
    named = list(dict.fromkeys(column for column in roster_columns if column != "rep_id"))
    texts = list(dict.fromkeys(text_columns))
    text_set = set(texts)
    numeric = {c: how for c, how in aggregations.items() if c not in text_set}

    problems = Problems()
    tables = []
    for role, source in (("roster", roster), ("actuals", actuals)):
        try:
            frame, ids = read_table_with_ids(source, role, sheet, id_text=role == "roster")
            tables.append(Table(role, source_name(source, role), frame, ids))
        except DataError as error:
            problems.add(error)
    problems.raise_if_any()
    roster_table, actuals_table = tables
    order = (roster_table.name, actuals_table.name)
    for table in tables:
        if not len(table.frame):
            what = "reps" if table.role == "roster" else "periods or transactions"
            problems.add(DataError("no-rows", f"the {table.role} {'have' if table.role == 'actuals' else 'has'} a header but no rows", file=table.name,
                                   hint=table.missing_hint(
                                       f"add one row per {'rep' if table.role == 'roster' else 'rep and period'}"
                                       f": a run with no {what} has nothing to pay")))
    problems.raise_if_any(order)

    require_columns(roster_table, ["rep_id", *named], problems)
    require_actual_columns(actuals_table, {**numeric, **{c: "text" for c in texts}}, problems, placing_date)
    problems.raise_if_any(order)

    staff = read_roster(roster_table, named, problems, set(text_roster_columns))
    check_amounts(roster_table, staff, [c for c in amount_columns if c in named], problems)
    rows = read_actuals(actuals_table, staff, numeric, texts, period, fiscal_year_start, problems, placing_date,
                         pending)
    # Every actuals cell is read: only the row numbers are needed now (for messages).
    actuals_table = Table(actuals_table.role, actuals_table.name, actuals_table.frame[[]])
    del tables, table, frame, ids
    release_arrow_memory()
    keys = sorted(rows.periods)
    periods = tuple(rows.periods[key] for key in keys)
    active, proration, layers, at_index = activity(staff, periods)
    period_index = np.where(rows.period_key >= 0, np.searchsorted(keys, rows.period_key), -1)
    check_rows_fit(actuals_table, staff, rows, period_index, periods, active, problems)
    months = tenure_months(roster_table, staff, periods, problems) if tenure else None
    problems.raise_if_any(order)
    sources = {"roster": roster_table.name, "actuals": actuals_table.name}
    file_row = actuals_table.frame.index.to_numpy(np.int64)  # (N,): small beside the frame
    del roster_table, actuals_table

    placed = period_index >= 0
    every = bool(placed.all())  # no pending row: no copy of each column
    cells = rows.rep * len(periods) + period_index if every else rows.rep[placed] * len(periods) + period_index[placed]
    shape = (len(staff.ids), len(periods))
    placed_values = {name: values if every else values[placed] for name, values in rows.values.items()}
    row_counts = np.bincount(cells, minlength=shape[0] * shape[1]).astype(np.float64).reshape(shape)
    if rows.dates is None:
        actual_arrays = {name: _place(cells, values, shape) for name, values in placed_values.items()}
        for name, values in rows.texts.items():
            grid = np.full(shape[0] * shape[1], "", dtype=object)
            grid[cells] = values[placed]
            actual_arrays[name] = grid.reshape(shape)
        counts: dict[str, np.ndarray] = {}
        table_rows = None
    else:
        split = np.broadcast_to(np.asarray(rows.split, dtype=np.float64), rows.rep.shape)
        weighted = {name: v * split[placed] if numeric[name] == "sum" else v for name, v in placed_values.items()}
        actual_arrays, count = _gather(cells, weighted, rows.dates[placed], numeric, shape)
        counts = {name: count.copy() for name in numeric}
        table_rows = Rows(rep=rows.rep, period=period_index, columns={**rows.values, **rows.texts},
                          split=np.asarray(split, dtype=np.float64) * np.ones(len(rows.rep)),
                          date=np.where(placed, rows.dates, -1), file_row=file_row,
                          outside=outside_employment(staff, rows.rep, rows.dates, placed))
    roster_cols = staff.columns if not layers else {k: v[staff.last_row] for k, v in staff.columns.items()}
    roster_at: dict[str, np.ndarray] = {}
    layer_objs: tuple[Layer, ...] = ()
    if layers:
        layer_objs = tuple(Layer({k: v[rows_v] for k, v in staff.columns.items()}, prorate)
                           for rows_v, prorate in layers)
        roster_at = {k: v[at_index] for k, v in staff.columns.items()}
    return Inputs(
        rep_ids=staff.ids,
        periods=periods,
        roster=roster_cols,
        actuals=actual_arrays,
        active=active,
        proration=proration,
        counts=counts,
        sources=sources,
        rows=table_rows,
        row_counts=row_counts,
        layers=layer_objs,
        roster_at=roster_at,
        tenure=months,
    )


# --- into (rep, period) cells ----------------------------------------------------------


def _place(cells: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """One value per cell (cells are distinct), 0 elsewhere."""
    out = np.zeros(shape[0] * shape[1])
    out[cells] = values
    return out.reshape(shape)


def _gather(
    cells: np.ndarray,
    values: Mapping[str, np.ndarray],
    dates: np.ndarray,
    aggregations: Mapping[str, str],
    shape: tuple[int, int],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Transactions gathered into cells with each column's aggregation.

    Returns:
        ``(arrays, counts)``: column name -> ``shape`` float64 (0 in empty cells), and the
        number of transactions in each cell.
    """
    size = shape[0] * shape[1]
    count = np.bincount(cells, minlength=size).astype(np.float64)
    filled = count > 0
    latest: np.ndarray | None = None
    arrays = {}
    for name, how in aggregations.items():
        amount = values[name]
        if how in ("sum", "mean"):
            out: np.ndarray = np.bincount(cells, weights=amount, minlength=size)
            if how == "mean":
                out = np.divide(out, count, out=np.zeros(size), where=filled)
        elif how in ("min", "max"):
            out = np.full(size, np.inf if how == "min" else -np.inf)
            (np.minimum if how == "min" else np.maximum).at(out, cells, amount)
            out[~filled] = 0.0
        elif not len(cells):
            out = np.zeros(size)
        else:  # last: the latest date, then the later row in the file
            if latest is None:
                order = np.lexsort((np.arange(len(cells)), dates, cells))
                ends = np.append(cells[order][1:] != cells[order][:-1], True)
                latest = order[ends]
            out = np.zeros(size)
            out[cells[latest]] = amount[latest]
        arrays[name] = out.reshape(shape)
    return arrays, count.reshape(shape)
