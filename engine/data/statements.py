"""Statements: exact money from the evaluator's floats.

The total of each rep and period is rounded half away from zero to the currency's minor
unit first; then the component columns and ``adjustment`` get their minor units by the
largest-remainder method, so that the rounded columns add up to the rounded total exactly.
Ties between equal remainders go to the column that comes first in the statement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.core.inputs import Inputs
from engine.plan.compile import PayoutArrays
from engine.plan.model import Plan

__all__ = [
    "allocate_minor_units",
    "format_money",
    "load_for_plan",
    "negative_totals_text",
    "round_half_away",
    "statement_table",
    "statements",
    "to_minor_units",
    "write_statements",
]


def to_minor_units(x: np.ndarray, decimals: int) -> np.ndarray:
    """Scale money to minor units (cents for USD) as float."""
    return np.asarray(x, dtype=np.float64) * (10.0 ** decimals)


def round_half_away(scaled: np.ndarray) -> np.ndarray:
    """Round values already in minor units half away from zero, to int64.

    A binary float cannot hold most decimal halves exactly (1.005 is 1.00499999...), so
    a tolerance far below a millionth of a minor unit (and scaled with the magnitude, to
    stay above the float's own resolution) treats such values as the half they were
    written as.
    """
    a = np.abs(scaled)
    eps = 1e-6 + a * 4e-15
    return (np.sign(scaled) * np.floor(a + 0.5 + eps)).astype(np.int64)


def allocate_minor_units(columns: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Round each column so the rounded columns sum to ``total`` (largest remainder).

    Args:
        columns: ``(N, K)`` values in minor units (floats) whose sum is ``total`` up to
            float error.
        total: ``(N,)`` rounded totals in minor units (int64).

    Returns:
        ``(N, K)`` int64 minor units, each row summing exactly to ``total``.
    """
    columns = np.asarray(columns, dtype=np.float64)
    n, k = columns.shape
    if k == 0:
        return np.zeros((n, 0), dtype=np.int64)
    floor = np.floor(columns)
    out = floor.astype(np.int64)
    short = np.asarray(total, dtype=np.int64) - out.sum(axis=1)  # units to hand out (may be < 0)
    # Every column gets short // k (only when float error exceeds k units); then the first
    # short % k columns by remainder, largest first, get one more each.
    base, extra = np.divmod(short, k)
    if base.any():
        out += base[:, None]
    rows = np.nonzero(extra)[0]
    if rows.size:
        rem = columns[rows] - floor[rows]
        sub = out[rows]
        want = extra[rows]
        at = np.arange(rows.size)
        for t in range(int(want.max())):
            j = np.argmax(rem, axis=1)  # ties: the first (leftmost) column
            live = want > t
            sub[at[live], j[live]] += 1
            rem[at, j] = -np.inf
        out[rows] = sub
    return out


#: Largest amount in minor units a statement pays exactly (float64 holds every integer up
#: to 2**53: about 90 trillion in a currency with cents).
MAX_EXACT_UNITS = 2.0 ** 53


def _check_exact(plan: Plan, inputs: Inputs, r_idx: np.ndarray, p_idx: np.ndarray, units: np.ndarray,
                 names: list[str]) -> None:
    """Refuse an amount that cannot be paid to the minor unit (too large, or not finite)."""
    from engine.core.errors import EvaluationError

    bad = ~(np.abs(units) <= MAX_EXACT_UNITS)  # also catches nan
    if not bad.any():
        return
    i, j = (int(x) for x in np.argwhere(bad)[0])
    what = (names + ["adjustment", "total"])[j]
    value = units[i, j] / 10.0 ** plan.minor_unit
    raise EvaluationError(
        "amount-too-large",
        f"the {what} pays {value:.6g} {plan.currency}, beyond what a statement can pay exactly "
        f"(at most {MAX_EXACT_UNITS / 10 ** plan.minor_unit:,.0f})",
        rep=str(np.asarray(inputs.rep_ids, dtype=object)[r_idx[i]]), period=inputs.period_labels[p_idx[i]],
        hint="check the plan's rates and the data's amounts for a misplaced exponent or unit")


def statement_table(plan: Plan, inputs: Inputs, result: PayoutArrays) -> pd.DataFrame:
    """One row per rep and active period, rounded to the currency's minor unit.

    Columns: ``rep_id``, ``period``, ``currency``, ``base_pay`` where the plan has one, one
    per component (file order), ``adjustment``, ``total``, ``total_pay`` (``base_pay +
    total``) where the plan has base pay, and ``grade`` where the plan has grades. Base pay
    is rounded on its own, so ``total_pay`` is the sum of two rounded amounts.
    """
    d = plan.minor_unit
    active = np.asarray(result.active, dtype=bool)
    r_idx, p_idx = np.nonzero(active)
    names = [c.name for c in plan.components]
    cols = np.stack([np.asarray(result.columns[n], dtype=np.float64)[r_idx, p_idx] for n in names]
                    + [np.asarray(result.adjustment, dtype=np.float64)[r_idx, p_idx]], axis=1)
    total_units = to_minor_units(np.asarray(result.total, dtype=np.float64)[r_idx, p_idx], d)
    _check_exact(plan, inputs, r_idx, p_idx, np.column_stack([cols * 10.0 ** d, total_units]), names)
    total = round_half_away(total_units)
    alloc = allocate_minor_units(to_minor_units(cols, d), total)
    labels = np.array(inputs.period_labels, dtype=object)
    data: dict[str, object] = {
        "rep_id": np.asarray(inputs.rep_ids, dtype=object)[r_idx],
        "period": labels[p_idx],
        "currency": plan.currency,
    }
    scale = 10.0 ** d
    base = None
    if result.base_pay is not None:
        base_units = to_minor_units(np.asarray(result.base_pay, dtype=np.float64)[r_idx, p_idx], d)
        _check_exact(plan, inputs, r_idx, p_idx, base_units[:, None], [])
        base = round_half_away(base_units)
        data["base_pay"] = base / scale
    for j, n in enumerate(names):
        data[n] = alloc[:, j] / scale
    data["adjustment"] = alloc[:, -1] / scale
    data["total"] = total / scale
    if base is not None:
        data["total_pay"] = (base + total) / scale
    if result.grades is not None:
        data["grade"] = np.asarray(result.grades, dtype=object)[r_idx, p_idx]
    return pd.DataFrame(data)


def negative_totals_text(df: pd.DataFrame, plan: Plan, listed: int = 3) -> str | None:
    """A line naming the statements whose incentive total is negative (a penalty or
    deduction larger than what was earned, with no floor in the plan), or None when there
    are none: such a total is paid as written, a deduction from other pay.

    Args:
        df: statements (:func:`statement_table`).
        plan: the plan, for its currency's minor unit.
        listed: how many statements to name.
    """
    negative = df[df["total"] < 0]
    if negative.empty:
        return None
    n = len(negative)
    amounts = format_money(negative["total"].to_numpy(), plan.minor_unit)
    named = ", ".join(f"rep {r} {p} {a}" for r, p, a in
                      zip(negative["rep_id"].head(listed), negative["period"].head(listed), amounts[:listed]))
    more = f", and {n - listed} more" if n > listed else ""
    return (f"warning: {n} statement{'s have' if n != 1 else ' has'} a negative total (a deduction larger than "
            f"what was earned): {named}{more} ({plan.currency}); give the plan a floor (max(..., 0) or a cap "
            "on the penalty) if a total must not go below zero")


def format_money(values: np.ndarray, decimals: int) -> list[str]:
    """Exact text of rounded amounts (``1234.50``), as statements are written."""
    scale = 10 ** decimals
    out = []
    for v in np.asarray(values, dtype=np.float64):
        units = round(v * scale)
        sign = "-" if units < 0 else ""
        units = abs(units)
        if decimals == 0:
            out.append(f"{sign}{units}")
        else:
            out.append(f"{sign}{units // scale}.{units % scale:0{decimals}d}")
    return out


def write_statements(df: pd.DataFrame, plan: Plan, path: str, *, fmt: str | None = None, group=None) -> None:
    """Write statements atomically (a temporary file renamed into place).

    CSV amounts are written as exact decimal text with the currency's minor unit.
    """
    from engine.core.atomic import write_table_atomic

    money = [c for c in ["base_pay", *(c.name for c in plan.components), "adjustment", "total", "total_pay",
                         "prior_periods"] if c in df.columns]

    def exact_money(table: pd.DataFrame) -> pd.DataFrame:
        out = table.copy()
        for c in money:
            out[c] = format_money(out[c].to_numpy(), plan.minor_unit)
        return out

    write_table_atomic(df, path, fmt=fmt, prepare_csv=exact_money, group=group)


#: Roster amounts that are never negative, whatever the plan does with them.
AMOUNT_COLUMNS = ("quota", "ti", "base_salary")


def amount_columns(checked) -> list[str]:
    """The roster columns that must hold a finite number of 0 or more: the standard amounts
    (quota, target incentive, base salary) where the plan reads them, and every roster
    column a target or the target incentive reads (a negative quota or incentive would pay
    nonsense, not fail)."""
    from engine.plan.expr import Name, walk

    plan = checked.plan
    columns = {c for c in AMOUNT_COLUMNS if c in checked.roster_columns}
    for code in [t.code for t in plan.targets] + [plan.target_incentive]:
        for node in walk(code.tree):
            if isinstance(node, Name) and node.prefix == "roster":
                columns.add(node.name)
    return sorted(columns)


def load_for_plan(checked, roster, actuals, sheet=None, period: str | None = None) -> Inputs:
    """Load a roster and actuals with the columns and aggregations the plan needs.

    ``sheet`` chooses the Excel sheet (name or 0-based number) of both tables; default the
    first. ``period`` gathers the actuals into periods of another kind than the plan's
    (the forecast reads a period in progress month by month).
    """
    from engine.data.load import load_inputs

    plan = checked.plan
    return load_inputs(
        roster, actuals, period=period or plan.period, fiscal_year_start=plan.fiscal_year_start,
        roster_columns=sorted(checked.roster_columns),
        actual_columns={c: a for c, a in checked.actual_columns.items() if c not in checked.text_actual_columns},
        amount_columns=amount_columns(checked), sheet=sheet,
        text_columns=sorted(checked.text_actual_columns), text_roster_columns=sorted(checked.text_roster_columns),
        placing_date=plan.placing_date, pending=plan.placing_declared, tenure=checked.uses_tenure,
    )


def statements(checked, roster, actuals, params: dict[str, float] | None = None, sheet=None) -> pd.DataFrame:
    """Payout statements for a roster and actuals (paths or DataFrames).

    Args:
        checked: a validated plan (:func:`engine.plan.load_plan`).
        roster: roster table (path to CSV/Excel/Parquet, or a DataFrame).
        actuals: per-period actuals or transactions (path or DataFrame).
        params: parameter values overriding the plan's.
        sheet: the Excel sheet to read (name or 0-based number; default the first).

    Returns:
        One row per rep and active period, rounded to the currency's minor unit.
    """
    from engine.plan.compile import compile_plan

    inputs = load_for_plan(checked, roster, actuals, sheet=sheet)
    result = compile_plan(checked, params).evaluate(inputs)
    return statement_table(checked.plan, inputs, result)
