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
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from engine.core.errors import DataError, DataErrors
from engine.core.inputs import Inputs, Layer, PeriodInfo, Rows, month_offsets
from engine.core.periods import check_period_kind, parse_period_label, period_for_date
from engine.core.text import did_you_mean

__all__ = ["AGGREGATIONS", "MAX_ERRORS", "TableSource", "load_inputs", "outside_employment_text", "read_table"]

AGGREGATIONS: tuple[str, ...] = ("sum", "mean", "last", "min", "max")
"""How transactions are gathered into a period, per actuals column."""

MAX_ERRORS = 200
"""At most this many data errors are reported at once."""

TableSource = str | os.PathLike[str] | pd.DataFrame
"""A table: a path to a CSV, Excel or Parquet file, or a DataFrame."""

_FORMATS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".xlsx": "Excel",
    ".xlsm": "Excel",
    ".xls": "Excel",
    ".parquet": "Parquet",
    ".pq": "Parquet",
}
_ACCEPTED = "CSV (.csv, .tsv), Excel (.xlsx, .xlsm, .xls) or Parquet (.parquet, .pq)"
_TEXT_COLUMNS = frozenset({"rep_id", "period", "date", "start_date", "end_date", "effective_from",
                           "effective_to"})
_DATE_COLUMNS = ("start_date", "end_date")
_EFFECTIVE = ("effective_from", "effective_to")
_NO_START = 0  # before every date's ordinal (date.min is 1)
_NO_END = dt.date.max.toordinal() + 1
_SUGGESTION_LOOKUPS = 20  # difflib over a large roster is slow: bound the lookups per load
_NO_COLUMNS: Mapping[str, str] = MappingProxyType({})
_P = ParamSpec("_P")
_R = TypeVar("_R")


def read_table(path_or_df: TableSource, role: str, sheet: str | int | None = None) -> pd.DataFrame:
    """Read one input table so that text stays text.

    CSV cells of ``rep_id``, ``period``, ``date``, ``start_date`` and ``end_date`` are read
    as text; other columns as pandas infers them (numbers, or text where any cell is not a
    number). Only empty cells are missing: ``NA`` or ``null`` are text. Column names are
    stripped of surrounding whitespace, entirely blank rows are dropped, and ``rep_id`` is
    converted to stripped text (an Excel number ``17`` becomes ``"17"``, ``"007"`` stays
    ``"007"``; an empty cell is ``None``).

    Args:
        path_or_df: a DataFrame (copied, not modified), or the path of a ``.csv``/``.tsv``
            (UTF-8), ``.xlsx``/``.xlsm``/``.xls`` (first sheet) or ``.parquet``/``.pq`` file.
        role: ``roster`` or ``actuals``, for messages.
        sheet: the Excel sheet to read, by name or 0-based number (default: the first).

    Returns:
        The table, indexed by each row's number as a spreadsheet shows it (the header is
        row 1, so the first data row is 2), index name ``row``.

    Raises:
        DataError: ``unknown-format`` for an extension not listed above; ``unreadable-file``
            when the file is missing or cannot be read; ``duplicate-column`` when two
            columns have the same name (in the file's own header, before any renaming);
            ``unknown-sheet``, ``empty-sheet`` and ``formula-without-value`` for Excel
            sheets that do not exist, hold nothing, or hold formulas never calculated.
    """
    return _read_table(path_or_df, role, sheet)[0]


@dataclass(frozen=True)
class _Ids:
    """A ``rep_id`` column factorized: ``texts[codes[i]]`` is row ``i``'s id as text.

    Attributes:
        codes: ``(N,)`` int64 per row, -1 where the cell is empty (or blank text).
        texts: the distinct ids as text (object array of str), in order of first row.
    """

    codes: np.ndarray
    texts: np.ndarray

    def __getitem__(self, row: int) -> str | None:
        """Row ``row``'s id (None where empty), for messages."""
        code = int(self.codes[row])
        return None if code < 0 else self.texts[code]

    def column(self) -> np.ndarray:
        """One id (str, or None where empty) per row, as an object array."""
        return _then(self.texts, None)[self.codes]  # code -1 picks the last entry


