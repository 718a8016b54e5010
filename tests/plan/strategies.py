"""Hypothesis strategies shared by the plan tests: random valid plans and random inputs.

Plans are generated as YAML *text* (what users write), from a small expression grammar
over the names known to be in scope where the expression appears:

* base scope (target_incentive, targets, measures): parameters, ``roster.*``,
  ``actuals.*`` and the measures/targets defined before (in a hidden definition order
  that keeps them acyclic; the YAML lists them shuffled, since the language allows any
  order);
* component scope: plus the payouts of earlier components and ``NAME.score`` of earlier
  scorecards;
* plan scope (modifiers, cap, grades, draw): every component.

Every expression is written quoted (``"..."`` or ``'...'``) so that commas inside flow
mappings are safe. A generated plan that fails validation is a generator bug (or an
engine bug): the tests parse it without filtering.

:class:`GenPlan` carries, next to the text, the facts the property tests need (which caps
are simple enough to recompute, the draw, accumulation) so that properties can be
checked on the full random plans too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import strategies as st

from engine.core.inputs import Inputs
from engine.data import parse_period_label

__all__ = [
    "ACTUAL_VALUES",
    "PERIODS_PER_YEAR",
    "ROSTER_VALUES",
    "X_VALUES",
    "Y_VALUES",
    "Const",
    "GenPlan",
    "Scope",
    "component",
    "cond_expr",
    "curve_options",
    "curve_points",
    "inputs_for",
    "num_expr",
    "period_infos",
    "plans",
    "weight_parts",
    "yq",
]

PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "half": 2, "year": 1}

# Small value sets: ties (and exact tie sharing in rank) happen often, and decimal amounts
# make fractions of a cent appear in statements.
ROSTER_VALUES = {
    "quota": (400.0, 1000.0, 1200.0, 2000.0, 4000.0),
    "ti": (100.0, 400.0, 1000.0, 1200.0, 2400.0),
    "level": (0.0, 1.0, 2.0),  # 0 makes plain divisions by it fail (both evaluators must raise)
}
TEAMS = ("A", "B", "C")
ACTUAL_VALUES = {
    "revenue": (-100.0, 0.0, 50.0, 100.0, 150.0, 250.0, 300.0, 400.0, 1000.0, 1234.5, 2675.125),
    "collected": (0.0, 50.0, 100.0, 250.0, 333.33, 1000.0),
    "units": (0.0, 1.0, 2.0, 3.0),
    "csat": (1.0, 2.5, 3.0, 4.0, 5.0),
    "complaints": (0.0, 1.0, 3.0, 4.0, 5.0),
}
ROSTER_NUMERIC = ("roster.quota", "roster.ti", "roster.level")


# --------------------------------------------------------------------------- helpers

def yq(expr: str) -> str:
    """An expression as a quoted YAML scalar (double quotes unless it contains one)."""
    if '"' in expr:
        return "'" + expr.replace("'", "''") + "'"
    return '"' + expr + '"'


@dataclass(frozen=True)
class Const:
    """A parameter-only token: its text in the plan and its value."""

    text: str
    value: float


LITERALS = (
    Const("0", 0.0), Const("1", 1.0), Const("2", 2.0), Const("3", 3.0), Const("0.5", 0.5),
    Const("0.25", 0.25), Const("1.5", 1.5), Const("80%", 0.8), Const("120%", 1.2),
    Const("1_000", 1000.0), Const("100", 100.0), Const("0.1", 0.1), Const(".75", 0.75),
    Const("2.5e2", 250.0),
)


@dataclass(frozen=True)
class Scope:
    """Names an expression may use, by type.

    Attributes:
        nums: numeric names.
        conds: condition names (condition measures).
        safe: denominators that are non-zero at every active cell.
        consts: number literals and parameters.
        cross: whether rank/previous/group_sum/group_mean may be used.
    """

    nums: tuple[str, ...]
    conds: tuple[str, ...] = ()
    safe: tuple[str, ...] = ("2", "4")
    consts: tuple[Const, ...] = LITERALS
    cross: bool = True

    def plus(self, nums=(), conds=(), safe=()) -> Scope:
        return replace(self, nums=self.nums + tuple(nums), conds=self.conds + tuple(conds),
                       safe=self.safe + tuple(safe))


def _text_literal(draw, value: str) -> str:
    return draw(st.sampled_from([f"'{value}'", f'"{value}"']))


# --------------------------------------------------------------------------- expressions

def num_leaf(scope: Scope) -> st.SearchStrategy[str]:
    lits = st.sampled_from(scope.consts).map(lambda c: c.text)
    if scope.nums:
        return st.one_of(st.sampled_from(scope.nums), lits)
    return lits


_NUM_FORMS = ("leaf", "leaf", "+", "-", "*", "/", "safe_div", "min", "max", "abs", "clip",
              "where", "neg")
_CROSS_FORMS = ("rank", "previous", "group_sum", "group_mean")


@st.composite
def num_expr(draw, scope: Scope, depth: int = 2) -> str:
    """A numeric expression of at most ``depth`` nested operations."""
    if depth <= 0:
        return draw(num_leaf(scope))
    forms = _NUM_FORMS + (_CROSS_FORMS if scope.cross else ())
    form = draw(st.sampled_from(forms))

    def sub() -> str:
        return draw(num_expr(scope, depth - 1))

    if form == "leaf":
        return draw(num_leaf(scope))
    if form in "+-*":
        return f"({sub()} {form} {sub()})"
    if form == "/":
        # Mostly a denominator known to be non-zero; sometimes anything (then both
        # evaluators must raise EvaluationError together, or agree).
        risky = draw(st.integers(0, 7))
        if risky == 0:
            return f"({sub()} / {sub()})"
        if risky == 1:
            return f"({sub()} / roster.level)"
        return f"({sub()} / {draw(st.sampled_from(scope.safe))})"
    if form == "safe_div":
        return f"safe_div({sub()}, {sub()}, {draw(num_leaf(scope))})"
    if form in ("min", "max"):
        n = draw(st.integers(2, 3))
        return f"{form}({', '.join(sub() for _ in range(n))})"
    if form == "abs":
        return f"abs({sub()})"
    if form == "clip":
        return f"clip({sub()}, {draw(num_leaf(scope))}, {draw(num_leaf(scope))})"
    if form == "where":
        return f"where({draw(cond_expr(scope, depth - 1))}, {sub()}, {sub()})"
    if form == "neg":
        return f"(-{sub()})"
    if form == "rank":
        return f"rank({sub()})"
    if form == "previous":
        return f"previous({sub()})"
    key = draw(st.sampled_from(["roster.team", "roster.team", "roster.level"]))
    return f"{form}({sub()}, {key})"


@st.composite
def cond_expr(draw, scope: Scope, depth: int = 2) -> str:
    """A condition of at most ``depth`` nested operations."""
    forms = ["cmp", "cmp", "text"]
    if scope.conds:
        forms.append("name")
    if depth > 0:
        forms += ["and", "or", "not", "where"]
        if scope.cross:
            forms.append("previous")
    form = draw(st.sampled_from(forms))
    d = max(depth - 1, 0)
    if form == "cmp":
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"({draw(num_expr(scope, d))} {op} {draw(num_expr(scope, d))})"
    if form == "text":
        op = draw(st.sampled_from(["==", "!="]))
        lit = _text_literal(draw, draw(st.sampled_from(TEAMS + ("Z",))))
        if draw(st.booleans()):
            return f"(roster.team {op} {lit})"
        return f"({lit} {op} roster.team)"
    if form == "name":
        return draw(st.sampled_from(scope.conds))
    if form in ("and", "or"):
        return f"({draw(cond_expr(scope, d))} {form} {draw(cond_expr(scope, d))})"
    if form == "not":
        return f"(not {draw(cond_expr(scope, d))})"
    if form == "where":
        parts = [draw(cond_expr(scope, d)) for _ in range(3)]
        return f"where({', '.join(parts)})"
    return f"previous({draw(cond_expr(scope, d))})"


# --------------------------------------------------------------------------- plans

@dataclass
class GenPlan:
    """A generated plan: its YAML text and what the properties need to know about it.

    Attributes:
        text: the plan as YAML.
        period, fiscal_year_start: as in the plan.
        accumulate, clawback: as in the plan.
        components: component names in file order, with their kinds.
        component_caps: component name -> ("ti", k) for ``cap: k * target_incentive`` or
            ("lit", v) for a literal cap; only caps the tests can recompute.
        plan_cap: the same for the plan cap, or None.
        draw: ("ti", k) / ("lit", v) / ("expr", None) and recoverable, or None.
        has_modifiers: whether the plan has modifiers.
        currency: the plan's currency.
        parameters: parameter name -> (value, min, max), None where unbounded.
    """

    text: str
    period: str
    fiscal_year_start: int
    accumulate: bool
    clawback: bool
    components: list[tuple[str, str]] = field(default_factory=list)
    component_caps: dict[str, tuple[str, float]] = field(default_factory=dict)
    plan_cap: tuple[str, float] | None = None
    draw: tuple[tuple[str, float | None], bool] | None = None
    has_modifiers: bool = False
    currency: str = "USD"
    parameters: dict[str, tuple[float, float | None, float | None]] = field(
        default_factory=dict)


X_VALUES = (0.0, 0.25, 0.5, 0.75, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0)
Y_VALUES = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)


def _fmt_num(v: float) -> str:
    return f"{v:g}"


@st.composite
def const_token(draw, value: float, params: dict[str, float]) -> str:
    """A parameter-only expression with the given value: a literal, a parameter or 80%."""
    options = [_fmt_num(value)]
    if value * 100 == int(value * 100) and value != 0:
        options.append(f"{value * 100:g}%")
    options += [name for name, v in params.items() if v == value]
    if value != 0:
        options += [f"2 * {name}" for name, v in params.items() if 2 * v == value]
    return draw(st.sampled_from(options))


def _flow_token(token: str) -> str:
    """A token inside a flow sequence: plain when it is a simple number or name."""
    plain_number = token.replace(".", "", 1).replace("%", "").replace("_", "").isdigit()
    if plain_number or token.isidentifier():
        return token
    return yq(token)


@st.composite
def curve_points(draw, params: dict[str, float], *, monotone: bool = False,
                 min_points: int = 1, max_points: int = 4) -> tuple[str, list[tuple[float, float]]]:
    """Points as YAML flow text, and their values."""
    n = draw(st.integers(min_points, max_points))
    xs = sorted(draw(st.lists(st.sampled_from(X_VALUES), min_size=n, max_size=n, unique=True)))
    if monotone:
        ys = sorted(draw(st.lists(st.sampled_from(Y_VALUES), min_size=n, max_size=n)))
    else:
        ys = draw(st.lists(st.sampled_from(Y_VALUES + (-0.5,)), min_size=n, max_size=n))
    pts = []
    for x, y in zip(xs, ys):
        tx, ty = draw(const_token(x, params)), draw(const_token(y, params))
        pts.append(f"[{_flow_token(tx)}, {_flow_token(ty)}]")
    return "[" + ", ".join(pts) + "]", list(zip(xs, ys))


@st.composite
def curve_options(draw) -> list[str]:
    """``interpolate`` and ``beyond`` lines (each may be left to its default)."""
    lines = []
    interp = draw(st.sampled_from([None, "linear", "step"]))
    if interp:
        lines.append(f"interpolate: {interp}")
    beyond = draw(st.sampled_from([None, "extend", "flat"]))
    if beyond:
        lines.append(f"beyond: {beyond}")
    return lines


@st.composite
def cap_expr(draw, scope: Scope) -> tuple[str, tuple[str, float] | None]:
    """A cap: ``k * target_incentive``, a literal, or any expression."""
    form = draw(st.sampled_from(["ti", "ti", "lit", "expr"]))
    if form == "ti":
        k = draw(st.sampled_from([0.5, 1.0, 1.5, 2.5]))
        return f"{_fmt_num(k)} * target_incentive", ("ti", k)
    if form == "lit":
        v = draw(st.sampled_from([0.0, 150.0, 500.0, 1234.56]))
        return _fmt_num(v), ("lit", v)
    return draw(num_expr(scope, 1)), None


ATTAINMENT = ("revenue / targets.revenue", "safe_div(revenue, targets.revenue, 0)")

MEASURE_NAMES = ("collected", "units", "csat", "att", "mix", "回款率", "δ_net")
COND_MEASURE_NAMES = ("qualified", "hot")
COMPONENT_NAMES = ("bonus", "commission", "kicker", "kpi", "contest", "spiff", "奖金", "float_")
PARAM_NAMES = ("p_thr", "p_pay", "p_k", "阈值")
KINDS = ("curve", "rate", "step", "scorecard", "rank")

Bounds = dict[str, tuple[float, float | None, float | None]]


@st.composite
def header(draw, accumulate: bool | None, clawback: bool | None):
    """Top-level settings: (lines, period, fiscal_year_start, accumulate, clawback, currency)."""
    lines = [f"plan: {draw(st.sampled_from(['gen', 'plan_x', '计划']))}"]
    period = draw(st.sampled_from(["month", "quarter", "half", "year"]))
    fys = draw(st.sampled_from([None, 1, 4, 7, 10]))
    acc = draw(st.booleans()) if accumulate is None else accumulate
    claw = (draw(st.booleans()) if clawback is None else clawback) if acc else False
    currency = draw(st.sampled_from([None, "USD", "EUR", "JPY", "KWD", "CNY"]))
    if draw(st.booleans()):
        lines.append(f"label: {yq('generated plan, with a comma')}")
    if currency:
        lines.append(f"currency: {currency}")
    lines.append(f"period: {period}")
    if fys is not None:
        lines.append(f"fiscal_year_start: {fys}")
    if acc:
        lines.append("accumulate: year")
        if claw or clawback is not None or draw(st.booleans()):
            lines.append(f"clawback: {'true' if claw else 'false'}")
    elif draw(st.booleans()):
        lines.append("accumulate: none")
    return lines, period, fys or 1, acc, claw, currency or "USD"


@st.composite
def parameters_section(draw) -> tuple[list[str], dict[str, float], Bounds]:
    """Parameters in every form (plain, ``{value}``, with min and/or max, labelled)."""
    lines: list[str] = []
    values: dict[str, float] = {}
    bounds: Bounds = {}
    n = draw(st.integers(0, len(PARAM_NAMES)))
    if n:
        lines.append("parameters:")
    for name in PARAM_NAMES[:n]:
        v = draw(st.sampled_from(X_VALUES + (0.03, 100.0)))
        values[name] = v
        form = draw(st.sampled_from(["plain", "value", "bounds", "min", "max"]))
        lo, hi = {"plain": (None, None), "value": (None, None), "bounds": (v - 0.5, v * 2 + 1),
                  "min": (v, None), "max": (None, v)}[form]
        bounds[name] = (v, lo, hi)
        if form == "plain":
            lines.append(f"  {name}: {_fmt_num(v)}")
            continue
        parts = [f"value: {_fmt_num(v)}"]
        if lo is not None:
            parts.append(f"min: {_fmt_num(lo)}")
        if hi is not None:
            parts.append(f"max: {_fmt_num(hi)}")
        if form == "bounds":
            parts.append(f"label: {yq('a parameter')}")
        lines.append(f"  {name}: {{{', '.join(parts)}}}")
    return lines, values, bounds


@st.composite
def base_section(draw, params: dict[str, float]) -> tuple[list[str], Scope]:
    """target_incentive, measures and targets, and the scope components then see.

    They are generated in a hidden order in which each refers only to earlier ones (so
    there is no cycle) and written shuffled (the language allows any order). Some
    measures are conditions; one target may refer to measures.
    """
    consts = LITERALS + tuple(Const(n, v) for n, v in params.items())
    actuals = tuple(f"actuals.{c}" for c in ACTUAL_VALUES)
    scope = Scope(nums=tuple(params) + ROSTER_NUMERIC + actuals,
                  safe=("2", "4", "roster.quota", "roster.ti"), consts=consts)
    ti = draw(st.sampled_from(["roster.ti / 4", "roster.ti / 12", "roster.ti * 0.25", "roster.ti",
                               "where(roster.team == 'A', roster.ti, roster.ti / 2) / 4"]))
    scope = scope.plus(nums=["target_incentive"], safe=["target_incentive"])
    quota = draw(st.sampled_from(["roster.quota / 4", "roster.quota / 12", "roster.quota"]))
    targets = [("revenue", quota)]
    scope = scope.plus(nums=["targets.revenue"], safe=["targets.revenue"])
    # One aggregation per actuals column (two different ones would be a validation error).
    aggregates = {"csat": draw(st.sampled_from(["mean", "last", "min", "max", "sum"])),
                  "units": draw(st.sampled_from(["sum", "last", "max"])), "collected": "sum"}
    measures = [("revenue", draw(st.sampled_from(
        ["actuals.revenue", "{expr: actuals.revenue, label: 'Revenue, booked'}",
         "{expr: actuals.revenue, aggregate: sum}"])))]
    scope = scope.plus(nums=["revenue"])
    for name in draw(st.lists(st.sampled_from(MEASURE_NAMES), max_size=4, unique=True)):
        if name in aggregates:
            agg = aggregates[name]
            body = f"actuals.{name}"
            if agg != "sum" or draw(st.booleans()):
                body = f"{{expr: actuals.{name}, aggregate: {agg}}}"
        elif name == "att":
            body = yq(draw(st.sampled_from(ATTAINMENT)))
        else:
            body = yq(draw(num_expr(scope, 2)))
        measures.append((name, body))
        scope = scope.plus(nums=[name])
        if len(targets) == 1 and draw(st.integers(0, 3)) == 0:
            # A target that refers to measures (it sees their per-period values).
            targets.append(("extra", draw(num_expr(scope, 1))))
            scope = scope.plus(nums=["targets.extra"])
    for name in draw(st.lists(st.sampled_from(COND_MEASURE_NAMES), max_size=2, unique=True)):
        measures.append((name, yq(draw(cond_expr(scope, 1)))))
        scope = scope.plus(conds=[name])
    for col in ("csat", "units"):
        if aggregates[col] != "sum" and not any(n == col for n, _ in measures):
            # Expressions use actuals.csat directly: declare its aggregation on a measure.
            measures.append((col, f"{{expr: actuals.{col}, aggregate: {aggregates[col]}}}"))
            scope = scope.plus(nums=[col])

    lines = [f"target_incentive: {yq(ti)}", "measures:"]
    lines += [f"  {name}: {body}" for name, body in draw(st.permutations(measures))]
    lines.append("targets:")
    for name, body in draw(st.permutations(targets)):
        if draw(st.booleans()):
            lines.append(f"  {name}: {yq(body)}")
        else:
            lines.append(f"  {name}: {{expr: {yq(body)}, label: 'target'}}")
    return lines, scope


def _inputs(scope: Scope) -> st.SearchStrategy[str]:
    """A component's input: an attainment, or any expression."""
    return st.one_of(st.sampled_from(ATTAINMENT), num_expr(scope, 1))


