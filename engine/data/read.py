"""Read one input table (CSV, TSV, Excel or Parquet, or a DataFrame) so that text stays text.

:func:`read_table` is the reader every journey uses; :func:`read_table_with_ids` also gives
the table's ``rep_id`` column factorized, for :func:`engine.data.load.load_inputs`. A file
that cannot be read raises a :class:`~engine.core.errors.DataError` (``unknown-format``,
``unreadable-file``, ``duplicate-column``, and for workbooks ``unknown-sheet``,
``empty-sheet`` and ``formula-without-value``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from engine.core.errors import DataError
from engine.data.cells import Ids, factorized_ids

__all__ = ["TableSource", "read_table", "read_table_with_ids", "release_arrow_memory", "source_name"]

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
    return read_table_with_ids(path_or_df, role, sheet)[0]


def read_table_with_ids(path_or_df: TableSource, role: str, sheet: str | int | None = None,
                        id_text: bool = True) -> tuple[pd.DataFrame, Ids | None]:
    """:func:`read_table`, and the table's ``rep_id`` column factorized (None without one);
    without ``id_text`` the frame's ``rep_id`` column stays as read and is not factorized
    here (a large actuals table then holds no Python object per row)."""
    name = source_name(path_or_df, role)
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
        ids = factorized_ids(frame["rep_id"])
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


def source_name(source: TableSource, role: str) -> str:
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


def release_arrow_memory() -> None:
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
