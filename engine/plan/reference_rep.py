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

from engine.core.inputs import Inputs, PeriodInfo
from engine.plan import expr as ex
from engine.plan.kinds import kind_of
from engine.plan.model import Code
from engine.plan.validate import CheckedPlan

__all__ = ["REFERENCE_PERIOD", "Choice", "Dependencies", "reference_actuals", "reference_inputs",
           "reference_profile", "roster_values"]

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
    others: dict[str, Choice] = {}
    for col in sorted(checked.actual_columns):
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


def roster_values(checked: CheckedPlan, roster: pd.DataFrame | None) -> dict[str, object]:
    """The reference rep's roster values: each roster column's median (numbers) or most
    common value (text) in ``roster``, or a documented default by the column's name."""
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


def reference_inputs(roster_vals: Mapping[str, object], actuals: dict[str, np.ndarray], n: int) -> Inputs:
    """``n`` copies of the reference rep (one per attainment level) over :data:`REFERENCE_PERIOD`,
    in the role all year."""
    roster = {k: np.full((n, 1), v, dtype=object if isinstance(v, str) else np.float64)
              for k, v in roster_vals.items()}
    return Inputs(rep_ids=np.array(["reference"], dtype=object), periods=(REFERENCE_PERIOD,), roster=roster,
                  actuals=actuals, active=np.ones((n, 1, 1), dtype=bool), proration=np.ones((n, 1, 1)))