@st.composite
def curve_component(draw, scope: Scope, params: dict[str, float]) -> list[str]:
    pts, _ = draw(curve_points(params))
    return ([f"input: {yq(draw(_inputs(scope)))}", f"points: {pts}"] + draw(curve_options()))


@st.composite
def step_component(draw, scope: Scope, params: dict[str, float]) -> list[str]:
    n = draw(st.integers(1, 3))
    ats = sorted(draw(st.lists(st.sampled_from(X_VALUES), min_size=n, max_size=n, unique=True)))
    pays = st.one_of(
        st.sampled_from(["0.3 * target_incentive", "0.7 * target_incentive", "100", "250.5"]),
        num_expr(scope, 1))
    lines = [f"input: {yq(draw(_inputs(scope)))}", "steps:"]
    for at in ats:
        lines.append(f"  - {{at: {yq(draw(const_token(at, params)))}, pay: {yq(draw(pays))}}}")
    return lines


@st.composite
def rate_component(draw, scope: Scope, params: dict[str, float]) -> list[str]:
    """A single rate, or marginal/retroactive tiers with constant uptos, uptos that are
    multiples of the target, or a mix that increases for some reps only (both evaluators
    must then raise)."""
    base = draw(st.one_of(
        st.sampled_from(["revenue", "max(revenue - targets.revenue, 0)", "actuals.collected"]),
        num_expr(scope, 1)))
    rates = st.sampled_from(["3%", "0.06", "2%", "1", "0.5%", "where(roster.team == 'A', 4%, 2%)"]
                            + list(params))
    lines = [f"base: {yq(base)}"]
    if draw(st.integers(0, 3)) == 0:
        return lines + [f"rate: {yq(draw(rates))}"]
    n = draw(st.integers(1, 4))
    style = draw(st.sampled_from(["const", "target", "const", "target", "mixed"]))
    if style == "const":
        ups = sorted(draw(st.lists(st.sampled_from([0.0, 100.0, 250.0, 500.0, 1000.0, 2000.0]),
                                   min_size=n, max_size=n, unique=True)))
        uptos = [_fmt_num(u) for u in ups]
    elif style == "target":
        ks = sorted(draw(st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0]), min_size=n,
                                  max_size=n, unique=True)))
        uptos = [f"{_fmt_num(k)} * targets.revenue" for k in ks]
    else:
        uptos = ["0.5 * targets.revenue"] + [_fmt_num(250.0 * (i + 1)) for i in range(n - 1)]
    open_last = draw(st.booleans())
    lines.append("tiers:")
    for i, upto in enumerate(uptos):
        if open_last and i == len(uptos) - 1:
            lines.append(f"  - {{rate: {yq(draw(rates))}}}")
        else:
            lines.append(f"  - {{upto: {yq(upto)}, rate: {yq(draw(rates))}}}")
    retro = draw(st.sampled_from([None, True, False]))
    if retro is not None:
        lines.append(f"retroactive: {'true' if retro else 'false'}")
    return lines


