"""From the YAML tree to the plan model: structure, keys and expression syntax.

Every problem is collected (unknown keys with a did-you-mean, missing keys, wrong shapes,
expression syntax) so that one run reports them all. Name resolution and types are
checked afterwards, in :mod:`engine.plan.validate`.
"""

from __future__ import annotations

import math

from engine.core.errors import PlanError, Span
from engine.core.text import did_you_mean
from engine.plan import expr as ex
from engine.plan import kinds
from engine.plan.model import (
    AGGREGATES,
    PERIODS,
    Band,
    Code,
    Component,
    Curve,
    Draw,
    Grades,
    Measure,
    Modifier,
    Parameter,
    Plan,
    Table,
    Target,
)
from engine.plan.source import YMap, YNode, YScalar, YSeq

__all__ = ["Reader", "build_plan", "suggest"]

TOP_KEYS = (
    "plan", "label", "description", "currency", "period", "fiscal_year_start", "accumulate",
    "clawback", "parameters", "target_incentive", "measures", "targets", "components",
    "modifiers", "cap", "grades", "draw", "tables", "transactions", "base_pay",
)
COMMON_COMPONENT_KEYS = kinds.COMMON_KEYS


suggest = did_you_mean  # the name the plan modules use


class Reader:
    """Reads typed values out of the YAML tree, collecting errors instead of raising."""

    def __init__(self, filename: str):
        self.filename = filename
        self.errors: list[PlanError] = []

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.errors.append(PlanError(code, message, span, hint))

    # -- shapes ------------------------------------------------------------------------

    def mapping(self, node: YNode | None, what: str, allowed: tuple[str, ...],
                required: tuple[str, ...] = ()) -> YMap | None:
        if node is None:
            return None
        if not isinstance(node, YMap):
            self.error("bad-type", f"{what} must be a mapping of keys to values, got {_kind(node)}",
                       node.span)
            return None
        for key, kspan, _ in node.items:
            if key not in allowed:
                self.error("unknown-key", f"unknown key '{key}' in {what}", kspan,
                           suggest(key, allowed) or f"allowed keys: {', '.join(allowed)}")
        for key in required:
            if node.get(key) is None:
                self.error("missing-key", f"{what} needs '{key}'", node.span)
        return node

    def sequence(self, node: YNode | None, what: str) -> tuple[YNode, ...]:
        if node is None:
            return ()
        if not isinstance(node, YSeq):
            self.error("bad-type", f"{what} must be a list, got {_kind(node)}", node.span)
            return ()
        return node.items

    def entries(self, node: YNode | None, what: str, empty: str) -> tuple[YNode, ...]:
        """:meth:`sequence`, where an empty list is a ``bad-value`` error saying ``empty``
        (``"... needs at least one step"``)."""
        seq = self.sequence(node, what)
        if isinstance(node, YSeq) and not seq:
            self.error("bad-value", empty, node.span)
        return seq

    def scalar(self, node: YNode | None, what: str) -> YScalar | None:
        if node is None:
            return None
        if not isinstance(node, YScalar):
            self.error("bad-type", f"{what} must be a single value, got {_kind(node)}", node.span)
            return None
        return node

    def text(self, node: YNode | None, what: str) -> str | None:
        s = self.scalar(node, what)
        if s is None:
            return None
        if s.value is None:
            self.error("bad-type", f"{what} is empty", s.span)
            return None
        return str(s.value) if not isinstance(s.value, str) else s.value

    def choice(self, node: YNode | None, what: str, choices: tuple[str, ...], default: str) -> str:
        s = self.scalar(node, what)
        if s is None:
            return default
        value = str(s.value)
        if value not in choices:
            self.error("bad-value", f"{what} must be one of {', '.join(choices)} (got '{value}')",
                       s.span, suggest(value, choices))
            return default
        return value

    def boolean(self, node: YNode | None, what: str, default: bool) -> bool:
        s = self.scalar(node, what)
        if s is None:
            return default
        if not isinstance(s.value, bool):
            self.error("bad-type", f"{what} must be true or false (got '{s.text}')", s.span)
            return default
        return s.value

    def number(self, node: YNode | None, what: str) -> float | None:
        """A literal number (``80%`` and ``1_000`` allowed)."""
        s = self.scalar(node, what)
        if s is None:
            return None
        if isinstance(s.value, bool) or s.value is None:
            self.error("bad-type", f"{what} must be a number (got '{s.text}')", s.span)
            return None
        code = self.code(s, what)
        if code is None:
            return None
        tree = code.tree
        if isinstance(tree, ex.Num):
            return tree.value
        self.error("bad-type", f"{what} must be a number (got '{s.text}')", s.span)
        return None

    def identifier(self, node: YNode | None, what: str) -> tuple[str, Span] | None:
        s = self.scalar(node, what)
        if s is None:
            return None
        name = str(s.value) if s.value is not None else ""
        if not name.isidentifier() or name in ex.KEYWORDS or name.startswith("__"):
            self.error("bad-identifier",
                       f"{what} '{name}' is not a valid identifier",
                       s.span, "use letters (any script), digits and '_', not starting with a digit "
                       "or with '__'")
            return None
        return name, s.span

    def optional_code(self, node: YNode | None, what: str) -> Code | None:
        """An expression that may be absent (None without an error)."""
        return self.code(node, what) if node is not None else None

    def label(self, m: YMap) -> str | None:
        """The ``label`` of a mapping, if it has one."""
        return _label(self, m)

    def curve(self, points_node: YNode | None, interp_node: YNode | None, beyond_node: YNode | None,
              what: str, span: Span) -> Curve | None:
        """A payout curve: ``points`` with its ``interpolate`` and ``beyond`` keys."""
        return _curve(self, points_node, interp_node, beyond_node, what, span)

    def code(self, node: YNode | None, what: str) -> Code | None:
        """Parse an expression from a scalar."""
        s = self.scalar(node, what)
        if s is None:
            return None
        if s.value is None:
            self.error("bad-type", f"{what} is empty: expected an expression", s.span)
            return None
        if isinstance(s.value, bool):
            # `when: true` / `when: false`: a constant condition.
            n = len(s.text)
            one, other = ex.Num(0, n, 1.0), ex.Num(0, n, 1.0 if s.value else 0.0)
            return Code(s.text, ex.Compare(0, n, "==", one, other), s)
        text = s.text if not isinstance(s.value, str) else s.value
        if s.style in ("|", ">"):
            text = text.strip()
        try:
            tree = ex.parse_expression(text, s.offset_span)
        except PlanError as e:
            if e.hint is None and s.style is None and text.count("(") > text.count(")"):
                e.hint = ("YAML cut this expression at a comma: inside {...} or [...] an expression "
                          "with a comma must be quoted (\"...\") or written in block style")
            self.errors.append(e)
            return None
        return Code(text, tree, s)


