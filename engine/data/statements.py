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
from engine.plan.compile import PayoutArrays, PayoutProgram
from engine.plan.model import Plan

__all__ = [
    "allocate_minor_units",
    "evaluated_statements",
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


def _check_exact(plan: Plan, inputs: Inputs, cells: _Cells, units: list[np.ndarray], names: list[str],
                 rows: slice = slice(0, None)) -> None:
    """Refuse an amount that cannot be paid to the minor unit (too large, or not finite):
    the first such row, and its first such column (``names``, then adjustment, total).
    ``units`` are the statement rows ``rows`` of each column."""
    from engine.core.errors import EvaluationError

    found: tuple[int, int] | None = None
    for j, column in enumerate(units):
        if not column.size or (column.max() <= MAX_EXACT_UNITS and column.min() >= -MAX_EXACT_UNITS):
            continue  # nan fails both comparisons
        bad = ~(np.abs(column) <= MAX_EXACT_UNITS)  # also catches nan
        i = int(np.argmax(bad))
        if bad[i] and (found is None or i < found[0]):
            found = (i, j)
    if found is None:
        return
    i, j = found
    what = (names + ["adjustment", "total"])[j]
    value = units[j][i] / 10.0 ** plan.minor_unit
    i += rows.start or 0
    raise EvaluationError(
        "amount-too-large",
        f"the {what} pays {value:.6g} {plan.currency}, beyond what a statement can pay exactly "
        f"(at most {MAX_EXACT_UNITS / 10 ** plan.minor_unit:,.0f})",
        rep=str(np.asarray(inputs.rep_ids, dtype=object)[cells.rep[i]]), period=inputs.period_labels[cells.period[i]],
        hint="check the plan's rates and the data's amounts for a misplaced exponent or unit")


def statement_table(plan: Plan, inputs: Inputs, result: PayoutArrays) -> pd.DataFrame:
    """One row per rep and active period, rounded to the currency's minor unit.

    Columns: ``rep_id``, ``period``, ``currency``, ``base_pay`` where the plan has one, one
    per component (file order), ``adjustment``, ``total``, ``total_pay`` (``base_pay +
    total``) where the plan has base pay, and ``grade`` where the plan has grades. Base pay
    is rounded on its own, so ``total_pay`` is the sum of two rounded amounts.

    The amounts are rounded a block of rows and a column at a time (no ``(rows, columns)``
    copy): the same figures as :func:`allocate_minor_units` on the stacked columns.
    """
    cells, amounts = _statement_amounts(plan, inputs, result)
    return _statement_frame(plan, inputs, cells, amounts)


def evaluated_statements(plan: Plan, inputs: Inputs, program: PayoutProgram) -> pd.DataFrame:
    """:func:`statement_table` of ``program.evaluate(inputs)``, letting the evaluation go
    (its measures, earnings before modifiers...) once the amounts are rounded, before the
    text columns are built: a large payout then needs memory for one of the two at a time.

    Args:
        plan: the plan.
        inputs: the roster and actuals.
        program: the compiled plan (:func:`engine.plan.compile_plan`).
    """
    result = program.evaluate(inputs)
    for detail in (result.earned, result.scores, result.values):  # ours alone: statements do not show them
        if detail is not result.columns:
            detail.clear()
    cells, amounts = _statement_amounts(plan, inputs, result)
    del result
    return _statement_frame(plan, inputs, cells, amounts)


def _statement_amounts(plan: Plan, inputs: Inputs, result: PayoutArrays) -> tuple[_Cells, dict[str, object]]:
    """The statement rows, and their columns after ``currency`` (amounts and grade), new arrays."""
    d = plan.minor_unit
    cells = _Cells(np.asarray(result.active, dtype=bool))
    names = [c.name for c in plan.components]
    grids = [*(result.columns[n] for n in names), result.adjustment]
    scale = 10.0 ** d
    columns = [np.empty(cells.size) for _ in grids]  # components, adjustment
    total_out = np.empty(cells.size)
    total_int = np.empty(cells.size, dtype=np.int64) if result.base_pay is not None else None  # for total_pay
    for rows in cells.blocks():  # a block of rows at a time: temporaries stay small
        units = [to_minor_units(cells.take(g, rows), d) for g in grids]
        total_units = to_minor_units(cells.take(result.total, rows), d)
        _check_exact(plan, inputs, cells, [*units, total_units], names, rows)
        total = round_half_away(total_units)
        for out, units_j in zip(columns, _allocate_columns(units, total)):
            out[rows] = units_j / scale
        total_out[rows] = total / scale
        if total_int is not None:
            total_int[rows] = total
    amounts: dict[str, object] = {}
    if total_int is not None:
        base_units = to_minor_units(cells.take(result.base_pay), d)
        _check_exact(plan, inputs, cells, [base_units], [])
        base = round_half_away(base_units)
        amounts["base_pay"] = base / scale
    for n, column in zip(names, columns):
        amounts[n] = column
    amounts["adjustment"] = columns[-1]
    amounts["total"] = total_out
    if total_int is not None:
        amounts["total_pay"] = (base + total_int) / scale
    graded = result.grade_texts()
    if graded is not None:
        codes, labels = graded
        amounts["grade"] = _grade_column(cells.take(codes, dtype=codes.dtype), labels)
    return cells, amounts


def _statement_frame(plan: Plan, inputs: Inputs, cells: _Cells, amounts: dict[str, object]) -> pd.DataFrame:
    """The statements: rep, period and currency, then ``amounts``."""
    data: dict[str, object] = {
        "rep_id": _text_column(inputs.rep_ids, cells.rep),
        "period": _text_column(inputs.period_labels, cells.period),
        "currency": _constant_text(plan.currency, cells.size),
        **amounts,
    }
    return pd.DataFrame(data, copy=False)  # the columns are new: no copy into one block


class _Cells:
    """The statement rows: the active ``(rep, period)`` cells, reps first.

    Attributes:
        shape: ``(R, P)``.
        flat: positions of the active cells in the flattened grid, or None when every cell
            is active (then the rows are the grid in order).
        size: number of statement rows.
    """

    def __init__(self, active: np.ndarray) -> None:
        self.shape = active.shape
        self.flat = None if active.all() else np.flatnonzero(active)
        self.size = active.size if self.flat is None else len(self.flat)

    @property
    def rep(self) -> np.ndarray:
        """Each row's rep (position in ``inputs.rep_ids``)."""
        periods = self.shape[1]
        if self.flat is None:
            return np.repeat(np.arange(self.shape[0]), periods)
        return self.flat // periods

    @property
    def period(self) -> np.ndarray:
        """Each row's period (position in ``inputs.periods``)."""
        periods = self.shape[1]
        if self.flat is None:
            return np.tile(np.arange(periods), self.shape[0])
        return self.flat % periods

    def blocks(self, size: int = 1 << 20) -> list[slice]:
        """The rows in consecutive blocks of ``size``."""
        return [slice(i, min(i + size, self.size)) for i in range(0, self.size, size)] or [slice(0, 0)]

    def take(self, values, rows: slice = slice(None), dtype=np.float64) -> np.ndarray:
        """Each row's value of an ``(R, P)`` array (or one that broadcasts to it), for the
        statement rows ``rows``."""
        grid = np.broadcast_to(np.asarray(values, dtype=dtype), self.shape)
        if self.flat is None:
            return grid.reshape(-1)[rows]  # a view when the grid is a full array
        flat = self.flat[rows]
        if grid.flags.c_contiguous:
            return grid.reshape(-1)[flat]
        return grid[flat // self.shape[1], flat % self.shape[1]]


def _allocate_columns(columns: list[np.ndarray], total: np.ndarray) -> list[np.ndarray]:
    """:func:`allocate_minor_units` a column at a time: ``columns`` are the ``(N,)`` columns
    in minor units (finite floats), the result their ``(N,)`` int64 allocations.

    A row's extra units go to its columns in the order of the repeated ``argmax`` there
    (largest remainder first, the leftmost among equals): a column's place in that order
    is the number of columns whose remainder is larger, or equal and to its left.
    """
    k = len(columns)
    if k == 0:
        return []
    floors = [np.floor(c) for c in columns]
    out = [f.astype(np.int64) for f in floors]
    short = np.asarray(total, dtype=np.int64).copy()
    for o in out:
        short -= o
    base, extra = np.divmod(short, k)
    if base.any():
        for o in out:
            o += base
    rows = np.flatnonzero(extra)
    if rows.size:
        want = extra[rows]
        rem = [c[rows] - f[rows] for c, f in zip(columns, floors)]
        if k <= 8:
            for j in range(k):
                place = np.zeros(rows.size, dtype=np.int64)
                for i in range(k):
                    if i != j:
                        place += (rem[i] >= rem[j]) if i < j else (rem[i] > rem[j])
                out[j][rows] += place < want
        else:
            order = np.argsort(-np.stack(rem, axis=1), axis=1, kind="stable")
            place = np.empty_like(order)
            np.put_along_axis(place, order, np.arange(k)[None, :], axis=1)
            for j in range(k):
                out[j][rows] += place[:, j] < want
    return out


def _text_column(texts, index: np.ndarray):
    """``texts[index]`` as a statement column: built in Arrow (the text pandas makes of an
    object array of str, without a Python object per row) when every text is a str."""
    table = np.asarray(texts, dtype=object)
    strings = _arrow_texts(table) if len(index) else None
    if strings is None:
        return table[index]
    return pd.array(strings.take(index), dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _arrow_texts(table: np.ndarray):
    """An object array of str as an Arrow ``large_string`` array (None if it holds anything else)."""
    import pyarrow as pa

    try:
        strings = pa.array(table, type=pa.large_string())
    except (pa.ArrowException, TypeError, ValueError):
        return None
    return None if strings.null_count else strings


def _constant_text(text: str, n: int):
    """One text on ``n`` rows, as pandas makes a column of a scalar str."""
    if not n:
        return text
    import pyarrow as pa

    strings = pa.array([text], type=pa.large_string()).take(np.zeros(n, dtype=np.int32))
    return pd.array(strings, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _grade_column(codes: np.ndarray, labels: tuple[str, ...]):
    """The grade of each row (``labels[codes]``) as a statement column."""
    strings = _arrow_texts(np.array(labels, dtype=object)) if len(codes) else None
    if strings is None:
        return np.array(labels, dtype=object)[codes]
    return pd.array(strings.take(codes), dtype=pd.StringDtype("pyarrow", na_value=np.nan))


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
    return evaluated_statements(checked.plan, inputs, compile_plan(checked, params))
