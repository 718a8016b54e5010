"""``incentive explain``: one rep's statement, calculated step by step.

The narrative comes from the reference evaluator (the plain, one-number-at-a-time path),
which records every measure, target, curve segment, tier, step, rank, modifier, cap,
true-up and draw it goes through. The statement printed at the end is the one
``incentive payout`` writes (compiled path, rounded): the differential tests keep the two
equal, and the narrative's unrounded total is shown next to the rounded one.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from engine.core.errors import DataError
from engine.core.inputs import Inputs
from engine.core.text import did_you_mean, display_width, ljust, rjust
from engine.data.statements import format_money
from engine.plan.reference import ReferenceEvaluator
from engine.plan.reference import number_text as _num
from engine.plan.validate import CheckedPlan, Ref

__all__ = ["explain"]


def _period_index(inputs: Inputs, period: str) -> int:
    labels = inputs.period_labels
    if period in labels:
        return labels.index(period)
    raise DataError("unknown-period", f"period '{period}' is not in the actuals (periods: {', '.join(labels)})",
                    file=inputs.sources.get("actuals"), hint=did_you_mean(period, labels))


def _rep_index(inputs: Inputs, rep: str) -> int:
    ids = [str(x) for x in inputs.rep_ids]
    if rep in ids:
        return ids.index(rep)
    raise DataError("unknown-rep", f"rep '{rep}' is not in the roster", file=inputs.sources.get("roster"),
                    rep=rep, hint=did_you_mean(rep, ids))


def explain(checked: CheckedPlan, inputs: Inputs, statements: pd.DataFrame, rep: str,
            period: str | None = None) -> str:
    """The step-by-step calculation of one rep's statement(s) as text.

    Args:
        checked: the validated plan.
        inputs: the loaded roster and actuals.
        statements: the statement table ``incentive payout`` produces for these inputs.
        rep: the rep id.
        period: one period label, or None for every period the rep has a statement for.

    Raises:
        DataError: unknown rep or period, or no statement for the rep in that period.
    """
    r = _rep_index(inputs, rep)
    if period is not None:
        periods = [_period_index(inputs, period)]
        if not inputs.active[r, periods[0]]:
            raise DataError("inactive-rep", f"rep '{rep}' has no statement for {period} (not active in that period)",
                            rep=rep)
    else:
        periods = [p for p in range(len(inputs.periods)) if inputs.active[r, p]]
    ev = ReferenceEvaluator(checked, inputs)
    blocks = []
    for p in periods:
        blocks.append(_explain_one(ev, checked, inputs, statements, r, p))
    return "\n\n".join(blocks)


def _explain_one(ev: ReferenceEvaluator, checked: CheckedPlan, inputs: Inputs, statements: pd.DataFrame,
                 r: int, p: int) -> str:
    plan = checked.plan
    rep = str(inputs.rep_ids[r])
    label = inputs.periods[p].label
    ytd = plan.accumulate == "year"
    out: list[str] = []
    title = f"Statement of rep {rep}, period {label} — plan {plan.name} ({plan.currency})"
    out += [title, "=" * len(title)]

    # Inputs
    out.append("Inputs")
    for col in sorted(checked.roster_columns):
        value = ev.roster_at[col][r][p] if col in ev.roster_at else ev.roster[col][r]
        out.append(f"  roster.{col} = {_num(value)}" + (" (the roster row in effect on the period's last active day)"
                                                          if col in ev.roster_at else ""))
    transactions = inputs.rows is not None
    for col in sorted(checked.actual_columns):
        if col not in ev.actuals:  # an attribute of each transaction: listed with the transactions
            continue
        line = f"  actuals.{col} = {_num(ev.actuals[col][r][p])} in {label}"
        if transactions:
            line += " (summed with each row's split)" if checked.actual_columns[col] == "sum" else \
                f" ({checked.actual_columns[col]} of the rows)"
        if ytd:
            agg = checked.actual_columns[col]
            line += f"; year to date ({agg}) = {_num(ev.actual(col, 'final', r, p))}"
        out.append(line)
    per = inputs.periods[p]
    prorate = float(inputs.proration[r, p])
    prorated = "targets, target_incentive" + (" and base_pay" if plan.base_pay is not None else "")
    out.append(f"  active {round(prorate * per.days)} of {per.days} days in {label} "
               f"({prorated} prorated x {_num(prorate)}; active_share = {_num(prorate)})" if prorate != 1 else
               f"  active the whole period ({per.days} days)")
    for k, layer in enumerate(inputs.layers):
        share = float(layer.proration[r, p])
        if share > 0:
            cols = ", ".join(f"{c} = {_num(ev.layers[k][0][c][r])}" for c in sorted(checked.roster_columns)
                             if c in ev.layers[k][0])
            out.append(f"    roster row {k + 1} in effect {round(share * per.days)} days ({cols})")
    if checked.uses_tenure:
        out.append(f"  tenure_months = {_num(ev.value(Ref('tenure'), 'final', r, p))} at the start of {label}")
    out += _transactions(ev, checked, inputs, r, p)

    # Measures and targets
    out.append("Targets and measures" + (" (year to date)" if ytd else ""))
    for ref in checked.order:
        code = ev.defs[ref]
        v = ev.value(ref, "final", r, p)
        name = {"measure": ref.name, "target": f"targets.{ref.name}", "ti": "target_incentive"}[ref.kind]
        line = f"  {name} = {code.text} = {_num(v)}"
        if ref.kind == "measure" and ref.name in checked.row_measures:
            agg = checked.row_measures[ref.name]
            how = {"sum": "sum over the period's rows (each x its split)", "count": "count of the period's rows",
                   "mean": "mean over the period's rows", "last": "last row (by date)",
                   "min": "smallest row value", "max": "largest row value"}[agg]
            line = f"  {name} = {code.text}, {how} = {_num(ev.value(ref, 'raw', r, p))}"
            if ytd:
                line += f"; year to date = {_num(v)}"
        if ref.kind in ("target", "ti"):
            raw = ev.value(ref, "raw", r, p)
            if prorate != 1:
                line = f"  {name} = {code.text} = {_num(raw)} x proration {_num(prorate)} = {_num(raw * prorate)}"
            if ytd:
                line = (f"  {name} = {code.text} = {_num(raw * prorate)} this period; "
                        f"year to date = {_num(v)}")
        out.append(line)

    # Components
    out.append("Components" + (" (year-to-date earnings)" if ytd else ""))
    for c in plan.components:
        head = f"  {c.name} ({c.kind})" + (f" — {c.label}" if c.label else "")
        out.append(head)
        trace: list[str] = []
        ev.earned.pop((c.name, r, p), None)
        value = ev.component_earned(c.name, r, p, trace=trace)
        out += ["  " + t for t in trace]
        out.append(f"    = {_num(value)}")

    # Modifiers, cap, true-up, draw, grade: replay the rep's periods to this one.
    trace = []
    rows = ev.rep_rows(r, trace_period=p, trace=trace)
    row = rows[p]
    if plan.modifiers or plan.cap is not None or ytd or plan.draw is not None or plan.grades is not None:
        out.append("Modifiers, caps, true-up and draw")
        out += [t for t in trace] if trace else ["  (none apply)"]
    if ytd:
        out.append("Statement columns (change in year-to-date earnings after modifiers)")
        prev = rows[p - 1] if p > 0 and rows[p - 1] is not None and ev.years[p - 1] == ev.years[p] else None
        for c in plan.components:
            before = prev["modified"][c.name] if prev else 0.0
            out.append(f"  {c.name}: {_num(row['modified'][c.name])} - {_num(before)} = {_num(row['columns'][c.name])}")

    # The statement as written.
    st = statements[(statements["rep_id"] == rep) & (statements["period"] == label)]
    out.append(f"Statement ({plan.currency}, rounded half away from zero to {plan.minor_unit} decimals; "
               "components by largest remainder so they add up to the total)")
    money = [c.name for c in plan.components] + ["adjustment", "total"]
    base_pay = None
    if plan.base_pay is not None:
        base_pay = ev.value(Ref("base_pay"), "final", r, p)
        money = ["base_pay", *money, "total_pay"]
    if len(st) == 1:
        srow = st.iloc[0]
        width = max(display_width(m) for m in money)
        texts = format_money(np.array([srow[m] for m in money], dtype=float), plan.minor_unit)
        for m, t in zip(money, texts):
            if m == "base_pay":
                out.append(f"  {ljust(m, width)} {t:>14}   ({plan.base_pay.text} = {_num(base_pay)}, "  # type: ignore[union-attr]
                           "paid apart from the incentive)")
                continue
            if m == "total_pay":
                out.append(f"  {ljust(m, width)} {t:>14}   (base_pay + total)")
                continue
            unrounded = row["columns"][m] if m in row["columns"] else (row["adjustment"] if m == "adjustment"
                                                                      else row["total"])
            out.append(f"  {ljust(m, width)} {t:>14}   (unrounded {_num(unrounded)})")
        if plan.grades is not None:
            out.append(f"  {'grade':<{width}} {rjust(str(srow['grade']), 14)}")
    return "\n".join(out)


MAX_LISTED = 50
"""At most this many transactions of one period are listed (the rest are counted)."""


def _transactions(ev: ReferenceEvaluator, checked: CheckedPlan, inputs: Inputs, r: int, p: int) -> list[str]:
    """The transactions placed in the period (in placing-date order, then file order): file
    row, date, split, attributes and each row-level measure's value; then the rep's pending
    rows."""
    rows = inputs.rows
    if rows is None:
        return []
    from engine.data.lines import pending, pending_text

    plan = checked.plan
    mine = ev.cell_rows.get((r, p), [])
    out = [f"Transactions placed in {inputs.periods[p].label} by {plan.placing_date}: {len(mine)}"]
    attrs = [c for c in sorted(checked.text_actual_columns) if c in rows.columns]
    numeric = [c for c in sorted(checked.numeric_actual_columns) if c in rows.columns]
    measures = list(checked.row_measures)
    for i in mine[:MAX_LISTED]:
        date = dt.date.fromordinal(int(rows.date[i])).isoformat() if rows.date[i] > 0 else ""
        parts = [f"row {int(rows.file_row[i])}", date]
        split = float(rows.split[i])
        if split != 1:
            parts.append(f"split {_num(split)}")
        parts += [f"{c} {ev.row_cols[c][i]}" for c in attrs]
        parts += [f"{c} {_num(ev.row_cols[c][i])}" for c in numeric]
        for m in measures:
            agg = checked.row_measures[m]
            v = 1.0 if agg == "count" else float(ev.row_eval(ev.defs[Ref("measure", m)].tree, i))
            parts.append(f"{m} = {_num(v)}")
        out.append("  " + ", ".join(x for x in parts if x))
    if len(mine) > MAX_LISTED:
        out.append(f"  ... and {len(mine) - MAX_LISTED} more (payout --lines lists every one)")
    note = pending_text(pending(checked, inputs), plan.placing_date, plan.currency, rep=str(inputs.rep_ids[r]))
    if note:
        out.append("  " + note)
    return out
