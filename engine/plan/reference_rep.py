"""The reference rep of ``incentive check``: how a rep is made up without data.

Roster numbers come from a roster (each numeric column's median) or from documented
defaults; every actuals column that the plan measures against a target is set to a share of
that target, and the other actuals are set so their ratios sit at 100% (``collected /
revenue`` -> collected = revenue, ``actuals.csat / 5`` -> csat = 5) or to 0 (counts such as
complaints). The payout table (:func:`engine.data.summary.payout_table`) and the design
lint (:mod:`engine.plan.lint`) both evaluate the plan for this rep.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from engine.core.errors import EngineError
from engine.core.inputs import Inputs, PeriodInfo, Rows
from engine.core.periods import period_for_date
from engine.plan import expr as ex
from engine.plan.kinds import kind_of
from engine.plan.model import Code
from engine.plan.validate import CheckedPlan

__all__ = [
    "ECONOMICS",
    "REFERENCE_PERIOD",
    "REFERENCE_TENURE",
    "Choice",
    "Dependencies",
    "reference_actuals",
    "reference_attributes",
    "reference_inputs",
    "reference_profile",
    "reference_values",
    "roster_values",
    "shaped_columns",
    "shaped_roles",
    "year_end_inputs",
]

REFERENCE_PERIOD = PeriodInfo(label="2027", kind="year", fiscal_year=2027, number=1,
                              start=dt.date(2027, 1, 1), end=dt.date(2027, 12, 31))
"""The one yearly period the reference rep is evaluated over."""

#: How a reference-rep actuals column not measured against a target is set:
#: ``("same", column)``, ``("number", value)`` or ``("zero", None)``.
Choice: TypeAlias = tuple[Literal["same"], str] | tuple[Literal["number"], float] | tuple[Literal["zero"], None]

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
        self.memo: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def of(self, node: ex.Expr) -> tuple[frozenset[str], frozenset[str]]:
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

    def measure(self, name: str) -> tuple[frozenset[str], frozenset[str]]:
        if name not in self.memo:
            self.memo[name] = (frozenset(), frozenset())  # cycles are impossible after validation
            self.memo[name] = self.of(self.defs[name].tree)
        return self.memo[name]


def _all_codes(checked: CheckedPlan) -> Iterator[Code]:
    plan = checked.plan
    for measure in plan.measures:
        yield measure.code
    for c in plan.components:
        yield from kind_of(c.kind).profile(c)
    for modifier in plan.modifiers:
        if modifier.when is not None:
            yield modifier.when
    if plan.grades is not None:
        yield plan.grades.input


Side = tuple[frozenset[str], frozenset[str]]
"""The actuals columns and the targets one side of a comparison depends on."""


def measured_against(checked: CheckedPlan) -> Iterator[tuple[ex.Expr, ex.Expr, Side, Side]]:
    """Every ratio, difference, comparison and ``safe_div`` in the plan's measures, component
    inputs, gates and grades: ``(node, right side, (actuals, targets) of the left side, the
    same of the right side)``, dependencies followed through measures. Where the left side
    reads actuals only and the right side targets only, the columns are measured against the
    target (the plan's attainment)."""
    deps = Dependencies(checked)
    for code in _all_codes(checked):
        for node in ex.walk(code.tree):
            pair = None
            if isinstance(node, ex.Binary) and node.op in ("/", "-") or isinstance(node, ex.Compare):
                pair = (node.left, node.right)
            elif isinstance(node, ex.Call) and node.func == "safe_div":
                pair = (node.args[0], node.args[1])
            if pair is not None:
                yield node, pair[1], deps.of(pair[0]), deps.of(pair[1])


def reference_profile(checked: CheckedPlan) -> tuple[dict[str, str], dict[str, Choice]]:
    """How the reference rep's actuals are set.

    Returns:
        ``(linked, others)``: ``linked`` maps actuals columns to the target they are measured
        against; ``others`` maps the remaining columns to ``("same", column)``,
        ``("number", value)`` or ``("zero", None)``.
    """
    deps = Dependencies(checked)
    linked: dict[str, str] = {}
    ratios: list[tuple[frozenset[str], ex.Expr]] = []
    for node, right, (la, lt), (ra, rt) in measured_against(checked):
        if len(la) == 1 and not lt and len(rt) == 1 and not ra:
            linked.setdefault(next(iter(la)), next(iter(rt)))
        elif len(la) == 1 and not lt and (isinstance(node, ex.Binary) and node.op == "/" or
                                          isinstance(node, ex.Call)):
            ratios.append((la, right))
    others: dict[str, Choice] = {}
    for col in sorted(checked.numeric_actual_columns):
        if col in linked:
            continue
        choice: Choice = ("zero", None)
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


#: The default team's economics per year (the default scenario's quota, target incentive
#: and base salary): a roster column the plan's targets, target incentive or base pay read
#: is given the value that makes them these amounts, whatever the column is called.
ECONOMICS = {"target": 1_000_000.0, "ti": 20_000.0, "base_pay": 80_000.0}
_PER_YEAR = {"month": 12, "quarter": 4, "half": 2, "year": 1}


def roster_values(checked: CheckedPlan, roster: pd.DataFrame | None) -> dict[str, object]:
    """The reference rep's roster values: each roster column's median (numbers) or most
    common value (text) in ``roster``; a column the roster lacks is shaped to the plan
    (:func:`shaped_columns`), else a documented default by its name."""
    values: dict[str, object] = {}
    free: list[str] = []
    for col in sorted(checked.roster_columns):
        if roster is not None and col in roster.columns:
            series = pd.to_numeric(roster[col], errors="coerce")
            if series.notna().all() and len(series):
                values[col] = float(series.median())
            else:
                values[col] = str(roster[col].mode().iloc[0]) if len(roster[col].dropna()) else ""
        elif col in checked.text_roster_columns:
            values[col] = reference_attributes(checked, "roster")[col]
        elif col in checked.numeric_roster_columns or roster is None:
            values[col] = _default_roster_value(col)
            free.append(col)
    values.update(shaped_columns(checked, values, free))
    return values


def shaped_columns(checked: CheckedPlan, values: Mapping[str, object], free: list[str]) -> dict[str, float]:
    """:func:`shaped_roles` without the roles."""
    return {col: value for col, (value, _) in shaped_roles(checked, values, free).items()}


def shaped_roles(checked: CheckedPlan, values: Mapping[str, object], free: list[str]
                 ) -> dict[str, tuple[float, str]]:
    """Values for the ``free`` roster columns that give the plan the default team's economics
    (:data:`ECONOMICS`): each target, then the target incentive, then the base pay, that
    reads exactly one free column not yet set is solved for it (the expression evaluated at
    two values of the column, as an affine function of it). A column no such expression
    reads keeps its value.

    Returns:
        column -> ``(value, role)``: the role is the :data:`ECONOMICS` key it was solved for
        (``target``, ``ti`` or ``base_pay``).
    """
    from engine.plan.compile import compile_plan

    plan = checked.plan
    per = _PER_YEAR.get(plan.period, 1)
    wanted: list[tuple[str, str, Code, float]] = [(f"targets.{t.name}", "target", t.code, ECONOMICS["target"] / per)
                                                  for t in plan.targets]
    wanted.append(("target_incentive", "ti", plan.target_incentive, ECONOMICS["ti"] / per))
    if plan.base_pay is not None:
        wanted.append(("base_pay", "base_pay", plan.base_pay, ECONOMICS["base_pay"] / per))
    current = dict(values)
    solved: dict[str, tuple[float, str]] = {}
    left = set(free)
    if not left:
        return solved
    prog = compile_plan(checked)

    for key, role, code, desired in wanted:
        cols = sorted({n.name for n in ex.walk(code.tree) if isinstance(n, ex.Name) and n.prefix == "roster"}
                      & left)
        if len(cols) != 1:
            continue
        col = cols[0]
        try:
            slopes, intercepts = value_line(checked, {k: np.array([v]) for k, v in current.items()}, col, key, prog)
        except EngineError:
            continue
        slope, intercept = float(slopes[0]), float(intercepts[0])
        if not (np.isfinite(slope) and slope > 0):
            continue
        value = max((desired - intercept) / slope, 0.0)
        solved[col] = (float(value), role)
        current[col] = float(value)
        left.discard(col)
    return solved


def value_line(checked: CheckedPlan, roster: Mapping[str, np.ndarray], column: str, key: str,
               prog=None) -> tuple[np.ndarray, np.ndarray]:
    """Per rep, ``(slope, intercept)`` of ``key`` (``targets.NAME``, ``target_incentive`` or
    ``base_pay``) as an affine function of roster ``column``: the plan evaluated with the
    column at 1 and at 2, the other columns as ``roster`` gives them (``(n,)`` each), actuals
    at zero, text attributes at :func:`reference_attributes`, tenure :data:`REFERENCE_TENURE`,
    over :data:`REFERENCE_PERIOD`."""
    from engine.plan.compile import compile_plan

    n = len(next(iter(roster.values()))) if roster else 1
    prog = compile_plan(checked) if prog is None else prog
    actuals: dict[str, np.ndarray] = {c: np.zeros((n, 1)) for c in checked.numeric_actual_columns}
    actuals.update({c: np.full((n, 1), v, dtype=object) for c, v in reference_attributes(checked).items()})

    def at(v: float) -> np.ndarray:
        inputs = Inputs(rep_ids=np.array(["reference"] * n, dtype=object), periods=(REFERENCE_PERIOD,),
                        roster={**roster, column: np.full(n, v)}, actuals=actuals,
                        active=np.ones((n, 1), dtype=bool), proration=np.ones((n, 1)),
                        tenure=np.full((n, 1), REFERENCE_TENURE) if checked.uses_tenure else None)
        res = prog.evaluate(inputs, grades=False)
        return np.asarray(res.base_pay if key == "base_pay" else res.values[key], dtype=float)[:, 0]

    f1, f2 = at(1.0), at(2.0)
    return f2 - f1, 2.0 * f1 - f2


def reference_actuals(levels, targets: Mapping[str, object], others: Mapping[str, Choice]) -> dict[str, np.ndarray]:
    """The reference rep's actuals at each attainment level: every linked column at the level
    times its target (``targets``: column -> a number or an ``(n, 1, 1)`` array), the others as
    :func:`reference_profile` chose them. Arrays are ``(levels, 1, 1)``."""
    n = len(levels)
    lv = np.asarray(levels, dtype=float).reshape(n, 1, 1)
    actuals = {col: lv * np.asarray(target, dtype=float) for col, target in targets.items()}
    for col, choice in others.items():
        if choice[0] == "same":
            actuals[col] = actuals[choice[1]].copy()
        elif choice[0] == "number":
            actuals[col] = np.full((n, 1, 1), float(choice[1]))
        else:
            actuals[col] = np.zeros((n, 1, 1))
    return actuals


def reference_attributes(checked: CheckedPlan, prefix: str = "actuals") -> dict[str, str]:
    """The reference rep's text attributes: for each ``actuals`` (or ``roster``) column the
    plan uses as text, the first value :func:`reference_values` finds."""
    texts = checked.text_actual_columns if prefix == "actuals" else checked.text_roster_columns
    return {col: reference_values(checked, col, prefix)[0] for col in texts}


REFERENCE_TENURE = 24.0
"""The reference rep's ``tenure_months``: a settled rep, past any ramp."""


def reference_inputs(roster_vals: Mapping[str, object], actuals: dict[str, np.ndarray], n: int,
                     checked: CheckedPlan | None = None) -> Inputs:
    """``n`` copies of the reference rep (one per attainment level) over :data:`REFERENCE_PERIOD`,
    in the role all year. With ``checked``, its text attributes are
    :func:`reference_attributes` and its tenure :data:`REFERENCE_TENURE`."""
    roster = {k: np.full((n, 1), v, dtype=object if isinstance(v, str) else np.float64)
              for k, v in roster_vals.items()}
    tenure = None
    rows = None
    if checked is not None:
        actuals = dict(actuals)
        for col, value in reference_attributes(checked).items():
            actuals[col] = np.full((n, 1, 1), value, dtype=object)
        tenure = np.full((n, 1, 1), REFERENCE_TENURE) if checked.uses_tenure else None
        rows = reference_rows(checked, actuals, n)
    return Inputs(rep_ids=np.array(["reference"] * n, dtype=object) if rows is not None else
                  np.array(["reference"], dtype=object), periods=(REFERENCE_PERIOD,), roster=roster,
                  actuals=actuals, active=np.ones((n, 1, 1), dtype=bool), proration=np.ones((n, 1, 1)),
                  tenure=tenure, rows=rows)


def _plan_year(checked: CheckedPlan) -> tuple[PeriodInfo, ...]:
    """The periods of the reference rep's plan year (fiscal 2027) under the plan's period."""
    fys = checked.plan.fiscal_year_start
    out: list[PeriodInfo] = []
    for i in range(12):
        month = dt.date(2027 + (fys - 1 + i) // 12, (fys - 1 + i) % 12 + 1, 1)
        p = period_for_date(month, checked.plan.period, fys)
        if not out or out[-1].label != p.label:
            out.append(p)
    return tuple(out)


def year_end_inputs(roster_vals: Mapping[str, object], actuals: dict[str, np.ndarray], n: int,
                    checked: CheckedPlan) -> Inputs | None:
    """The reference rep over a whole plan year, every period alike (``actuals`` as
    :func:`reference_inputs` takes them, one period's worth): for a year-to-date plan
    (``accumulate: year``) of several periods, whose last period is the year's earnings, so a
    component judged against the year's totals (a rate on sales beyond the annual quota) can
    be read. None for any other plan, and for a plan whose measures read text attributes (its
    reference period is made of transaction rows)."""
    periods = _plan_year(checked)
    if checked.plan.accumulate != "year" or len(periods) < 2 or checked.text_actual_columns:
        return None
    P = len(periods)
    roster = {k: np.full((n, 1), v, dtype=object if isinstance(v, str) else np.float64)
              for k, v in roster_vals.items()}
    tiled = {col: np.repeat(np.broadcast_to(np.asarray(a, dtype=float), (n, 1, 1)), P, axis=-1)
             for col, a in actuals.items()}
    tenure = np.full((n, 1, P), REFERENCE_TENURE) if checked.uses_tenure else None
    return Inputs(rep_ids=np.array(["reference"], dtype=object), periods=periods, roster=roster, actuals=tiled,
                  active=np.ones((n, 1, P), dtype=bool), proration=np.ones((n, 1, P)), tenure=tenure)


MAX_REFERENCE_ROWS = 16
"""At most this many transaction rows make up the reference rep's period."""


def reference_values(checked: CheckedPlan, col: str, prefix: str = "actuals") -> list[str]:
    """Every text the plan compares column ``col`` (of the ``actuals`` or the ``roster``) with,
    and the keys of the tables it is looked up in, in the order the plan names them (``[""]``
    when it names none)."""
    out: list[str] = []
    tables = {t.name: [k for k, _ in t.values] for t in checked.plan.tables}
    for code in checked.plan.codes():
        for node in ex.walk(code.tree):
            found: list[str] = []
            if isinstance(node, ex.Compare) and node.op in ("==", "!="):
                for a, b in ((node.left, node.right), (node.right, node.left)):
                    if isinstance(a, ex.Name) and a.prefix == prefix and a.name == col and isinstance(b, ex.Str):
                        found.append(b.value)
            elif isinstance(node, ex.In) and isinstance(node.left, ex.Name) and node.left.prefix == prefix and \
                    node.left.name == col:
                found += [str(i.value) for i in node.items]
            elif isinstance(node, ex.Call) and node.func in ("lookup", "has") and len(node.args) >= 2 and \
                    isinstance(node.args[1], ex.Name) and node.args[1].prefix == prefix and \
                    node.args[1].name == col and isinstance(node.args[0], ex.Name):
                found += tables.get(node.args[0].name, [])
            out += [v for v in found if v not in out]
    return out or [""]


def reference_rows(checked: CheckedPlan, actuals: Mapping[str, np.ndarray], n: int) -> Rows | None:
    """The reference rep's period as transaction rows, for a plan whose row-level measures
    read text attributes: one row per combination of the attribute values the plan names
    (at most :data:`MAX_REFERENCE_ROWS`), each with an equal share of every amount, so that
    a commission on existing customers is paid on their share instead of never. None when
    the plan reads no text attribute."""
    texts = sorted(checked.text_actual_columns)
    if not texts:
        return None
    import itertools

    choices = [reference_values(checked, c) for c in texts]
    combos = list(itertools.islice(itertools.product(*choices), MAX_REFERENCE_ROWS))
    k = len(combos)
    rep = np.repeat(np.arange(n), k)
    columns: dict[str, np.ndarray] = {}
    for j, c in enumerate(texts):
        columns[c] = np.array([combo[j] for combo in combos] * n, dtype=object)
    for c in checked.numeric_actual_columns:
        per_rep = np.asarray(actuals.get(c, np.zeros((n, 1, 1))), dtype=np.float64).reshape(-1)[:n]
        columns[c] = np.repeat(per_rep / k, k)
    return Rows(rep=rep, period=np.zeros(n * k, dtype=np.int64), columns=columns, split=np.ones(n * k),
                date=np.full(n * k, REFERENCE_PERIOD.start.toordinal(), dtype=np.int64),
                file_row=np.arange(n * k, dtype=np.int64) + 2)
