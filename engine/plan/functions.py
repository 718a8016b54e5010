"""The built-in functions of the expression language: signatures and two implementations.

Each element-wise function has a numpy implementation (the compiled path) and a plain
scalar one (the reference path); the cross-rep and cross-period functions (``rank``,
``previous``, ``group_sum``, ``group_mean``) need the whole table and are implemented by
each evaluator (:mod:`engine.plan.compile` and :mod:`engine.plan.reference`).

Both paths follow IEEE arithmetic: a division by zero gives an infinity or NaN rather
than raising, so that both evaluators detect non-finite values at the same places.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ANY", "BOOL", "FUNCTIONS", "NUM", "OPERATORS", "TEXT", "Operator", "Signature", "scalar_div"]

NUM, BOOL, TEXT, ANY = "number", "condition", "text", "any"


@dataclass(frozen=True)
class Signature:
    """How a function is called.

    Attributes:
        name: the function's name in plans.
        params: the type of each parameter (``ANY`` accepts everything).
        variadic: the last parameter may repeat (``min``/``max``).
        result: the result type, or ``"same"`` for the type of the 2nd argument (``where``)
            or of the 1st (``previous``).
        scope: ``elementwise``, ``reps`` (across reps within a period), ``periods`` or
            ``table`` (``lookup``/``has``: the first argument names a table of the plan).
        usage: how to call it, for error messages.
        numpy: the vectorized implementation (element-wise functions only).
        scalar: the scalar implementation (element-wise functions only).
    """

    name: str
    params: tuple[str, ...]
    variadic: bool
    result: str
    scope: str
    usage: str
    numpy: Callable | None = None
    scalar: Callable | None = None


def scalar_div(a: float, b: float) -> float:
    """IEEE division on Python floats (numpy semantics: x/0 is +-inf, 0/0 is nan)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _np_eq(a, b):
    if isinstance(a, str) or isinstance(b, str):  # text against a column of text
        return np.asarray(a, dtype=object) == np.asarray(b, dtype=object)
    return np.equal(a, b)


@dataclass(frozen=True)
class Operator:
    """An operator of the expression language and its two implementations.

    Attributes:
        symbol: as written in plans (``+``, ``<=``, ``and``, ...).
        numpy: the vectorized implementation (the compiled path).
        scalar: the plain Python one (the reference path and constant folding).
    """

    symbol: str
    numpy: Callable
    scalar: Callable


OPERATORS: dict[str, Operator] = {
    o.symbol: o
    for o in [
        Operator("+", np.add, operator.add),
        Operator("-", np.subtract, operator.sub),
        Operator("*", np.multiply, operator.mul),
        Operator("/", np.true_divide, scalar_div),
        Operator("<", np.less, operator.lt),
        Operator("<=", np.less_equal, operator.le),
        Operator(">", np.greater, operator.gt),
        Operator(">=", np.greater_equal, operator.ge),
        Operator("==", _np_eq, operator.eq),
        Operator("!=", lambda a, b: np.logical_not(_np_eq(a, b)), operator.ne),
        Operator("and", np.logical_and, lambda a, b: bool(a) and bool(b)),
        Operator("or", np.logical_or, lambda a, b: bool(a) or bool(b)),
    ]
}
"""Every binary operator, comparison and boolean connective: one table for both evaluators
(and for constant folding in validation), as :data:`FUNCTIONS` is for functions."""


def _np_safe_div(a, b, default):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = np.true_divide(a, b)
    bad = (b == 0) | ~np.isfinite(q)
    return np.where(bad, default, q)


def _scalar_safe_div(a, b, default):
    if b == 0:
        return default
    q = scalar_div(a, b)
    return q if math.isfinite(q) else default


def _scalar_clip(x, lo, hi):
    # numpy semantics: max with lo first, then min with hi, NaN propagating.
    return _scalar_min(_scalar_max(x, lo), hi)


def _np_min(*args):
    out = args[0]
    for a in args[1:]:
        out = np.minimum(out, a)
    return out


def _np_max(*args):
    out = args[0]
    for a in args[1:]:
        out = np.maximum(out, a)
    return out


def _scalar_min(*args):
    out = args[0]
    for a in args[1:]:
        out = a if (a < out or math.isnan(a)) else out
    return out


def _scalar_max(*args):
    out = args[0]
    for a in args[1:]:
        out = a if (a > out or math.isnan(a)) else out
    return out


def _np_clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


FUNCTIONS: dict[str, Signature] = {
    s.name: s
    for s in [
        Signature("min", (NUM, NUM), True, NUM, "elementwise", "min(a, b, ...)", _np_min, _scalar_min),
        Signature("max", (NUM, NUM), True, NUM, "elementwise", "max(a, b, ...)", _np_max, _scalar_max),
        Signature("abs", (NUM,), False, NUM, "elementwise", "abs(x)", np.abs, abs),
        Signature("clip", (NUM, NUM, NUM), False, NUM, "elementwise", "clip(x, lo, hi)", _np_clip,
                  _scalar_clip),
        Signature("where", (BOOL, ANY, ANY), False, "same", "elementwise", "where(condition, a, b)",
                  np.where, lambda c, a, b: a if c else b),
        Signature("safe_div", (NUM, NUM, NUM), False, NUM, "elementwise", "safe_div(a, b, default)",
                  _np_safe_div, _scalar_safe_div),
        Signature("rank", (NUM,), False, NUM, "reps", "rank(x)"),
        Signature("previous", (ANY,), False, "first", "periods", "previous(x)"),
        Signature("group_sum", (NUM, ANY), False, NUM, "reps", "group_sum(x, key)"),
        Signature("group_mean", (NUM, ANY), False, NUM, "reps", "group_mean(x, key)"),
        Signature("lookup", (ANY, ANY, NUM), False, NUM, "table", "lookup(TABLE, key) or lookup(TABLE, key, default)"),
        Signature("has", (ANY, ANY), False, BOOL, "table", "has(TABLE, key)"),
    ]
}
