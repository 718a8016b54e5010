"""``incentive check``: a short human summary of a valid plan.

Besides listing what the plan declares, it shows what each component pays at 50, 80,
100, 120 and 150% of target for a reference rep. The reference rep is built without data:
roster numbers come from ``--roster`` (each numeric column's median) or from documented
defaults; every actuals column that the plan measures against a target is set to that
percentage of its target, and the other actuals are set so their ratios sit at 100%
(``collected / revenue`` -> collected = revenue, ``actuals.csat / 5`` -> csat = 5) or to 0
(counts such as complaints); see :mod:`engine.plan.reference_rep`. The assumptions are
printed with the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np
import pandas as pd

from engine.core.text import MISSING, text_table
from engine.plan.compile import compile_plan
from engine.plan.kinds import kind_of
from engine.plan.reference_rep import (
    Dependencies,
    reference_actuals,
    reference_inputs,
    reference_profile,
    roster_values,
    year_end_inputs,
)
from engine.plan.validate import CheckedPlan, with_parameters

if TYPE_CHECKING:
    from engine.sim.population import Roster

__all__ = ["LEVELS", "PERIODS_PER_YEAR", "Dependencies", "payout_curve_data", "payout_table", "reference_profile",
           "roster_frame", "summarize"]

LEVELS = (0.5, 0.8, 1.0, 1.2, 1.5)
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "half": 2, "year": 1}

RosterLike = Union[pd.DataFrame, "Roster", None]


def payout_table(checked: CheckedPlan, roster: pd.DataFrame | None = None,
                 levels: tuple[float, ...] = LEVELS) -> tuple[pd.DataFrame, list[str]]:
    """What each component pays at each attainment level for the reference rep.

    Returns:
        ``(table, assumptions)``: rows are components, ``total`` and ``% of TI``; columns are
        the levels; ``assumptions`` describes the reference rep.
    """
    plan = checked.plan
    n = len(levels)
    roster_vals = roster_values(checked, roster)
    zeros = {col: np.zeros((n, 1, 1)) for col in checked.actual_columns}
    prog = compile_plan(checked)
    # Targets first (they depend on the roster only in any sensible plan).
    first = prog.evaluate(reference_inputs(roster_vals, zeros, n, checked))
    linked, others = reference_profile(checked)
    targets = {col: first.values[f"targets.{target}"] for col, target in linked.items()}
    res = prog.evaluate(reference_inputs(roster_vals, reference_actuals(levels, targets, others), n, checked))
    rows = {}
    for c in plan.components:
        rows[c.name] = res.columns[c.name][:, 0, 0]
    if plan.modifiers or plan.cap is not None or plan.draw is not None:
        rows["adjustment"] = res.adjustment[:, 0, 0]
    rows["total"] = res.total[:, 0, 0]
    ti = np.asarray(res.values["target_incentive"], dtype=float)[:, 0, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        rows["% of TI"] = np.where(ti != 0, 100 * res.total[:, 0, 0] / ti, np.nan)
    table = pd.DataFrame(rows, index=[f"{lvl:.0%}" for lvl in levels]).T
    notes = []
    roster_desc = ", ".join(f"roster.{k} = {_fmt(v)}" for k, v in roster_vals.items())
    if roster_desc:
        notes.append(f"reference rep: {roster_desc}" + (
            " (your roster's medians)" if roster is not None else
            " (the default team's economics: the columns the plan's targets, target incentive and base pay "
            "read give a quota of 1,000,000, a target incentive of 20,000 and a salary of 80,000 a year; "
            "pass --roster to use your roster's medians)"))
    for col, target in linked.items():
        notes.append(f"actuals.{col} = the level x targets.{target} "
                     f"({_fmt(float(np.asarray(first.values[f'targets.{target}'], dtype=float)[0, 0, 0]))} at 100%)")
    for col, choice in others.items():
        if choice[0] == "same":
            notes.append(f"actuals.{col} = actuals.{choice[1]} (its ratio at 100%)")
        elif choice[0] == "number":
            notes.append(f"actuals.{col} = {_fmt(choice[1])} (its ratio at 100%)")
        else:
            notes.append(f"actuals.{col} = 0")
    for kind in dict.fromkeys(c.kind for c in plan.components):
        note = kind_of(kind).table_note
        if note is not None:
            notes.append(note)
    if plan.accumulate == "year":
        notes.append("accumulate: year: shown for a plan year of one period")
        notes += _year_end_notes(checked, prog, roster_vals, reference_actuals(levels, targets, others), levels, rows)
    return table, notes


def _year_end_notes(checked: CheckedPlan, prog, roster_vals, actuals, levels, rows) -> list[str]:
    """What a component judged against the year's totals pays over a whole plan year, where one
    period shows it paying nothing (a rate on sales beyond the annual quota, a bonus at the year's
    end): every period at the level, the year's earnings."""
    inputs = year_end_inputs(roster_vals, actuals, len(levels), checked)
    if inputs is None:
        return []
    res = prog.evaluate(inputs, grades=False)
    out = []
    for c in checked.plan.components:
        year = np.asarray(res.earned[c.name], dtype=float)[:, 0, -1]
        if np.all(np.abs(rows[c.name]) <= 1e-9) and np.any(np.abs(year) > 1e-9):
            paid = " / ".join(_fmt(float(v)) for v in year)
            at = ", ".join(f"{lvl:.0%}" for lvl in levels)
            out.append(f"{c.name} is judged against the year's totals, so one period shows it paying nothing: over a "
                       f"plan year with every period at the level it earns {paid} (at {at})")
    return out


