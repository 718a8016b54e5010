"""Validation passes: names, types, dependencies and the plan's own consistency rules.

The checker walks every expression in the context where it appears (parameter-only,
measures and targets, component *i*, or plan level), resolving each name to a
:class:`Ref`, inferring types, and collecting every problem with its span. It also
folds the parameter-only expressions (curve points, step thresholds, awards, weights)
to numbers so that their ordering and sums can be checked before any data is seen.

The result is a :class:`CheckedPlan`: the plan plus what the compilers need (evaluation
order of measures and targets, which roster and actuals columns are used and how actuals
aggregate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.core.errors import PlanError, PlanErrors, Span
from engine.plan import expr as ex
from engine.plan.functions import ANY, BOOL, FUNCTIONS, NUM, OPERATORS, TEXT
from engine.plan.kinds import kind_of
from engine.plan.model import Code, Component, Curve, Plan
from engine.plan.parse import suggest

__all__ = ["CheckedPlan", "ComponentChecks", "Context", "Ref", "check_plan", "const_value", "with_parameters"]

PREFIXES = ("roster", "actuals", "targets")


@dataclass(frozen=True)
class Ref:
    """What a name in an expression stands for.

    ``kind`` is one of ``param``, ``measure``, ``target``, ``ti``, ``roster``, ``actual``,
    ``component``, ``score``, ``table`` (the first argument of ``lookup``/``has``),
    ``tenure`` (``tenure_months``) or ``share`` (``active_share``); ``name`` is the
    parameter, measure, target, column, table or component name (empty for ``ti``,
    ``tenure`` and ``share``).
    """

    kind: str
    name: str = ""


@dataclass(frozen=True)
class Context:
    """Which names an expression may use.

    Attributes:
        what: description for messages.
        level: ``const`` (numbers and parameters only), ``base`` (measures, targets,
            target_incentive), ``component`` (plus earlier components), ``plan`` (plus all
            components), ``row`` (a row-level measure: row-level things only) or ``pay``
            (``base_pay``: roster columns, parameters, ``active_share`` and literals).
        upto: for ``component``: index of the component (earlier ones are visible).
        measure: the expression is a measure's (text attributes of transactions may be
            named only there).
    """

    what: str
    level: str
    upto: int = 0
    measure: bool = False


@dataclass(frozen=True)
class CheckedPlan:
    """A plan that passed validation, with what the compilers need (an immutable value)."""

    plan: Plan
    order: tuple[Ref, ...]  # measures, targets and target_incentive in dependency order
    roster_columns: frozenset[str] = frozenset()
    numeric_roster_columns: frozenset[str] = frozenset()
    actual_columns: Mapping[str, str] = field(default_factory=dict)  # column -> aggregate
    refs: Mapping[int, Ref] = field(default_factory=dict)  # id(Name node) -> Ref
    types: Mapping[int, str] = field(default_factory=dict)  # id(node) -> type
    source: str = ""  # the plan text, so that the plan can be rebuilt in another process
    overrides: tuple[tuple[str, float], ...] = ()  # parameter values replaced by with_parameters
    row_measures: Mapping[str, str] = field(default_factory=dict)  # row-level measure -> aggregate
    text_actual_columns: frozenset[str] = frozenset()  # actuals columns used as text (attributes)
    text_roster_columns: frozenset[str] = frozenset()  # roster columns used as text
    uses_tenure: bool = False  # the plan names tenure_months
    tables: Mapping[str, Any] = field(default_factory=dict)  # name -> engine.plan.model.Table

    @property
    def numeric_actual_columns(self) -> frozenset[str]:
        """Actuals columns used as numbers (every row must hold a finite number)."""
        return frozenset(self.actual_columns) - self.text_actual_columns

    def ref(self, node: ex.Name) -> Ref:
        return self.refs[id(node)]

    def __reduce__(self):
        # Names are resolved by node identity, which does not survive pickling: another
        # process (a worker, a Dask cluster) rebuilds the plan from its text instead.
        if not self.source:
            raise TypeError("this plan has no source text and cannot be sent to another process")
        return (_rebuild, (self.source, self.plan.file, self.overrides))


def const_value(tree: ex.Expr, params: Mapping[str, float], refs: Mapping[int, Ref]) -> float:
    """Evaluate a parameter-only expression (numbers, parameters, arithmetic, min/max/abs/clip)."""
    if isinstance(tree, ex.Num):
        return tree.value
    if isinstance(tree, ex.Name):
        return params[refs[id(tree)].name]
    if isinstance(tree, ex.Unary):
        return -const_value(tree.operand, params, refs)
    if isinstance(tree, ex.Binary):
        a, b = const_value(tree.left, params, refs), const_value(tree.right, params, refs)
        return float(OPERATORS[tree.op].scalar(a, b))
    if isinstance(tree, ex.Call):
        args = [const_value(a, params, refs) for a in tree.args]
        fn = FUNCTIONS[tree.func].scalar
        assert fn is not None
        return float(fn(*args))
    raise TypeError(f"not a constant expression: {tree!r}")


class _Checker:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.errors: list[PlanError] = []
        self.refs: dict[int, Ref] = {}
        self.types: dict[int, str] = {}
        self.params = {p.name: p for p in plan.parameters}
        self.measures = {m.name: m for m in plan.measures}
        self.targets = {t.name: t for t in plan.targets}
        self.components = {c.name: i for i, c in enumerate(plan.components)}
        self.scorecards = {c.name: i for i, c in enumerate(plan.components) if kind_of(c.kind).has_score}
        self.roster_columns: set[str] = set()
        self.numeric_roster: set[str] = set()
        self.actual_columns: set[str] = set()
        self.deps: dict[Ref, set[Ref]] = {}
        self.failed: set[int] = set()
        self.tables = {t.name: t for t in plan.tables}
        self.row_measures: dict[str, str] = {}
        self.declared_aggregates: dict[str, set[str]] = {}
        self.text_actual, self.text_roster = _attributes(plan)
        self.uses_tenure = False

    def error(self, code: str, message: str, span, hint: str | None = None) -> None:
        self.errors.append(PlanError(code, message, span, hint))

    # -- names -------------------------------------------------------------------------

    def visible_bare_names(self, ctx: Context) -> list[str]:
        names = list(self.params)
        if ctx.level != "const":
            names += list(self.measures) + ["target_incentive"]
        if ctx.level == "component":
            names += [c.name for c in self.plan.components[: ctx.upto]]
        elif ctx.level == "plan":
            names += list(self.components)
        return names

    def lookup(self, node: ex.Name, code: Code, ctx: Context) -> Ref | None:
        """Resolve a name once; later lookups reuse the answer (and report nothing again)."""
        key = id(node)
        if key in self.refs:
            return self.refs[key]
        if key in self.failed:
            return None
        ref = self.resolve(node, code, ctx)
        if ref is None:
            self.failed.add(key)
        else:
            self.refs[key] = ref
        return ref

    def resolve(self, node: ex.Name, code: Code, ctx: Context) -> Ref | None:
        span = code.span_of(node.start, node.end)
        if ctx.level == "const":
            if node.prefix is None and node.name in self.params:
                return Ref("param", node.name)
            self.error("not-constant",
                       f"'{code.text[node.start:node.end]}' cannot be used in {ctx.what}: "
                       "only numbers and parameters are allowed there",
                       span, "declare the value under 'parameters' to make it adjustable")
            return None
        if node.prefix is None:
            name = node.name
            if name in self.params:
                return Ref("param", name)
            if name in self.measures:
                if ctx.level in ("row", "pay"):
                    return self._not_here(node, code, ctx, f"measure '{name}'")
                return Ref("measure", name)
            if name == "target_incentive":
                if ctx.level in ("row", "pay"):
                    return self._not_here(node, code, ctx, "target_incentive")
                return Ref("ti")
            if name == "tenure_months":
                if ctx.level == "pay":
                    return self._not_here(node, code, ctx, "tenure_months")
                self.uses_tenure = True
                return Ref("tenure")
            if name == "active_share":
                if ctx.level == "row":
                    return self._not_here(node, code, ctx, "active_share")
                return Ref("share")
            if name in self.tables:
                self.error("bad-reference", f"'{name}' is a table: use it as lookup({name}, key) or "
                           f"has({name}, key)", span)
                return None
            if name in self.components:
                idx = self.components[name]
                if ctx.level in ("row", "pay"):
                    return self._not_here(node, code, ctx, f"component '{name}'")
                if ctx.level == "base":
                    self.error("bad-reference",
                               f"component '{name}' cannot be used in {ctx.what}: measures and "
                               "targets are computed before any component", span)
                    return None
                if ctx.level == "component" and idx >= ctx.upto:
                    msg = ("a component cannot use its own payout" if idx == ctx.upto else
                           f"component '{name}' is defined after this one: a component can only "
                           "use the payouts of earlier components")
                    self.error("forward-reference", msg, span,
                               "move it earlier in the list" if idx != ctx.upto else None)
                    return None
                return Ref("component", name)
            if name in self.targets:
                self.error("unknown-name", f"unknown name '{name}'", span, f"did you mean 'targets.{name}'?")
                return None
            hint = suggest(name, self.visible_bare_names(ctx))
            if name in FUNCTIONS:
                hint = f"'{name}' is a function: call it as {FUNCTIONS[name].usage}"
            self.error("unknown-name", f"unknown name '{name}'", span, hint)
            return None
        prefix, name = node.prefix, node.name
        if prefix == "roster":
            self.roster_columns.add(name)
            return Ref("roster", name)
        if prefix == "actuals":
            if ctx.level == "pay":
                return self._not_here(node, code, ctx, f"actuals.{name}")
            if name in self.text_actual and not (ctx.measure or ctx.level == "row"):
                self.error("attribute-outside-measure",
                           f"actuals.{name} is text (an attribute of each transaction row): it can be "
                           f"used only in a measure, not in {ctx.what}", span,
                           f"write a measure such as \"where(actuals.{name} == '...', actuals.amount, 0)\" and "
                           "use the measure here")
                return None
            self.actual_columns.add(name)
            return Ref("actual", name)
        if prefix == "targets":
            if ctx.level in ("row", "pay"):
                return self._not_here(node, code, ctx, f"targets.{name}")
            if name in self.targets:
                return Ref("target", name)
            self.error("unknown-name", f"unknown target '{name}'",
                       code.span_of(node.name_start, node.end),
                       suggest(name, list(self.targets)) or
                       ("declare it under 'targets'" if self.targets else "the plan declares no targets"))
            return None
        if name == "score":
            if prefix in self.scorecards and ctx.level in ("row", "pay"):
                return self._not_here(node, code, ctx, f"'{prefix}.score'")
            if prefix in self.scorecards:
                idx = self.scorecards[prefix]
                if ctx.level == "base":
                    self.error("bad-reference",
                               f"'{prefix}.score' cannot be used in {ctx.what}: measures and targets "
                               "are computed before any component", span)
                    return None
                if ctx.level == "component" and idx >= ctx.upto:
                    self.error("forward-reference",
                               f"scorecard '{prefix}' is not computed yet here: only earlier "
                               "scorecards' scores can be used", span)
                    return None
                return Ref("score", prefix)
            if prefix in self.components:
                self.error("bad-reference", f"component '{prefix}' is not a scorecard, so it has no score",
                           span)
                return None
        if prefix in self.components or prefix in self.scorecards:
            self.error("unknown-name", f"'{prefix}' has no '{name}'",
                       code.span_of(node.name_start, node.end), "a scorecard has '.score'")
            return None
        choices = list(PREFIXES) + [f"{s}" for s in self.scorecards]
        hint = suggest(prefix, choices)
        if hint is None and prefix in self.measures:
            hint = f"'{prefix}' is a measure: write '{prefix}'"
        self.error("unknown-name", f"unknown name '{prefix}.{name}'", code.span_of(node.start, node.name_start - 1),
                   hint or "names with a dot are roster.COLUMN, actuals.COLUMN, targets.NAME or SCORECARD.score")
        return None

    def _not_here(self, node: ex.Name, code: Code, ctx: Context, what: str) -> Ref | None:
        """A name a row-level measure or ``base_pay`` cannot use: an error saying what can."""
        span = code.span_of(node.start, node.end)
        if ctx.level == "row":
            self.error("row-level", f"{what} cannot be used in {ctx.what}: a row-level measure is "
                       "evaluated on each transaction row and may name only actuals and roster columns, "
                       "parameters, tenure_months and tables", span,
                       "compute it in a separate (plain) measure that combines this one with the other value")
        else:
            self.error("bad-reference", f"{what} cannot be used in {ctx.what}: base pay may name only roster "
                       "columns, parameters, active_share and numbers", span)
        return None

    # -- types -------------------------------------------------------------------------

    def infer(self, code: Code, ctx: Context) -> str | None:
        try:
            return self._infer(code.tree, code, ctx)
        except _Bail:
            return None

    def _infer(self, node: ex.Expr, code: Code, ctx: Context) -> str:
        t = self._infer_node(node, code, ctx)
        self.types[id(node)] = t
        return t

    def expect(self, node: ex.Expr, code: Code, ctx: Context, want: str, role: str) -> str:
        t = self._infer(node, code, ctx)
        if t == ANY or want == ANY or t == want:
            if t == ANY and want == NUM and isinstance(node, ex.Name):
                ref = self.refs.get(id(node))
                if ref is not None and ref.kind == "roster":
                    self.numeric_roster.add(ref.name)
            return t
        span = code.span_of(node.start, node.end)
        piece = code.text[node.start:node.end]
        hint = None
        if want == NUM and t == BOOL:
            hint = f"use where({piece}, 1, 0) to turn a condition into a number"
        elif want == BOOL and t == NUM:
            hint = f"compare it, e.g. '{piece} > 0'"
        self.error("type-mismatch", f"{role} must be a {want}, but '{piece}' is a {t}", span, hint)
        raise _Bail()

    def _infer_node(self, node: ex.Expr, code: Code, ctx: Context) -> str:
        if isinstance(node, ex.Num):
            return NUM
        if isinstance(node, ex.Str):
            if ctx.level == "const":
                self.error("not-constant", f"text cannot be used in {ctx.what}", code.span_of(node.start, node.end))
                raise _Bail()
            return TEXT
        if isinstance(node, ex.Name):
            ref = self.lookup(node, code, ctx)
            if ref is None:
                raise _Bail()
            if ref.kind == "roster":
                return ANY
            if ref.kind == "actual" and ref.name in self.text_actual:
                return TEXT
            if ref.kind == "measure":
                return self.measure_type(ref.name)
            return NUM
        if isinstance(node, ex.Unary):
            self.expect(node.operand, code, ctx, NUM, "the operand of '-'")
            return NUM
        if isinstance(node, ex.Binary):
            ok = True
            for side in (node.left, node.right):
                try:
                    self.expect(side, code, ctx, NUM, f"each side of '{node.op}'")
                except _Bail:
                    ok = False
            if not ok:
                raise _Bail()
            return NUM
        if isinstance(node, ex.Compare):
            lt = self._infer(node.left, code, ctx)
            rt = self._infer(node.right, code, ctx)
            if node.op in ("==", "!="):
                if ANY not in (lt, rt) and lt != rt:
                    self.error("type-mismatch",
                               f"cannot compare a {lt} with a {rt} using '{node.op}'",
                               code.span_of(node.start, node.end))
                    raise _Bail()
                for side, st, other in ((node.left, lt, rt), (node.right, rt, lt)):
                    if st == ANY and other == NUM and isinstance(side, ex.Name):
                        self.numeric_roster.add(self.refs[id(side)].name)
            else:
                for side, st in ((node.left, lt), (node.right, rt)):
                    if st not in (NUM, ANY):
                        self.error("type-mismatch",
                                   f"'{node.op}' compares numbers, but '{code.text[side.start:side.end]}' is a {st}",
                                   code.span_of(side.start, side.end))
                        raise _Bail()
                    if st == ANY and isinstance(side, ex.Name):
                        self.numeric_roster.add(self.refs[id(side)].name)
            return BOOL
        if isinstance(node, (ex.BoolOp, ex.Not)):
            sides = (node.operand,) if isinstance(node, ex.Not) else (node.left, node.right)
            word = "not" if isinstance(node, ex.Not) else node.op
            for side in sides:
                self.expect(side, code, ctx, BOOL, f"the operand of '{word}'")
            return BOOL
        if isinstance(node, ex.Call):
            return self.infer_call(node, code, ctx)
        if isinstance(node, ex.In):
            return self.infer_in(node, code, ctx)
        raise AssertionError(node)

    def infer_in(self, node: ex.In, code: Code, ctx: Context) -> str:
        """``x in [...]``: the items are all texts or all numbers, like ``x``."""
        if ctx.level == "const":
            self.error("not-constant", f"'in' cannot be used in {ctx.what}", code.span_of(node.start, node.end))
            raise _Bail()
        kinds_ = {TEXT if isinstance(i, ex.Str) else NUM for i in node.items}
        if len(kinds_) > 1:
            self.error("type-mismatch", "the list after 'in' mixes texts and numbers",
                       code.span_of(node.items[0].start, node.items[-1].end), "give all texts or all numbers")
            raise _Bail()
        want = kinds_.pop()
        for item in node.items:
            self.types[id(item)] = want
        lt = self._infer(node.left, code, ctx)
        if lt not in (ANY, want):
            piece = code.text[node.left.start:node.left.end]
            self.error("type-mismatch", f"'{piece}' is a {lt}, but the list after 'in' holds {want}s",
                       code.span_of(node.start, node.end))
            raise _Bail()
        if lt == ANY and isinstance(node.left, ex.Name) and want == NUM:
            self.numeric_roster.add(self.refs[id(node.left)].name)
        return BOOL

    def infer_table_call(self, node: ex.Call, code: Code, ctx: Context) -> str:
        """``lookup(TABLE, key[, default])`` and ``has(TABLE, key)``."""
        name_span = code.span_of(node.start, node.func_end)
        n = len(node.args)
        ok_count = (2, 3) if node.func == "lookup" else (2,)
        if n not in ok_count:
            sig = FUNCTIONS[node.func]
            self.error("wrong-arguments", f"{node.func}() takes {' or '.join(map(str, ok_count))} arguments, got {n}",
                       code.span_of(node.start, node.end), f"call it as {sig.usage}")
            raise _Bail()
        if ctx.level == "const":
            self.error("not-constant", f"{node.func}() cannot be used in {ctx.what}: only numbers and "
                       "parameters are allowed there", name_span)
            raise _Bail()
        table = node.args[0]
        if not (isinstance(table, ex.Name) and table.prefix is None and table.name in self.tables):
            piece = code.text[table.start:table.end]
            hint = suggest(piece, list(self.tables)) or (f"tables: {', '.join(self.tables)}" if self.tables
                                                         else "declare it under 'tables'")
            self.error("unknown-name", f"unknown table '{piece}' (the first argument of {node.func}() names a "
                       "table of the plan)", code.span_of(table.start, table.end), hint)
            raise _Bail()
        self.refs[id(table)] = Ref("table", table.name)
        self.types[id(table)] = ANY
        kt = self._infer(node.args[1], code, ctx)
        if kt == BOOL:
            self.error("type-mismatch", f"the key of {node.func}() must be a text or a number, not a condition",
                       code.span_of(node.args[1].start, node.args[1].end))
            raise _Bail()
        if n == 3:
            self.expect(node.args[2], code, ctx, NUM, f"argument 3 of {node.func}()")
        return NUM if node.func == "lookup" else BOOL

    def infer_call(self, node: ex.Call, code: Code, ctx: Context) -> str:
        name_span = code.span_of(node.start, node.func_end)
        sig = FUNCTIONS.get(node.func)
        if sig is None:
            hint = suggest(node.func, list(FUNCTIONS))
            if node.func in self.measures or node.func in self.params:
                hint = f"'{node.func}' is a name, not a function"
            self.error("unknown-function", f"unknown function '{node.func}'", name_span,
                       hint or f"functions: {', '.join(FUNCTIONS)}")
            raise _Bail()
        if sig.scope == "table":
            return self.infer_table_call(node, code, ctx)
        if ctx.level == "row" and sig.scope != "elementwise":
            self.error("row-level", f"{node.func}() cannot be used in {ctx.what}: a row-level measure is "
                       "evaluated on each transaction row, where there are no other reps or periods", name_span,
                       "use it in a plain measure that reads this one")
            raise _Bail()
        if ctx.level == "pay" and sig.scope != "elementwise":
            self.error("bad-reference", f"{node.func}() cannot be used in {ctx.what}", name_span)
            raise _Bail()
        n = len(node.args)
        if (sig.variadic and n < len(sig.params)) or (not sig.variadic and n != len(sig.params)):
            want = f"at least {len(sig.params)}" if sig.variadic else str(len(sig.params))
            self.error("wrong-arguments",
                       f"{node.func}() takes {want} argument{'s' if want != '1' else ''}, got {n}",
                       code.span_of(node.start, node.end), f"call it as {sig.usage}")
            raise _Bail()
        if ctx.level == "const" and sig.scope != "elementwise":
            self.error("not-constant", f"{node.func}() cannot be used in {ctx.what}: only numbers and "
                       "parameters are allowed there", name_span)
            raise _Bail()
        types = []
        ok = True
        for i, arg in enumerate(node.args):
            want = sig.params[min(i, len(sig.params) - 1)]
            try:
                types.append(self.expect(arg, code, ctx, want, f"argument {i + 1} of {node.func}()"))
            except _Bail:
                ok = False
        if not ok:
            raise _Bail()
        if node.func == "where":
            a, b = types[1], types[2]
            if ANY not in (a, b) and a != b:
                self.error("type-mismatch",
                           f"both branches of where() must have the same type (got a {a} and a {b})",
                           code.span_of(node.start, node.end))
                raise _Bail()
            return a if a != ANY else b
        if sig.result == "first":
            if types[0] == TEXT:
                self.error("type-mismatch", f"{node.func}() takes a number or a condition, not text",
                           code.span_of(node.args[0].start, node.args[0].end))
                raise _Bail()
            return types[0] if types[0] != ANY else NUM
        return sig.result

    # -- measures & targets: types need their definitions ---------------------------------

    _measure_types: dict[str, str]

    def measure_type(self, name: str) -> str:
        return self._measure_types.get(name, NUM)


class _Bail(Exception):
    """Stop inferring one expression after its error was recorded."""


def _check_base(ck: _Checker) -> list[Ref]:
    """Measures, targets and target_incentive: names, types, aggregates, cycles."""
    plan = ck.plan
    ck._measure_types = {}
    # Measures may refer to each other in any order: infer types in dependency order by
    # first collecting dependencies, then typing in topological order.
    items: list[tuple[Ref, Code, str]] = []
    for m in plan.measures:
        items.append((Ref("measure", m.name), m.code, f"measure '{m.name}'"))
    for target in plan.targets:
        items.append((Ref("target", target.name), target.code, f"target '{target.name}'"))
    items.append((Ref("ti"), plan.target_incentive, "target_incentive"))

    spans = {ref: code for ref, code, _ in items}
    row = _row_level(ck)
    ck.row_measures = {name: agg for name, agg in row.items()}
    contexts: dict[Ref, Context] = {}
    for ref, code, what in items:
        deps: set[Ref] = set()
        if ref.kind == "measure" and ref.name in row:
            ctx = Context(f"row-level measure '{ref.name}'", "row", measure=True)
        else:
            ctx = Context(what, "base", measure=ref.kind == "measure")
        contexts[ref] = ctx
        # Resolution first (types may depend on measures not yet typed).
        for node in value_names(code.tree):
            r = ck.lookup(node, code, ctx)
            if r is not None and r.kind in ("measure", "target", "ti"):
                deps.add(r)
        ck.deps[ref] = deps
        if ref.kind == "measure" and ref.name not in row:
            continue
        if ref.kind == "measure":
            # The aggregation a column gets where a plain measure names it (version 1): the
            # one a row-level measure declares on it, where they agree and it is not a count.
            agg = row[ref.name]
            for node in value_names(code.tree):
                if node.prefix == "actuals" and agg != "count":
                    ck.declared_aggregates.setdefault(node.name, set()).add(agg)

    order = _toposort(ck, items, spans)
    _check_chain(ck, order, spans)
    # Now infer types in order (names already resolved).
    for ref in order:
        code = spans[ref]
        what = next(w for r, _, w in items if r == ref)
        t = ck.infer(code, contexts[ref])
        if ref.kind == "measure":
            if t == TEXT:
                ck.error("type-mismatch", f"measure '{ref.name}' must be a number or a condition, "
                         "not text", code.span)
            ck._measure_types[ref.name] = t if t in (NUM, BOOL) else NUM
        elif t is not None and t not in (NUM, ANY):
            ck.error("type-mismatch", f"{what} must be a number, but this is a {t}", code.span)
        elif t == ANY:
            _mark_numeric(ck, code)
    return order


def value_names(tree: ex.Expr):
    """The names in an expression that stand for values (not the table named by the first
    argument of ``lookup``/``has``)."""
    tables = {id(n.args[0]) for n in ex.walk(tree) if isinstance(n, ex.Call) and n.func in ("lookup", "has")
              and n.args}
    return (n for n in ex.walk(tree) if isinstance(n, ex.Name) and id(n) not in tables)


def _attributes(plan: Plan) -> tuple[set[str], set[str]]:
    """The actuals and roster columns the plan uses as text: compared with a string
    (``==``, ``!=``, ``in [...]``) or the key of a ``lookup``/``has``."""
    actual: set[str] = set()
    roster: set[str] = set()

    def mark(node: ex.Expr) -> None:
        if isinstance(node, ex.Name) and node.prefix in ("actuals", "roster"):
            (actual if node.prefix == "actuals" else roster).add(node.name)

    codes = plan.codes()
    for code in codes:
        for node in ex.walk(code.tree):
            if isinstance(node, ex.Compare) and node.op in ("==", "!="):
                if isinstance(node.right, ex.Str):
                    mark(node.left)
                if isinstance(node.left, ex.Str):
                    mark(node.right)
            elif isinstance(node, ex.In) and node.items and isinstance(node.items[0], ex.Str):
                mark(node.left)
            elif isinstance(node, ex.Call) and node.func in ("lookup", "has") and len(node.args) >= 2:
                mark(node.args[1])
    return actual, roster


def _row_level(ck: _Checker) -> dict[str, str]:
    """Row-level measures (name -> aggregate): written as ``{expr, aggregate}``, or naming a
    text attribute of the actuals."""
    out = {}
    for m in ck.plan.measures:
        names_attribute = any(n.prefix == "actuals" and n.name in ck.text_actual for n in value_names(m.code.tree))
        if m.explicit or names_attribute or m.aggregate != "sum":
            out[m.name] = m.aggregate
    return out


def _mark_numeric(ck: _Checker, code: Code) -> None:
    tree = code.tree
    if isinstance(tree, ex.Name) and id(tree) in ck.refs and ck.refs[id(tree)].kind == "roster":
        ck.numeric_roster.add(ck.refs[id(tree)].name)


MAX_CHAIN = 200
"""The longest chain of definitions each reading the next (m2 reads m1 reads m0: 3)."""


def _check_chain(ck: _Checker, order: list[Ref], spans) -> None:
    """Refuse a chain of measures longer than :data:`MAX_CHAIN` (once, at its end)."""
    length: dict[Ref, int] = {}
    for ref in order:
        length[ref] = 1 + max((length.get(d, 0) for d in ck.deps.get(ref, ())), default=0)
        if length[ref] > MAX_CHAIN:
            ck.error("too-deep", f"{_ref_text(ref)} is the end of a chain of more than {MAX_CHAIN} "
                     "definitions each reading the one before", spans[ref].span,
                     "read the earlier measures directly, or sum them in one measure, instead of "
                     "chaining each to the previous one")
            return


def _toposort(ck: _Checker, items, spans) -> list[Ref]:
    """Definitions in dependency order (each after what it reads); a circle is an error.

    Depth-first with an explicit stack, so a long chain of measures cannot exhaust Python's
    recursion limit.
    """
    order: list[Ref] = []
    state: dict[Ref, int] = {}  # 1: on the current path, 2: done
    names = {ref: w for ref, _, w in items}

    for root, _, _ in items:
        if state.get(root):
            continue
        path: list[Ref] = [root]
        state[root] = 1
        pending = [iter(sorted(ck.deps.get(root, ()), key=_ref_text))]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                pending.pop()
                done = path.pop()
                state[done] = 2
                order.append(done)
                continue
            if dep not in names or state.get(dep) == 2:
                continue
            if state.get(dep) == 1:
                cyc = path[path.index(dep):] + [dep]
                desc = " -> ".join(_ref_text(r) for r in cyc)
                ck.error("cycle", f"these definitions depend on each other in a circle: {desc}",
                         spans[dep].span, "break the circle: one of them must not use the others")
                continue
            state[dep] = 1
            path.append(dep)
            pending.append(iter(sorted(ck.deps.get(dep, ()), key=_ref_text)))
    return order


def _ref_text(ref: Ref) -> str:
    return {"measure": ref.name, "target": f"targets.{ref.name}", "ti": "target_incentive"}.get(
        ref.kind, ref.name)


def _const(ck: _Checker, code: Code | None, what: str) -> float | None:
    """Check a parameter-only expression and fold it."""
    if code is None:
        return None
    t = ck.infer(code, Context(what, "const"))
    if t is None:
        return None
    if t != NUM:
        ck.error("type-mismatch", f"{what} must be a number", code.span)
        return None
    value = const_value(code.tree, ck.plan.parameter_values, ck.refs)
    if not math.isfinite(value):
        ck.error("non-finite", f"{what} is not a finite number ({code.text} = {value})", code.span)
        return None
    return value


def _check_curve(ck: _Checker, curve: Curve | None, what: str) -> None:
    if curve is None:
        return
    prev = None
    for x, y in curve.points:
        xv = _const(ck, x, f"a point's x of {what}")
        _const(ck, y, f"a point's y of {what}")
        if xv is not None and prev is not None and not xv > prev:
            ck.error("curve-order",
                     f"the x values of {what} must increase strictly ({_fmt(xv)} comes after {_fmt(prev)})",
                     x.span, "sort the points by x and remove duplicates")
        if xv is not None:
            prev = xv


def _fmt(v: float) -> str:
    return f"{v:g}"


def _expect(ck: _Checker, code: Code | None, ctx: Context, want: str) -> None:
    if code is None:
        return
    t = ck.infer(code, ctx)
    if t is None or t == want or (t == ANY and want != BOOL):
        if t == ANY and want == NUM:
            _mark_numeric(ck, code)
        return
    if want == ANY:
        return
    hint = None
    if want == BOOL and t == NUM:
        hint = f"a condition compares something, e.g. '{code.text} > 0'"
    elif want == NUM and t == BOOL:
        hint = f"use where({code.text}, 1, 0) to turn a condition into a number"
    ck.error("type-mismatch", f"{ctx.what} must be a {want}, but this is a {t}", code.span, hint)


class ComponentChecks:
    """What a kind's :meth:`~engine.plan.kinds.Kind.check` hook is given: the checker, bound to
    component *i* (expressions there may use earlier components)."""

    def __init__(self, ck: _Checker, i: int, c: Component):
        self.ck = ck
        self.i = i
        self.component = c
        self.what = f"component '{c.name}'"

    def context(self, role: str) -> Context:
        return Context(f"{role} of {self.what}", "component", self.i)

    def expect(self, code: Code | None, role: str, want: str) -> None:
        """Check a per-rep expression (``role`` names it in messages) has type ``want``."""
        _expect(self.ck, code, self.context(role), want)

    def const(self, code: Code | None, what: str) -> float | None:
        """Check a parameter-only expression and fold it (None after an error)."""
        return _const(self.ck, code, what)

    def try_const(self, code: Code) -> float | None:
        """The value of an expression if it only uses numbers and parameters, else None."""
        return _try_const(self.ck, code)

    def curve(self, curve: Curve | None, what: str) -> None:
        """Check a curve's points are constants with strictly increasing x."""
        _check_curve(self.ck, curve, what)

    def error(self, code: str, message: str, span, hint: str | None = None) -> None:
        self.ck.error(code, message, span, hint)

    @staticmethod
    def fmt(v: float) -> str:
        return _fmt(v)