@st.composite
def weight_parts(draw, max_metrics: int = 4) -> list[int]:
    """Metric weights in percent, multiples of 5 summing to exactly 100."""
    k = draw(st.integers(1, max_metrics))
    cuts = sorted(draw(st.lists(st.integers(1, 19), min_size=k - 1, max_size=k - 1, unique=True)))
    return [5 * (b - a) for a, b in zip([0] + cuts, cuts + [20])]


@st.composite
def scorecard_component(draw, scope: Scope, params: dict[str, float]) -> list[str]:
    lines = ["metrics:"]
    for j, part in enumerate(draw(weight_parts())):
        weight = draw(st.sampled_from([f"{part}%", _fmt_num(part / 100)]))
        pts, _ = draw(curve_points(params))
        opts = "".join(f", {o}" for o in draw(curve_options()))
        name = draw(st.sampled_from([f"m{j}", f"指标{j}"]))
        lines.append(f"  - {{name: {name}, input: {yq(draw(_inputs(scope)))}, weight: {weight}, "
                     f"points: {pts}{opts}}}")
    if draw(st.booleans()):
        pts, _ = draw(curve_points(params))
        lines.append(f"payout: {pts}")
    return lines


@st.composite
def rank_component(draw, scope: Scope, params: dict[str, float]) -> list[str]:
    by = draw(st.one_of(st.sampled_from(["revenue", "actuals.units", "actuals.complaints"]),
                        num_expr(scope, 1)))
    lines = [f"by: {yq(by)}"]
    if draw(st.booleans()):
        lines.append("group: roster.team")
    values = draw(st.lists(st.sampled_from([1000.0, 600.0, 500.0, 300.0, 100.0, 0.0, 0.25]),
                           min_size=1, max_size=4))
    awards = [_flow_token(draw(const_token(v, params))) for v in values]
    return lines + ["awards: [" + ", ".join(awards) + "]"]


