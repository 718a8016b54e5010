"""Changing numbers in a plan's text, keeping every other character as it was.

Recalibration moves a few numbers of a plan (parameter values, scorecard metric weights).
The plan is a hand-written, reviewed file, so the result must read like the original with
only those numbers changed: comments, layout, quoting and key order stay byte for byte.

Every scalar of the YAML tree carries a :class:`~engine.core.errors.Span` (line and column,
counted the way PyYAML counts them), which :func:`~engine.core.yamledit.line_offsets` turns
into a character offset. :func:`splice` replaces exactly those characters (through the one
YAML text editor, :mod:`engine.core.yamledit`), checking first that they hold the text the
tree says they hold; :func:`rewrite_plan` then re-loads the new text,
validates it like any plan, and checks that it holds the new values.

Only plain or quoted one-line scalars are rewritten; a number written as a block scalar
(``|`` or ``>``) or reached through a YAML alias is refused with a clear error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.core.errors import PlanError, PlanErrors
from engine.core.yamledit import EditOverlap, TextEdits, line_offsets
from engine.plan import expr as ex
from engine.plan.kinds import kind_of
from engine.plan.source import YMap, YScalar, parse_yaml
from engine.plan.validate import CheckedPlan

__all__ = [
    "NumberSite",
    "decimals_for",
    "decimals_of",
    "format_number",
    "number_sites",
    "plan_numbers",
    "rewrite_plan",
    "splice",
]


@dataclass(frozen=True)
class NumberSite:
    """One number of the plan that recalibration may change, and where it is written.

    Attributes:
        key: the parameter name, or ``COMPONENT.METRIC`` for a scorecard metric weight.
        kind: ``parameter`` or ``weight``.
        value: its current value.
        min: lower bound (parameters: the declared ``min``; weights: 0).
        max: upper bound (parameters: the declared ``max``; weights: 1).
        scalar: the YAML scalar that holds it.
        group: for weights, the scorecard component (weights of a group sum to 1).
        integer: written as a whole number with whole-number bounds (kept whole).
    """

    key: str
    kind: str
    value: float
    min: float | None
    max: float | None
    scalar: YScalar
    group: str | None = None
    integer: bool = False

    @property
    def bounded(self) -> bool:
        return self.min is not None and self.max is not None

    @property
    def line(self) -> int:
        return self.scalar.span.line


def _is_whole_text(text: str) -> bool:
    t = text.strip().replace("_", "")
    return t.isdigit()


def number_sites(checked: CheckedPlan) -> list[NumberSite]:
    """Every parameter value, and every scorecard metric weight written as a literal number.

    Weights written as expressions (``weight: w_revenue``) are not listed: the numbers
    they depend on are parameters, listed on their own.
    """
    plan = checked.plan
    root = parse_yaml(checked.source, plan.file)
    out: list[NumberSite] = []
    params_node = root.get("parameters") if isinstance(root, YMap) else None
    by_name = {p.name: p for p in plan.parameters}
    if isinstance(params_node, YMap):
        for name, _, node in params_node.items:
            p = by_name.get(name)
            if p is None:
                continue
            scalar = node.get("value") if isinstance(node, YMap) else node
            if not isinstance(scalar, YScalar):
                continue
            whole = _is_whole_text(scalar.text) and float(p.value).is_integer()
            if isinstance(node, YMap):
                for bound in ("min", "max"):
                    b = node.get(bound)
                    whole = whole and (b is None or (isinstance(b, YScalar) and _is_whole_text(b.text)))
            out.append(NumberSite(name, "parameter", float(p.value), p.min, p.max, scalar, integer=whole))
    for c in plan.components:
        weights = kind_of(c.kind).weights(c)
        if len(weights) < 2 or not all(isinstance(code.tree, ex.Num) for _, code in weights):
            continue
        for key, code in weights:
            weight = code.tree
            assert isinstance(weight, ex.Num)  # checked for every weight above
            out.append(NumberSite(key, "weight", float(weight.value), 0.0, 1.0, code.scalar, group=c.name))
    return out


def plan_numbers(checked: CheckedPlan) -> dict[str, float]:
    """Current values of :func:`number_sites`, by key (parameters and literal weights)."""
    out = {p.name: float(p.value) for p in checked.plan.parameters}
    for c in checked.plan.components:
        for key, code in kind_of(c.kind).weights(c):
            if isinstance(code.tree, ex.Num):
                out[key] = float(code.tree.value)
    return out


def _scalar_range(text: str, starts: list[int], scalar: YScalar) -> tuple[int, int]:
    """Offsets of the characters that hold the scalar's value (inside quotes, if any)."""
    span = scalar.span
    if scalar.style not in (None, "'", '"'):
        raise PlanErrors([PlanError(
            "cannot-rewrite", "this number is written as a block scalar; recalibration only rewrites "
            "numbers written on one line", span, "write it as a plain number (value: 0.8)")])
    start = starts[span.line - 1] + span.column - 1
    if scalar.style in ("'", '"'):
        start += 1
    end = start + len(scalar.text)
    if text[start:end] != scalar.text or "\n" in scalar.text:
        raise PlanErrors([PlanError(
            "cannot-rewrite", f"cannot find '{scalar.text}' where the plan's YAML says it is", span,
            "write the number plainly on one line")])
    return start, end


