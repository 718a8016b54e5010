"""Check a roster and work out, per rep and period, who is active, prorated and tenured.

:func:`read_roster` checks the ids, dates (``start_date``/``end_date``, and
``effective_from``/``effective_to`` for a roster of several rows per rep) and named columns
into a :class:`Roster`; :func:`check_amounts` rejects negative amounts; :func:`activity`
gives each rep's active periods, proration and effective-dated layers; :func:`tenure_months`
the months of tenure at each period's start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.core.errors import DataError
from engine.core.inputs import PeriodInfo, month_offsets
from engine.data.cells import column_dates, column_numbers, column_texts, factorized_ids, iso_dates
from engine.data.problems import MAX_ERRORS, Problems, Table

__all__ = ["NO_END", "NO_START", "Roster", "activity", "check_amounts", "read_roster", "repeats",
           "tenure_months"]

_DATE_COLUMNS = ("start_date", "end_date")
_EFFECTIVE = ("effective_from", "effective_to")
NO_START = 0  # before every date's ordinal (date.min is 1)
NO_END = dt.date.max.toordinal() + 1


@dataclass(frozen=True)
class Roster:
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


def read_roster(table: Table, named: Sequence[str], problems: Problems, texts: set[str] | None = None) -> Roster:
    """Check the roster's ids, dates and named columns, reporting every bad cell."""
    frame = table.frame
    ids = frame["rep_id"].to_numpy(dtype=object)
    factorized = table.ids if table.ids is not None else factorized_ids(frame["rep_id"])
    missing = factorized.codes < 0
    problems.rows(missing, lambda i: table.error("missing-value", "'rep_id' is empty", i, "rep_id"))
    dated = any(c in frame.columns for c in _EFFECTIVE)
    if not dated:
        later, first = repeats(factorized.codes, ~missing)
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
    for name, unbounded in zip(_DATE_COLUMNS + _EFFECTIVE, (NO_START, NO_END, NO_START, NO_END)):
        if name not in frame.columns:
            bounds[name] = np.full(len(frame), unbounded, dtype=np.int64)
            continue
        ordinals, empty, bad = column_dates(frame[name])

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
            columns[name] = iso_dates(ordinals, known)
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
    known_start = start != NO_START
    first_start = np.zeros(len(unique_ids), dtype=np.int64)
    if known_start.any():
        big = np.where(known_start, start, np.iinfo(np.int64).max)
        fs = np.full(len(unique_ids), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(fs, rep, big)
        first_start = np.where(fs == np.iinfo(np.int64).max, 0, fs)
    return Roster(unique_ids, columns, lo, hi, rep, rank, last_row, first_start)


def _roster_column(table: Table, name: str, ids: np.ndarray, problems: Problems, text: bool = False) -> np.ndarray:
    """A named roster column: float64 if every non-empty cell is a number, else text
    (always text where the plan uses the column as text)."""
    values, empty = column_numbers(table.frame[name])
    if text or (np.isnan(values) & ~empty).any():
        return column_texts(table.frame[name], empty="")
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


def check_amounts(table: Table, staff: Roster, columns: Sequence[str], problems: Problems) -> None:
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


def repeats(keys: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def activity(staff: Roster, periods: Sequence[PeriodInfo]
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


def tenure_months(table: Table, staff: Roster, periods: Sequence[PeriodInfo], problems: Problems) -> np.ndarray:
    """``(R, P)`` whole months from each rep's first ``start_date`` to each period's start (0
    before it), or the roster's ``tenure_months`` (at the first period) plus the months since."""
    R, P = len(staff.ids), len(periods)
    out = np.zeros((R, P))
    column = None
    if "tenure_months" in table.frame.columns:
        values, empty = column_numbers(table.frame["tenure_months"])
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