def _kind(node: YNode) -> str:
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    if node.value is None:
        return "nothing"
    return f"'{node.text}'"


def _label(r: Reader, m: YMap) -> str | None:
    node = m.get("label")
    return r.text(node, "label") if node is not None else None


def build_plan(root: YNode, filename: str) -> tuple[Plan | None, list[PlanError]]:
    """Build the plan model; returns the plan (None if unusable) and every problem found."""
    r = Reader(filename)
    if isinstance(root, YMap) and root.get("plan") is None and root.get("scenario") is not None:
        # A scenario given where a plan is expected: one error that says so, not one per key.
        span = next(k for key, k, _ in root.items if key == "scenario")
        r.error("not-a-plan", "this is a scenario file (it has 'scenario:'), not a plan", span,
                "pass a scenario with --scenario FILE, and a plan (with 'plan:') as the argument")
        return None, r.errors
    top = r.mapping(root, "the plan", TOP_KEYS,
                    ("plan", "period", "target_incentive", "measures", "components"))
    if top is None:
        return None, r.errors

    ident = r.identifier(top.get("plan"), "plan name")
    name = ident[0] if ident else "plan"
    currency = "USD"
    cur_node = top.get("currency")
    if cur_node is not None:
        cur = r.text(cur_node, "currency")
        if cur is not None:
            if not (len(cur) == 3 and cur.isalpha() and cur.isupper()):
                r.error("bad-value", f"currency must be an ISO 4217 code such as USD, EUR, CNY or JPY "
                        f"(got '{cur}')", cur_node.span)
            else:
                currency = cur
    period = r.choice(top.get("period"), "period", PERIODS, "month")
    fys = 1
    fys_node = top.get("fiscal_year_start")
    if fys_node is not None:
        v = r.number(fys_node, "fiscal_year_start")
        if v is not None:
            assert isinstance(fys_node, YScalar)  # a number is read only from a scalar
            if v != int(v) or not 1 <= v <= 12:
                r.error("bad-value", f"fiscal_year_start must be a month number 1-12 (got {fys_node.text})",
                        fys_node.span)
            else:
                fys = int(v)
    accumulate = r.choice(top.get("accumulate"), "accumulate", ("none", "year"), "none")
    clawback = r.boolean(top.get("clawback"), "clawback", False)
    clawback_node = top.get("clawback")
    if clawback_node is not None and accumulate != "year":
        r.error("bad-value", "clawback only applies with 'accumulate: year'", clawback_node.span,
                "add 'accumulate: year' or remove 'clawback'")

    parameters = _parameters(r, top.get("parameters"))
    ti = r.code(top.get("target_incentive"), "target_incentive")
    measures = _measures(r, top.get("measures"))
    targets = _targets(r, top.get("targets"))
    components = _components(r, top.get("components"))
    modifiers = _modifiers(r, top.get("modifiers"))
    cap = r.code(top.get("cap"), "cap") if top.get("cap") is not None else None
    grades = _grades(r, top.get("grades"))
    draw = _draw(r, top.get("draw"))
    label = _label(r, top)
    tables = _tables(r, top.get("tables"))
    placing, declared = _transactions(r, top.get("transactions"))
    base_pay = r.code(top.get("base_pay"), "base_pay") if top.get("base_pay") is not None else None

    if ti is None or not components and top.get("components") is None:
        return None, r.errors
    plan = Plan(
        name=name, file=filename, currency=currency, period=period, fiscal_year_start=fys,
        accumulate=accumulate, clawback=clawback, parameters=parameters, target_incentive=ti,
        measures=measures, targets=targets, components=components, modifiers=modifiers,
        cap=cap, grades=grades, draw=draw, label=label, tables=tables, placing_date=placing,
        placing_declared=declared, base_pay=base_pay,
    )
    return plan, r.errors


