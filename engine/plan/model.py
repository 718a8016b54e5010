"""The plan model: frozen values, each carrying where it came from.

Expressions are kept as :class:`Code`: the source text, its parsed tree and the scalar it
was read from, so that every later stage can point at the exact characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.core.errors import Span
from engine.plan.expr import Expr
from engine.plan.source import YScalar

__all__ = [
    "AGGREGATES",
    "MINOR_UNITS",
    "PERIODS",
    "Band",
    "Code",
    "Component",
    "Curve",
    "Draw",
    "Grades",
    "Measure",
    "Metric",
    "Modifier",
    "Parameter",
    "Plan",
    "Step",
    "Table",
    "Target",
    "Tier",
]

AGGREGATES = ("sum", "mean", "last", "min", "max", "count")
PERIODS = ("month", "quarter", "half", "year")

# ISO 4217 minor units for the currencies whose minor unit is not 2 (everything else: 2).
MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0, "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}


@dataclass(frozen=True)
class Code:
    """One expression as written in the plan."""

    text: str
    tree: Expr
    scalar: YScalar = field(repr=False, compare=False)

    @property
    def span(self) -> Span:
        return self.scalar.offset_span(0, len(self.text))

    def span_of(self, start: int, end: int) -> Span:
        return self.scalar.offset_span(start, end)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    min: float | None
    max: float | None
    span: Span
    label: str | None = None


@dataclass(frozen=True)
class Measure:
    """A measure; ``explicit`` when written with an ``aggregate`` (``{expr, aggregate}``: then
    it is row-level, evaluated on each transaction row and gathered with ``aggregate``)."""

    name: str
    code: Code
    aggregate: str
    span: Span
    label: str | None = None
    explicit: bool = False


@dataclass(frozen=True)
class Table:
    """A named lookup table: text key -> number (an expression of parameters).

    Attributes:
        values: ``(key, value)`` pairs in file order; keys are text (a number key is kept
            in its canonical text, ``101`` for ``101`` or ``101.0``).
        default: the value of a missing key, or None (a missing key is then a data error).
        source: where the values came from (the plan, or the table file's path).
    """

    name: str
    values: tuple[tuple[str, Code], ...]
    default: Code | None
    span: Span
    source: str = ""
    file: str = ""  # a table file's path as the plan writes it (relative to the plan)


@dataclass(frozen=True)
class Target:
    name: str
    code: Code
    span: Span
    label: str | None = None


@dataclass(frozen=True)
class Curve:
    """Points (x, y) as parameter-only expressions, with the interpolation rules."""

    points: tuple[tuple[Code, Code], ...]
    interpolate: str  # linear | step
    beyond: str  # extend | flat
    span: Span


@dataclass(frozen=True)
class Metric:
    name: str
    input: Code
    weight: Code
    curve: Curve
    span: Span
    label: str | None = None


@dataclass(frozen=True)
class Tier:
    upto: Code | None
    rate: Code
    span: Span


@dataclass(frozen=True)
class Step:
    at: Code
    pay: Code
    span: Span


@dataclass(frozen=True)
class Component:
    """One payout component; only the fields of its ``kind`` are set.

    The built-in kinds (:mod:`engine.plan.kinds`) keep their fields here, one attribute each;
    a kind added later keeps its fields in ``spec``: one frozen value with a ``codes()``
    method listing the per-rep expressions it holds.
    """

    name: str
    kind: str  # a row of engine.plan.kinds.KINDS: curve | rate | step | scorecard | rank
    span: Span
    name_span: Span
    label: str | None = None
    when: Code | None = None
    cap: Code | None = None
    weight: Code | None = None
    # curve / step
    input: Code | None = None
    curve: Curve | None = None
    steps: tuple[Step, ...] = ()
    # rate
    base: Code | None = None
    rate: Code | None = None
    tiers: tuple[Tier, ...] = ()
    retroactive: bool = False
    # scorecard
    metrics: tuple[Metric, ...] = ()
    payout: Curve | None = None
    # rank
    by: Code | None = None
    group: Code | None = None
    awards: tuple[Code, ...] = ()
    # a kind without fields of its own above
    spec: Any = None


@dataclass(frozen=True)
class Modifier:
    name: str
    multiply: Code
    span: Span
    when: Code | None = None
    applies_to: tuple[tuple[str, Span], ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class Band:
    min: Code | None
    grade: str
    span: Span


@dataclass(frozen=True)
class Grades:
    input: Code
    bands: tuple[Band, ...]
    span: Span


@dataclass(frozen=True)
class Draw:
    amount: Code
    recoverable: bool
    span: Span


@dataclass(frozen=True)
class Plan:
    """A parsed plan. Use :func:`engine.plan.load_plan` to get a validated one."""

    name: str
    file: str
    currency: str
    period: str
    fiscal_year_start: int
    accumulate: str
    clawback: bool
    parameters: tuple[Parameter, ...]
    target_incentive: Code
    measures: tuple[Measure, ...]
    targets: tuple[Target, ...]
    components: tuple[Component, ...]
    modifiers: tuple[Modifier, ...] = ()
    cap: Code | None = None
    grades: Grades | None = None
    draw: Draw | None = None
    label: str | None = None
    tables: tuple[Table, ...] = ()
    placing_date: str = "date"  # transactions: {date: COLUMN}
    placing_declared: bool = False  # the plan says `transactions:` (an empty placing date is pending)
    base_pay: Code | None = None

    @property
    def minor_unit(self) -> int:
        return MINOR_UNITS.get(self.currency, 2)

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def codes(self) -> list[Code]:
        """Every expression of the plan that is evaluated per rep and period."""
        out = [m.code for m in self.measures] + [t.code for t in self.targets] + [self.target_incentive]
        for c in self.components:
            out += [x for x in (c.input, c.base, c.rate, c.when, c.cap, c.by, c.group) if x is not None]
            out += [s.pay for s in c.steps] + [t.rate for t in c.tiers] + [t.upto for t in c.tiers if t.upto]
            out += [m.input for m in c.metrics]
            if c.spec is not None:
                out += list(c.spec.codes())
        out += [m.multiply for m in self.modifiers] + [m.when for m in self.modifiers if m.when]
        out += [x for x in (self.cap, self.draw.amount if self.draw else None,
                            self.grades.input if self.grades else None, self.base_pay) if x is not None]
        return out

    @property
    def parameter_values(self) -> dict[str, float]:
        return {p.name: p.value for p in self.parameters}
