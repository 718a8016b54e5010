"""One table cell, or one column, as the text, numbers and dates the loader reads.

Cells are read as written, never guessed: text is stripped, an integral number is read
without ``.0``, a date is ISO 8601 text or a date cell, and ``1,234.5`` is not a number.
A column is converted at C speed or once per distinct cell, not cell by cell.
:func:`factorized_ids` reads a ``rep_id`` column into :class:`Ids`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Ids", "arrow_strings", "cell_text", "column_dates", "column_numbers", "column_texts",
           "factorized_ids", "iso_dates"]


@dataclass(frozen=True)
class Ids:
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


def cell_text(cell: Any) -> str | None:
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
    """Distinct cells as text (object array; None where blank), as :func:`cell_text` makes
    each: at C speed for text and integer columns, cell by cell otherwise."""
    strings = arrow_strings(cells)
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
    return np.array([cell_text(cell) for cell in cells] + [None], dtype=object)[:-1]


def arrow_strings(cells: Any) -> Any:
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


def column_texts(column: pd.Series, empty: str | None = None) -> np.ndarray:
    """A column as an object array of text (see :func:`cell_text`), ``empty`` if blank."""
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


def factorized_ids(column: pd.Series) -> Ids:
    """A ``rep_id`` column as text (see :func:`cell_text`), factorized: cells that differ
    but read as the same text (``" R1"`` and ``"R1"``, ``17`` and ``"17"``) share a code."""
    codes, uniques = pd.factorize(column)
    texts = _cell_texts(uniques)
    merged, distinct = pd.factorize(texts)  # None (blank) -> -1
    if len(distinct) == len(texts):  # nothing merged and nothing blank: codes stay as they are
        return Ids(codes.astype(np.int64, copy=False), texts)
    return Ids(np.append(merged, -1)[codes].astype(np.int64, copy=False), np.asarray(distinct, dtype=object))


def column_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
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


def column_dates(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def iso_dates(ordinals: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Ordinals as ISO text (object array), ``""`` where not ``known``."""
    unique, inverse = np.unique(np.where(known, ordinals, 1), return_inverse=True)
    texts = np.array([dt.date.fromordinal(int(o)).isoformat() for o in unique], dtype=object)
    return np.where(known, texts[inverse], "")