COMPONENT_BODIES = {"curve": curve_component, "step": step_component, "rate": rate_component,
                    "scorecard": scorecard_component, "rank": rank_component}


@st.composite
def component(draw, name: str, kind: str, scope: Scope, params: dict[str, float],
              simple_caps: bool):
    """One component of ``kind`` as YAML lines, with its recomputable cap (or None)."""
    lines = [f"  - name: {name}", f"    kind: {kind}"]
    if draw(st.integers(0, 3)) == 0:
        lines.append(f"    label: {yq('component ' + name)}")
    if kind in ("curve", "scorecard") and draw(st.booleans()):
        weight = draw(st.sampled_from(["0.6", "1", "40%", "0.25"] + list(params)))
        lines.append(f"    weight: {weight}")
    lines += ["    " + line for line in draw(COMPONENT_BODIES[kind](scope, params))]
    if draw(st.integers(0, 2)) == 0:
        when = draw(st.one_of(cond_expr(scope, 1), st.sampled_from(["true", "false"])))
        lines.append(f"    when: {when if when in ('true', 'false') else yq(when)}")
    cap = None
    if draw(st.integers(0, 2)) == 0:
        text, simple = draw(cap_expr(scope))
        if simple is not None or not simple_caps:
            lines.append(f"    cap: {yq(text)}")
            cap = simple
    return lines, cap