def splice(text: str, edits: list[tuple[YScalar, str]]) -> str:
    """Replace each scalar's characters by the new text; nothing else changes.

    Raises:
        PlanErrors: a scalar is not where its span says, is a block scalar, or two edits
            touch the same characters (a number shared through a YAML alias).
    """
    starts = line_offsets(text)
    out = TextEdits(text)
    for scalar, new in edits:
        out.edit(*_scalar_range(text, starts, scalar), new, scalar)
    try:
        return out.apply()
    except EditOverlap as clash:
        assert isinstance(clash.second, YScalar)  # every edit above names its scalar
        raise PlanErrors([PlanError(
            "cannot-rewrite", "two numbers to change are written in the same place (a YAML alias)",
            clash.second.span, "write each number out instead of using an alias")]) from None


def format_number(value: float, like: str, decimals: int) -> str:
    """``value`` written the way ``like`` was (percent, digit grouping), with ``decimals``.

    ``decimals`` counts decimals of the value itself (0.743 has 3), also for a percent
    (74.3% is written with one decimal). Trailing zeros are dropped.
    """
    like = like.strip()
    percent = like.endswith("%")
    v = value * 100.0 if percent else value
    d = max(decimals - 2, 0) if percent else max(decimals, 0)
    v = round(v, d)
    if v == 0:
        v = 0.0  # no '-0'
    text = f"{v:.{d}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if "_" in like.split(".")[0] and abs(v) >= 1000:
        whole, _, frac = text.partition(".")
        sign = "-" if whole.startswith("-") else ""
        whole = f"{int(whole.lstrip('-')):_d}"
        text = sign + whole + ("." + frac if frac else "")
    if like[:1] in ("+",) and not text.startswith("-"):
        text = "+" + text
    return text + ("%" if percent else "")


def decimals_for(site: NumberSite) -> int:
    """Decimals a new value of ``site`` is written with.

    Whole-number parameters stay whole; a bounded parameter gets a resolution of about
    1/100 of its range (0.3 wide: 3 decimals); a weight, 2 decimals (or as many as written).
    Never fewer decimals than the value was written with.
    """
    written = site.scalar.text.strip().rstrip("%").replace("_", "")
    shown = len(written.split(".")[1]) if "." in written else 0
    if site.scalar.text.strip().endswith("%"):
        shown += 2
    if site.integer:
        return 0
    if site.kind == "weight":
        return max(2, shown)
    if site.min is not None and site.max is not None and site.max > site.min:  # bounded
        return max(shown, math.ceil(-math.log10((site.max - site.min) / 100.0)), 0)
    return max(shown, 3)


def rewrite_plan(checked: CheckedPlan, values: dict[str, float],
                 sites: list[NumberSite] | None = None) -> tuple[str, CheckedPlan]:
    """The plan text with the given numbers replaced, re-loaded and validated.

    Args:
        checked: the plan (with its source text).
        values: key (parameter name or ``COMPONENT.METRIC``) -> new value. Values are
            written as given (round them first: see :func:`decimals_for`); a value equal
            to the current one leaves its text untouched.
        sites: the plan's :func:`number_sites` (computed when omitted).

    Returns:
        ``(new text, new checked plan)``.

    Raises:
        PlanErrors: an unknown key, a number that cannot be rewritten, or a new plan that
            does not validate (a value outside its bounds, weights not summing to 1...).
    """
    sites = number_sites(checked) if sites is None else sites
    by_key = {s.key: s for s in sites}
    unknown = sorted(set(values) - set(by_key))
    if unknown:
        from engine.plan.parse import suggest

        raise PlanErrors([PlanError("unknown-name", f"the plan has no parameter or literal scorecard weight '{k}'",
                                    None, suggest(k, list(by_key))) for k in unknown])
    edits = []
    for key, value in values.items():
        site = by_key[key]
        if float(value) == site.value:
            continue
        text = format_number(float(value), site.scalar.text, decimals_of(float(value), site))
        edits.append((site.scalar, text))
    new_text = splice(checked.source, edits) if edits else checked.source
    from engine.plan import parse_plan

    new = parse_plan(new_text, checked.plan.file, like=checked.source)
    got = plan_numbers(new)
    for key, value in values.items():
        if not math.isclose(got.get(key, math.nan), float(value), rel_tol=1e-9, abs_tol=1e-12):
            raise PlanErrors([PlanError("cannot-rewrite", f"'{key}' reads back as {got.get(key)} instead of "
                                        f"{value} after rewriting", by_key[key].scalar.span)])
    return new_text, new


def decimals_of(value: float, site: NumberSite) -> int:
    """Enough decimals to write ``value`` exactly as the float it is (up to 12)."""
    base = 0 if site.integer else 1
    for d in range(base, 13):
        if round(value, d) == value or math.isclose(round(value, d), value, rel_tol=0, abs_tol=1e-13):
            return d
    return 12