def _check_component(ck: _Checker, i: int, c: Component) -> None:
    checks = ComponentChecks(ck, i, c)
    what = checks.what
    _expect(ck, c.when, checks.context("'when'"), BOOL)
    _expect(ck, c.cap, checks.context("'cap'"), NUM)
    if c.weight is not None:
        w = _const(ck, c.weight, f"the weight of {what}")
        if w is not None and w < 0:
            ck.error("bad-value", f"the weight of {what} must not be negative (got {_fmt(w)})", c.weight.span)
    kind_of(c.kind).check(c, checks)


def _try_const(ck: _Checker, code: Code) -> float | None:
    """The value of an expression if it only uses numbers and parameters, else None."""
    for node in ex.walk(code.tree):
        if isinstance(node, ex.Name):
            r = ck.refs.get(id(node))
            if r is None or r.kind != "param":
                return None
        elif isinstance(node, (ex.Str, ex.Compare, ex.BoolOp, ex.Not)) or isinstance(node, ex.Call) and FUNCTIONS.get(node.func) is not None and \
                FUNCTIONS[node.func].scope != "elementwise":
            return None
    try:
        return const_value(code.tree, ck.plan.parameter_values, ck.refs)
    except (KeyError, TypeError):
        return None


def _check_names(ck: _Checker) -> None:
    """Duplicate names across measures, parameters and components."""
    seen: dict[str, tuple[str, object]] = {}
    for kind, items in (("parameter", ck.plan.parameters), ("measure", ck.plan.measures)):
        for it in items:
            if it.name in seen:
                ck.error("duplicate-name", f"'{it.name}' is both a {seen[it.name][0]} and a {kind}",
                         it.span, "names must be unique across parameters, measures and components")
            else:
                seen[it.name] = (kind, it.span)
    comp_seen: dict[str, Span] = {}
    for c in ck.plan.components:
        if c.name in comp_seen:
            ck.error("duplicate-name", f"there are two components named '{c.name}'", c.name_span,
                     f"the first is on line {comp_seen[c.name].line}; component names must be unique")
            continue
        comp_seen[c.name] = c.name_span
        if c.name in seen:
            ck.error("duplicate-name", f"component '{c.name}' has the name of a {seen[c.name][0]}",
                     c.name_span, "names must be unique across parameters, measures and components")
        if c.name == "target_incentive" or c.name in ("adjustment", "total", "grade", "rep_id", "period",
                                                       "currency", "prior_periods", "tenure_months",
                                                       "active_share") \
                or ck.plan.base_pay is not None and c.name in ("base_pay", "total_pay"):
            ck.error("duplicate-name", f"'{c.name}' is reserved and cannot name a component", c.name_span)
    for name in ("target_incentive",):
        if name in seen:
            ck.error("duplicate-name", f"'{name}' is reserved", seen[name][1])
    mod_seen: dict[str, object] = {}
    for m in ck.plan.modifiers:
        if m.name in mod_seen:
            ck.error("duplicate-name", f"there are two modifiers named '{m.name}'", m.span)
        mod_seen[m.name] = m.span


