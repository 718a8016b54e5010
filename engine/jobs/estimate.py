"""What reaching a threshold would pay: the statement pack's estimator.

For each threshold a rep has not reached in a period (a step's ``at``, a curve's or a
scorecard payout's points, a rate tier's ``upto``, a grade band's ``min``), the amount of the
plan's *primary* actuals column (the one measured against a target, as the alerts find it
with :func:`engine.plan.reference_rep.reference_profile`) that reaches it, and what the rep
would then be paid. The plan is re-evaluated with the rep's primary actuals in the period set
to an amount (transactions scaled in proportion, so their mix is kept), every rep at once
but each deviating alone (``evaluate(..., reference=...)``: cross-rep terms such as ranks see
the others' real values). The amount is found by bisection on whole minor units, so it is
the smallest that reaches the threshold for any plan whose threshold input does not fall as
the amount rises; a threshold out of reach (beyond 4096 times the current amount, or never
reached) is left out. A rep with transactions but none in the period has nothing to scale
and gets no estimate.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from engine.core.inputs import Inputs
from engine.plan import expr as ex
from engine.plan.kinds import kind_of
from engine.plan.reference_rep import Dependencies, reference_profile
from engine.plan.validate import CheckedPlan, Ref

__all__ = ["MAX_ESTIMATES", "Estimate", "estimates", "is_ratio", "primary_pair"]

#: At most this many thresholds in a rep's estimator (the nearest first).
MAX_ESTIMATES = 5


@dataclass(frozen=True)
class Estimate:
    """What reaching one threshold not reached yet would pay this period.

    Attributes:
        component: the component's name (``grade`` for a grade band).
        label: the component's label (or name); the grade for a band.
        what: ``step``, ``curve``, ``tier``, ``payout`` (a scorecard's) or ``grade``.
        quantity: the expression the threshold is on (``attainment``, ``kpi.score``).
        level: the threshold's value for this rep (a ratio where ``ratio``).
        ratio: the level reads as a percentage.
        column: the primary actuals column that is raised.
        current, needed: its amount now and the amount that reaches the threshold.
        attainment: the primary attainment at ``needed`` (NaN without a target; year to date
            with ``accumulate: year``).
        pay_now, pay_then: the incentive of the period now and then (rounded).
        grade_then: the grade then (None without grades).
    """

    component: str
    label: str
    what: str
    quantity: str
    level: float
    ratio: bool
    column: str
    current: float
    needed: float
    attainment: float
    pay_now: float
    pay_then: float
    grade_then: str | None

    @property
    def extra(self) -> float:
        return self.needed - self.current

    @property
    def more_pay(self) -> float:
        return self.pay_then - self.pay_now



def primary_pair(checked: CheckedPlan) -> tuple[str, str] | None:
    """``(actuals column, target name)`` measured against each other, read by the first
    component that reads such a pair (as the alerts choose it)."""
    linked, _ = reference_profile(checked)
    if not linked:
        return None
    deps = Dependencies(checked)
    for c in checked.plan.components:
        for code in kind_of(c.kind).inputs(c):
            a, t = deps.of(code.tree)
            hit = next((col for col in sorted(a) if col in linked and linked[col] in t), None)
            if hit is not None:
                return hit, linked[hit]
    col = next(iter(linked))
    return col, linked[col]


def is_ratio(checked: CheckedPlan, tree: ex.Expr, seen: frozenset[str] = frozenset()) -> bool:
    """A ratio: a division or ``safe_div`` at the top, or a measure that is one."""
    if isinstance(tree, ex.Binary):
        return tree.op == "/"
    if isinstance(tree, ex.Call):
        return tree.func == "safe_div"
    if isinstance(tree, ex.Name):
        ref = checked.ref(tree)
        if ref.kind == "measure" and ref.name not in seen:
            m = next(m for m in checked.plan.measures if m.name == ref.name)
            return is_ratio(checked, m.code.tree, seen | {ref.name})
    return False


class _Vector:
    """Evaluates simple period-level expressions (names of measures, targets, parameters and
    scores, arithmetic, min/max/abs/clip/safe_div) on a result's arrays, for every rep at
    once; None for anything else."""

    def __init__(self, checked: CheckedPlan):
        self.checked = checked
        self.params = dict(checked.plan.parameter_values)

    def __call__(self, tree: ex.Expr, result) -> np.ndarray | None:
        try:
            out = self._eval(tree, result)
        except (KeyError, _Unsupported):
            return None
        return np.asarray(out, dtype=np.float64)

    def _eval(self, node: ex.Expr, res):
        if isinstance(node, ex.Num):
            return node.value
        if isinstance(node, ex.Name):
            ref: Ref = self.checked.ref(node)
            if ref.kind == "measure":
                return res.values[ref.name]
            if ref.kind == "target":
                return res.values[f"targets.{ref.name}"]
            if ref.kind == "ti":
                return res.values["target_incentive"]
            if ref.kind == "param":
                return self.params[ref.name]
            if ref.kind == "score":
                return res.scores[ref.name]
            raise _Unsupported
        if isinstance(node, ex.Unary):
            return -self._eval(node.operand, res)
        if isinstance(node, ex.Binary) and node.op in ("+", "-", "*", "/"):
            a, b = self._eval(node.left, res), self._eval(node.right, res)
            with np.errstate(all="ignore"):
                return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[node.op](a, b)
        if isinstance(node, ex.Call) and node.func in ("min", "max", "abs", "clip", "safe_div"):
            args = [self._eval(a, res) for a in node.args]
            if node.func == "min":
                return np.minimum(*args)
            if node.func == "max":
                return np.maximum(*args)
            if node.func == "abs":
                return np.abs(args[0])
            if node.func == "clip":
                return np.clip(args[0], args[1], args[2])
            with np.errstate(all="ignore"):
                return np.where(np.asarray(args[1]) != 0, np.divide(args[0], args[1]), args[2])
        raise _Unsupported


class _Unsupported(Exception):
    pass


@dataclass(frozen=True)
class _Gauge:
    component: str
    label: str
    what: str
    quantity: ex.Expr | str  # an expression, or "score:NAME"
    quantity_text: str
    level: ex.Expr
    ratio: bool
    grade: str | None = None


def _gauges(checked: CheckedPlan) -> list[_Gauge]:
    """Every threshold the plan names, with the expression it is compared with."""
    plan = checked.plan
    out: list[_Gauge] = []
    for c in plan.components:
        label = c.label or c.name
        for what, code, level in kind_of(c.kind).thresholds(c):  # each kind says what can be reached
            if code is None:  # the component's own score
                out.append(_Gauge(c.name, label, what, f"score:{c.name}", f"{c.name}.score", level.tree, False))
            else:
                ratio = what in ("step", "curve") and is_ratio(checked, code.tree)
                out.append(_Gauge(c.name, label, what, code.tree, code.text, level.tree, ratio))
    if plan.grades is not None:
        g = plan.grades
        ratio = is_ratio(checked, g.input.tree)
        out += [_Gauge("grade", b.grade, "grade", g.input.tree, g.input.text, b.min.tree, ratio, grade=b.grade)
                for b in g.bands if b.min is not None]
    return out


class _Estimator:
    """Re-evaluates the plan with each rep's primary actuals in one period set to an amount
    (every rep at once: each deviates alone, cross-rep terms see the others' real values)."""

    def __init__(self, checked: CheckedPlan, inputs: Inputs, program, record: dict, p: int, column: str,
                 hint: np.ndarray):
        self.checked, self.inputs, self.program, self.record = checked, inputs, program, record
        self.hint = hint  # where to start looking for a rep with no actuals yet (the target)
        self.p, self.column = p, column
        self.current = np.asarray(inputs.actuals[column], dtype=np.float64)[:, p].copy()
        self.vector = _Vector(checked)
        self.evaluations = 0

    def evaluate(self, amount: np.ndarray):
        """The payout arrays with each rep's primary actuals in period ``p`` at ``amount``
        (NaN: as they are)."""
        inputs, p, col = self.inputs, self.p, self.column
        change = np.isfinite(amount)
        actuals = dict(inputs.actuals)
        arr = np.array(actuals[col], dtype=np.float64)
        arr[change, p] = amount[change]
        actuals[col] = arr
        rows = inputs.rows
        if rows is not None and col in rows.columns:
            factor = np.ones(len(self.current))
            with np.errstate(all="ignore"):
                factor[change] = np.where(self.current[change] != 0, amount[change] / self.current[change], 1.0)
            values = np.array(rows.columns[col], dtype=np.float64)
            sel = rows.period == p
            values[sel] *= factor[rows.rep[sel]]
            rows = dataclasses.replace(rows, columns={**rows.columns, col: values})
        changed = dataclasses.replace(inputs, actuals=actuals, rows=rows)
        self.evaluations += 1
        return self.program.evaluate(changed, reference=self.record)

    def gap(self, gauge: _Gauge, result) -> np.ndarray | None:
        """``quantity - level`` per rep in period ``p`` (>= 0: reached)."""
        if isinstance(gauge.quantity, str):
            q = np.asarray(result.scores[gauge.quantity.split(":", 1)[1]], dtype=np.float64)
        else:
            got = self.vector(gauge.quantity, result)
            if got is None:
                return None
            q = got
        level = self.vector(gauge.level, result)
        if level is None:
            return None
        shape = self.inputs.shape
        return (np.broadcast_to(q, shape) - np.broadcast_to(level, shape))[:, self.p]

    def solve(self, gauge: _Gauge, pending: np.ndarray, unit: float) -> np.ndarray:
        """The smallest amount (to ``unit``) reaching the gauge per pending rep; NaN where it
        is out of reach (within 4096 times the current amount or the target)."""
        R = len(self.current)
        nan = np.full(R, np.nan)
        # Bisection on whole minor units: lo never reaches the gauge, hi always does.
        lo = np.floor(np.round(np.maximum(self.current, 0.0) / unit, 6))
        hi = np.where(self.current > 0, np.ceil(self.current * 2 / unit), np.ceil(np.maximum(self.hint, 1.0) / unit))
        todo = pending.copy()
        reached = np.zeros(R, dtype=bool)
        for _ in range(13):
            if not todo.any():
                break
            g = self.gap(gauge, self.evaluate(np.where(todo, hi * unit, nan)))
            if g is None:
                return nan
            ok = todo & (g >= 0)
            reached |= ok
            todo &= ~ok
            lo = np.where(todo, hi, lo)
            hi = np.where(todo, hi * 2, hi)
        live = pending & reached
        for _ in range(80):
            step = np.where(live, hi - lo, 0.0)
            if not (step > 1).any():
                break
            mid = np.floor((lo + hi) / 2)
            g = self.gap(gauge, self.evaluate(np.where(live & (step > 1), mid * unit, nan)))
            assert g is not None
            ok = g >= 0
            move = live & (step > 1)
            hi = np.where(move & ok, mid, hi)
            lo = np.where(move & ~ok, mid, lo)
        return np.where(live, hi * unit, np.nan)


def estimates(checked: CheckedPlan, inputs: Inputs, program, record: dict, base, p: int,
               primary: tuple[str, str] | None, targets: np.ndarray | None) -> dict[int, list[Estimate]]:
    """Per rep position, the thresholds not reached in period ``p`` and what reaching them pays."""
    from engine.data.statements import round_half_away

    out: dict[int, list[Estimate]] = {}
    if primary is None:
        return out
    plan = checked.plan
    col = primary[0]
    hint = np.nan_to_num(targets[:, p]) if targets is not None else np.zeros(inputs.shape[0])
    est = _Estimator(checked, inputs, program, record, p, col, hint)
    unit = 10.0 ** -plan.minor_unit
    active = np.asarray(inputs.active, dtype=bool)[:, p]
    candidates = active.copy()
    if inputs.rows is not None:
        candidates &= est.current > 0  # transactions are scaled: there must be some
    # Attainment where the amount is reached: of the period, or of the year to date with
    # ``accumulate: year`` (the amounts of the earlier periods of the plan year added).
    before, goal = np.zeros(inputs.shape[0]), np.zeros(inputs.shape[0])
    if targets is not None:
        fiscal = inputs.fiscal_years
        year = [q for q in range(p + 1) if fiscal[q] == fiscal[p]] if plan.accumulate == "year" else [p]
        act = np.where(inputs.active, np.asarray(inputs.actuals[col], dtype=np.float64), 0.0)
        before = act[:, [q for q in year if q != p]].sum(axis=1)
        goal = np.nan_to_num(np.where(inputs.active, targets, 0.0)[:, year].sum(axis=1))
    pay_now = round_half_away(np.asarray(base.total, dtype=np.float64)[:, p] * 10 ** plan.minor_unit) / 10 ** plan.minor_unit
    for gauge in _gauges(checked):
        gap0 = est.gap(gauge, base)
        if gap0 is None:
            continue
        pending = candidates & np.isfinite(gap0) & (gap0 < 0)
        if not pending.any():
            continue
        needed = est.solve(gauge, pending, unit)
        live = np.isfinite(needed)
        if not live.any():
            continue
        res = est.evaluate(needed)
        gap1 = est.gap(gauge, res)
        level = est.vector(gauge.level, res)
        assert gap1 is not None and level is not None
        level_p = np.broadcast_to(level, inputs.shape)[:, p]
        pay_then = (round_half_away(np.asarray(res.total, dtype=np.float64)[:, p] * 10 ** plan.minor_unit)
                    / 10 ** plan.minor_unit)
        grades = None if res.grades is None else np.asarray(res.grades, dtype=object)[:, p]
        for i in np.nonzero(live & (gap1 >= 0))[0]:
            r = int(i)
            att = (before[r] + needed[r]) / goal[r] if goal[r] > 0 else math.nan
            out.setdefault(r, []).append(Estimate(
                component=gauge.component, label=gauge.label, what=gauge.what, quantity=gauge.quantity_text,
                level=float(level_p[r]), ratio=gauge.ratio, column=col, current=float(est.current[r]),
                needed=float(needed[r]), attainment=float(att), pay_now=float(pay_now[r]),
                pay_then=float(pay_then[r]), grade_then=None if grades is None else str(grades[r])))
    for rep, items in out.items():
        items.sort(key=lambda e: (e.needed, e.what == "grade"))
        kept: list[Estimate] = []
        for e in items:
            if e.what == "grade":
                if any(abs(k.needed - e.needed) < unit / 2 for k in kept):
                    continue  # the component's row already shows the grade reached
            elif e.more_pay <= 0:
                continue  # a kink that pays nothing more (a flat stretch, a capped tier)
            kept.append(e)
        out[rep] = kept[:MAX_ESTIMATES]
    return out
