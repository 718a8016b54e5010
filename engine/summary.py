"""``incentive check``: a short human summary of a valid plan.

Besides listing what the plan declares, it shows what each component pays at 50, 80,
100, 120 and 150% of target for a reference rep. The reference rep is built without data:
roster numbers come from ``--roster`` (each numeric column's median) or from documented
defaults; every actuals column that the plan measures against a target is set to that
percentage of its target, and the other actuals are set so their ratios sit at 100%
(``collected / revenue`` -> collected = revenue, ``actuals.csat / 5`` -> csat = 5) or to 0
(counts such as complaints). The assumptions are printed with the table.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from engine.data.inputs import Inputs, PeriodInfo
from engine.plan import expr as ex
from engine.plan.compile import compile_plan
from engine.plan.validate import CheckedPlan

__all__ = ["LEVELS", "Dependencies", "payout_table", "reference_profile", "summarize"]

LEVELS = (0.5, 0.8, 1.0, 1.2, 1.5)

_DEFAULTS = [
    (re.compile(r"(^|_)(ti|tic|incentive|bonus|target_incentive|ote_variable)($|_)", re.IGNORECASE), 20_000.0),
    (re.compile(r"(salary|base_pay|fixed)", re.IGNORECASE), 80_000.0),
    (re.compile(r"(quota|target|plan)", re.IGNORECASE), 1_000_000.0),
]


def _default_roster_value(name: str) -> float:
    for pattern, value in _DEFAULTS:
        if pattern.search(name):
            return value
    return 1.0


class Dependencies:
    """Which actuals and targets an expression depends on, through measures."""

    def __init__(self, checked: CheckedPlan):
        self.checked = checked
        self.defs = {m.name: m.code for m in checked.plan.measures}
        self.memo: dict[str, tuple[frozenset, frozenset]] = {}

    def of(self, node: ex.Expr) -> tuple[frozenset, frozenset]:
        actuals: set[str] = set()
        targets: set[str] = set()
        for n in ex.walk(node):
            if isinstance(n, ex.Name):
                ref = self.checked.refs.get(id(n))
                if ref is None:
                    continue
                if ref.kind == "actual":
                    actuals.add(ref.name)
                elif ref.kind == "target":
                    targets.add(ref.name)
                elif ref.kind == "measure":
                    a, t = self.measure(ref.name)
                    actuals |= a
                    targets |= t
        return frozenset(actuals), frozenset(targets)

    def measure(self, name: str) -> tuple[frozenset, frozenset]:
        if name not in self.memo:
            self.memo[name] = (frozenset(), frozenset())  # cycles are impossible after validation
            self.memo[name] = self.of(self.defs[name].tree)
        return self.memo[name]


def _all_codes(checked: CheckedPlan):
    plan = checked.plan
    for m in plan.measures:
        yield m.code
    for c in plan.components:
        for code in (c.input, c.base, c.when, c.by, c.cap):
            if code is not None:
                yield code
        for m in c.metrics:
            yield m.input
    for m in plan.modifiers:
        if m.when is not None:
            yield m.when
    if plan.grades is not None:
        yield plan.grades.input


def reference_profile(checked: CheckedPlan) -> tuple[dict[str, str], dict[str, tuple[str, object]]]:
    """How the reference rep's actuals are set.

    Returns:
        ``(linked, others)``: ``linked`` maps actuals columns to the target they are measured
        against; ``others`` maps the remaining columns to ``("same", column)``,
        ``("number", value)`` or ``("zero", None)``.
    """
    deps = Dependencies(checked)
    linked: dict[str, str] = {}
    ratios: list[tuple[frozenset, ex.Expr]] = []
    for code in _all_codes(checked):
        for node in ex.walk(code.tree):
            pair = None
            if isinstance(node, ex.Binary) and node.op in ("/", "-") or isinstance(node, ex.Compare):
                pair = (node.left, node.right)
            elif isinstance(node, ex.Call) and node.func == "safe_div":
                pair = (node.args[0], node.args[1])
            if pair is None:
                continue
            la, lt = deps.of(pair[0])
            ra, rt = deps.of(pair[1])
            if len(la) == 1 and not lt and len(rt) == 1 and not ra:
                linked.setdefault(next(iter(la)), next(iter(rt)))
            elif len(la) == 1 and not lt and (isinstance(node, ex.Binary) and node.op == "/" or
                                              isinstance(node, ex.Call)):
                ratios.append((la, pair[1]))
    others: dict[str, tuple[str, object]] = {}
    for col in sorted(checked.actual_columns):
        if col in linked:
            continue
        choice: tuple[str, object] = ("zero", None)
        for la, denom in ratios:
            if col not in la:
                continue
            if isinstance(denom, ex.Num):
                choice = ("number", denom.value)
                break
            da, dt = deps.of(denom)
            if len(da) == 1 and not dt and next(iter(da)) in linked:
                choice = ("same", next(iter(da)))
                break
        others[col] = choice
    return linked, others


def _roster_values(checked: CheckedPlan, roster: pd.DataFrame | None) -> dict[str, object]:
    values: dict[str, object] = {}
    for col in sorted(checked.roster_columns):
        if roster is not None and col in roster.columns:
            series = pd.to_numeric(roster[col], errors="coerce")
            if series.notna().all() and len(series):
                values[col] = float(series.median())
            else:
                values[col] = str(roster[col].mode().iloc[0]) if len(roster[col].dropna()) else ""
        elif col in checked.numeric_roster_columns or roster is None:
            values[col] = _default_roster_value(col)
    return values


def payout_table(checked: CheckedPlan, roster: pd.DataFrame | None = None,
                 levels: tuple[float, ...] = LEVELS) -> tuple[pd.DataFrame, list[str]]:
    """What each component pays at each attainment level for the reference rep.

    Returns:
        ``(table, assumptions)``: rows are components, ``total`` and ``% of TI``; columns are
        the levels; ``assumptions`` describes the reference rep.
    """
    plan = checked.plan
    n = len(levels)
    roster_vals = _roster_values(checked, roster)
    fy = 2027
    period = PeriodInfo(label="2027", kind="year", fiscal_year=fy, number=1,
                        start=pd.Timestamp("2027-01-01").date(), end=pd.Timestamp("2027-12-31").date())
    roster_arrays = {}
    for k, v in roster_vals.items():
        roster_arrays[k] = np.full((n, 1), v, dtype=object if isinstance(v, str) else np.float64)
    base = {"rep_ids": np.array(["reference"], dtype=object), "periods": (period,), "roster": roster_arrays,
                "active": np.ones((n, 1, 1), dtype=bool), "proration": np.ones((n, 1, 1))}
    zeros = {col: np.zeros((n, 1, 1)) for col in checked.actual_columns}
    prog = compile_plan(checked)
    # Targets first (they depend on the roster only in any sensible plan).
    first = prog.evaluate(Inputs(actuals=zeros, **base))
    linked, others = reference_profile(checked)
    lv = np.array(levels).reshape(n, 1, 1)
    actuals = {}
    for col, target in linked.items():
        actuals[col] = lv * np.asarray(first.values[f"targets.{target}"], dtype=float)
    for col, (how, what) in others.items():
        if how == "same":
            actuals[col] = actuals[what].copy()
        elif how == "number":
            actuals[col] = np.full((n, 1, 1), float(what))
        else:
            actuals[col] = np.zeros((n, 1, 1))
    res = prog.evaluate(Inputs(actuals=actuals, **base))
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
        notes.append(f"reference rep: {roster_desc}" + ("" if roster is not None else
                                                        " (defaults; pass --roster to use your roster's medians)"))
    for col, target in linked.items():
        notes.append(f"actuals.{col} = the level x targets.{target} "
                     f"({_fmt(float(np.asarray(first.values[f'targets.{target}'], dtype=float)[0, 0, 0]))} at 100%)")
    for col, (how, what) in others.items():
        if how == "same":
            notes.append(f"actuals.{col} = actuals.{what} (its ratio at 100%)")
        elif how == "number":
            notes.append(f"actuals.{col} = {_fmt(what)} (its ratio at 100%)")
        else:
            notes.append(f"actuals.{col} = 0")
    if any(c.kind == "rank" for c in plan.components):
        notes.append("rank components: the reference rep competes alone, so it ranks first where eligible")
    if plan.accumulate == "year":
        notes.append("accumulate: year: shown for a plan year of one period")
    return table, notes


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
    for m in plan.modifiers:
        scope = ", ".join(n for n, _ in m.applies_to) or "every component"
        lines.append(f"Modifier {m.name}: x {m.multiply.text} on {scope}"
                     + (f" when {m.when.text}" if m.when else ""))
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
            fmt.loc[idx, col] = ("—" if not np.isfinite(v) else f"{v:,.0f}%") if idx == "% of TI" else f"{v:,.2f}"
    lines += ["  " + ln for ln in fmt.to_string().splitlines()]
    lines += [f"  * {n}" for n in notes]
    return "\n".join(lines)


def _component_line(c) -> str:
    if c.kind == "curve":
        pts = ", ".join(f"[{x.text}, {y.text}]" for x, y in c.curve.points)
        return f"{c.input.text} through {pts} ({c.curve.interpolate}, beyond: {c.curve.beyond})"
    if c.kind == "step":
        return "; ".join(f"at {s.at.text} pays {s.pay.text}" for s in c.steps) + f" on {c.input.text}"
    if c.kind == "rate":
        if c.rate is not None:
            return f"{c.rate.text} x {c.base.text}"
        tiers = "; ".join(f"{t.rate.text} up to {t.upto.text}" if t.upto else f"{t.rate.text} above"
                          for t in c.tiers)
        return f"{'retroactive' if c.retroactive else 'marginal'} tiers on {c.base.text}: {tiers}"
    if c.kind == "scorecard":
        return ", ".join(f"{m.name} {m.weight.text}" for m in c.metrics)
    if c.kind == "rank":
        group = f" within {c.group.text}" if c.group else ""
        return f"by {c.by.text}{group}, awards {', '.join(a.text for a in c.awards)}"
    return ""