@st.composite
def modifiers_section(draw, scope: Scope, names: list[str]) -> list[str]:
    lines = ["modifiers:"]
    for j in range(draw(st.integers(1, 2))):
        mult = draw(st.one_of(
            st.sampled_from(["0.8", "1.1", "0", "where(actuals.complaints > 3, 0.5, 1)"]),
            num_expr(scope, 1)))
        lines += [f"  - name: mod{j}", f"    multiply: {yq(mult)}"]
        if draw(st.booleans()):
            lines.append(f"    when: {yq(draw(cond_expr(scope, 1)))}")
        applies = draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True))
        if len(applies) == 1 and draw(st.booleans()):
            lines.append(f"    applies_to: {applies[0]}")
        elif applies:
            lines.append(f"    applies_to: [{', '.join(applies)}]")
    return lines


@st.composite
def grades_section(draw, scope: Scope, params: dict[str, float], scores: list[str]) -> list[str]:
    g_in = draw(st.one_of(st.sampled_from(list(ATTAINMENT) + scores), num_expr(scope, 1)))
    n = draw(st.integers(1, 4))
    mins = draw(st.lists(st.sampled_from(X_VALUES), min_size=n, max_size=n, unique=True))
    mins.sort(reverse=True)
    lines = ["grades:", f"  input: {yq(g_in)}", "  bands:"]
    open_last = draw(st.booleans())
    for i, lo in enumerate(mins):
        if open_last and i == n - 1:
            lines.append(f"    - {{grade: {'ABCD'[i]}}}")
        else:
            lines.append(f"    - {{min: {yq(draw(const_token(lo, params)))}, grade: {'ABCD'[i]}}}")
    return lines