def check_plan(plan: Plan, source: str = "") -> CheckedPlan:
    """Run every validation pass; raise :class:`PlanErrors` with all problems found.

    Args:
        plan: the parsed plan.
        source: the plan's text, kept so that the checked plan can be rebuilt in another process.
    """
    ck = _Checker(plan)
    _check_names(ck)
    order = _check_base(ck)
    for i, c in enumerate(plan.components):
        _check_component(ck, i, c)
    plan_ctx = lambda role: Context(role, "plan")
    for m in plan.modifiers:
        _expect(ck, m.when, plan_ctx(f"'when' of modifier '{m.name}'"), BOOL)
        _expect(ck, m.multiply, plan_ctx(f"'multiply' of modifier '{m.name}'"), NUM)
        for name, span in m.applies_to:
            if name not in ck.components:
                ck.error("unknown-name", f"modifier '{m.name}' applies to unknown component '{name}'", span,
                         suggest(name, list(ck.components)))
    _expect(ck, plan.cap, plan_ctx("the plan 'cap'"), NUM)
    if plan.grades is not None:
        _expect(ck, plan.grades.input, plan_ctx("the input of grades"), NUM)
        for b in plan.grades.bands:
            _const(ck, b.min, "the min of a grade band")
    if plan.draw is not None:
        _expect(ck, plan.draw.amount, plan_ctx("the draw amount"), NUM)
    if plan.base_pay is not None:
        _expect(ck, plan.base_pay, Context("base_pay", "pay"), NUM)
    _check_tables(ck)
    if ck.errors:
        raise PlanErrors(ck.errors)
    actual_columns = {col: "sum" for col in ck.actual_columns}
    for col, aggs in ck.declared_aggregates.items():
        if len(aggs) == 1 and col in actual_columns:
            actual_columns[col] = next(iter(aggs))
    return CheckedPlan(
        plan=plan, order=tuple(order), roster_columns=frozenset(ck.roster_columns),
        numeric_roster_columns=frozenset(ck.numeric_roster - ck.text_roster),
        actual_columns=MappingProxyType(actual_columns), refs=MappingProxyType(ck.refs),
        types=MappingProxyType(ck.types), source=source,
        row_measures=MappingProxyType(dict(ck.row_measures)),
        text_actual_columns=frozenset(ck.text_actual & set(ck.actual_columns)),
        text_roster_columns=frozenset(ck.text_roster & ck.roster_columns),
        uses_tenure=ck.uses_tenure, tables=MappingProxyType(dict(ck.tables)),
    )


