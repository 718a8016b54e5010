"""A team's attainment history: one row per rep and period, read and checked.

The history is what :func:`engine.sim.calibrate.fit_history` fits: ``rep_id``, ``period``
(``2026-03`` monthly, ``2026-Q1`` quarterly; half-years and years work too) and
``attainment`` (result / target), or ``actual`` and ``target`` instead of ``attainment``.
:func:`load_history` reads it from a file or a DataFrame and reports every problem at once,
each with its row, column and rep.

Public: :func:`load_history`, :data:`MIN_REPS`, :data:`MIN_PERIODS`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

from engine.core.errors import DataError, DataErrors
from engine.core.periods import KINDS, PERIOD_PLURAL, check_period_kind, parse_period_label
from engine.core.text import did_you_mean
from engine.data.cells import cell_text, column_numbers
from engine.data.problems import MAX_ERRORS, listing
from engine.data.read import TableSource, read_table

__all__ = ["MIN_PERIODS", "MIN_REPS", "load_history"]

MIN_REPS = 2
"""Skill dispersion is the spread between reps: at least this many are needed."""

MIN_PERIODS = 3
"""At least this many distinct periods are needed to separate noise from skill and season."""

_EXAMPLES = {"month": "2026-03", "quarter": "2026-Q1", "half": "2026-H1", "year": "2026"}


def load_history(path_or_df: TableSource, *, fiscal_year_start: int = 1) -> pd.DataFrame:
    """Read and check a team's per-rep, per-period attainment history.

    Args:
        path_or_df: a CSV/TSV, Excel or Parquet file, or a DataFrame, with columns
            ``rep_id``, ``period`` and ``attainment`` (result / target, 0 or more), or
            ``actual`` (0 or more) and ``target`` (positive) instead of ``attainment``
            (``attainment`` wins when all three are present). Periods are labels of one
            kind: ``2026-03`` (month), ``2026-Q1`` (quarter), ``2026-H1`` (half) or
            ``2026`` (year); the kind is the one most labels have.
        fiscal_year_start: month (1-12) in which the fiscal year starts; places quarters,
            halves and years in calendar months for seasonality.

    Returns:
        One row per rep and period with columns ``rep_id`` (text), ``period`` (canonical
        label) and ``attainment`` (float), indexed by the row number as a spreadsheet shows
        it (header = row 1). ``attrs`` holds ``source`` (the file as named, or
        ``history``), ``period_kind`` and ``fiscal_year_start``.

    Raises:
        ValueError: ``fiscal_year_start`` is not a month number 1-12.
        DataError: the file is missing, unreadable or of an unknown type (from
            :func:`~engine.data.read.read_table`).
        DataErrors: every problem found, each naming its row, column and rep:
            ``missing-column`` (with did-you-mean), ``missing-value``, ``not-a-number``,
            ``negative-value``, ``not-positive`` (a target of 0 or less), ``bad-period``,
            ``duplicate-row``, ``too-few-reps``, ``too-few-periods``.
    """
    check_period_kind("month", fiscal_year_start)
    source = path_or_df.attrs.get("source") if isinstance(path_or_df, pd.DataFrame) else None
    frame = read_table(path_or_df, "history")
    name = source or ("history" if isinstance(path_or_df, pd.DataFrame) else str(path_or_df))
    errors: list[DataError] = []
    found = 0

    def error(code: str, message: str, *, row: int | None = None, column: str | None = None,
              rep: str | None = None, hint: str | None = None) -> None:
        nonlocal found
        found += 1
        if len(errors) < MAX_ERRORS:
            errors.append(DataError(code, message, file=name, row=row, column=column, rep=rep,
                                    hint=hint))

    value_columns = _value_columns(frame, name, error)
    if errors:
        raise DataErrors(errors)

    rows = frame.index.to_numpy()
    ids = frame["rep_id"].to_numpy(dtype=object)
    for i in np.flatnonzero(pd.isna(ids)):
        error("missing-value", "'rep_id' is empty", row=int(rows[i]), column="rep_id")

    labels, kind = _period_labels(frame, ids, rows, error)

    if value_columns == ("attainment",):
        attainment, _ = _checked_numbers(frame, "attainment", ids, rows, error, positive=False)
    else:
        actual, ok_a = _checked_numbers(frame, "actual", ids, rows, error, positive=False)
        target, ok_t = _checked_numbers(frame, "target", ids, rows, error, positive=True)
        ok = ok_a & ok_t
        with np.errstate(divide="ignore", invalid="ignore"):
            attainment = np.where(ok, actual / np.where(ok, target, 1.0), np.nan)

    keyed = ~pd.isna(ids) & ~pd.isna(labels)
    first: dict[tuple[str, str], int] = {}
    for i in np.flatnonzero(keyed):
        key = (ids[i], labels[i])
        if key in first:
            error("duplicate-row",
                  f"a second row for rep '{ids[i]}' in period {labels[i]} "
                  f"(the first is row {first[key]})",
                  row=int(rows[i]), column="period", rep=ids[i],
                  hint="keep one row per rep and period (add up split rows first)")
        else:
            first[key] = int(rows[i])

    n_reps = len({key[0] for key in first})
    n_periods = len({key[1] for key in first})
    what = f"{kind} periods" if kind else "periods"
    if n_reps < MIN_REPS:
        error("too-few-reps",
              f"the history has {n_reps} rep{'s' if n_reps != 1 else ''}; calibration needs at "
              f"least {MIN_REPS} (skill dispersion is the spread between reps)",
              hint="include every rep of the team, one row per rep and period")
    if n_periods < MIN_PERIODS:
        error("too-few-periods",
              f"the history has {n_periods} distinct {what}; calibration needs at least "
              f"{MIN_PERIODS} (to tell noise from skill and seasonality)",
              hint="give more periods of history (a year of months or two years of quarters "
              "is a good start)")
    elif first and n_reps >= MIN_REPS and max(Counter(k[0] for k in first).values()) < 2:
        error("too-few-periods",
              "no rep has more than one period: skill and noise cannot be told apart",
              hint="give at least two periods for some reps")
    if errors:
        if found > len(errors):
            errors.append(DataError("too-many-errors",
                                    f"{found - len(errors)} more problems are not listed "
                                    f"(at most {MAX_ERRORS} are reported)",
                                    hint="fix these first, then load again"))
        raise DataErrors(sorted(errors, key=lambda e: (e.row is None, e.row or 0)), total=found)

    out = pd.DataFrame(
        {"rep_id": ids.astype(object), "period": labels.astype(object),
         "attainment": attainment.astype(np.float64)},
        index=frame.index,
    )
    out.attrs = {"source": name, "period_kind": kind, "fiscal_year_start": fiscal_year_start}
    return out


def _value_columns(frame: pd.DataFrame, name: str, error: Callable[..., None]) -> tuple[str, ...]:
    """Which columns hold the attainment; reports the missing ones."""
    present = [str(c) for c in frame.columns]
    for column in ("rep_id", "period"):
        if column not in present:
            error("missing-column", f"no column '{column}' in the history", column=column,
                  hint=did_you_mean(column, present) or listing(present))
    if "attainment" in present:
        return ("attainment",)
    has_actual, has_target = "actual" in present, "target" in present
    if has_actual and has_target:
        return ("actual", "target")
    if has_actual or has_target:
        missing = "target" if has_actual else "actual"
        error("missing-column",
              f"no column '{missing}' in the history (attainment is actual / target)",
              column=missing,
              hint=did_you_mean(missing, present) or listing(present))
    else:
        error("missing-column",
              "no column 'attainment' in the history (nor 'actual' and 'target')",
              column="attainment",
              hint=did_you_mean("attainment", present)
              or f"give 'attainment' (result / target), or 'actual' and 'target'; "
              f"{listing(present)}")
    return ()


def _period_labels(frame: pd.DataFrame, ids: np.ndarray, rows: np.ndarray,
                   error: Callable[..., None]) -> tuple[np.ndarray, str | None]:
    """Each row's canonical period label (None where bad), and the history's period kind."""
    codes, uniques = pd.factorize(frame["period"])
    texts = [cell_text(cell) for cell in uniques]
    kinds: list[str | None] = []
    for text in texts:
        kinds.append(next((k for k in KINDS if text is not None and _parses(text, k)), None))
    rows_per_label = np.bincount(codes[codes >= 0], minlength=len(uniques))
    rows_of_kind = {k: int(sum(rows_per_label[c] for c, kk in enumerate(kinds) if kk == k))
                    for k in KINDS}
    kind = max(KINDS, key=lambda k: rows_of_kind[k]) if any(rows_of_kind.values()) else None
    canonical: list[str | None] = []
    reasons: list[tuple[str, str | None]] = []
    for cell, text, k in zip(uniques, texts, kinds):
        if text is None:
            canonical.append(None)
            reasons.append(("", None))
            continue
        hint = ("the cell holds a date, not a label: format the column as text"
                if isinstance(cell, dt.date) else None)
        if kind is None:
            canonical.append(None)
            message = (f"expected a period label like {_EXAMPLES['month']} (month) or "
                       f"{_EXAMPLES['quarter']} (quarter) (got {text!r})")
            reasons.append((message, hint))
            continue
        try:
            canonical.append(parse_period_label(text, kind).label)
            reasons.append(("", None))
        except ValueError as reason:
            canonical.append(None)
            if k is not None:
                hint = (f"the other periods in the history are {PERIOD_PLURAL[kind]}: use one period "
                        "length throughout")
            reasons.append((str(reason), hint))
    table = np.array(canonical + [None], dtype=object)
    labels = table[codes]
    for i in np.flatnonzero(pd.isna(labels)):
        code = codes[i]
        rep = ids[i] if not pd.isna(ids[i]) else None
        if code < 0 or texts[code] is None:
            error("missing-value", "'period' is empty", row=int(rows[i]), column="period", rep=rep)
        else:
            message, hint = reasons[code]
            error("bad-period", message, row=int(rows[i]), column="period", rep=rep, hint=hint)
    return labels, kind


def _parses(text: str, kind: str) -> bool:
    try:
        parse_period_label(text, kind)
    except ValueError:
        return False
    return True


def _checked_numbers(frame: pd.DataFrame, column: str, ids: np.ndarray, rows: np.ndarray,
                     error: Callable[..., None], positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """A value column as floats, and where it is usable; reports empty, bad, out-of-range cells."""
    values, empty = column_numbers(frame[column])
    finite = np.isfinite(values)
    for i in np.flatnonzero(empty | ~finite | (values <= 0 if positive else values < 0)):
        rep = ids[i] if not pd.isna(ids[i]) else None
        row = int(rows[i])
        if empty[i]:
            error("missing-value", f"'{column}' is empty", row=row, column=column, rep=rep)
        elif not finite[i]:
            got = cell_text(frame[column].iloc[i])
            error("not-a-number", f"'{column}' must be a finite number (got {got!r})",
                  row=row, column=column, rep=rep)
        elif positive:
            error("not-positive", f"'{column}' must be positive (got {values[i]:g})",
                  row=row, column=column, rep=rep,
                  hint="attainment is actual / target: leave out periods without a target")
        else:
            error("negative-value", f"'{column}' must not be negative (got {values[i]:g})",
                  row=row, column=column, rep=rep,
                  hint="attainment is fitted on a log scale, so a period's result must be 0 or more: "
                       "where credit notes exceed a month's sales, net them against the sales they "
                       "reverse, or give the history by quarter (sum the months; see "
                       "scenarios/data/field_team_history.csv)")
    return values, ~empty & finite & (values > 0 if positive else values >= 0)