@st.composite
def draw_section(draw, scope: Scope, simple: bool):
    """A draw: ``(lines, (amount spec, recoverable))``."""
    form = draw(st.sampled_from(["ti", "lit"] if simple else ["ti", "lit", "expr"]))
    if form == "ti":
        k = draw(st.sampled_from([0.25, 0.5, 1.0]))
        amount, info = f"{_fmt_num(k)} * target_incentive", ("ti", k)
    elif form == "lit":
        v = draw(st.sampled_from([0.0, 100.0, 400.0, 33.335]))
        amount, info = _fmt_num(v), ("lit", v)
    else:
        amount = draw(st.one_of(st.just('where(roster.team == "A", 200, 0)'), num_expr(scope, 1)))
        info = ("expr", None)
    rec = draw(st.sampled_from([None, True, False]))
    lines = ["draw:", f"  amount: {yq(amount)}"]
    if rec is not None:
        lines.append(f"  recoverable: {'true' if rec else 'false'}")
    return lines, (info, bool(rec))


@st.composite
def plans(draw, *, kinds=KINDS, min_components: int = 1, max_components: int = 4,
          modifiers: bool = True, plan_cap=True, grades: bool = True, draw_=True,
          accumulate: bool | None = None, clawback: bool | None = None,
          simple_caps: bool = False, simple_draw: bool = False) -> GenPlan:
    """A random valid plan using every construct of the language.

    Args:
        kinds: component kinds to choose from.
        min_components, max_components: how many components.
        modifiers, plan_cap, grades, draw_: whether these sections may appear
            (``"always"`` for plan_cap and draw_: the plan has one).
        accumulate: force ``accumulate: year`` (True) or none (False); None: random.
        clawback: force clawback on/off when accumulating; None: random.
        simple_caps: only caps the tests can recompute (``k * target_incentive``, literals).
        simple_draw: only draw amounts the tests can recompute.
    """
    lines, period, fys, acc, claw, currency = draw(header(accumulate, clawback))
    param_lines, params, bounds = draw(parameters_section())
    base_lines, scope = draw(base_section(params))
    lines += param_lines + base_lines
    gp = GenPlan(text="", period=period, fiscal_year_start=fys, accumulate=acc, clawback=claw,
                 currency=currency, parameters=bounds)

    n = draw(st.integers(min_components, max_components))
    names = draw(st.lists(st.sampled_from(COMPONENT_NAMES), min_size=n, max_size=n, unique=True))
    lines.append("components:")
    for name in names:
        kind = draw(st.sampled_from(kinds))
        gp.components.append((name, kind))
        comp_lines, cap = draw(component(name, kind, scope, params, simple_caps))
        lines += comp_lines
        if cap is not None:
            gp.component_caps[name] = cap
        # Later components (and the plan level) may use this payout and its score.
        scope = scope.plus(nums=[name] + ([f"{name}.score"] if kind == "scorecard" else []))

    if modifiers and draw(st.booleans()):
        lines += draw(modifiers_section(scope, names))
        gp.has_modifiers = True
    if plan_cap == "always" or (plan_cap and draw(st.booleans())):
        text, simple = draw(cap_expr(scope))
        while plan_cap == "always" and simple_caps and simple is None:
            text, simple = draw(cap_expr(scope))
        if simple is not None or not simple_caps:
            lines.append(f"cap: {yq(text)}")
            gp.plan_cap = simple
    if grades and draw(st.booleans()):
        scores = [f"{n}.score" for n, k in gp.components if k == "scorecard"]
        lines += draw(grades_section(scope, params, scores))
    if draw_ == "always" or (draw_ and draw(st.booleans())):
        draw_lines, gp.draw = draw(draw_section(scope, simple_draw))
        lines += draw_lines
    gp.text = "\n".join(lines) + "\n"
    return gp


