"""The reference evaluator: one rep, one period, one number at a time, in plain Python.

This is the obviously-correct path. It walks the expression tree for each rep and period
with Python floats, implements every construct the way the language specification reads,
and shares no evaluation code with :mod:`engine.plan.compile` (only the validated plan and
the scalar implementations of the element-wise built-ins). Differential tests require the
two to agree; ``incentive explain`` uses this evaluator to narrate a statement step by step.

It is slow by design (about a thousand times slower than the compiled path).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from engine.core.errors import DataError, DataErrors, EvaluationError, Span
from engine.core.inputs import Inputs
from engine.plan import expr as ex
from engine.plan.compile import PayoutArrays
from engine.plan.functions import FUNCTIONS, OPERATORS
from engine.plan.kinds import kind_of
from engine.plan.model import Code, Component, Curve
from engine.plan.validate import CheckedPlan, Ref, const_value, with_parameters

__all__ = ["ReferenceEvaluator", "Trace", "curve_scalar", "number_text"]

Trace = list | None


class _Located(Protocol):
    """What an error about a named value quotes: the expression's text and where it is."""

    @property
    def text(self) -> str: ...

    @property
    def span(self) -> Span: ...


def curve_scalar(x: float, points: list[tuple[float, float]], interpolate: str, beyond: str,
                 trace: Trace = None, indent: str = "") -> float:
    """A curve at one input, as the specification reads (0 below the first point)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    n = len(points)
    if x < xs[0]:
        _note(trace, f"{indent}{_num(x)} is below the first point x={_num(xs[0])}: pays 0")
        return 0.0
    if interpolate == "step":
        i = max(j for j in range(n) if xs[j] <= x)
        _note(trace, f"{indent}step curve: last point reached is x={_num(xs[i])} -> y={_num(ys[i])}")
        return ys[i]
    if x >= xs[-1]:
        if beyond == "extend" and n >= 2 and x > xs[-1]:
            slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            y = ys[-1] + slope * (x - xs[-1])
            _note(trace, f"{indent}beyond the last point x={_num(xs[-1])}: extend the last slope "
                  f"{_num(slope)}: {_num(ys[-1])} + {_num(slope)} x ({_num(x)} - {_num(xs[-1])}) = {_num(y)}")
            return y
        how = "at" if x == xs[-1] else "beyond (flat)"
        _note(trace, f"{indent}{how} the last point x={_num(xs[-1])}: y={_num(ys[-1])}")
        return ys[-1]
    i = max(j for j in range(n) if xs[j] <= x)
    x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
    y = y0 + (y1 - y0) / (x1 - x0) * (x - x0)
    _note(trace, f"{indent}segment [{_num(x0)}, {_num(x1)}] -> [{_num(y0)}, {_num(y1)}]: "
          f"{_num(y0)} + ({_num(y1)} - {_num(y0)}) x ({_num(x)} - {_num(x0)}) / ({_num(x1)} - {_num(x0)}) = {_num(y)}")
    return y


def _note(trace: Trace, line: str) -> None:
    if trace is not None:
        trace.append(line)


def number_text(v) -> str:
    """A number as explanations show it (thousands separators, no trailing zeros)."""
    return _num(v)


def _num(v) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v == int(v) and abs(v) < 1e15 if math.isfinite(v) else False:
        return f"{int(v):,}"
    return f"{v:,.6g}" if abs(v) < 1e-3 or abs(v) >= 1e9 else f"{v:,.6f}".rstrip("0").rstrip(".")


class ReferenceEvaluator:
    """Scalar evaluation of a checked plan on :class:`Inputs` (2-D arrays only)."""

    def __init__(self, checked: CheckedPlan, inputs: Inputs, params: dict[str, float] | None = None):
        if params:
            checked = with_parameters(checked, params)
        self.checked = checked
        self.plan = checked.plan
        self.inputs = inputs
        self.params = dict(self.plan.parameter_values)
        self.R, self.P = inputs.active.shape
        self.active = inputs.active.tolist()
        self.proration = inputs.proration.tolist()
        self.years = [p.fiscal_year for p in inputs.periods]
        self.follows = inputs.follows_previous.tolist()
        self.actuals = {k: (np.asarray(v).tolist() if np.asarray(v).dtype == object else
                            np.asarray(v, dtype=float).tolist()) for k, v in inputs.actuals.items()}
        self.counts = {k: np.asarray(v, dtype=float).tolist() for k, v in inputs.counts.items()}
        self.roster = {k: np.asarray(v).tolist() for k, v in inputs.roster.items()}
        self.memo: dict = {}
        self.earned: dict[tuple[str, int, int], float] = {}
        self.score_memo: dict[tuple[str, int, int], float] = {}
        self.defs: dict[Ref, Code] = {Ref("measure", m.name): m.code for m in self.plan.measures}
        self.defs.update({Ref("target", t.name): t.code for t in self.plan.targets})
        self.defs[Ref("ti")] = self.plan.target_incentive
        if self.plan.base_pay is not None:
            self.defs[Ref("base_pay")] = self.plan.base_pay
        self.roster_at = {k: np.asarray(v).tolist() for k, v in inputs.roster_at.items()}
        self.layers = [({k: np.asarray(v).tolist() for k, v in layer.roster.items()}, layer.proration.tolist())
                       for layer in inputs.layers]
        self.row_measures = dict(checked.row_measures)
        self.row_counts = None if inputs.row_counts is None else np.asarray(inputs.row_counts).tolist()
        self.tenure_arr = None if inputs.tenure is None else np.asarray(inputs.tenure).tolist()
        self.offsets = inputs.month_offsets().tolist()
        self.tables = {t.name: ({k: self.const(c) for k, c in t.values},
                                None if t.default is None else self.const(t.default)) for t in self.plan.tables}
        self.rows = inputs.rows
        self.missed: dict[tuple[str, int | None], DataErrors] = {}  # lookups that missed, by row or rep
        self.cell_rows: dict[tuple[int, int], list[int]] = {}
        if self.rows is not None:
            rows = self.rows
            for i in rows.order().tolist():  # placing date, then file order
                if rows.period[i] >= 0:
                    self.cell_rows.setdefault((int(rows.rep[i]), int(rows.period[i])), []).append(i)
            self.row_cols = {k: np.asarray(v).tolist() for k, v in rows.columns.items()}
        self.code_of: dict[int, Code] = {}
        self._index_codes()
        self.def_deps: dict[Ref, tuple[Ref, ...]] = {
            ref: tuple(dict.fromkeys(
                dep for node in ex.walk(code.tree) if isinstance(node, ex.Name)
                for dep in [checked.ref(node)] if dep in self.defs and dep != ref))
            for ref, code in self.defs.items()
        }
        self._check_columns()

    def _index_codes(self) -> None:
        """Which plan expression each syntax node belongs to (for errors about a subexpression)."""
        codes = self.plan.codes()
        for code in codes:
            for node in ex.walk(code.tree):
                self.code_of[id(node)] = code

    def checked_arg(self, call: ex.Call, mode: str, o: int, p: int) -> float:
        """The first argument of rank()/group_*() for rep o: checked finite like a named value."""
        arg = call.args[0]
        v = self.eval(arg, mode, o, p)
        code = self.code_of[id(call)]

        class _Piece:
            text = code.text[arg.start:arg.end]
            span = code.span_of(arg.start, arg.end)

        return self.finite(v, o, p, _Piece, f"'{_Piece.text}'")

    def _check_columns(self) -> None:
        errors = []
        for col in sorted(self.checked.roster_columns):
            if col not in self.roster:
                errors.append(DataError("missing-column", f"the plan uses roster.{col} but the roster has no "
                                        f"column '{col}'", column=col))
        for col in sorted(self.checked.actual_columns):
            if col not in self.actuals and not (self.inputs.rows is not None and col in self.inputs.rows.columns):
                errors.append(DataError("missing-column", f"the plan uses actuals.{col} but the actuals have no "
                                        f"column '{col}'", column=col))
        if errors:
            raise DataErrors(errors)

    # -- values ------------------------------------------------------------------------

    def const(self, code: Code) -> float:
        return float(const_value(code.tree, self.params, self.checked.refs))

    def same_year(self, p: int) -> list[int]:
        """Periods of the plan year of ``p`` up to and including ``p``."""
        return [q for q in range(p + 1) if self.years[q] == self.years[p]]

    def actual(self, col: str, mode: str, r: int, p: int) -> float:
        if mode.startswith("raw") or self.plan.accumulate != "year":
            return self.actuals[col][r][p]
        agg = self.checked.actual_columns.get(col, "sum")
        qs = self.same_year(p)
        vals = [self.actuals[col][r][q] for q in qs]
        if agg == "sum":
            total = 0.0
            for v in vals:
                total += v
            return total
        act = [q for q in qs if self.active[r][q] and (col not in self.counts or self.counts[col][r][q] > 0)]
        if agg == "mean":
            if col in self.counts:
                w = [self.counts[col][r][q] for q in qs]
            else:
                w = [1.0 if self.active[r][q] else 0.0 for q in qs]
            den = sum(w)
            return sum(v * wi for v, wi in zip(vals, w)) / den if den > 0 else 0.0
        if not act:
            return 0.0
        seen = [self.actuals[col][r][q] for q in act]
        if agg == "last":
            return seen[-1]
        return min(seen) if agg == "min" else max(seen)

    def value(self, ref: Ref, mode: str, r: int, p: int):
        kind = ref.kind
        if kind == "param":
            return self.params[ref.name]
        if kind == "roster":
            if mode.startswith("raw#"):  # one row rank of an effective-dated roster
                return self.layers[int(mode[4:])][0][ref.name][r]
            if ref.name in self.roster_at:
                return self.roster_at[ref.name][r][p]
            return self.roster[ref.name][r]
        if kind == "actual":
            return self.actual(ref.name, mode, r, p)
        if kind == "tenure":
            if self.tenure_arr is not None:
                return self.tenure_arr[r][p]
            return float(self.roster["tenure_months"][r]) + self.offsets[p]
        if kind == "share":
            return self.proration[r][p]
        if kind == "measure" and ref.name in self.row_measures:
            key = (ref, "final" if mode == "final" else "raw", r, p)
            if key not in self.memo:
                self.memo[key] = self.row_value(ref.name, mode, r, p)
            return self.memo[key]
        if kind == "component":
            return self.component_earned(ref.name, r, p)
        if kind == "score":
            self.component_earned(ref.name, r, p)
            return self.score_memo[(ref.name, r, p)]
        key = (ref, mode, r, p)
        if key in self.memo:
            return self.memo[key]
        self._settle_deps(ref, mode, r, p)
        code = self.defs[ref]
        if kind == "measure":
            v = self.finite(self.eval(code.tree, mode, r, p), r, p, code, _describe(ref))
        elif mode.startswith("raw"):
            v = self.eval(code.tree, mode, r, p)
        else:
            qs = self.same_year(p) if self.plan.accumulate == "year" and kind != "base_pay" else [p]
            v = 0.0
            for q in qs:
                v += self.prorated(ref, r, q)
            v = self.finite(v, r, p, code, _describe(ref))
        self.memo[key] = v
        return v

    def prorated(self, ref: Ref, r: int, q: int) -> float:
        """A target's (target_incentive's, base_pay's) value for the active days of period
        ``q``: with an effective-dated roster, each row's value for the days it is in effect."""
        if not self.layers:
            return self.value(ref, "raw", r, q) * self.proration[r][q]
        v = 0.0
        for k, (_, share) in enumerate(self.layers):
            if share[r][q] > 0:
                v += self.value(ref, f"raw#{k}", r, q) * share[r][q]
        return v

    def row_value(self, name: str, mode: str, r: int, p: int) -> float:
        """A row-level measure for one rep and period (year-to-date in the final view with
        ``accumulate: year``), as the specification reads: each row evaluated on its own
        values, sum rows times their split, gathered with the measure's aggregate."""
        agg = self.row_measures[name]
        if mode == "final" and self.plan.accumulate == "year":
            qs = self.same_year(p)
            vals = [self.row_value(name, "raw", r, q) for q in qs]
            counts = [self.cell_count(r, q) for q in qs]
            if agg in ("sum", "count"):
                total = 0.0
                for v in vals:
                    total += v
                return total
            if agg == "mean":
                den = sum(counts)
                return sum(v * c for v, c in zip(vals, counts)) / den if den > 0 else 0.0
            seen = [v for v, c, q in zip(vals, counts, qs) if c > 0 and self.active[r][q]]
            if not seen:
                return 0.0
            return seen[-1] if agg == "last" else (min(seen) if agg == "min" else max(seen))
        code = self.defs[Ref("measure", name)]
        if self.rows is None:
            n = self.cell_count(r, p)
            if agg == "count":
                return float(n)
            if n <= 0:
                return 0.0
            return self.finite(float(self.eval(code.tree, "raw", r, p)), r, p, code, f"measure '{name}'")
        rows = self.cell_rows.get((r, p), [])
        if agg == "count":
            return float(len(rows))
        values = []
        for i in rows:
            v = float(self.row_eval(code.tree, i))
            if not math.isfinite(v):
                if ("row", i) in self.missed:
                    raise self.missed[("row", i)]
                raise EvaluationError(
                    "non-finite", f"row-level measure '{name}' is {v} (not a finite number) on row "
                    f"{int(self.rows.file_row[i])} of the actuals",
                    rep=str(self.inputs.rep_ids[r]), period=self.inputs.periods[p].label, expression=code.text,
                    span=code.span)
            values.append(v * float(self.rows.split[i]) if agg == "sum" else v)
        if not values:
            return 0.0
        if agg in ("sum", "mean"):
            total = 0.0
            for v in values:
                total += v
            return total if agg == "sum" else total / len(values)
        if agg == "last":
            return values[-1]
        return min(values) if agg == "min" else max(values)

    def cell_count(self, r: int, p: int) -> float:
        """Rows in one cell: transactions placed there, a per-period row, or 1 where the
        inputs say nothing and the rep is active."""
        if self.rows is not None:
            return float(len(self.cell_rows.get((r, p), [])))
        if self.row_counts is not None:
            return self.row_counts[r][p]
        return 1.0 if self.active[r][p] else 0.0

    def row_eval(self, node: ex.Expr, i: int):
        """One expression of a row-level measure on transaction row ``i``."""
        rows = self.rows
        assert rows is not None
        if isinstance(node, (ex.Num, ex.Str)):
            return node.value
        if isinstance(node, ex.Name):
            ref = self.checked.ref(node)
            r, p = int(rows.rep[i]), int(rows.period[i])
            if ref.kind == "param":
                return self.params[ref.name]
            if ref.kind == "actual":
                return self.row_cols[ref.name][i]
            if ref.kind == "roster":
                if ref.name in self.roster_at and p >= 0:
                    return self.roster_at[ref.name][r][p]
                return self.roster[ref.name][r]
            if ref.kind == "tenure":
                return self.value(ref, "raw", r, max(p, 0))
            raise AssertionError(ref)
        if isinstance(node, ex.Unary):
            return -self.row_eval(node.operand, i)
        if isinstance(node, ex.Not):
            return not self.row_eval(node.operand, i)
        if isinstance(node, (ex.BoolOp, ex.Binary, ex.Compare)):
            return OPERATORS[node.op].scalar(self.row_eval(node.left, i), self.row_eval(node.right, i))
        if isinstance(node, ex.In):
            x = self.row_eval(node.left, i)
            hit = any(x == item.value for item in node.items)
            return not hit if node.negate else hit
        if isinstance(node, ex.Call):
            if node.func in ("lookup", "has"):
                key = self.row_eval(node.args[1], i)
                default = self.row_eval(node.args[2], i) if len(node.args) > 2 else None
                return self.table_value(node, key, default, row=i)
            if node.func == "where":
                c = self.row_eval(node.args[0], i)
                a = self.row_eval(node.args[1], i)
                b = self.row_eval(node.args[2], i)
                return a if c else b
            fn = FUNCTIONS[node.func].scalar
            assert fn is not None  # validation admits only element-wise functions in a row
            return fn(*[self.row_eval(a, i) for a in node.args])
        raise AssertionError(node)

    def table_value(self, node: ex.Call, key, default, row: int | None = None, r: int = 0):
        """``lookup``/``has`` of one key."""
        from engine.plan.parse import table_key

        name = node.args[0].name  # type: ignore[union-attr]
        values, table_default = self.tables[name]
        k = table_key(key)
        if node.func == "has":
            return k in values
        if k in values:
            return values[k]
        d = table_default if default is None else default
        if d is None:  # NaN: an error where the value is used (not in where()'s other branch)
            file_row = int(self.rows.file_row[row]) if row is not None and self.rows is not None else None
            rep = r if row is None or self.rows is None else int(self.rows.rep[row])
            self.missed[("row", row) if row is not None else ("rep", r)] = DataErrors([DataError(
                "missing-key", f"table '{name}' has no key '{k}' and no default", rep=str(self.inputs.rep_ids[rep]),
                row=file_row)])
            return math.nan
        return d

    def _settle_deps(self, ref: Ref, mode: str, r: int, p: int) -> None:
        """Evaluate the definitions ``ref`` reads (same cell and mode) before it, deepest first.

        Without this, a chain of measures (each a long expression naming the one before, as the
        depth limit's hint suggests) would recurse through every expression of the chain at once;
        settling them bottom-up from an explicit stack keeps the recursion to one expression.
        """
        stack = [(ref, False)]
        while stack:
            top, expanded = stack.pop()
            if expanded:
                if top is not ref and (top, mode, r, p) not in self.memo:
                    self.value(top, mode, r, p)
                continue
            stack.append((top, True))
            for dep in self.def_deps[top]:
                if (dep, mode, r, p) not in self.memo:
                    stack.append((dep, False))

    def finite(self, v, r: int, p: int, code: _Located | None, what: str):
        """Check a named value; inactive cells become 0 (they have no statement row)."""
        if isinstance(v, (bool, str)):
            return v
        if not self.active[r][p]:
            return 0.0
        if not math.isfinite(v):
            if ("rep", r) in self.missed:
                raise self.missed[("rep", r)]
            raise EvaluationError(
                "non-finite", f"{what} is {v} (not a finite number)",
                rep=str(self.inputs.rep_ids[r]), period=self.inputs.periods[p].label,
                expression=code.text if code is not None else None,
                span=code.span if code is not None else None,
                hint="a division by zero? use safe_div(a, b, default) where the divisor can be 0",
            )
        return float(v)

    # -- expressions -------------------------------------------------------------------

    def eval(self, node: ex.Expr, mode: str, r: int, p: int):
        if isinstance(node, ex.Num):
            return node.value
        if isinstance(node, ex.Str):
            return node.value
        if isinstance(node, ex.Name):
            return self.value(self.checked.ref(node), mode, r, p)
        if isinstance(node, ex.Unary):
            return -self.eval(node.operand, mode, r, p)
        if isinstance(node, ex.Not):
            return not self.eval(node.operand, mode, r, p)
        if isinstance(node, (ex.BoolOp, ex.Binary, ex.Compare)):  # both sides, always
            a = self.eval(node.left, mode, r, p)
            b = self.eval(node.right, mode, r, p)
            return OPERATORS[node.op].scalar(a, b)
        if isinstance(node, ex.In):
            x = self.eval(node.left, mode, r, p)
            hit = any(x == item.value for item in node.items)
            return not hit if node.negate else hit
        if isinstance(node, ex.Call):
            return self.call(node, mode, r, p)
        raise AssertionError(node)

    def call(self, node: ex.Call, mode: str, r: int, p: int):
        f = node.func
        if f in ("lookup", "has"):
            key = self.eval(node.args[1], mode, r, p)
            default = self.eval(node.args[2], mode, r, p) if len(node.args) > 2 else None
            if not self.active[r][p] and f == "lookup":
                return 0.0
            return self.table_value(node, key, default, r=r)
        if f == "rank":
            if not self.active[r][p]:
                return 0.0
            values = [self.checked_arg(node, mode, o, p) for o in range(self.R) if self.active[o][p]]
            mine = self.checked_arg(node, mode, r, p)
            return float(sum(1 for v in values if v > mine) + 1)
        if f == "previous":
            if p == 0 or not self.active[r][p - 1] or not self.follows[p]:
                return False if self.checked.types.get(id(node.args[0])) == "condition" else 0.0
            return self.eval(node.args[0], mode, r, p - 1)
        if f in ("group_sum", "group_mean"):
            key = self.eval(node.args[1], mode, r, p)
            total, count = 0.0, 0
            for o in range(self.R):
                if self.active[o][p]:
                    v = self.checked_arg(node, mode, o, p)
                    if self.eval(node.args[1], mode, o, p) == key:
                        total += v
                        count += 1
            if f == "group_sum":
                return total
            return total / count if count else 0.0
        if f == "where":
            c = self.eval(node.args[0], mode, r, p)
            a = self.eval(node.args[1], mode, r, p)
            b = self.eval(node.args[2], mode, r, p)
            return a if c else b
        args = [self.eval(a, mode, r, p) for a in node.args]
        fn = FUNCTIONS[f].scalar
        assert fn is not None  # only rank, previous and group_* have none, handled above
        return fn(*args)

    def where_(self, code: Code, r: int, p: int) -> str:
        """``(name = value, ...)`` for the names in an expression, for explanations."""
        seen: dict[str, str] = {}
        for node in ex.walk(code.tree):
            if isinstance(node, ex.Name):
                text = code.text[node.start:node.end]
                if text not in seen:
                    seen[text] = _num(self.value(self.checked.ref(node), "final", r, p))
        return f" ({', '.join(f'{k} = {v}' for k, v in seen.items())})" if seen else ""

    def expr(self, code: Code, r: int, p: int, what: str):
        """A top-level expression of a component, modifier, cap...: evaluated and checked."""
        return self.finite(self.eval(code.tree, "final", r, p), r, p, code, what)

    # -- components --------------------------------------------------------------------

    def points(self, curve: Curve | None) -> list[tuple[float, float]]:
        if curve is None:
            return [(0.0, 0.0), (1.0, 1.0)]
        return [(self.const(x), self.const(y)) for x, y in curve.points]

    def component_earned(self, name: str, r: int, p: int, trace: Trace = None) -> float:
        key = (name, r, p)
        if key in self.earned and trace is None:
            return self.earned[key]
        c = self.plan.component(name)
        kind = kind_of(c.kind)
        if not self.active[r][p]:
            if kind.has_score:
                self.score_memo[key] = 0.0
            self.earned[key] = 0.0
            return 0.0
        pay = self.raw_component(c, r, p, trace)
        if not kind.own_when and c.when is not None:
            gate = bool(self.eval(c.when.tree, "final", r, p))
            if trace is not None:
                _note(trace, f"  gate when {c.when.text}{self.where_(c.when, r, p)}: {_num(gate)}"
                      + ("" if gate else " -> pays 0"))
            if not gate:
                pay = 0.0
        if c.cap is not None:
            cap = self.expr(c.cap, r, p, f"the cap of component '{c.name}'")
            if pay > cap:
                _note(trace, f"  cap {c.cap.text} = {_num(cap)}: {_num(pay)} capped to {_num(cap)}")
                pay = cap
            else:
                _note(trace, f"  cap {c.cap.text} = {_num(cap)}: not binding")
        self.earned[key] = pay
        return pay

    def ti(self, r: int, p: int) -> float:
        return self.value(Ref("ti"), "final", r, p)

    def raw_component(self, c: Component, r: int, p: int, trace: Trace) -> float:
        """The component's pay before its gate and cap: its kind's reference hook."""
        return kind_of(c.kind).reference(c, self, r, p, trace)

    # what the kinds' reference hooks use besides the evaluator's own methods
    note = staticmethod(_note)
    num = staticmethod(_num)
    curve = staticmethod(curve_scalar)

    # -- the whole statement -----------------------------------------------------------

    def modified(self, r: int, p: int, trace: Trace = None) -> dict[str, float]:
        """Component payouts after modifiers (year-to-date values with accumulation)."""
        out = {c.name: self.component_earned(c.name, r, p) for c in self.plan.components}
        for m in self.plan.modifiers:
            mult = self.expr(m.multiply, r, p, f"the multiplier of modifier '{m.name}'")
            on = True if m.when is None else bool(self.eval(m.when.tree, "final", r, p))
            targets = [n for n, _ in m.applies_to] or [c.name for c in self.plan.components]
            cond = "" if trace is None or m.when is None else f"when {m.when.text}{self.where_(m.when, r, p)}"
            if on:
                _note(trace, f"  modifier {m.name}: {cond + ' is true: ' if cond else ''}x {_num(mult)}")
                for n in targets:
                    before = out[n]
                    out[n] = out[n] * mult
                    _note(trace, f"    {n}: {_num(before)} x {_num(mult)} = {_num(out[n])}")
            else:
                _note(trace, f"  modifier {m.name}: {cond} is false: no change")
        return out

    def capped_total(self, r: int, p: int, trace: Trace = None) -> tuple[dict[str, float], float]:
        mods = self.modified(r, p, trace)
        total = 0.0
        for v in mods.values():
            total += v
        if self.plan.cap is not None and self.active[r][p]:
            cap = self.expr(self.plan.cap, r, p, "the plan cap")
            if total > cap:
                _note(trace, f"  plan cap {self.plan.cap.text} = {_num(cap)}: total {_num(total)} capped to {_num(cap)}")
                total = cap
            else:
                _note(trace, f"  plan cap {self.plan.cap.text} = {_num(cap)}: not binding (total {_num(total)})")
        return mods, total

    def run(self) -> PayoutArrays:
        """Evaluate every rep and period; same result shape as the compiled evaluator."""
        R, P = self.R, self.P
        names = [c.name for c in self.plan.components]
        columns = {n: np.zeros((R, P)) for n in names}
        earned = {n: np.zeros((R, P)) for n in names}
        modified = {n: np.zeros((R, P)) for n in names}
        adjustment = np.zeros((R, P))
        total = np.zeros((R, P))
        capped_arr = np.zeros((R, P))
        paid_arr = np.zeros((R, P))
        grades = np.full((R, P), "", dtype=object) if self.plan.grades is not None else None
        scores = {c.name: np.zeros((R, P)) for c in self.plan.components if kind_of(c.kind).has_score}
        for ref in self.checked.order:
            for r in range(R):
                for p in range(P):
                    self.value(ref, "final", r, p)
        for r in range(R):
            rows = self.rep_rows(r)
            for p, row in enumerate(rows):
                if row is None:
                    continue
                for n in names:
                    columns[n][r, p] = row["columns"][n]
                    earned[n][r, p] = self.component_earned(n, r, p)
                    modified[n][r, p] = row["modified"][n]
                adjustment[r, p] = row["adjustment"]
                total[r, p] = row["total"]
                capped_arr[r, p] = row["capped"]
                paid_arr[r, p] = row["paid_before_draw"]
                for n in scores:
                    scores[n][r, p] = self.score_memo.get((n, r, p), 0.0)
                if grades is not None:
                    grades[r, p] = row["grade"]
        values = {}
        for ref in self.checked.order:
            key = {"measure": ref.name, "target": f"targets.{ref.name}", "ti": "target_incentive"}[ref.kind]
            values[key] = np.array([[self.value(ref, "final", r, p) if self.active[r][p] else 0.0
                                     for p in range(P)] for r in range(R)], dtype=object)
        base_pay = None
        if self.plan.base_pay is not None:
            base_pay = np.array([[self.value(Ref("base_pay"), "final", r, p) if self.active[r][p] else 0.0
                                  for p in range(P)] for r in range(R)], dtype=float)
        return PayoutArrays(base_pay=base_pay, columns=columns, adjustment=adjustment, total=total, grades=grades,
                            active=np.array(self.active, dtype=bool), earned=earned, modified=modified,
                            scores=scores, values=values, capped_total=capped_arr, paid_before_draw=paid_arr)

    def rep_rows(self, r: int, trace_period: int | None = None, trace: Trace = None) -> list:
        """Every period of one rep, in order (true-ups and draws carry state across periods)."""
        rows: list = []
        paid_to_date = 0.0
        owed = 0.0
        prev_mods: dict[str, float] = {}
        accumulate = self.plan.accumulate == "year"
        for p in range(self.P):
            t = trace if p == trace_period else None
            if p > 0 and self.years[p] != self.years[p - 1]:
                paid_to_date = 0.0
                prev_mods = {}
            if not self.active[r][p]:
                rows.append(None)
                continue
            mods, capped = self.capped_total(r, p, t)
            if accumulate:
                cols = {n: v - prev_mods.get(n, 0.0) for n, v in mods.items()}
                due = capped - paid_to_date
                if not self.plan.clawback and due < 0:
                    _note(t, f"  true-up: year-to-date {_num(capped)} - paid to date {_num(paid_to_date)} = "
                          f"{_num(due)} < 0: pays 0 (no clawback)")
                    due = 0.0
                else:
                    _note(t, f"  true-up: year-to-date {_num(capped)} - paid to date {_num(paid_to_date)} = {_num(due)}")
                paid_to_date += due
                prev_mods = mods
            else:
                cols = dict(mods)
                due = capped
            pay = due
            if self.plan.draw is not None:
                amount = self.expr(self.plan.draw.amount, r, p, "the draw amount")
                if self.plan.draw.recoverable:
                    top_up = max(amount - due, 0.0)
                    recover = min(owed, max(due - amount, 0.0))
                    pay = due + top_up - recover
                    if top_up > 0:
                        _note(t, f"  draw {_num(amount)}: earned {_num(due)} is short, top-up {_num(top_up)} "
                              f"(recoverable; owed becomes {_num(owed + top_up)})")
                    elif recover > 0:
                        _note(t, f"  draw {_num(amount)}: recovers {_num(recover)} of {_num(owed)} owed "
                              f"from earnings above the draw")
                    else:
                        _note(t, f"  draw {_num(amount)}: not needed, nothing owed")
                    owed = owed + top_up - recover
                else:
                    if due < amount:
                        _note(t, f"  draw {_num(amount)}: earned {_num(due)} is short, top-up {_num(amount - due)} "
                              "(not recoverable)")
                        pay = amount
                    else:
                        _note(t, f"  draw {_num(amount)}: not needed")
            colsum = 0.0
            for v in cols.values():
                colsum += v
            grade = ""
            if self.plan.grades is not None:
                gv = self.expr(self.plan.grades.input, r, p, "the input of grades")
                for b in self.plan.grades.bands:
                    if b.min is None or gv >= self.const(b.min):
                        grade = b.grade
                        break
                _note(t, f"  grade: {self.plan.grades.input.text} = {_num(gv)} -> {grade or '(none)'}")
            rows.append({"columns": cols, "modified": mods, "adjustment": pay - colsum, "total": pay,
                         "capped": capped, "paid_before_draw": due, "grade": grade})
        return rows


def _describe(ref: Ref) -> str:
    return {"measure": f"measure '{ref.name}'", "target": f"target '{ref.name}'",
            "ti": "target_incentive", "base_pay": "base_pay"}.get(ref.kind, ref.name)