def roster_frame(roster: RosterLike) -> pd.DataFrame | None:
    """A roster as a DataFrame; a simulated team's seats get the columns the simulator adds
    (``status``: tenured, ``tenure_months``: 24) so that the reference rep is a settled rep."""
    if roster is None or isinstance(roster, pd.DataFrame):
        return roster
    df = pd.DataFrame(roster.columns)
    df["status"] = "tenured"
    df["tenure_months"] = 24.0
    return df


def payout_curve_data(checked: CheckedPlan, params: dict | None = None, roster: RosterLike = None,
                      levels: Sequence[float] | None = None) -> pd.DataFrame:
    """What the plan pays over a year at each attainment level, per component.

    The plan is evaluated for the reference rep of ``incentive check`` (the roster's medians,
    or documented defaults; see :func:`payout_table`) reaching the same share
    of target in every period, and one period's pay is multiplied by the periods in a year.

    Args:
        checked: the validated plan.
        params: plan parameter overrides.
        roster: a roster (DataFrame, or a simulated team's :class:`~engine.sim.population.Roster`).
        levels: attainment levels as fractions (default: 0 to 200% in 1-point steps).

    Returns:
        Index: attainment in percent; columns: one per component, ``adjustment`` (modifiers,
        plan cap, draw) when the plan has any, and ``total``; values in the plan's currency.
    """
    if params:
        checked = with_parameters(checked, params)
    lv = tuple(np.round(np.arange(0, 201) / 100, 2)) if levels is None else tuple(float(v) for v in levels)
    table, _ = payout_table(checked, roster_frame(roster), levels=lv)
    per_year = PERIODS_PER_YEAR.get(checked.plan.period, 1)
    df = table.drop(index="% of TI").T.astype(float) * per_year
    df.index = pd.Index(np.round(np.asarray(lv) * 100, 6), name="attainment (%)")
    return df


def _fmt(v) -> str:
    if isinstance(v, str):
        return repr(v)
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.4g}"


def summarize(checked: CheckedPlan, roster: pd.DataFrame | None = None) -> str:
    """The text ``incentive check`` prints for a valid plan."""
    plan = checked.plan
    lines = [f"{plan.file}: plan '{plan.name}' is valid"]
    if plan.label:
        lines.append(f"  {plan.label}")
    lines.append(f"  period: {plan.period}"
                 + (f" (fiscal year starts in month {plan.fiscal_year_start})" if plan.fiscal_year_start != 1 else "")
                 + f"; currency: {plan.currency}; accumulate: {plan.accumulate}"
                 + ("; clawback" if plan.clawback else ""))
    lines.append(f"  target_incentive: {plan.target_incentive.text}")
    if plan.parameters:
        lines.append("Parameters")
        for p in plan.parameters:
            bounds = ""
            if p.min is not None or p.max is not None:
                bounds = f"  [{'' if p.min is None else _fmt(p.min)} .. {'' if p.max is None else _fmt(p.max)}]"
            lines.append(f"  {p.name} = {_fmt(p.value)}{bounds}")
    lines.append("Measures")
    for m in plan.measures:
        agg = f"  (aggregate: {m.aggregate})" if m.aggregate != "sum" else ""
        lines.append(f"  {m.name} = {m.code.text}{agg}")
    if plan.targets:
        lines.append("Targets")
        for t in plan.targets:
            lines.append(f"  targets.{t.name} = {t.code.text}")
    lines.append("Components")
    for c in plan.components:
        desc = _component_line(c)
        lines.append(f"  {c.name} ({c.kind}){' — ' + c.label if c.label else ''}: {desc}")
    for mod in plan.modifiers:
        scope = ", ".join(n for n, _ in mod.applies_to) or "every component"
        lines.append(f"Modifier {mod.name}: x {mod.multiply.text} on {scope}"
                     + (f" when {mod.when.text}" if mod.when else ""))
    if plan.cap is not None:
        lines.append(f"Plan cap: {plan.cap.text}")
    if plan.draw is not None:
        lines.append(f"Draw: {plan.draw.amount.text} per period, "
                     f"{'recoverable' if plan.draw.recoverable else 'not recoverable'}")
    if plan.grades is not None:
        bands = ", ".join(f"{b.grade} >= {b.min.text}" if b.min else f"{b.grade} otherwise" for b in plan.grades.bands)
        lines.append(f"Grades on {plan.grades.input.text}: {bands}")
    table, notes = payout_table(checked, roster)
    lines.append("")
    lines.append(f"What it pays per period at a share of target ({plan.currency}):")
    fmt = table.copy().astype(object)
    for idx in fmt.index:
        for col in fmt.columns:
            v = table.loc[idx, col]
            fmt.loc[idx, col] = (MISSING if not np.isfinite(v) else f"{v:,.0f}%") if idx == "% of TI" else f"{v:,.2f}"
    # Aligned by display width (a Chinese component name takes two columns a character), in
    # the look of DataFrame.to_string, which counts characters.
    body = [[str(idx)] + [str(v) for v in fmt.loc[idx]] for idx in fmt.index]
    lines += ["  " + ln for ln in text_table([""] + [str(c) for c in fmt.columns], body, rule=False)]
    lines += [f"  * {n}" for n in notes]
    return "\n".join(lines)


def _component_line(c) -> str:
    """What a component pays, in the plan's words: its kind's summary hook."""
    return kind_of(c.kind).summary(c)