def _named_entries(r: Reader, node: YNode | None, what: str):
    """Yield (name, name_span, value_node) of a ``name: value`` mapping section."""
    if node is None:
        return
    if not isinstance(node, YMap):
        r.error("bad-type", f"'{what}' must be a mapping of names to values, got {_kind(node)}", node.span)
        return
    for key, kspan, value in node.items:
        if not key.isidentifier() or key in ex.KEYWORDS or key.startswith("__"):
            r.error("bad-identifier", f"'{key}' is not a valid name in {what}", kspan,
                    "use letters (any script), digits and '_', not starting with a digit "
                    "or with '__'")
            continue
        yield key, kspan, value


def _parameters(r: Reader, node: YNode | None) -> tuple[Parameter, ...]:
    out = []
    for name, kspan, value in _named_entries(r, node, "parameters"):
        if isinstance(value, YMap):
            r.mapping(value, f"parameter '{name}'", ("value", "min", "max", "label"), ("value",))
            value_node, min_node = value.get("value"), value.get("min")
            v = r.number(value_node, f"value of parameter '{name}'")
            lo = r.number(min_node, f"min of parameter '{name}'") if min_node is not None else None
            hi = r.number(value.get("max"), f"max of parameter '{name}'") if value.get("max") is not None else None
            label = _label(r, value)
            if v is None:
                continue
            assert value_node is not None  # v was read from it
            if lo is not None and hi is not None and lo > hi:
                assert min_node is not None  # lo was read from it
                r.error("parameter-bounds", f"parameter '{name}' has min {lo:g} above max {hi:g}",
                        min_node.span)
            elif (lo is not None and v < lo) or (hi is not None and v > hi):
                r.error("parameter-bounds",
                        f"parameter '{name}' has value {v:g} outside its bounds "
                        f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]",
                        value_node.span, "move the value inside [min, max] or widen the bounds")
            out.append(Parameter(name, v, lo, hi, kspan, label))
        else:
            v = r.number(value, f"parameter '{name}'")
            if v is not None:
                out.append(Parameter(name, v, None, None, kspan))
    return tuple(out)