def _read_table(path_or_df: TableSource, role: str, sheet: str | int | None = None, id_text: bool = True
                ) -> tuple[pd.DataFrame, _Ids | None]:
    """:func:`read_table`, and the table's ``rep_id`` column factorized (None without one);
    without ``id_text`` the frame's ``rep_id`` column stays as read and is not factorized
    here (a large actuals table then holds no Python object per row)."""
    name = _source_name(path_or_df, role)
    if isinstance(path_or_df, pd.DataFrame):
        frame = path_or_df.copy()
        header = [str(column).strip() for column in frame.columns]
    else:
        frame, header = _read_file(Path(path_or_df), name, role, sheet)
    others = list(frame.attrs.get("other_sheets", ()))
    frame.columns = [str(column).strip() for column in frame.columns]
    named_header = pd.Index([h for h in header if h])
    repeated = named_header[named_header.duplicated()]
    if len(repeated):
        raise DataError(
            "duplicate-column",
            f"the {role} has more than one column named '{repeated[0]}'",
            file=name,
            column=str(repeated[0]),
            hint="rename or remove the extra column",
        )
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    blank = _blank_rows(frame)
    if blank.any():
        frame = frame.loc[~blank].copy()
    ids = None
    if "rep_id" in frame.columns and id_text:
        ids = _factorized_ids(frame["rep_id"])
        frame["rep_id"] = pd.Series(ids.column(), index=frame.index, dtype=object)
    if others:
        frame.attrs["other_sheets"] = others
    return frame, ids


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Where every cell of a row is empty (one column at a time, stopping at the first
    column that leaves no candidate)."""
    blank = np.ones(len(frame), dtype=bool)
    for column in frame.columns:
        blank &= frame[column].isna().to_numpy(dtype=bool)
        if not blank.any():
            break
    return blank


def _releasing_arrow_memory(load: Callable[_P, _R]) -> Callable[_P, _R]:
    """``load``, then what Arrow's allocator kept of the tables it read handed back to the
    system: once ``load`` has returned, its frames and intermediate arrays are gone."""

    @functools.wraps(load)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return load(*args, **kwargs)
        finally:
            _release_arrow_memory()

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

    problems = _Problems()
    tables = []
    for role, source in (("roster", roster), ("actuals", actuals)):
        try:
            frame, ids = _read_table(source, role, sheet, id_text=role == "roster")
            tables.append(_Table(role, _source_name(source, role), frame, ids))
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

    _require_columns(roster_table, ["rep_id", *named], problems)
    _require_actual_columns(actuals_table, {**numeric, **{c: "text" for c in texts}}, problems, placing_date)
    problems.raise_if_any(order)

    staff = _read_roster(roster_table, named, problems, set(text_roster_columns))
    _check_amounts(roster_table, staff, [c for c in amount_columns if c in named], problems)
    rows = _read_actuals(actuals_table, staff, numeric, texts, period, fiscal_year_start, problems, placing_date,
                         pending)
    # Every actuals cell is read: only the row numbers are needed now (for messages).
    actuals_table = _Table(actuals_table.role, actuals_table.name, actuals_table.frame[[]])
    del tables, table, frame, ids
    _release_arrow_memory()
    keys = sorted(rows.periods)
    periods = tuple(rows.periods[key] for key in keys)
    active, proration, layers, at_index = _activity(staff, periods)
    period_index = np.where(rows.period_key >= 0, np.searchsorted(keys, rows.period_key), -1)
    _check_rows_fit(actuals_table, staff, rows, period_index, periods, active, problems)
    months = _tenure(roster_table, staff, periods, problems) if tenure else None
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
                          outside=_outside_employment(staff, rows.rep, rows.dates, placed))
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


# --- reading files --------------------------------------------------------------------


def _source_name(source: TableSource, role: str) -> str:
    """How errors name a table: its path as given, or its role for a DataFrame."""
    return role if isinstance(source, pd.DataFrame) else str(source)


def _read_file(path: Path, name: str, role: str, sheet: str | int | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read a file by its extension; any failure becomes a :class:`DataError`.

    Returns the table and its header as written (pandas renames a repeated column name
    ``quota.1``; the header keeps both ``quota``, so a repeat is caught).
    """
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            "unknown-format",
            f"cannot read the {role} '{name}': unknown file type '{path.suffix}'",
            file=name,
            hint=f"save it as {_ACCEPTED}",
        )
    if not path.is_file():
        raise DataError(
            "unreadable-file",
            f"the {role} file '{name}' does not exist",
            file=name,
            hint=f"give the path of a {_ACCEPTED} file",
        )
    try:
        if kind == "Excel":
            return _read_excel(path, name, role, sheet)
        if kind == "Parquet":
            frame = _read_parquet(path)
            return frame, [str(c).strip() for c in frame.columns]
        return _read_csv(path, sep="," if kind == "CSV" else "\t")
    except DataError:
        raise
    except Exception as error:
        raise DataError(
            "unreadable-file",
            f"cannot read the {role} '{name}' as {kind}: {_reason(error)}",
            file=name,
            hint=f"the accepted formats are {_ACCEPTED}",
        ) from error


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as :func:`pandas.read_parquet` reads it (same columns, dtypes and
    attrs), but read by Arrow from the path itself: pandas hands Arrow a Python file
    object, which takes twice as long on a large file."""
    import json

    import pyarrow.parquet as pq

    table = pq.read_table(str(path), use_pandas_metadata=True)
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    frame = table.to_pandas()
    del table
    if attrs is not None:
        frame.attrs = json.loads(attrs)
    return frame


def _read_csv(path: Path, sep: str) -> tuple[pd.DataFrame, list[str]]:
    """Read UTF-8 delimited text, the id, label and date columns as text."""
    options: dict[str, Any] = {
        "sep": sep,
        "encoding": "utf-8-sig",
        "keep_default_na": False,
        "na_values": [""],
        "skip_blank_lines": False,  # so that row numbers stay those of the file
    }
    header = pd.read_csv(path, nrows=0, **options).columns
    text = {column: str for column in header if str(column).strip() in _TEXT_COLUMNS}
    raw = pd.read_csv(path, nrows=1, header=None, sep=sep, encoding="utf-8-sig", keep_default_na=False,
                      dtype=str)
    written = [str(c).strip() for c in raw.iloc[0].tolist()] if len(raw) else [str(c).strip() for c in header]
    return pd.read_csv(path, dtype=text, **options), written


def _read_excel(path: Path, name: str, role: str, sheet: str | int | None) -> tuple[pd.DataFrame, list[str]]:
    """One sheet of a workbook (the first by default), checked for what Excel users meet:
    a wrong sheet name, an empty sheet beside full ones, formulas never calculated."""
    # openpyxl reads .xlsx and .xlsm; the older binary .xls needs xlrd
    engine: Literal["xlrd", "openpyxl"] = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    with pd.ExcelFile(path, engine=engine) as book:
        names = [str(n) for n in book.sheet_names]
        listing = ", ".join(f"'{n}'" for n in names)
        chosen = 0 if sheet is None else sheet
        if isinstance(chosen, str) and chosen.strip().lstrip("-").isdigit() and chosen not in names:
            chosen = int(chosen)
        if isinstance(chosen, int) and not 0 <= chosen < len(names) or isinstance(chosen, str) and chosen not in names:
            raise DataError("unknown-sheet", f"the {role} workbook '{name}' has no sheet {sheet!r} (sheets: {listing})",
                            file=name, hint="give --sheet one of the sheet names (or its number, 0 first)")
        label = names[chosen] if isinstance(chosen, int) else chosen
        frame = pd.read_excel(book, sheet_name=label, keep_default_na=False, na_values=[""])
        header = [str(c).strip() for c in pd.read_excel(book, sheet_name=label, header=None, nrows=1).iloc[0].tolist()] \
            if len(frame.columns) else []
    if not len(frame.columns):
        others = [n for n in names if n != label]
        hint = (f"the data may be on another sheet ({', '.join(repr(n) for n in others)}): choose it with "
                "--sheet NAME" if others else "put the table on the first sheet, header in row 1")
        raise DataError("empty-sheet", f"sheet '{label}' of the {role} workbook '{name}' is empty "
                        f"(sheets: {listing})", file=name, hint=hint)
    if engine == "openpyxl" and frame.isna().any().any():
        _check_formulas(path, label, frame, name)
    frame.attrs["other_sheets"] = [n for n in names if n != label]  # for the hint of a missing column
    return frame, header


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator keeps for reuse (the Parquet tables just read)
    back to the system."""
    import gc
    import sys

    if "pyarrow" in sys.modules:
        gc.collect()  # a DataFrame can sit in a reference cycle
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def _check_formulas(path: Path, sheet: str, frame: pd.DataFrame, name: str) -> None:
    """Empty cells that hold a formula: the workbook was saved without calculated values
    (by a program, not Excel), so the value cannot be known."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        rows = book[sheet].iter_rows(min_row=2, max_row=len(frame) + 1, max_col=len(frame.columns), values_only=True)
        missing = frame.isna().to_numpy()
        header = list(frame.columns)
        for i, row in enumerate(rows):
            if not missing[i].any():
                continue
            for j, cell in enumerate(row):
                if j < len(header) and missing[i, j] and isinstance(cell, str) and cell.startswith("="):
                    raise DataError("formula-without-value",
                                    f"cell {openpyxl.utils.get_column_letter(j + 1)}{i + 2} holds the formula "
                                    f"{cell} but no calculated value", file=name, row=i + 2,
                                    column=str(header[j]),
                                    hint="open the workbook in Excel (or LibreOffice) and save it, so the "
                                         "values are stored, or paste the values in place of the formulas")
    finally:
        book.close()


def _reason(error: Exception) -> str:
    """A reader's exception in a few words."""
    if isinstance(error, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(error, pd.errors.EmptyDataError):
        return "the file is empty"
    if isinstance(error, ImportError):
        return f"a library it needs is missing ({error})"
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# --- converting cells ------------------------------------------------------------------


def _cell_text(cell: Any) -> str | None:
    """One cell as text: strings stripped, integral numbers without ``.0``, dates ISO."""
    if isinstance(cell, str):
        return cell.strip() or None
    if isinstance(cell, (bool, np.bool_)):
        return str(bool(cell))
    if isinstance(cell, Integral):
        return str(int(cell))
    if isinstance(cell, Real):
        number = float(cell)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(cell, dt.datetime):
        midnight = cell.time() == dt.time() and cell.tzinfo is None
        return cell.date().isoformat() if midnight else cell.isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)


