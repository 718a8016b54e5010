"""Collect the problems of a load, and check that a table has the columns a plan names.

:class:`Problems` keeps up to :data:`MAX_ERRORS` errors and raises them once, sorted by file
and row, as :class:`~engine.core.errors.DataErrors`; :class:`Table` is a table read for one
role, which makes each error name its file, spreadsheet row, column and rep.
:func:`require_columns` and :func:`require_actual_columns` report missing columns
(``missing-column``, ``ambiguous-actuals``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.core.errors import DataError, DataErrors
from engine.core.text import did_you_mean
from engine.data.cells import Ids, cell_text

__all__ = ["MAX_ERRORS", "Problems", "Suggester", "Table", "listing", "require_actual_columns",
           "require_columns"]

MAX_ERRORS = 200
"""At most this many data errors are reported at once."""

_SUGGESTION_LOOKUPS = 20  # difflib over a large roster is slow: bound the lookups per load


class Problems:
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


class Suggester:
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
class Table:
    """A table read for one role, with the spreadsheet row number of each of its rows."""

    role: str
    name: str
    frame: pd.DataFrame
    ids: Ids | None = None

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
        return cell_text(self.frame[column].iloc[position])

    def missing_hint(self, hint: str) -> str:
        """The hint of a missing column: ``hint``, then, for a workbook with other sheets,
        that the data may be on one of them (a workbook's first sheet is often notes)."""
        others = self.frame.attrs.get("other_sheets") or []
        if not others:
            return hint
        return (f"{hint}; the data may be on another sheet ({', '.join(repr(str(n)) for n in others[:5])}): "
                "choose it with --sheet NAME")


# --- columns ---------------------------------------------------------------------------


def require_columns(table: Table, columns: Iterable[str], problems: Problems) -> None:
    """Report each of ``columns`` that the table lacks."""
    present = [str(column) for column in table.frame.columns]
    for column in columns:
        if column not in present:
            problems.add(
                table.error(
                    "missing-column",
                    f"no column '{column}' in the {table.role}",
                    column=column,
                    hint=did_you_mean(column, present) or table.missing_hint(listing(present)),
                )
            )


def listing(columns: Sequence[str]) -> str:
    """A hint listing a table's columns (the first dozen)."""
    shown = ", ".join(f"'{c}'" for c in columns[:12]) + (", ..." if len(columns) > 12 else "")
    return f"its columns are {shown}" if columns else "it has no columns"


def require_actual_columns(
    table: Table, aggregations: Mapping[str, str], problems: Problems, placing: str = "date"
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
                or table.missing_hint(listing([str(c) for c in columns])),
            )
        )
        require_columns(table, ["rep_id", *aggregations], problems)
        return
    if placing != "date" and placing in columns:
        require_columns(table, ["rep_id", *aggregations], problems)
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
                hint=table.missing_hint(listing([str(c) for c in columns])),
            )
        )
    require_columns(table, ["rep_id", *aggregations], problems)