def _measures(r: Reader, node: YNode | None) -> tuple[Measure, ...]:
    out = []
    for name, kspan, value in _named_entries(r, node, "measures"):
        aggregate, label, explicit = "sum", None, False
        if isinstance(value, YMap):
            r.mapping(value, f"measure '{name}'", ("expr", "aggregate", "label", "description"), ("expr",))
            code = r.code(value.get("expr"), f"measure '{name}'")
            aggregate = r.choice(value.get("aggregate"), f"aggregate of measure '{name}'", AGGREGATES, "sum")
            label = _label(r, value)
            explicit = value.get("aggregate") is not None  # {expr, aggregate}: row-level
        else:
            code = r.code(value, f"measure '{name}'")
        if code is not None:
            out.append(Measure(name, code, aggregate, kspan, label, explicit))
    return tuple(out)


def _targets(r: Reader, node: YNode | None) -> tuple[Target, ...]:
    out = []
    for name, kspan, value in _named_entries(r, node, "targets"):
        label = None
        if isinstance(value, YMap):
            r.mapping(value, f"target '{name}'", ("expr", "label", "description"), ("expr",))
            code = r.code(value.get("expr"), f"target '{name}'")
            label = _label(r, value)
        else:
            code = r.code(value, f"target '{name}'")
        if code is not None:
            out.append(Target(name, code, kspan, label))
    return tuple(out)


def _curve(r: Reader, points_node: YNode | None, interp_node: YNode | None, beyond_node: YNode | None,
           what: str, span: Span) -> Curve | None:
    points = []
    if points_node is None:
        return None
    seq = r.entries(points_node, f"points of {what}", f"{what} needs at least one point")
    for p in seq:
        pair = r.sequence(p, f"a point of {what}")
        if not isinstance(p, YSeq):
            continue
        if len(pair) != 2:
            r.error("bad-type", f"a point of {what} must be [x, y] (got {len(pair)} values)", p.span)
            continue
        x = r.code(pair[0], f"x of a point of {what}")
        y = r.code(pair[1], f"y of a point of {what}")
        if x is not None and y is not None:
            points.append((x, y))
    interpolate = r.choice(interp_node, f"interpolate of {what}", ("linear", "step"), "linear")
    beyond = r.choice(beyond_node, f"beyond of {what}", ("extend", "flat"), "extend")
    return Curve(tuple(points), interpolate, beyond, points_node.span if points_node else span)


def _components(r: Reader, node: YNode | None) -> tuple[Component, ...]:
    out = []
    items = r.entries(node, "components", "the plan needs at least one component")
    for item in items:
        c = _component(r, item)
        if c is not None:
            out.append(c)
    return tuple(out)


def _component(r: Reader, item: YNode) -> Component | None:
    table = kinds.KINDS
    names = tuple(table)
    if not isinstance(item, YMap):
        r.error("bad-type", f"a component must be a mapping with 'name' and 'kind', got {_kind(item)}",
                item.span)
        return None
    ident = r.identifier(item.get("name"), "component name")
    if item.get("name") is None:
        r.error("missing-key", "a component needs 'name'", item.span)
    kind = None
    kind_node = item.get("kind")
    if kind_node is None:
        r.error("missing-key", "a component needs 'kind' (one of " + ", ".join(names) + ")", item.span)
    else:
        k = r.text(kind_node, "kind")
        if k is not None and k not in table:
            r.error("bad-value", f"unknown component kind '{k}'", kind_node.span,
                    suggest(k, names) or f"kinds: {', '.join(names)}")
        elif k is not None:
            kind = k
    if ident is None or kind is None:
        return None
    name, name_span = ident
    what = f"component '{name}'"
    spec = table[kind]
    allowed = COMMON_COMPONENT_KEYS + spec.keys
    for key, kspan, _ in item.items:
        if key not in allowed:
            other = [k for k, row in table.items() if key in row.keys]
            hint = (f"'{key}' belongs to {' and '.join(other)} components" if other
                    else suggest(key, allowed) or f"allowed keys: {', '.join(allowed)}")
            r.error("unknown-key", f"unknown key '{key}' in {what} (kind {kind})", kspan, hint)
    for key in spec.required:
        if item.get(key) is None:
            r.error("missing-key", f"{what} (kind {kind}) needs '{key}'", item.span)

    fields: dict = {
        "name": name, "kind": kind, "span": item.span, "name_span": name_span, "label": _label(r, item),
        "when": r.optional_code(item.get("when"), f"'when' of {what}"),
        "cap": r.optional_code(item.get("cap"), f"'cap' of {what}"),
    }
    weight_node = item.get("weight")
    if weight_node is not None:
        if not spec.weighted:
            r.error("weight-not-allowed",
                    f"{what} is a '{kind}' component: it pays amounts, so it cannot have a 'weight'",
                    weight_node.span, "weights apply to "
                    + " and ".join(k for k, row in table.items() if row.weighted)
                    + " components; scale the amounts instead")
        else:
            fields["weight"] = r.code(weight_node, f"weight of {what}")
    fields.update(spec.parse(r, item, what))
    return Component(**fields)