def _cell_date(cell: Any) -> dt.date | None:
    """One cell as a date, or None if it is not one (ISO 8601 text, or a date cell)."""
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, str):
        text = cell.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            return None
    return None


def _cell_texts(cells: Any) -> np.ndarray:
    """Distinct cells as text (object array; None where blank), as :func:`_cell_text` makes
    each: at C speed for text and integer columns, cell by cell otherwise."""
    strings = _arrow_strings(cells)
    if strings is not None:
        import pyarrow.compute as pc

        # Arrow's whitespace is Python's str.isspace (tests/data/test_load.py checks every
        # code point), so trimming here is str.strip().
        trimmed = pc.utf8_trim_whitespace(strings)
        out = trimmed.to_numpy(zero_copy_only=False).astype(object, copy=False)
        out[np.asarray(pc.equal(pc.utf8_length(trimmed), 0), dtype=bool)] = None
        return out
    array = np.asarray(cells)
    if array.dtype.kind in "iub":  # str() of an integer or a bool is its numpy text
        return array.astype(str).astype(object)
    return np.array([_cell_text(cell) for cell in cells] + [None], dtype=object)[:-1]


def _arrow_strings(cells: Any) -> Any:
    """Cells as an Arrow string array when every one is a string (None otherwise)."""
    import pyarrow as pa

    if isinstance(cells, np.ndarray) and cells.dtype != object:
        return None
    try:
        array = pa.array(cells, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if array.null_count or not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    return array


def _texts(column: pd.Series, empty: str | None = None) -> np.ndarray:
    """A column as an object array of text (see :func:`_cell_text`), ``empty`` if blank."""
    codes, uniques = pd.factorize(column)
    table = _then(_cell_texts(uniques), empty)
    if empty is not None:
        table[pd.isna(table)] = empty
    return table[codes]  # code -1 (a missing cell) picks the last entry


def _then(values: np.ndarray, last: Any) -> np.ndarray:
    """An object array of ``values`` and then ``last`` (what a code of -1 picks)."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    out[-1] = last
    return out


def _factorized_ids(column: pd.Series) -> _Ids:
    """A ``rep_id`` column as text (see :func:`_cell_text`), factorized: cells that differ
    but read as the same text (``" R1"`` and ``"R1"``, ``17`` and ``"17"``) share a code."""
    codes, uniques = pd.factorize(column)
    texts = _cell_texts(uniques)
    merged, distinct = pd.factorize(texts)  # None (blank) -> -1
    if len(distinct) == len(texts):  # nothing merged and nothing blank: codes stay as they are
        return _Ids(codes.astype(np.int64, copy=False), texts)
    return _Ids(np.append(merged, -1)[codes].astype(np.int64, copy=False), np.asarray(distinct, dtype=object))


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as float64, and where it is empty.

    Returns:
        ``(values, empty)``: values are NaN where a cell is empty or not a number (text,
        dates, booleans); infinities stay infinite.
    """
    empty = column.isna().to_numpy(copy=True)
    convertible = not pd.api.types.is_bool_dtype(column) and (
        pd.api.types.is_numeric_dtype(column)
        or pd.api.types.is_object_dtype(column)
        or pd.api.types.is_string_dtype(column)
    )
    if not convertible:  # dates, booleans...
        return np.full(len(column), np.nan), empty
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    failed = np.flatnonzero(np.isnan(values) & ~empty)
    if failed.size:  # blank strings count as empty; only the offending cells are looked at
        cells = column.to_numpy(dtype=object)[failed]
        empty[failed[[isinstance(cell, str) and not cell.strip() for cell in cells]]] = True
    return values, empty


def _dates(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A column as date ordinals.

    Returns:
        ``(ordinals, empty, bad)``: proleptic Gregorian ordinals (0 where empty or bad),
        where a cell is empty, and where it is not a date.
    """
    codes, uniques = pd.factorize(column)
    dates = [_cell_date(cell) for cell in uniques]
    blank = [isinstance(cell, str) and not cell.strip() for cell in uniques]
    ordinals = np.array([0 if d is None else d.toordinal() for d in dates] + [0], dtype=np.int64)
    empty = np.array(blank + [True])
    bad = np.array([d is None for d in dates] + [False]) & ~empty
    return ordinals[codes], empty[codes], bad[codes]


def _iso_dates(ordinals: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Ordinals as ISO text (object array), ``""`` where not ``known``."""
    unique, inverse = np.unique(np.where(known, ordinals, 1), return_inverse=True)
    texts = np.array([dt.date.fromordinal(int(o)).isoformat() for o in unique], dtype=object)
    return np.where(known, texts[inverse], "")


# --- collecting problems ---------------------------------------------------------------


class _Problems:
    """The data errors found so far; at most :data:`MAX_ERRORS` are kept (and formatted)."""

    def __init__(self) -> None:
        self.errors: list[DataError] = []
        self.found = 0

    def add(self, error: DataError) -> None:
        """Report one problem."""
        self.report(1, iter([error]))

    def report(self, count: int, errors: Iterator[DataError]) -> None:
        """Count ``count`` problems and keep as many of ``errors`` (lazy) as there is room for."""
        self.found += count
        self.errors.extend(itertools.islice(errors, max(MAX_ERRORS - len(self.errors), 0)))

    def rows(self, where: np.ndarray, describe: Callable[[int], DataError]) -> None:
        """Report ``describe(i)`` for each position ``i`` where the boolean mask is set."""
        positions = np.flatnonzero(where)
        self.report(len(positions), map(describe, positions.tolist()))

    def raise_if_any(self, files: Sequence[str] = ()) -> None:
        """Raise every error kept, sorted by file (in the order of ``files``) and row."""
        if not self.errors:
            return
        rank = {name: i for i, name in enumerate(files)}
        errors = sorted(self.errors, key=lambda e: (rank.get(e.file or "", len(rank)), e.row or 0))
        if self.found > len(errors):
            errors.append(
                DataError(
                    "too-many-errors",
                    f"{self.found - len(errors)} more problems are not listed "
                    f"(at most {MAX_ERRORS} are reported)",
                    hint="fix these first, then load again",
                )
            )
        raise DataErrors(errors, total=self.found)


class _Suggester:
    """``did you mean`` hints among many names, with a bounded number of difflib lookups."""

    def __init__(self, names: Iterable[str], lookups: int = _SUGGESTION_LOOKUPS) -> None:
        self.source: Iterable[str] | None = names  # listed on the first lookup only
        self.names: list[str] = []
        self.lookups = lookups
        self.cache: dict[str, str | None] = {}

    def hint(self, name: str) -> str | None:
        """The hint for ``name``, or None (also once the lookups are used up)."""
        if name not in self.cache:
            if self.lookups <= 0:
                return None
            if self.source is not None:
                self.names, self.source = list(self.source), None
            self.lookups -= 1
            self.cache[name] = did_you_mean(name, self.names)
        return self.cache[name]


@dataclass(frozen=True)
class _Table:
    """A table read for one role, with the spreadsheet row number of each of its rows."""

    role: str
    name: str
    frame: pd.DataFrame
    ids: _Ids | None = None

    def row(self, position: int) -> int:
        """The spreadsheet row number of row ``position`` (0-based) of the frame."""
        return int(self.frame.index[position])

    def error(
        self,
        code: str,
        message: str,
        position: int | None = None,
        column: str | None = None,
        rep: str | None = None,
        hint: str | None = None,
    ) -> DataError:
        """A data error in this table, at row ``position`` (0-based) of the frame."""
        row = None if position is None else self.row(position)
        return DataError(code, message, file=self.name, row=row, column=column, rep=rep, hint=hint)

    def cell(self, position: int, column: str) -> str | None:
        """The text of one cell, for messages."""
        return _cell_text(self.frame[column].iloc[position])

    def missing_hint(self, hint: str) -> str:
        """The hint of a missing column: ``hint``, then, for a workbook with other sheets,
        that the data may be on one of them (a workbook's first sheet is often notes)."""
        others = self.frame.attrs.get("other_sheets") or []
        if not others:
            return hint
        return (f"{hint}; the data may be on another sheet ({', '.join(repr(str(n)) for n in others[:5])}): "
                "choose it with --sheet NAME")


# --- columns ---------------------------------------------------------------------------


def _require_columns(table: _Table, columns: Iterable[str], problems: _Problems) -> None:
    """Report each of ``columns`` that the table lacks."""
    present = [str(column) for column in table.frame.columns]
    for column in columns:
        if column not in present:
            problems.add(
                table.error(
                    "missing-column",
                    f"no column '{column}' in the {table.role}",
                    column=column,
                    hint=did_you_mean(column, present) or table.missing_hint(_listing(present)),
                )
            )


def _listing(columns: Sequence[str]) -> str:
    """A hint listing a table's columns (the first dozen)."""
    shown = ", ".join(f"'{c}'" for c in columns[:12]) + (", ..." if len(columns) > 12 else "")
    return f"its columns are {shown}" if columns else "it has no columns"


def _require_actual_columns(
    table: _Table, aggregations: Mapping[str, str], problems: _Problems, placing: str = "date"
) -> None:
    """Report a missing ``rep_id`` or measure column, and an undecidable actuals form."""
    columns = table.frame.columns
    if placing != "date" and "period" not in columns and placing not in columns:
        problems.add(
            table.error(
                "missing-column",
                f"the plan places transactions by '{placing}' (transactions: {{date: {placing}}}), but the "
                f"actuals have no column '{placing}'",
                column=placing,
                hint=did_you_mean(placing, [str(c) for c in columns])
                or table.missing_hint(_listing([str(c) for c in columns])),
            )
        )
        _require_columns(table, ["rep_id", *aggregations], problems)
        return
    if placing != "date" and placing in columns:
        _require_columns(table, ["rep_id", *aggregations], problems)
        return
    if "period" in columns and "date" in columns:
        problems.add(
            table.error(
                "ambiguous-actuals",
                "the actuals have both a 'period' and a 'date' column",
                hint="keep 'period' for one row per rep and period, "
                "or 'date' for one row per transaction",
            )
        )
    elif "period" not in columns and "date" not in columns:
        problems.add(
            table.error(
                "missing-column",
                "the actuals need a 'period' column (one row per rep and period) "
                "or a 'date' column (one row per transaction)",
                hint=table.missing_hint(_listing([str(c) for c in columns])),
            )
        )
    _require_columns(table, ["rep_id", *aggregations], problems)


# --- roster ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Roster:
    """The roster's checked contents.

    Attributes:
        ids: ``(R,)`` rep ids, in the order of each rep's first row.
        columns: named column -> one value per roster *row*.
        start, end: per row, the inclusive first and last day the row counts (employment
            within the row's effective dates), as ordinals.
        rep: per row, the rep's position in ``ids``.
        rank: per row, its rank among the rep's rows by effective date (0 for the first).
        last_row: ``(R,)`` each rep's latest row.
        first_start: ``(R,)`` each rep's earliest ``start_date`` ordinal (0 when unknown).
    """

    ids: np.ndarray
    columns: dict[str, np.ndarray]
    start: np.ndarray
    end: np.ndarray
    rep: np.ndarray
    rank: np.ndarray
    last_row: np.ndarray
    first_start: np.ndarray


def _read_roster(table: _Table, named: Sequence[str], problems: _Problems, texts: set[str] | None = None) -> _Roster:
    """Check the roster's ids, dates and named columns, reporting every bad cell."""
    frame = table.frame
    ids = frame["rep_id"].to_numpy(dtype=object)
    factorized = table.ids if table.ids is not None else _factorized_ids(frame["rep_id"])
    missing = factorized.codes < 0
    problems.rows(missing, lambda i: table.error("missing-value", "'rep_id' is empty", i, "rep_id"))
    dated = any(c in frame.columns for c in _EFFECTIVE)
    if not dated:
        later, first = _repeats(factorized.codes, ~missing)
        problems.report(
            len(later),
            (
                table.error(
                    "duplicate-rep",
                    f"rep_id '{ids[i]}' is in rows {table.row(j)} and {table.row(i)}",
                    i,
                    "rep_id",
                    ids[i],
                    hint="each rep has one roster row (or give the rows effective_from/effective_to dates)",
                )
                for i, j in zip(later.tolist(), first.tolist())
            ),
        )
    columns: dict[str, np.ndarray] = {"rep_id": ids}
    bounds: dict[str, np.ndarray] = {}
    for name, unbounded in zip(_DATE_COLUMNS + _EFFECTIVE, (_NO_START, _NO_END, _NO_START, _NO_END)):
        if name not in frame.columns:
            bounds[name] = np.full(len(frame), unbounded, dtype=np.int64)
            continue
        ordinals, empty, bad = _dates(frame[name])

        def bad_date(i: int, name: str = name) -> DataError:
            return table.error(
                "bad-date",
                f"'{name}' must be a date like 2027-02-15 (got {table.cell(i, name)!r})",
                i,
                name,
                ids[i],
            )

        problems.rows(bad, bad_date)
        known = ~(empty | bad)
        bounds[name] = np.where(known, ordinals, unbounded)
        if name in named:
            columns[name] = _iso_dates(ordinals, known)
    start, end = bounds["start_date"], bounds["end_date"]
    for lo_name, hi_name in (_DATE_COLUMNS, _EFFECTIVE):
        lo, hi = bounds[lo_name], bounds[hi_name]

        def before(i: int, lo: np.ndarray = lo, hi: np.ndarray = hi, lo_name: str = lo_name,
                   hi_name: str = hi_name) -> DataError:
            return table.error("bad-date", f"'{hi_name}' {dt.date.fromordinal(int(hi[i]))} is before "
                               f"'{lo_name}' {dt.date.fromordinal(int(lo[i]))}", i, hi_name, str(ids[i]))

        problems.rows(hi < lo, before)
    for name in named:
        if name not in _DATE_COLUMNS and name not in _EFFECTIVE:
            columns[name] = _roster_column(table, name, ids, problems, text=name in (texts or ()))
    codes, uniques = factorized.codes, factorized.texts  # ids in order of first row
    rep = np.where(codes >= 0, codes, 0).astype(np.int64)
    unique_ids = np.asarray(uniques, dtype=object) if len(uniques) else np.array([None], dtype=object)
    if not len(uniques):
        rep = np.zeros(len(ids), dtype=np.int64)
    eff_from, eff_to = bounds["effective_from"], bounds["effective_to"]
    rank = np.zeros(len(ids), dtype=np.int64)
    last_row = np.zeros(len(unique_ids), dtype=np.int64)
    if dated:
        order = np.lexsort((np.arange(len(ids)), eff_from, rep))
        rs = rep[order]
        first_of = np.searchsorted(rs, rs, side="left")
        rank[order] = np.arange(len(ids)) - first_of
        same = rs[1:] == rs[:-1]
        overlap = same & (eff_from[order][1:] <= eff_to[order][:-1])
        for k in np.flatnonzero(overlap)[:MAX_ERRORS].tolist():
            i, j = int(order[k + 1]), int(order[k])
            problems.add(table.error(
                "overlapping-rows",
                f"rows {table.row(j)} and {table.row(i)} of rep '{ids[i]}' are both in effect on "
                f"{dt.date.fromordinal(int(max(eff_from[i], eff_from[j], 1)))}",
                i, "effective_from", ids[i],
                hint="a rep's rows must not overlap: end the earlier row (effective_to) the day before the "
                     "next one starts"))
        last_row[rs] = order  # the last row of each rep in effective order wins
    else:
        last_row[rep[::-1]] = np.arange(len(ids))[::-1]
    lo = np.maximum(start, eff_from)
    hi = np.minimum(end, eff_to)
    known_start = start != _NO_START
    first_start = np.zeros(len(unique_ids), dtype=np.int64)
    if known_start.any():
        big = np.where(known_start, start, np.iinfo(np.int64).max)
        fs = np.full(len(unique_ids), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(fs, rep, big)
        first_start = np.where(fs == np.iinfo(np.int64).max, 0, fs)
    return _Roster(unique_ids, columns, lo, hi, rep, rank, last_row, first_start)


def _roster_column(table: _Table, name: str, ids: np.ndarray, problems: _Problems, text: bool = False) -> np.ndarray:
    """A named roster column: float64 if every non-empty cell is a number, else text
    (always text where the plan uses the column as text)."""
    values, empty = _numbers(table.frame[name])
    if text or (np.isnan(values) & ~empty).any():
        return _texts(table.frame[name], empty="")
    problems.rows(
        empty, lambda i: table.error("missing-value", f"'{name}' is empty", i, name, ids[i])
    )
    problems.rows(
        np.isinf(values),
        lambda i: table.error(
            "not-a-number",
            f"'{name}' must be a finite number (got {table.cell(i, name)!r})",
            i,
            name,
            ids[i],
        ),
    )
    return values


def _check_amounts(table: _Table, staff: _Roster, columns: Sequence[str], problems: _Problems) -> None:
    """Amounts (quota, target incentive, salary) must not be negative; empty and infinite
    cells are reported by :func:`_roster_column` already."""
    for name in columns:
        values = staff.columns.get(name)
        if values is None or values.dtype.kind != "f":
            continue  # text: _roster_column or the plan's type checks report it

        def negative(i: int, name: str = name) -> DataError:
            return table.error(
                "negative-value", f"'{name}' must not be negative (got {table.cell(i, name)})", i, name,
                staff.ids[staff.rep[i]], hint=f"'{name}' is an amount the plan pays or measures against: give 0 or more")

        problems.rows(values < 0, negative)


def _repeats(keys: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valid positions whose key appeared at an earlier valid position, and that position.

    Args:
        keys: ``(N,)`` integer keys of 0 or more (where valid).
        valid: ``(N,)`` which positions count.

    Returns:
        ``(later, first)``: positions of the repeats and, for each, the position of the
        first occurrence of its key.
    """
    counted = keys if valid.all() else keys[valid]
    seen = np.bincount(counted) if counted.size else np.zeros(0, dtype=np.int64)
    if not seen.size or seen.max() <= 1:  # the usual case: no key twice, found in one pass
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    positions = np.flatnonzero(valid)
    positions = positions[seen[counted] > 1]  # only the keys seen more than once
    codes, _ = pd.factorize(keys[positions])
    _, first_of_code = np.unique(codes, return_index=True)
    first = positions[first_of_code[codes]]
    repeated = first != positions
    return positions[repeated], first[repeated]


def _activity(staff: _Roster, periods: Sequence[PeriodInfo]
              ) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """``(active, proration, layers, at)``: whether each rep has an active day in each
    period, the share of the period's calendar days that are active, for an
    effective-dated roster each row rank's ``(row of each rep, proration)`` (else empty),
    and ``(R, P)`` the roster row in effect on each period's last active day."""
    starts = np.array([p.start.toordinal() for p in periods], dtype=np.int64)
    ends = np.array([p.end.toordinal() for p in periods], dtype=np.int64)
    calendar = (ends - starts + 1).astype(np.float64)
    R = len(staff.ids)
    one_row_each = len(staff.rep) == R and bool((staff.rep == np.arange(R)).all())
    if one_row_each and len(periods) and (staff.start <= starts.min()).all() and (staff.end >= ends.max()).all():
        # The usual roster: a row per rep, every rep employed throughout (days / calendar is 1).
        return (np.ones((R, len(periods)), dtype=bool), np.ones((R, len(periods))), [],
                np.broadcast_to(staff.last_row[:, None], (R, len(periods))))
    first = np.maximum(staff.start[:, None], starts[None, :])
    last = np.minimum(staff.end[:, None], ends[None, :])
    days = np.maximum(last - first + 1, 0)  # per roster row
    if one_row_each:  # the usual roster: a row per rep, in order
        rep_days = days.astype(np.float64)
    else:
        rep_days = np.zeros((R, len(periods)))
        np.add.at(rep_days, staff.rep, days)
    proration = rep_days / calendar
    active = rep_days > 0
    at = np.broadcast_to(staff.last_row[:, None], (R, len(periods))).copy()
    if len(staff.rep) == R and (staff.rank == 0).all():
        return active, proration, [], at
    # The row whose last active day in the period is the latest.
    best = np.full((R, len(periods)), -1, dtype=np.int64)
    last_day = np.where(days > 0, last, -1)
    for k in range(int(staff.rank.max()) + 1):  # one pass per row rank: a rep has one row of each
        mine = np.flatnonzero(staff.rank == k)
        r = staff.rep[mine]
        better = last_day[mine] > best[r]
        best[r] = np.where(better, last_day[mine], best[r])
        at[r] = np.where(better, mine[:, None], at[r])
    layers = []
    for k in range(int(staff.rank.max()) + 1):
        rows_k = staff.last_row.copy()
        prorate = np.zeros((R, len(periods)))
        mine = np.flatnonzero(staff.rank == k)
        rows_k[staff.rep[mine]] = mine
        prorate[staff.rep[mine]] = days[mine] / calendar
        layers.append((rows_k, prorate))
    return active, proration, layers, at


def _tenure(table: _Table, staff: _Roster, periods: Sequence[PeriodInfo], problems: _Problems) -> np.ndarray:
    """``(R, P)`` whole months from each rep's first ``start_date`` to each period's start (0
    before it), or the roster's ``tenure_months`` (at the first period) plus the months since."""
    R, P = len(staff.ids), len(periods)
    out = np.zeros((R, P))
    column = None
    if "tenure_months" in table.frame.columns:
        values, empty = _numbers(table.frame["tenure_months"])
        column = np.full(R, np.nan)
        ok = ~empty & np.isfinite(values)
        column[staff.rep[ok][::-1]] = values[ok][::-1]
    known = staff.first_start > 0
    day0 = np.datetime64("0001-01-01", "D") + (np.maximum(staff.first_start, 1) - 1).astype("timedelta64[D]")
    month0 = day0.astype("datetime64[M]")
    year = month0.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month0.astype(np.int64) % 12 + 1
    day = (day0 - month0.astype("datetime64[D]")).astype(np.int64) + 1
    for p, period in enumerate(periods):
        ps = period.start
        months = (ps.year - year) * 12 + ps.month - month - (ps.day < day)
        out[:, p] = np.where(known, np.maximum(months, 0), 0)
    offsets = month_offsets(periods)
    missing = ~known
    if missing.any():
        if column is None or np.isnan(column[missing]).any():
            r = int(np.flatnonzero(missing & (np.isnan(column) if column is not None else True))[0])
            problems.add(DataError(
                "no-tenure", f"the plan uses tenure_months but rep '{staff.ids[r]}' has no start_date"
                + (" and no tenure_months" if column is not None else " (and the roster has no tenure_months column)"),
                file=table.name, rep=str(staff.ids[r]), column="start_date",
                hint="give each rep a start_date, or a tenure_months column (tenure at the first period)"))
            return out
        out[missing] = column[missing][:, None] + offsets[None, :]
    return out


# --- actuals ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rows:
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


def _read_actuals(
    table: _Table,
    staff: _Roster,
    aggregations: Mapping[str, str],
    texts: Sequence[str],
    kind: str,
    fiscal_year_start: int,
    problems: _Problems,
    placing: str = "date",
    pending: bool = False,
) -> _Rows:
    """Check each actuals row's rep, period (or placing date and split) and values."""
    frame = table.frame
    ids: _Ids | _CellIds
    in_order = _rows_in_roster_order(frame["rep_id"], staff.ids) if table.ids is None else None
    if in_order is not None:
        rep, missing = in_order
        ids = _CellIds(frame["rep_id"])  # ids[i]: row i's id
    else:
        ids = table.ids if table.ids is not None else _factorized_ids(frame["rep_id"])
        missing = ids.codes < 0
        rep = _roster_positions(staff.ids, ids)
    problems.rows(missing, lambda i: table.error("missing-value", "'rep_id' is empty", i, "rep_id"))
    suggest = _Suggester(id_ for id_ in staff.ids if id_ is not None)
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
        numbers, empty = _numbers(frame[name])

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
    text_values = {name: _texts(frame[name], empty="") for name in texts}
    return _Rows(rep, period_key, periods, values, dates, text_values, split)


class _CellIds:
    """A ``rep_id`` column, read cell by cell for messages (``ids[i]``: row ``i``'s id)."""

    def __init__(self, column: pd.Series) -> None:
        self.column = column

    def __getitem__(self, row: int) -> str | None:
        cell = self.column.iloc[row]
        return None if pd.isna(cell) else _cell_text(cell)


def _rows_in_roster_order(column: pd.Series, roster_ids: np.ndarray, block: int = 1 << 20
                          ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(roster position, empty)`` of each row, when the rows name the roster's reps in
    its order, period after period (row ``i`` is rep ``i % R``) or rep after rep (row ``i``
    is rep ``i // k`` of ``k`` rows each), as extracts often do; None otherwise, or when the
    column or the roster's ids are not all text. Checked at C speed (a sample first, then
    every row, a block at a time): a row matches its guessed rep only where its text (see
    :func:`_cell_text`) is that rep's id, so this never finds what hashing would not.
    An empty id is -1 and empty.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n, reps = len(column), len(roster_ids)
    roster = _arrow_strings(roster_ids) if reps else None
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
        text = pc.utf8_trim_whitespace(cells.take(rows)) if len(rows) < n else pc.utf8_trim_whitespace(cells)
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


_RowIds = np.ndarray | _Ids | _CellIds
"""Each actuals row's id (``ids[i]``), for messages."""


def _roster_positions(roster_ids: np.ndarray, ids: _Ids) -> np.ndarray:
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
    table: _Table, ids: _RowIds, kind: str, fiscal_year_start: int, problems: _Problems
) -> tuple[np.ndarray, dict[int, PeriodInfo]]:
    """Each row's period from its ``period`` label (parsed once per distinct label)."""
    codes, uniques = pd.factorize(table.frame["period"])
    keys = np.full(len(uniques) + 1, -1, dtype=np.int64)
    blank = np.zeros(len(uniques) + 1, dtype=bool)
    blank[-1] = True
    reasons: dict[int, DataError] = {}
    periods: dict[int, PeriodInfo] = {}
    for code, cell in enumerate(uniques):
        text = _cell_text(cell)
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
    table: _Table, ids: _RowIds, kind: str, fiscal_year_start: int, problems: _Problems,
    placing: str = "date", pending: bool = False,
) -> tuple[np.ndarray, dict[int, PeriodInfo], np.ndarray]:
    """Each transaction's period from its placing date (looked up once per distinct date);
    with ``pending``, an empty placing date leaves the row in no period (key -1)."""
    ordinals, empty, bad = _dates(table.frame[placing])
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


def _splits(table: _Table, ids: _RowIds, problems: _Problems) -> np.ndarray:
    """The ``split`` of each transaction: a share in [0, 1], 1 where empty."""
    values, empty = _numbers(table.frame["split"])
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


def _check_rows_fit(
    table: _Table,
    staff: _Roster,
    rows: _Rows,
    column: np.ndarray,
    periods: Sequence[PeriodInfo],
    active: np.ndarray,
    problems: _Problems,
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
    later, first = _repeats(rows.rep * len(periods) + column, placed)
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


def _outside_employment(staff: _Roster, rep: np.ndarray, dates: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """Which placed transactions are dated before their rep's first active day or after the
    last (over all of the rep's roster rows): counted (commission can be paid after leaving),
    but the payout names them."""
    first = np.full(len(staff.ids), _NO_END, dtype=np.int64)
    last = np.full(len(staff.ids), _NO_START, dtype=np.int64)
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


def _employment(staff: _Roster, rep: int) -> str:
    """A rep's start_date/end_date, for messages."""
    parts = []
    mine = np.flatnonzero(staff.rep == rep)
    first, last = staff.start[mine].min(), staff.end[mine].max()
    if first != _NO_START:
        parts.append(f"start_date {dt.date.fromordinal(int(first))}")
    if last != _NO_END:
        parts.append(f"end_date {dt.date.fromordinal(int(last))}")
    if len(mine) > 1:
        parts.append(f"{len(mine)} roster rows")
    return ", ".join(parts)


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
