"""Line detail (``payout --lines``) and pending transactions.

One row per transaction: its rep, the period its placing date falls in (empty for a pending
row), its file row, date and split, the attributes the plan reads, every row-level
measure's value on the row, and, for each ``rate`` component whose base is a sum of
``sum`` row-level measures, the commission allocated to the line
(:meth:`engine.plan.compile.CompiledPlan.lines`). Commissions are rounded so that each
period's lines add up exactly to the statement's column: the rounded column is shared out
by the largest-remainder method, as statements share their total out to the components.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.core.inputs import Inputs
from engine.data.statements import round_half_away, to_minor_units
from engine.plan.validate import CheckedPlan

__all__ = ["Pending", "line_table", "pending", "pending_text"]


def _iso(ordinals: np.ndarray) -> np.ndarray:
    """Date ordinals as ISO text, ``""`` for -1."""
    out = np.full(len(ordinals), "", dtype=object)
    known = ordinals > 0
    if known.any():
        days = np.datetime64("0001-01-01", "D") + (ordinals[known] - 1).astype("timedelta64[D]")
        out[known] = days.astype(str).astype(object)
    return out


def _share_out(values: np.ndarray, groups: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Integers per entry (minor units) close to ``values`` whose sum per group is ``totals``
    exactly: floors, then one more unit to the largest remainders (the earlier entry on a tie).

    Args:
        values: ``(n,)`` amounts in minor units (floats).
        groups: ``(n,)`` group index of each entry.
        totals: per group, the int64 total to reach.
    """
    floor = np.floor(values)
    out = floor.astype(np.int64)
    short = totals - np.bincount(groups, weights=out, minlength=len(totals)).astype(np.int64)
    rem = values - floor
    order = np.lexsort((np.arange(len(values)), -rem, groups))
    g = groups[order]
    first = np.searchsorted(g, g, side="left")
    rank = np.arange(len(order)) - first  # rank of the entry's remainder within its group
    n = np.bincount(groups, minlength=len(totals))
    base, extra = np.divmod(short, np.maximum(n, 1))
    add = base[g] + (rank < extra[g])
    out[order] += add
    return out


def line_table(checked: CheckedPlan, inputs: Inputs, statements: pd.DataFrame, values: dict[str, np.ndarray],
               pays: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per transaction (see the module's docstring), in file order.

    Args:
        checked: the plan.
        inputs: loaded with transactions (``inputs.rows``).
        statements: the rounded statements of the same run.
        values: row-level measure -> per-row value (:meth:`CompiledPlan.lines`).
        pays: component -> per-row unrounded pay (NaN for pending rows).
    """
    rows = inputs.rows
    plan = checked.plan
    if rows is None:
        return pd.DataFrame(columns=["rep_id", "period", "row"])
    labels = np.array(inputs.period_labels + [""], dtype=object)
    data: dict[str, object] = {
        "rep_id": np.asarray(inputs.rep_ids, dtype=object)[rows.rep],
        "period": labels[rows.period],
        "row": rows.file_row,
        plan.placing_date: _iso(rows.date),
        "split": rows.split,
    }
    for col in sorted(checked.text_actual_columns):
        if col in rows.columns:
            data[col] = rows.columns[col]
    for name in checked.row_measures:
        if name in values:
            data[name] = values[name]
    d = plan.minor_unit
    if pays and inputs.shape[1]:
        R, P = inputs.shape
        index = {(str(r), str(p)): i for i, (r, p) in enumerate(zip(statements["rep_id"], statements["period"]))}
        rep_ids = [str(x) for x in inputs.rep_ids]
        cell_row = np.full(R * P, -1, dtype=np.int64)
        for r in range(R):
            for p, label in enumerate(inputs.period_labels):
                cell_row[r * P + p] = index.get((rep_ids[r], label), -1)
        placed = rows.period >= 0
        cell = np.where(placed, rows.rep * P + np.maximum(rows.period, 0), 0)
        for name, pay in pays.items():
            out = np.full(len(rows.rep), np.nan)
            st_row = cell_row[cell]
            ok = placed & (st_row >= 0)
            if ok.any():
                totals_money = statements[name].to_numpy(dtype=np.float64)
                groups, inverse = np.unique(st_row[ok], return_inverse=True)
                totals = round_half_away(to_minor_units(totals_money[groups], d))
                units = _share_out(to_minor_units(pay[ok], d), inverse, totals)
                out[ok] = units / 10.0 ** d
            data[name] = out
    elif pays:
        for name in pays:
            data[name] = np.full(len(rows.rep), np.nan)
    return pd.DataFrame(data)


class Pending:
    """Transactions whose placing date is empty: in no period yet.

    Attributes:
        count: how many rows.
        sums: numeric actuals column the plan uses -> the pending rows' total (as written).
        by_rep: rep id -> ``(count, {column: total})``.
    """

    def __init__(self, count: int, sums: dict[str, float], by_rep: dict[str, tuple[int, dict[str, float]]]):
        self.count = count
        self.sums = sums
        self.by_rep = by_rep


def pending(checked: CheckedPlan, inputs: Inputs) -> Pending:
    """The pending transactions of a run (none for per-period actuals)."""
    rows = inputs.rows
    if rows is None:
        return Pending(0, {}, {})
    where = rows.period < 0
    numeric = [c for c in sorted(checked.numeric_actual_columns) if c in rows.columns]
    sums = {c: float(np.asarray(rows.columns[c], dtype=np.float64)[where].sum()) for c in numeric}
    by_rep: dict[str, tuple[int, dict[str, float]]] = {}
    if where.any():
        ids = np.asarray(inputs.rep_ids, dtype=object)
        frame = pd.DataFrame({"rep": ids[rows.rep[where]], **{c: np.asarray(rows.columns[c], dtype=np.float64)[where]
                                                              for c in numeric}})
        grouped = frame.groupby("rep", sort=True)
        counts = grouped.size()
        totals = grouped.sum(numeric_only=True).to_dict(orient="index") if numeric else {}
        for rep, n in counts.items():
            by_rep[str(rep)] = (int(n), {c: float(totals[rep][c]) for c in numeric} if numeric else {})
    return Pending(int(where.sum()), sums, by_rep)


def pending_text(p: Pending, placing: str, currency: str, rep: str | None = None) -> str:
    """One line on the pending rows (of one rep), or ``""`` when there are none."""
    if rep is not None:
        count, sums = p.by_rep.get(rep, (0, {}))
    else:
        count, sums = p.count, p.sums
    if not count:
        return ""
    amounts = ", ".join(f"{c} {v:,.2f}" for c, v in sums.items())
    return (f"{count} pending transaction{'s' if count != 1 else ''} (no {placing} yet: in no period, paid once "
            f"it is filled in){': ' + amounts if amounts else ''}")