def _modifiers(r: Reader, node: YNode | None) -> tuple[Modifier, ...]:
    out = []
    for item in r.sequence(node, "modifiers"):
        m = r.mapping(item, "a modifier", ("name", "label", "description", "when", "multiply", "applies_to"),
                      ("name", "multiply"))
        if m is None:
            continue
        ident = r.identifier(m.get("name"), "modifier name") if m.get("name") is not None else None
        what = f"modifier '{ident[0]}'" if ident else "a modifier"
        multiply = r.code(m.get("multiply"), f"multiply of {what}")
        when = r.code(m.get("when"), f"'when' of {what}") if m.get("when") is not None else None
        applies: list[tuple[str, Span]] = []
        at = m.get("applies_to")
        if isinstance(at, YScalar):
            at_items: tuple = (at,)
        else:
            at_items = r.sequence(at, f"applies_to of {what}")
        for a in at_items:
            got = r.identifier(a, "component name in applies_to")
            if got is not None:
                applies.append(got)
        if ident and multiply:
            out.append(Modifier(ident[0], multiply, m.span, when, tuple(applies), _label(r, m)))
    return tuple(out)


def _grades(r: Reader, node: YNode | None) -> Grades | None:
    m = r.mapping(node, "grades", ("input", "bands"), ("input", "bands"))
    if m is None:
        return None
    code = r.code(m.get("input"), "input of grades")
    bands = []
    bands_node = m.get("bands")
    seq = r.sequence(bands_node, "bands of grades")
    for i, b in enumerate(seq):
        bm = r.mapping(b, "a grade band", ("min", "grade"), ("grade",))
        if bm is None:
            continue
        lo = r.code(bm.get("min"), "min of a grade band") if bm.get("min") is not None else None
        if lo is None and bm.get("min") is None and i < len(seq) - 1:
            r.error("missing-key", "only the last grade band may omit 'min'", bm.span)
        grade = r.text(bm.get("grade"), "grade")
        if grade is not None:
            bands.append(Band(lo, grade, bm.span))
    if isinstance(bands_node, YSeq) and not seq:
        r.error("bad-value", "grades need at least one band", bands_node.span)
    if code is None:
        return None
    return Grades(code, tuple(bands), m.span)


def _draw(r: Reader, node: YNode | None) -> Draw | None:
    m = r.mapping(node, "draw", ("amount", "recoverable"), ("amount",))
    if m is None:
        return None
    amount = r.code(m.get("amount"), "amount of draw")
    recoverable = r.boolean(m.get("recoverable"), "recoverable", False)
    if amount is None:
        return None
    return Draw(amount, recoverable, m.span)