def _check_tables(ck: _Checker) -> None:
    """Table values and defaults are numbers or expressions of parameters."""
    for t in ck.plan.tables:
        for key, code in t.values:
            _const(ck, code, f"the value of '{key}' in table '{t.name}'")
        if t.default is not None:
            _const(ck, t.default, f"the default of table '{t.name}'")


def _rebuild(source: str, filename: str, overrides: tuple) -> CheckedPlan:
    # Built from its parts, not with engine.plan.parse_plan: the package imports this module.
    from engine.plan.parse import build_plan
    from engine.plan.source import parse_yaml

    plan, errors = build_plan(parse_yaml(source, filename), filename)
    if plan is None or errors:
        raise PlanErrors(errors)
    checked = check_plan(plan, source=source)
    return with_parameters(checked, dict(overrides)) if overrides else checked


def with_parameters(checked: CheckedPlan, params: dict[str, float]) -> CheckedPlan:
    """The plan with parameter values replaced, validated again.

    Moving a parameter can break rules that hold for its declared value (a curve's x values
    must increase, steps must increase, scorecard weights must sum to 1), so the new values
    get every check a plan gets, bounds included.

    Raises:
        PlanErrors: an unknown parameter, a value outside its bounds, or a plan rule broken.
    """
    import dataclasses

    plan = checked.plan
    known = {p.name for p in plan.parameters}
    unknown = sorted(set(params) - known)
    if unknown:
        raise PlanErrors([PlanError("unknown-name", f"the plan has no parameter '{name}'", None,
                                    suggest(name, sorted(known))) for name in unknown])
    new = tuple(dataclasses.replace(p, value=float(params[p.name])) if p.name in params else p
                for p in plan.parameters)
    rechecked = check_plan(dataclasses.replace(plan, parameters=new), source=checked.source)
    overrides = {**dict(checked.overrides), **{k: float(v) for k, v in params.items()}}
    return dataclasses.replace(rechecked, overrides=tuple(sorted(overrides.items())))