# --------------------------------------------------------------------------- inputs

def period_infos(kind: str, fiscal_year_start: int, indices: list[int]):
    """Periods numbered from the first period of fiscal year 2027 (0, 1, ...)."""
    n = PERIODS_PER_YEAR[kind]
    out = []
    for g in indices:
        year, number = 2027 + g // n, g % n + 1
        label = {"month": f"{year}-{number:02d}", "quarter": f"{year}-Q{number}",
                 "half": f"{year}-H{number}", "year": f"{year}"}[kind]
        out.append(parse_period_label(label, kind, fiscal_year_start))
    return tuple(out)


@st.composite
def inputs_for(draw, gp: GenPlan, *, min_reps: int = 1, max_reps: int = 8, max_periods: int = 6,
               holes: bool = False, actuals: dict[str, tuple[float, ...]] | None = None,
               nonneg: bool = False, shape: tuple[int, int] | None = None,
               periods: tuple | None = None, counts: bool = True) -> Inputs:
    """Roster and actuals for a generated plan.

    Reps are employed over one contiguous run of periods (as ``start_date``/``end_date``
    give), prorated at its ends; with ``holes`` any cell may be inactive. Periods are
    consecutive or with gaps, from fiscal 2027 into 2028 and later. Actuals are 0 where
    the rep is inactive (the loader rejects such rows). ``shape`` and ``periods`` fix the
    number of reps and the periods (to stack several draws as simulation runs).
    """
    n_per_year = PERIODS_PER_YEAR[gp.period]
    if shape is not None:
        R, P = shape
    else:
        P = draw(st.integers(1, max_periods))
        R = draw(st.integers(min_reps, max_reps))
    if periods is None:
        start = draw(st.integers(0, 2 * n_per_year - 1))
        if draw(st.integers(0, 3)) == 0:
            idx = sorted(draw(st.lists(st.integers(start, start + P + 3), min_size=P, max_size=P,
                                       unique=True)))
        else:
            idx = list(range(start, start + P))
        periods = period_infos(gp.period, gp.fiscal_year_start, idx)

    active = np.ones((R, P), dtype=bool)
    proration = np.ones((R, P))
    fractions = st.sampled_from([1.0, 1.0, 0.5, 0.25, 21 / 28, 0.9])
    for r in range(R):
        if holes:
            for p in range(P):
                active[r, p] = draw(st.sampled_from([True, True, True, False]))
        else:
            lo = draw(st.sampled_from([0, 0, 0] + list(range(P))))
            hi = draw(st.sampled_from([P - 1, P - 1, P - 1] + list(range(lo, P))))
            if draw(st.integers(0, 15)) == 0:
                lo, hi = P, P - 1  # never active
            active[r, :] = False
            active[r, lo:hi + 1] = True
            if lo <= hi:
                proration[r, lo] = draw(fractions)
                proration[r, hi] = draw(fractions) if hi != lo else proration[r, lo]
    proration = np.where(active, proration, 0.0)

    roster = {
        col: np.array(draw(st.lists(st.sampled_from(vals), min_size=R, max_size=R)),
                      dtype=np.float64)
        for col, vals in ROSTER_VALUES.items()
    }
    teams = draw(st.lists(st.sampled_from(TEAMS), min_size=R, max_size=R))
    roster["team"] = np.array(teams, dtype=object)
    values = dict(ACTUAL_VALUES)
    if actuals:
        values.update(actuals)
    acts = {}
    for col, vals in values.items():
        if nonneg:
            vals = tuple(v for v in vals if v >= 0)
        cells = draw(st.lists(st.sampled_from(vals), min_size=R * P, max_size=R * P))
        acts[col] = np.where(active, np.array(cells, dtype=np.float64).reshape(R, P), 0.0)
    counts_ = {}
    if counts and draw(st.integers(0, 3)) == 0:
        # Transactions input: how many rows were gathered into each cell (weights of means).
        n = np.array(draw(st.lists(st.integers(0, 3), min_size=R * P, max_size=R * P)),
                     dtype=np.float64).reshape(R, P)
        n = np.where(active, n, 0.0)
        for col in acts:
            acts[col] = np.where(n > 0, acts[col], 0.0)
        counts_ = {col: n.copy() for col in acts}
    return Inputs(
        rep_ids=np.array([f"R{r + 1:02d}" for r in range(R)], dtype=object),
        periods=periods, roster=roster, actuals=acts, active=active, proration=proration,
        counts=counts_, sources={},
    )