def table_key(value: object) -> str:
    """The canonical text of a table key or a lookup key: text as it is, a whole number
    without a decimal part (``101`` for 101 and 101.0), other numbers in shortest form."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):  # an empty cell
        return ""
    if f.is_integer():
        return str(int(f))
    return repr(f)


def _tables(r: Reader, node: YNode | None) -> tuple[Table, ...]:
    """``tables:``: each a mapping with ``values`` (key: number) or ``file``, and an
    optional ``default``."""
    out = []
    for name, kspan, value in _named_entries(r, node, "tables"):
        what = f"table '{name}'"
        m = r.mapping(value, what, ("values", "file", "default", "label", "description"))
        if m is None:
            continue
        default = r.code(m.get("default"), f"default of {what}") if m.get("default") is not None else None
        values_node, file_node = m.get("values"), m.get("file")
        if (values_node is None) == (file_node is None):
            r.error("missing-key" if values_node is None else "bad-value",
                    f"{what} needs either 'values' or 'file'" if values_node is None
                    else f"{what} has both 'values' and 'file': give one", m.span)
            continue
        pairs: list[tuple[str, Code]] = []
        source = r.filename
        written = ""
        if values_node is not None:
            if not isinstance(values_node, YMap):
                r.error("bad-type", f"'values' of {what} must be a mapping of keys to numbers, got "
                        f"{_kind(values_node)}", values_node.span)
                continue
            seen: dict[str, Span] = {}
            for key, key_span, v in values_node.items:
                k = table_key(_yaml_key(key))
                if k in seen:
                    r.error("duplicate-key", f"{what} has the key '{k}' twice", key_span,
                            f"the first is on line {seen[k].line}")
                    continue
                seen[k] = key_span
                code = r.code(v, f"the value of '{k}' in {what}")
                if code is not None:
                    pairs.append((k, code))
        else:
            assert file_node is not None  # exactly one of values and file is given
            got = _table_file(r, file_node, what)
            if got is None:
                continue
            pairs, source = got
            written = str(file_node.value) if isinstance(file_node, YScalar) else ""
        out.append(Table(name, tuple(pairs), default, kspan, source, written))
    return tuple(out)


def _yaml_key(key: str) -> object:
    """A mapping key as YAML would type it: ``101`` a number, ``DESK`` text."""
    import yaml

    try:
        v = yaml.safe_load(key)
    except yaml.YAMLError:
        return key
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else key


def _table_file(r: Reader, node: YNode, what: str) -> tuple[list[tuple[str, Code]], str] | None:
    """The ``key,value`` rows of a table file (CSV or Excel, relative to the plan)."""
    from pathlib import Path

    import pandas as pd

    s = r.scalar(node, f"file of {what}")
    if s is None or s.value is None:
        if s is not None:
            r.error("bad-type", f"file of {what} is empty", s.span)
        return None
    rel = str(s.value)
    base = Path(r.filename).parent if r.filename and not r.filename.startswith("<") else Path(".")
    path = (base / rel) if not Path(rel).is_absolute() else Path(rel)
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            frame = pd.read_excel(path, dtype=object)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        r.error("unreadable-file", f"the table file '{rel}' of {what} does not exist (looked for {path})", s.span,
                "the path is relative to the plan file")
        return None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        r.error("unreadable-file", f"the table file '{rel}' of {what} cannot be read: {e}", s.span)
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    if list(frame.columns)[:2] != ["key", "value"]:
        r.error("bad-value", f"the table file '{rel}' of {what} must have the header 'key,value' "
                f"(got {','.join(map(str, frame.columns))})", s.span)
        return None
    pairs: list[tuple[str, Code]] = []
    seen: dict[str, int] = {}
    for i, (k, v) in enumerate(zip(frame["key"], frame["value"])):
        row = i + 2
        k = table_key(k.strip() if isinstance(k, str) else k)
        text = str(v).strip() if v is not None else ""
        if k in seen:
            r.error("duplicate-key", f"the table file '{rel}' of {what} has the key '{k}' twice (rows "
                    f"{seen[k]} and {row})", s.span)
            continue
        seen[k] = row
        try:
            number = float(text.replace("_", "")[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            number = float("nan")
        if not math.isfinite(number):
            r.error("bad-value", f"row {row} of the table file '{rel}' of {what}: the value of '{k}' must be a "
                    f"number (got {text!r})", s.span)
            continue
        scalar = YScalar(number, repr(number), s.span)
        pairs.append((k, Code(repr(number), ex.Num(0, len(repr(number)), number), scalar)))
    return pairs, str(path)


def _transactions(r: Reader, node: YNode | None) -> tuple[str, bool]:
    """``transactions: {date: COLUMN}``: the column whose date places each transaction."""
    m = r.mapping(node, "transactions", ("date",), ("date",))
    if m is None:
        return "date", False
    col = r.text(m.get("date"), "the date of transactions")
    if col is None:
        return "date", True
    return col.strip(), True
