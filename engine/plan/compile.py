"""The compiled evaluator: a checked plan lowered to numpy, arrays in, arrays out.

Compilation is a list of small passes over each expression: names are resolved (done by
validation), parameter-only subtrees are folded to constants, and what remains becomes a
tree of closures, each doing one numpy operation over every rep, period (and simulation
run) at once. There is no loop over reps anywhere; the only Python loops are over plan
components, tiers and, for year-to-date true-ups and draws, over periods.

Array shapes: reps on axis -2 and periods on axis -1; any leading axes (simulation runs)
broadcast through. Roster columns are ``(..., R)`` and are viewed as ``(..., R, 1)``.

``compile_plan(checked, backend=...)`` picks the implementation from one table,
:data:`BACKENDS` (``"numpy"``, this module, and ``"numba"``, a kernel specialized for the
plan: :mod:`engine.plan.numba_backend`); every backend returns a :class:`PayoutProgram`,
which is all the simulator and the statements use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, overload

import numpy as np

from engine.core.errors import DataError, DataErrors, EvaluationError
from engine.core.inputs import Inputs
from engine.core.sums import cumsum_last_axis, sum_last_axis
from engine.plan import expr as ex
from engine.plan.functions import FUNCTIONS, OPERATORS
from engine.plan.kernels import (
    award_shares,
    counts_compiled,
    deviation_counts_numpy,
    ranks_against,
    sort_reference,
)
from engine.plan.kinds import kind_of
from engine.plan.model import Code, Component, Curve
from engine.plan.validate import CheckedPlan, Ref, const_value, with_parameters

__all__ = [
    "BACKENDS", "BACKEND_ENV", "CompiledPlan", "ComponentLowering", "Folder", "PayEnv", "PayoutArrays", "PayoutProgram", "compile_plan",
    "curve_numpy", "default_backend", "grouped_rank",
]

Fn = Callable[["_Env"], object]

_DEFAULT_PAYOUT = ((0.0, 0.0), (1.0, 1.0))


# --------------------------------------------------------------------------- kernels

def curve_numpy(x: np.ndarray, xs: np.ndarray, ys: np.ndarray, interpolate: str, beyond: str) -> np.ndarray:
    """Evaluate a payout curve element-wise (0 below the first point)."""
    x = np.asarray(x, dtype=np.float64)
    if interpolate == "step":
        idx = np.searchsorted(xs, x, side="right") - 1
        y = ys[np.clip(idx, 0, len(ys) - 1)]
        return np.where(idx >= 0, y, 0.0)
    y = np.interp(x, xs, ys)
    if beyond == "extend" and len(xs) >= 2:
        above = x > xs[-1]
        if above.any():
            slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            y = np.where(above, ys[-1] + slope * (x - xs[-1]), y)
    below = x < xs[0]
    if below.any():
        y[below] = 0.0
    return y


def grouped_rank(x: np.ndarray, eligible: np.ndarray, group: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Competition ranks (1 = highest) among eligible reps of each group and period.

    Args:
        x: ``(..., R, P)`` values to rank, highest first.
        eligible: ``(..., R, P)`` bool; ineligible reps get rank 0 and tie count 0.
        group: ``(..., R, P)`` integer group codes, or None for one group.

    Returns:
        ``(rank, ties)``: the best rank each rep shares with its ties (1, 2, 2, 4) and the
        number of reps tied with it (itself included), as float arrays.
    """
    x = np.asarray(x, dtype=np.float64)
    shape = np.broadcast_shapes(x.shape, eligible.shape, group.shape if group is not None else ())
    x = np.broadcast_to(x, shape)
    elig = np.broadcast_to(eligible, shape)
    g = np.broadcast_to(group, shape) if group is not None else np.zeros(shape, dtype=np.int64)
    if counts_compiled():  # each rep against the others' own values (compiled; None: a NaN)
        x3, e3 = _rank_rows(x, shape, np.float64), _rank_rows(elig, shape, np.bool_)
        sorted_ref = sort_reference(x3, e3, _rank_rows(g, shape, np.int64))
        got = None if sorted_ref is None else ranks_against(sorted_ref, x3, e3)
        if got is not None:
            return got[0].reshape(shape), got[1].reshape(shape)
    R = shape[-2]
    # Rows: every (leading..., period); columns: reps.
    xr = np.moveaxis(x, -2, -1).reshape(-1, R)
    er = np.moveaxis(elig, -2, -1).reshape(-1, R)
    gr = np.moveaxis(g, -2, -1).reshape(-1, R)
    back = lambda a: np.moveaxis(a.reshape(shape[:-2] + (shape[-1], R)), -1, -2)
    # Sort by (eligible first, group, value descending): rank the values once, then sort
    # one integer key (two argsorts are about twice as fast as a three-key lexsort).
    by_value = np.argsort(-xr, axis=-1, kind="stable")
    pos = np.empty_like(by_value)
    np.put_along_axis(pos, by_value, np.broadcast_to(np.arange(R), by_value.shape), axis=-1)
    n_groups = int(gr.max()) + 1 if gr.size else 1
    key = ((~er).astype(np.int64) * n_groups + gr) * R + pos
    order = np.argsort(key, axis=-1)
    xs = np.take_along_axis(xr, order, axis=-1)
    gs = np.take_along_axis(gr, order, axis=-1)
    es = np.take_along_axis(er, order, axis=-1)
    idx = np.broadcast_to(np.arange(R), xs.shape)
    new_group = np.ones_like(es)
    new_group[:, 1:] = (gs[:, 1:] != gs[:, :-1]) | (es[:, 1:] != es[:, :-1])
    new_value = new_group.copy()
    new_value[:, 1:] |= xs[:, 1:] != xs[:, :-1]
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0), axis=-1)
    value_start = np.maximum.accumulate(np.where(new_value, idx, 0), axis=-1)
    is_last = np.ones_like(es)
    is_last[:, :-1] = new_value[:, 1:]
    value_end = np.minimum.accumulate(np.where(is_last, idx, R)[:, ::-1], axis=-1)[:, ::-1]
    rank_s = np.where(es, value_start - group_start + 1, 0).astype(np.float64)
    ties_s = np.where(es, value_end - value_start + 1, 0).astype(np.float64)
    rank = np.empty_like(rank_s)
    ties = np.empty_like(ties_s)
    np.put_along_axis(rank, order, rank_s, axis=-1)
    np.put_along_axis(ties, order, ties_s, axis=-1)
    return back(rank), back(ties)


def deviation_rank(x: np.ndarray, eligible: np.ndarray, ref_x: np.ndarray, ref_eligible: np.ndarray,
                   group: np.ndarray | None = None, memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of each rep's value ``x`` against the *other* reps' reference values.

    The unilateral deviation of a best response: rep ``i`` with value ``x_i`` ranks
    ``1 + #{j != i eligible in ref, same group: ref_x_j > x_i}`` and ties with
    ``1 + #{j != i: ref_x_j == x_i}``. With ``x = ref_x`` this equals :func:`grouped_rank`.

    Args:
        x, eligible: ``(..., R, P)`` candidate values and eligibility.
        ref_x, ref_eligible: ``(..., R, P)`` the others' reference values and eligibility.
        group: ``(..., R, P)`` integer group codes (fixed per rep), or None.
        memo: a dict kept with the reference, where the compiled counts keep the reference
            sorted (:func:`~engine.plan.kernels.sort_reference`) for the next deviations
            from the same ``ref_x`` and ``ref_eligible`` objects and the same groups.
    """
    shape = np.broadcast_shapes(np.shape(x), np.shape(eligible), np.shape(ref_x), np.shape(ref_eligible),
                                np.shape(group) if group is not None else ())
    R = shape[-2]
    if counts_compiled():
        g3 = _rank_rows(group if group is not None else np.zeros((), dtype=np.int64), shape, np.int64)
        held = memo.get("sorted") if memo is not None else None
        if held is not None and held[0] is ref_x and held[1] is ref_eligible and held[2] == shape \
                and (held[3] is None or np.array_equal(held[3].group, g3)):
            sorted_ref = held[3]
        else:
            sorted_ref = sort_reference(_rank_rows(ref_x, shape, np.float64), _rank_rows(ref_eligible, shape, np.bool_),
                                        g3)
            if memo is not None:
                memo["sorted"] = (ref_x, ref_eligible, shape, sorted_ref)
        got = None if sorted_ref is None else ranks_against(sorted_ref, _rank_rows(x, shape, np.float64),
                                                            _rank_rows(eligible, shape, np.bool_))
        if got is not None:
            return got[0].reshape(shape), got[1].reshape(shape)
    rows_of = lambda a, dt=None: np.moveaxis(np.broadcast_to(np.asarray(a, dtype=dt), shape), -2, -1).reshape(-1, R)
    xr, er = rows_of(x, np.float64), rows_of(eligible, bool)
    rr, re = rows_of(ref_x, np.float64), rows_of(ref_eligible, bool)
    gr = rows_of(group, np.int64) if group is not None else np.zeros_like(er, dtype=np.int64)
    above, equal = deviation_counts_numpy(xr, er, rr, re, gr)
    rank = np.where(er, 1 + above, 0).astype(np.float64)
    ties = np.where(er, 1 + equal, 0).astype(np.float64)
    back = lambda a: np.moveaxis(a.reshape(shape[:-2] + (shape[-1], R)), -1, -2)
    return back(rank), back(ties)


def _rank_rows(a, shape: tuple[int, ...], dtype) -> np.ndarray:
    """``a`` broadcast to ``(..., R, P)`` as the compiled counts take it: ``(L, R, P)``, contiguous."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=dtype), shape).reshape((-1,) + shape[-2:]))


_FACTORIZED: list[tuple[np.ndarray, np.ndarray]] = []  # the last keys factorized (copies) and their codes


def _factorize(key: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Integer group codes for ``key``, factorized before broadcasting (keys are usually per rep).

    The simulator prices every candidate of a month with the same roster, so the codes of
    the last few keys are kept and reused for a key of equal values (compared element by
    element: a tenth of ``np.unique``'s sort of Python strings).
    """
    key = np.asarray(key)
    for seen, codes in _FACTORIZED:
        if seen.shape == key.shape and seen.dtype == key.dtype and np.array_equal(seen, key):
            return np.broadcast_to(codes, shape)
    _, codes = np.unique(key.reshape(-1), return_inverse=True)
    codes = codes.reshape(key.shape)
    _FACTORIZED[:] = [(key.copy(), codes), *_FACTORIZED[:3]]
    return np.broadcast_to(codes, shape)


def _group_reduce(x: np.ndarray, key: np.ndarray, active: np.ndarray, mean: bool) -> np.ndarray:
    """Sum (or mean) of x over the active reps sharing ``key`` in each period."""
    shape = np.broadcast_shapes(np.shape(x), np.shape(key), active.shape)
    codes = _factorize(key, shape)
    G = int(codes.max()) + 1 if codes.size else 1
    # One bin per (leading..., period, group).
    P = shape[-1]
    n_lead = int(np.prod(shape[:-2], dtype=np.int64))
    rows = (np.arange(n_lead).reshape(shape[:-2] + (1, 1)) * P + np.arange(P)) * G
    cell = (rows + codes).reshape(-1)
    act = np.broadcast_to(active, shape).reshape(-1)
    w = np.where(act, np.broadcast_to(x, shape).reshape(-1), 0.0)
    sums = np.bincount(cell, weights=w, minlength=n_lead * P * G)
    if mean:
        counts = np.bincount(cell, weights=act.astype(np.float64), minlength=n_lead * P * G)
        sums = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), 0.0)
    return sums[cell].reshape(shape)


def _previous(x: np.ndarray, active: np.ndarray, follows: np.ndarray) -> np.ndarray:
    """The value in the previous period: 0 (False) in the first period, after a gap in the
    run's periods, or where the rep was not active in the previous period."""
    x = np.broadcast_to(np.asarray(x), np.broadcast_shapes(np.shape(x), active.shape))
    out = np.zeros(x.shape, dtype=np.result_type(x.dtype, np.float64) if x.dtype != bool else bool)
    out[..., 1:] = x[..., :-1]
    prev_active = np.zeros(active.shape, dtype=bool)
    prev_active[..., 1:] = active[..., :-1]
    return np.where(prev_active & follows, out, np.zeros((), dtype=out.dtype))


def in_list(x, items: list, negate: bool) -> np.ndarray:
    """``x in [items]`` element-wise (text or numbers)."""
    arr = np.asarray(x)
    out = np.zeros(arr.shape, dtype=bool)
    for item in items:
        out |= np.asarray(OPERATORS["=="].numpy(arr, item), dtype=bool)
    return ~out if negate else out


@dataclass(frozen=True)
class TableValues:
    """A plan table folded to numbers: keys (canonical text) and their values."""

    name: str
    keys: tuple[str, ...]
    values: np.ndarray
    default: float | None

    def positions(self, key) -> np.ndarray:
        """The position of each key in the table, -1 where absent (keys compared as text)."""
        import pandas as pd

        from engine.plan.parse import table_key

        arr = np.asarray(key)
        flat = arr.reshape(-1)
        codes, uniques = pd.factorize(flat, use_na_sentinel=False)
        texts = [table_key(u) for u in uniques]
        found = (pd.Index(list(self.keys), dtype=object).get_indexer(pd.Index(texts, dtype=object)) if self.keys
                 else np.full(len(texts), -1))
        return np.asarray(found, dtype=np.int64)[codes].reshape(arr.shape)


def fold_tables(checked: CheckedPlan, params: dict[str, float]) -> dict[str, TableValues]:
    """Every table of the plan with its values (expressions of parameters) folded."""
    out = {}
    for t in checked.plan.tables:
        vals = np.array([float(const_value(code.tree, params, checked.refs)) for _, code in t.values], dtype=np.float64)
        default = None if t.default is None else float(const_value(t.default.tree, params, checked.refs))
        out[t.name] = TableValues(t.name, tuple(k for k, _ in t.values), vals, default)
    return out


# --------------------------------------------------------------------------- lowering

@dataclass
class _Const:
    value: object


class _Lowering:
    """Turns one checked expression into a closure over an :class:`_Env`."""

    def __init__(self, checked: CheckedPlan, params: dict[str, float]):
        self.checked = checked
        self.params = params

    def lower(self, code: Code) -> Fn:
        self.code = code
        node = self._lower(code.tree)
        if isinstance(node, _Const):
            value = node.value
            return lambda env: value
        return node

    def const(self, code: Code) -> float:
        return float(const_value(code.tree, self.params, self.checked.refs))

    def _lower(self, node: ex.Expr):  # -> _Const | Fn
        if isinstance(node, ex.Num):
            return _Const(node.value)
        if isinstance(node, ex.Str):
            return _Const(node.value)
        if isinstance(node, ex.Name):
            ref = self.checked.ref(node)
            if ref.kind == "param":
                return _Const(self.params[ref.name])
            return lambda env, ref=ref: env.get(ref)
        if isinstance(node, ex.Unary):
            a = self._lower(node.operand)
            if isinstance(a, _Const):
                return _Const(-a.value)  # type: ignore[operator]
            return lambda env: np.negative(a(env))
        if isinstance(node, (ex.Binary, ex.Compare, ex.BoolOp)):
            op = OPERATORS[node.op].numpy
            a, b = self._lower(node.left), self._lower(node.right)
            if isinstance(a, _Const) and isinstance(b, _Const):
                with np.errstate(all="ignore"):
                    return _Const(op(np.float64(a.value) if isinstance(a.value, float) else a.value,
                                     b.value))
            fa = a if not isinstance(a, _Const) else (lambda env, v=a.value: v)
            fb = b if not isinstance(b, _Const) else (lambda env, v=b.value: v)
            return lambda env: op(fa(env), fb(env))
        if isinstance(node, ex.Not):
            a = self._lower(node.operand)
            if isinstance(a, _Const):
                return _Const(not a.value)
            return lambda env: np.logical_not(a(env))
        if isinstance(node, ex.In):
            left = self._lower(node.left)
            fl = left if not isinstance(left, _Const) else (lambda env, v=left.value: v)
            items = [i.value for i in node.items]
            negate = node.negate
            return lambda env: in_list(fl(env), items, negate)
        if isinstance(node, ex.Call) and node.func in ("lookup", "has"):
            table = node.args[0].name  # type: ignore[union-attr]
            key = self._lower(node.args[1])
            fk = key if not isinstance(key, _Const) else (lambda env, v=key.value: v)
            dflt = self._lower(node.args[2]) if len(node.args) > 2 else None
            fd = None if dflt is None else (dflt if not isinstance(dflt, _Const) else (lambda env, v=dflt.value: v))
            key_piece = _Piece(self.code, node.args[1])
            if node.func == "has":
                return lambda env: env.lookup(table, fk(env), None, key_piece, has=True)
            return lambda env: env.lookup(table, fk(env), None if fd is None else fd(env), key_piece)
        if isinstance(node, ex.Call):
            args = [self._lower(a) for a in node.args]
            sig = FUNCTIONS[node.func]
            if sig.scope == "elementwise" and all(isinstance(a, _Const) for a in args):
                assert sig.numpy is not None  # every element-wise function has one
                with np.errstate(all="ignore"):
                    return _Const(sig.numpy(*[np.float64(a.value) if isinstance(a.value, float) else a.value
                                              for a in args]))
            fns = [a if not isinstance(a, _Const) else (lambda env, v=a.value: v) for a in args]
            if sig.scope == "elementwise":
                impl = sig.numpy
                assert impl is not None
                if len(fns) == 1:
                    f0 = fns[0]
                    return lambda env: impl(f0(env))
                return lambda env: impl(*[f(env) for f in fns])
            if node.func == "previous":
                return lambda env: env.previous(fns[0](env))
            # Ranking or summing across reps a value that is not finite has no meaning: the
            # argument is checked like a named value.
            arg = _Piece(self.code, node.args[0])
            if node.func == "rank":
                return lambda env: env.rank(env.checked(fns[0](env), arg), arg)
            mean = node.func == "group_mean"
            return lambda env: env.group(env.checked(fns[0](env), arg), fns[1](env), mean, arg)
        raise AssertionError(node)


_NOT_CONSTANT = object()


class Folder:
    """Constant folding exactly as the numpy lowering does it, for another backend's lowering.

    ``value(node)`` is the folded value of a subtree of the expression last given to
    :meth:`of` (a float, bool or str), or :data:`Folder.NOT_CONSTANT` where it depends on
    per-rep values; ``const(code)`` is a parameter-only expression's value.
    """

    NOT_CONSTANT = _NOT_CONSTANT

    def __init__(self, checked: CheckedPlan, params: dict[str, float]):
        self._low = _Lowering(checked, params)

    def of(self, code: Code) -> None:
        """The expression whose subtrees :meth:`value` is asked about next."""
        self._low.code = code

    def value(self, node: ex.Expr) -> object:
        got = self._low._lower(node)
        return got.value if isinstance(got, _Const) else _NOT_CONSTANT

    def const(self, code: Code) -> float:
        return self._low.const(code)


class _Piece:
    """Part of an expression (its text and span), for errors about a subexpression."""

    def __init__(self, code: Code, node: ex.Expr):
        self.text = code.text[node.start:node.end]
        self.span = code.span_of(node.start, node.end)



# --------------------------------------------------------------------------- environment

class _Env:
    """Lazily computed named values for one evaluation.

    ``mode`` is ``raw`` (per-period actuals, targets before proration: what target
    expressions see) or ``final`` (targets prorated, and year-to-date with
    ``accumulate: year``: what measures and components see).
    """

    def __init__(self, prog: CompiledPlan, inputs: Inputs, mode: str, raw: _Env | None = None,
                 record: dict | None = None, reference: dict | None = None,
                 roster: dict[str, np.ndarray] | None = None):
        self.prog = prog
        self.roster_override = roster  # one row rank of an effective-dated roster (targets' layers)
        self.layer_envs: list[_Env] | None = None
        # Lookups that missed a key (no default): (table, key, where, expression); the value
        # there is NaN, an error only if it is used (not in where()'s other branch).
        self.missing: list = raw.missing if raw is not None else []
        # Cross-rep terms: ``record`` collects this evaluation's values per call site;
        # with ``reference``, each rep is compared with the others' reference values
        # (a unilateral deviation, used by the simulator's what-if evaluations).
        self.record = record
        self.reference = reference
        self.inputs = inputs
        self.mode = mode
        self.raw = raw
        self.values: dict[Ref, object] = {}
        # Leading (simulation-run) axes may come from the actuals, the activity mask or
        # the roster: the evaluation covers their broadcast.
        shape = np.broadcast_shapes(
            inputs.active.shape, np.shape(inputs.proration),
            *(np.shape(a) for a in inputs.actuals.values()),
            *(np.shape(v)[:-1] + (np.shape(v)[-1], 1) for v in inputs.roster.values() if np.ndim(v) > 1),
        )
        self.active = np.broadcast_to(inputs.active, shape)
        self.shape = shape
        self.all_active = bool(inputs.active.all())
        self.components: dict[str, np.ndarray] = {}
        self.scores: dict[str, np.ndarray] = {}

    def get(self, ref: Ref):
        kind = ref.kind
        if kind == "component":
            return self.components[ref.name]
        if kind == "score":
            return self.scores[ref.name]
        v = self.values.get(ref)
        if v is None:
            v = self._compute(ref)
            self.values[ref] = v
        return v

    def _compute(self, ref: Ref):
        prog, inputs = self.prog, self.inputs
        if ref.kind == "roster":
            if self.roster_override is not None:
                return np.asarray(self.roster_override[ref.name])[..., :, None]
            return prog.roster_column(inputs, ref.name)
        if ref.kind == "actual":
            if self.mode == "final" and prog.accumulate:
                return prog.ytd_actual(inputs, ref.name)
            return inputs.actuals[ref.name]
        if ref.kind == "tenure":
            return prog.tenure(inputs)
        if ref.kind == "share":
            return np.asarray(inputs.proration)
        if ref.kind == "measure":
            if ref.name in prog.row_measures:
                return prog.checked_value(self, ref, prog.row_measure(self, ref.name))
            return prog.checked_value(self, ref, prog.measure_fns[ref.name](self))
        if ref.kind in ("target", "ti", "base_pay"):
            fn = (prog.target_fns[ref.name] if ref.kind == "target" else prog.ti_fn if ref.kind == "ti"
                  else prog.base_pay_fn)
            assert fn is not None  # base_pay is asked for only where the plan has one
            if self.mode == "raw":
                return prog.checked_value(self, ref, fn(self), check=False)
            raw = self.raw
            assert raw is not None
            if inputs.layers:  # an effective-dated roster: each row's value for the days it is in effect
                if raw.layer_envs is None:
                    raw.layer_envs = [_Env(prog, inputs, "raw", record=raw.record, reference=raw.reference,
                                           roster=layer.roster) for layer in inputs.layers]
                    for lenv in raw.layer_envs:
                        lenv.missing = raw.missing
                per_period = np.zeros(self.shape)
                for lenv, layer in zip(raw.layer_envs, inputs.layers):
                    per_period = per_period + np.where(layer.proration > 0, lenv.get(ref) * layer.proration, 0.0)
            else:
                per_period = raw.get(ref) * inputs.proration
            if prog.accumulate and ref.kind != "base_pay":
                per_period = prog.ytd_sum(per_period)
            return prog.checked_value(self, ref, per_period)
        raise AssertionError(ref)

    def lookup(self, table: str, key, default, piece: _Piece, has: bool = False):
        """``lookup``/``has`` over every rep and period (see :func:`_lookup`)."""
        return _lookup(self, table, key, default, piece, has)

    def missing_key_error(self, bad: np.ndarray) -> DataErrors | None:
        """The missing-key error behind a value that is not finite at ``bad`` (a cell), if a
        lookup without a default missed there."""
        for table, key, miss, piece in self.missing:
            hit = np.broadcast_to(miss, np.broadcast_shapes(miss.shape, bad.shape)) & bad
            if hit.any():
                at = tuple(np.argwhere(hit)[0])
                r, p = int(at[-2]), int(at[-1])
                k = np.broadcast_to(np.asarray(key, dtype=object), hit.shape)[at]
                return _missing_key(table, k, piece, f" (period {self.inputs.periods[p].label})",
                                    file=self.inputs.sources.get("roster"),
                                    rep=str(np.asarray(self.inputs.rep_ids).reshape(-1)[r]))
        return None

    def checked(self, x, piece: _Piece):
        return self.prog.checked_value(self, None, x, code=piece, what=f"'{piece.text}'")

    # cross-rep and cross-period functions
    def full(self, x) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=np.float64), np.broadcast_shapes(np.shape(x), self.shape))

    def ranks(self, site, x, eligible, group) -> tuple[np.ndarray, np.ndarray]:
        """(rank, ties) of x among eligible reps (per group): plain, recorded, or a deviation."""
        key = (self.mode, site)
        if self.record is not None:
            self.record[key] = (x, eligible)
        if self.reference is not None and key in self.reference:
            ref_x, ref_e = self.reference[key]
            # The reference sorted once for every deviation from it (kept in its dict).
            return deviation_rank(x, eligible, ref_x, ref_e, group, self.reference.setdefault(("sorted", key), {}))
        return grouped_rank(x, eligible, group)

    def rank(self, x, site=None):
        rank, _ = self.ranks(id(site), self.full(x), self.active, None)
        return rank

    def previous(self, x):
        return _previous(np.asarray(x), self.active, self.inputs.follows_previous)

    def group(self, x, key, mean: bool, site=None):
        x = self.full(x)
        k = (self.mode, id(site))
        if self.record is not None:
            self.record[k] = (x, None)
        if self.reference is not None and k in self.reference:
            ref_x = self.reference[k][0]
            total = _group_reduce(ref_x, np.asarray(key), self.active, False) + np.where(self.active, x - ref_x, 0.0)
            if not mean:
                return total
            count = _group_reduce(np.ones(self.shape), np.asarray(key), self.active, False)
            return np.where(count > 0, total / np.maximum(count, 1), 0.0)
        return _group_reduce(x, np.asarray(key), self.active, mean)


# --------------------------------------------------------------------------- results

@dataclass
class PayoutArrays:
    """What one evaluation produced, unrounded, for every rep and period.

    Attributes:
        columns: component name -> statement column (earnings after modifiers; with
            ``accumulate: year`` the change in year-to-date earnings).
        adjustment: plan cap reductions, true-up floors and draw top-ups/recoveries.
        total: what is paid for the period (columns + adjustment).
        grades: grade per rep and period (object array of str) or None.
        active: where a statement row exists.
        earned: component name -> payout after gate and cap, before modifiers (year-to-date
            with accumulation).
        modified: component name -> payout after modifiers (year-to-date with accumulation).
        scores: scorecard name -> weighted score.
        values: measure/target/target_incentive name -> value seen by components.
        capped_total: total after modifiers and the plan cap, before true-up and draw.
        paid_before_draw: with accumulation: the true-up payment; else capped_total.
        base_pay: the plan's ``base_pay`` per rep and period, prorated (None without one).
    """

    columns: dict[str, np.ndarray]
    adjustment: np.ndarray
    total: np.ndarray
    grades: np.ndarray | None
    active: np.ndarray
    earned: dict[str, np.ndarray] = field(default_factory=dict)
    modified: dict[str, np.ndarray] = field(default_factory=dict)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    capped_total: np.ndarray | None = None
    paid_before_draw: np.ndarray | None = None
    base_pay: np.ndarray | None = None
    grade_codes: np.ndarray | None = None
    grade_labels: tuple[str, ...] = ()

    def grade_texts(self) -> tuple[np.ndarray, tuple[str, ...]] | None:
        """The grades as small int codes into labels (``labels[codes]`` is ``grades``; an
        inactive cell's label is empty), or None without grades: what the evaluator made,
        or the object array factorized."""
        if self.grades is None:
            return None
        if self.grade_codes is not None:
            return self.grade_codes, self.grade_labels
        uniques, codes = np.unique(np.asarray(self.grades, dtype=object).astype(str), return_inverse=True)
        return codes.reshape(np.shape(self.grades)), tuple(str(u) for u in uniques)


class CompiledPlan:
    """A plan lowered to numpy. Build with :func:`compile_plan`.

    Call :meth:`evaluate` with :class:`~engine.core.inputs.Inputs` (leading axes allowed on
    every array) to get :class:`PayoutArrays`.
    """

    def __init__(self, checked: CheckedPlan, params: dict[str, float] | None = None):
        if params:
            checked = with_parameters(checked, params)
        plan = checked.plan
        self.checked = checked
        self.plan = plan
        self.params = dict(plan.parameter_values)
        self.accumulate = plan.accumulate == "year"
        low = _Lowering(checked, self.params)
        self._low = low
        self.codes: dict[Ref, Code] = {}
        self.measure_fns = {m.name: low.lower(m.code) for m in plan.measures}
        self.target_fns = {t.name: low.lower(t.code) for t in plan.targets}
        self.ti_fn = low.lower(plan.target_incentive)
        for m in plan.measures:
            self.codes[Ref("measure", m.name)] = m.code
        for t in plan.targets:
            self.codes[Ref("target", t.name)] = t.code
        self.codes[Ref("ti")] = plan.target_incentive
        self.components = [self._compile_component(c) for c in plan.components]
        self.modifiers = [
            (m, low.lower(m.when) if m.when is not None else None, low.lower(m.multiply),
             {n for n, _ in m.applies_to} if m.applies_to else None)
            for m in plan.modifiers
        ]
        self.cap_fn = low.lower(plan.cap) if plan.cap is not None else None
        self.grade_fn = low.lower(plan.grades.input) if plan.grades is not None else None
        self.grade_bands = (
            [(None if b.min is None else low.const(b.min), b.grade) for b in plan.grades.bands]
            if plan.grades is not None else []
        )
        self.draw_fn = low.lower(plan.draw.amount) if plan.draw is not None else None
        self.base_pay_fn = low.lower(plan.base_pay) if plan.base_pay is not None else None
        if plan.base_pay is not None:
            self.codes[Ref("base_pay")] = plan.base_pay
        self.row_measures = dict(checked.row_measures)
        self.tables = fold_tables(checked, self.params)

    # -- compiling components ----------------------------------------------------------

    def _curve(self, curve: Curve | None, default=None) -> tuple[np.ndarray, np.ndarray, str, str]:
        if curve is None:
            pts = default or _DEFAULT_PAYOUT
            return (np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), "linear", "extend")
        xs = np.array([self._low.const(x) for x, _ in curve.points], dtype=np.float64)
        ys = np.array([self._low.const(y) for _, y in curve.points], dtype=np.float64)
        return xs, ys, curve.interpolate, curve.beyond

    def _compile_component(self, c: Component):
        low = self._low
        spec: dict = {"c": c}
        spec["when"] = low.lower(c.when) if c.when is not None else None
        spec["cap"] = low.lower(c.cap) if c.cap is not None else None
        spec["weight"] = low.const(c.weight) if c.weight is not None else 1.0
        kind = kind_of(c.kind)
        spec["gate"] = not kind.own_when
        spec["pay"] = kind.lower(c, ComponentLowering(self, spec["when"], spec["weight"]))
        return spec

    # -- helpers used by the environment --------------------------------------------------

    def roster_column(self, inputs: Inputs, name: str) -> np.ndarray:
        """A roster column over ``(..., R, P)``: the row in effect on each period's last
        active day for an effective-dated roster, else the rep's one value."""
        at = inputs.roster_at.get(name)
        if at is not None:
            return np.asarray(at)
        col = inputs.roster[name]
        return np.asarray(col)[..., :, None]

    def tenure(self, inputs: Inputs) -> np.ndarray:
        """``tenure_months`` over ``(..., R, P)``: the loaded tenure, or the roster's
        ``tenure_months`` at the first period plus the months since (the simulator)."""
        if inputs.tenure is not None:
            return np.asarray(inputs.tenure)
        if "tenure_months" not in inputs.roster:
            raise DataErrors([DataError("no-tenure", "the plan uses tenure_months but the roster has no "
                                        "start_date nor tenure_months column", file=inputs.sources.get("roster"),
                                        column="tenure_months")])
        base = np.asarray(inputs.roster["tenure_months"], dtype=np.float64)[..., :, None]
        return base + inputs.month_offsets()

    def row_measure(self, env: _Env, name: str) -> np.ndarray:
        """A row-level measure's value per rep and period: each transaction row evaluated,
        ``sum`` rows weighted by their split, gathered with the measure's aggregate (with
        ``accumulate: year`` and in the ``final`` view, then to year-to-date)."""
        raw = env.raw if env.raw is not None else env
        key = Ref("measure", name)
        cached = raw.values.get(key) if env is not raw else None
        per_period: np.ndarray = cached if isinstance(cached, np.ndarray) else self._row_period(raw, name)
        if cached is None and env is not raw:
            raw.values[key] = per_period
        if env.mode == "final" and self.accumulate:
            counts = self._row_counts(env)
            return self.ytd(per_period, self.row_measures[name], counts, env.active & (counts > 0))
        return per_period

    def row_periods(self, inputs: Inputs) -> dict[str, np.ndarray]:
        """Each row-level measure gathered into the periods (before any year-to-date), as
        :meth:`evaluate` computes it: for a backend that takes the gathering from numpy.

        Raises:
            EvaluationError: a row's value is not finite.
            DataErrors: a table has no value for a row's key.
        """
        self._bind(inputs)
        raw = _Env(self, inputs, "raw")
        with np.errstate(all="ignore"):
            return {name: self._row_period(raw, name) for name in self.row_measures}

    def _mix_period(self, raw: _Env, name: str, mix) -> np.ndarray:
        """A row-level measure over the kinds of deal of :class:`~engine.core.inputs.Mix`."""
        agg = self.row_measures[name]
        present = self._row_counts(raw) > 0
        if agg == "count":
            return np.where(present, mix.deals + mix.credits, 0.0)
        share = self._mix_shares(raw, mix)
        # Deals, then (a plan that pays at booking) credit notes: the same kinds, negative amounts.
        groups = [(mix.deals, self._mix_values(raw, name, mix, share, present, credit=False))]
        if mix.credits > 0:
            groups.append((mix.credits, self._mix_values(raw, name, mix, share, present, credit=True)))
        if agg in ("sum", "mean", "last") and len(groups) == 1:
            out = sum_last_axis(groups[0][1] * share)
            out = mix.deals * out if agg == "sum" else out
        elif agg in ("sum", "mean", "last"):
            out = sum(n * sum_last_axis(vals * share) for n, vals in groups)
            out = out if agg == "sum" else out / (mix.deals + mix.credits)
        else:
            fill = np.inf if agg == "min" else -np.inf
            live = [np.where(share > 0, vals, fill) for _, vals in groups]
            out = np.minimum.reduce([v.min(axis=-1) for v in live]) if agg == "min" else \
                np.maximum.reduce([v.max(axis=-1) for v in live])
        return np.where(present, out, 0.0)

    def _mix_values(self, raw: _Env, name: str, mix, share: np.ndarray, present: np.ndarray,
                    credit: bool) -> np.ndarray:
        """A row-level measure on each kind of deal (or of credit note), ``(..., R, P, J)``."""
        menv = _MixEnv(raw, mix, credit=credit)
        vals = np.asarray(self.measure_fns[name](menv))  # type: ignore[arg-type]  # answers what an _Env does
        vals = vals.astype(np.float64) if vals.dtype == bool else vals
        vals = np.broadcast_to(vals, raw.shape + (len(mix.share),))
        bad = ~np.isfinite(vals) & present[..., None] & (share > 0)
        if bad.any():
            code = self.codes[Ref("measure", name)]
            self._raise_non_finite(raw.inputs, bad.any(axis=-1), vals.max(axis=-1), code, f"row-level measure '{name}'")
        return vals

    def _mix_shares(self, raw: _Env, mix) -> np.ndarray:
        """Each kind's share of the deals, cell by cell where effort moves the mix."""
        share = np.asarray(mix.share)
        for _, names, index, static in mix.driven:  # shares that respond to effort, cell by cell
            weights = np.stack([np.broadcast_to(np.asarray(raw.inputs.actuals[n], dtype=np.float64), raw.shape)
                                for n in names], axis=-1)
            total = weights.sum(axis=-1, keepdims=True)
            fixed = np.asarray(static)
            dyn = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / len(names))
            share = share * np.take(dyn, index, axis=-1) / np.where(fixed > 0, fixed, 1.0)
        return share

    def _row_counts(self, env: _Env) -> np.ndarray:
        """Rows in each cell: the transactions placed there, 1 for a per-period row, or 1 for
        every active cell where the inputs say nothing (the simulator)."""
        inputs = env.inputs
        if inputs.row_counts is not None:
            return np.broadcast_to(inputs.row_counts, env.shape)
        return env.active.astype(np.float64)

    def _row_period(self, raw: _Env, name: str) -> np.ndarray:
        agg = self.row_measures[name]
        fn = self.measure_fns[name]
        inputs = raw.inputs
        rows = inputs.rows
        if rows is None and inputs.mix is not None:  # the simulator's deals inside each period row
            return self._mix_period(raw, name, inputs.mix)
        if rows is None:  # per-period rows: the row is the period row
            counts = self._row_counts(raw)
            if agg == "count":
                return np.array(counts, dtype=np.float64)
            vals = np.asarray(fn(raw))
            vals = np.broadcast_to(vals.astype(np.float64) if vals.dtype == bool else vals, raw.shape)
            return np.where(counts > 0, vals, 0.0)
        renv = _RowEnv(self, inputs, rows)
        placed = rows.period >= 0
        vals = np.asarray(fn(renv))  # type: ignore[arg-type]  # a row environment answers what an _Env does
        if agg == "count":
            vals = np.ones(len(rows.rep))
        else:
            vals = np.broadcast_to(vals.astype(np.float64) if vals.dtype == bool else vals, (len(rows.rep),))
            bad = placed & ~np.isfinite(vals)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                missing = renv.missing_key_error(i)
                if missing is not None:
                    raise missing
                code = self.codes[Ref("measure", name)]
                raise EvaluationError(
                    "non-finite", f"row-level measure '{name}' is {vals[i]} (not a finite number) on row "
                    f"{int(rows.file_row[i])} of the actuals", rep=str(inputs.rep_ids[rows.rep[i]]),
                    period=inputs.periods[rows.period[i]].label, expression=code.text, span=code.span,
                    hint="a division by zero? use safe_div(a, b, default) where the divisor can be 0")
            if agg == "sum":
                vals = vals * rows.split
        shape = raw.shape  # rows' rep index runs over every leading axis and the reps
        P = shape[-1]
        size = int(np.prod(shape))
        cells = rows.rep[placed] * P + rows.period[placed]
        v = vals[placed]
        count = np.bincount(cells, minlength=size).astype(np.float64)
        out: np.ndarray
        if agg in ("sum", "count"):
            out = np.bincount(cells, weights=v, minlength=size)
        elif agg == "mean":
            out = np.bincount(cells, weights=v, minlength=size)
            out = np.divide(out, count, out=np.zeros(size), where=count > 0)
        elif agg in ("min", "max"):
            out = np.full(size, np.inf if agg == "min" else -np.inf)
            (np.minimum if agg == "min" else np.maximum).at(out, cells, v)
            out[count == 0] = 0.0
        elif not placed.any():
            out = np.zeros(size)
        else:  # last: the latest placing date, then the later row in the file
            pos = np.flatnonzero(placed)
            order = np.lexsort((rows.file_row[pos], rows.date[pos], cells))
            ends = np.append(cells[order][1:] != cells[order][:-1], True)
            latest = order[ends]
            last = np.zeros(size)
            last[cells[latest]] = v[latest]
            return last.reshape(shape)
        return out.reshape(shape)

    def ytd_sum(self, x: np.ndarray) -> np.ndarray:
        """Cumulative sum over periods, restarting at each plan year."""
        x = np.asarray(x, dtype=np.float64)
        years = self._years
        if len(years) and (years == years[0]).all():
            return cumsum_last_axis(x)
        out = np.empty(np.shape(x))
        for lo, hi in self._year_slices:
            out[..., lo:hi] = cumsum_last_axis(x[..., lo:hi])
        return out

    def ytd_actual(self, inputs: Inputs, name: str) -> np.ndarray:
        """Year-to-date value of an actuals column, with the column's aggregation."""
        x = inputs.actuals[name]
        agg = self.checked.actual_columns.get(name, "sum")
        # A period counts for min/max/last/mean when it holds data: with transactions, when
        # some were gathered into it (a quarter without a survey is not a survey scoring 0).
        counts = inputs.counts.get(name)
        active = inputs.active if counts is None else (inputs.active & (counts > 0))
        return self.ytd(x, agg, counts, active)

    def ytd(self, x: np.ndarray, agg: str, counts: np.ndarray | None, active: np.ndarray) -> np.ndarray:
        """Year-to-date values of per-period ``x`` gathered with ``agg`` (``counts``: rows per
        cell, the weights of ``mean``; ``active``: the cells that hold data)."""
        if agg in ("sum", "count"):
            return self.ytd_sum(x)
        shape = np.broadcast_shapes(x.shape, active.shape)
        x, active = np.broadcast_to(x, shape), np.broadcast_to(active, shape)
        if counts is not None:
            counts = np.broadcast_to(counts, shape)
        out = np.zeros(shape)
        for lo, hi in self._year_slices:
            xs, act = x[..., lo:hi], active[..., lo:hi]
            if agg == "mean":
                w = counts[..., lo:hi] if counts is not None else act.astype(np.float64)
                num = cumsum_last_axis(xs * w)
                den = cumsum_last_axis(w)
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[..., lo:hi] = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
            elif agg == "last":
                idx = np.where(act, np.arange(hi - lo), -1)
                idx = np.maximum.accumulate(idx, axis=-1)
                got = np.take_along_axis(np.broadcast_to(xs, idx.shape), np.maximum(idx, 0), axis=-1)
                out[..., lo:hi] = np.where(idx >= 0, got, 0.0)
            else:
                fill = np.inf if agg == "min" else -np.inf
                acc = np.minimum.accumulate if agg == "min" else np.maximum.accumulate
                run = acc(np.where(act, xs, fill), axis=-1)
                out[..., lo:hi] = np.where(np.isfinite(run), run, 0.0)
        return out

    def checked_value(self, env: _Env, ref: Ref | None, value, check: bool = True, code: Code | _Piece | None = None,
                      what: str | None = None):
        """Broadcast a named value to the full shape, check it is finite where active, zero it elsewhere."""
        arr = np.asarray(value)
        if arr.dtype == bool or arr.dtype == object:
            return np.broadcast_to(arr, np.broadcast_shapes(arr.shape, env.shape))
        arr = np.broadcast_to(arr.astype(np.float64, copy=False), env.shape)
        if not check:
            return arr
        # A finite sum means every value is finite (inf and nan propagate); only when the
        # sum is not finite (or overflowed) is the element-wise check needed.
        if np.isfinite(np.sum(arr)):
            return arr
        finite = np.isfinite(arr)
        if finite.all():
            return arr
        bad = ~finite & env.active
        if bad.any():
            missing = env.missing_key_error(bad) if isinstance(env, _Env) else None
            if missing is not None:
                raise missing
            code = code if code is not None else self.codes.get(ref)  # type: ignore[arg-type]
            self._raise_non_finite(env.inputs, bad, arr, code, what or _describe_ref(ref))
        return np.where(env.active, arr, 0.0)

    def _raise_non_finite(self, inputs: Inputs, bad: np.ndarray, arr: np.ndarray, code: Code | _Piece | None,
                          what: str) -> None:
        pos = np.argwhere(bad)[0]
        r, p = int(pos[-2]), int(pos[-1])
        value = arr[tuple(pos)]
        run = f" (simulation run {int(pos[0])})" if len(pos) > 2 else ""
        # In the simulator the rep axis has a slot per seat and per backfill hire; slots past
        # the roster are hires the simulation made, who have no roster id.
        ids = np.asarray(inputs.rep_ids)
        rep = str(ids.flat[r]) if ids.ndim and r < ids.shape[-1] else f"simulated hire in slot {r + 1}"
        raise EvaluationError(
            "non-finite",
            f"{what} is {value} (not a finite number){run}",
            rep=rep, period=inputs.periods[p].label,
            expression=code.text if code is not None else None,
            span=code.span if code is not None else None,
            hint="a division by zero? use safe_div(a, b, default) where the divisor can be 0",
        )

    def _check(self, env: _Env, value, code: Code | None, what: str):
        return self.checked_value(env, None, value, code=code, what=what)

    # -- evaluation --------------------------------------------------------------------

    def _bind(self, inputs: Inputs) -> None:
        years = np.array([p.fiscal_year for p in inputs.periods], dtype=np.int64)
        self._years = years
        slices = []
        lo = 0
        for i in range(1, len(years) + 1):
            if i == len(years) or years[i] != years[lo]:
                slices.append((lo, i))
                lo = i
        self._year_slices = slices
        errors = []
        for col in sorted(self.checked.roster_columns):
            if col not in inputs.roster:
                errors.append(DataError("missing-column", f"the plan uses roster.{col} but the roster has no "
                                        f"column '{col}'", file=inputs.sources.get("roster"), column=col))
            elif col in self.checked.numeric_roster_columns and np.asarray(inputs.roster[col]).dtype == object:
                vals = np.asarray(inputs.roster[col])
                bad = next((i for i, v in enumerate(vals.reshape(-1)) if not _is_number(v)), 0)
                errors.append(DataError("not-a-number", f"the plan uses roster.{col} as a number, but "
                                        f"'{vals.reshape(-1)[bad]}' is not one", file=inputs.sources.get("roster"),
                                        column=col, row=bad + 2, rep=str(inputs.rep_ids.reshape(-1)[bad % len(inputs.rep_ids)])))
        for col in sorted(self.checked.actual_columns):
            if col not in inputs.actuals and not (inputs.rows is not None and col in inputs.rows.columns) and \
                    not (inputs.mix is not None and col in inputs.mix.attributes):
                errors.append(DataError("missing-column", f"the plan uses actuals.{col} but the actuals have no "
                                        f"column '{col}'", file=inputs.sources.get("actuals"), column=col))
        if errors:
            raise DataErrors(errors)

    def evaluate(self, inputs: Inputs, grades: bool = True, record: dict | None = None,
                 reference: dict | None = None) -> PayoutArrays:
        """Evaluate the plan for every rep and period of ``inputs``.

        Args:
            inputs: roster and actuals (leading axes allowed).
            grades: compute grades (the simulator's what-if evaluations skip them).
            record: a dict to fill with the values of cross-rep terms (rank, group
                functions, rank components) for a later ``reference``.
            reference: values recorded by another evaluation of the same shape: every
                cross-rep term then compares each rep's value with the *others'* reference
                values (each rep deviates alone, the others keep the reference).

        Raises:
            EvaluationError: a value is not finite for some active rep and period.
            DataErrors: the inputs lack a column the plan uses.
        """
        self._bind(inputs)
        with np.errstate(all="ignore"):
            return self._evaluate(inputs, grades, record, reference)

    def row_values(self, inputs: Inputs) -> dict[str, np.ndarray]:
        """Each row-level measure's value on each transaction row (``(N,)``, not split;
        1 for a ``count``), for line detail. Empty without transaction rows."""
        if inputs.rows is None:
            return {}
        renv = _RowEnv(self, inputs, inputs.rows)
        n = len(inputs.rows.rep)
        out = {}
        with np.errstate(all="ignore"):
            for name, agg in self.row_measures.items():
                v = np.ones(n) if agg == "count" else np.asarray(self.measure_fns[name](renv))  # type: ignore[arg-type]
                out[name] = np.broadcast_to(v.astype(np.float64) if v.dtype == bool else v, (n,)).astype(np.float64)
        return out

    def lines(self, inputs: Inputs) -> tuple[PayoutArrays, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The statement arrays, each row-level measure on each transaction row, and, for each
        component that can be allocated to lines (a ``rate`` whose base is a sum of ``sum``
        row-level measures), its pay per row (NaN for pending rows).

        A period's lines are taken in placing-date order, then file order; each earns the
        difference the component's pay makes with and without it (from the base before the
        period's first line, year to date with ``accumulate: year``), scaled so that the
        period's lines add up to the statement column (gates, caps and modifiers included).
        """
        self._bind(inputs)
        rows = inputs.rows
        with np.errstate(all="ignore"):
            env_box: list[_Env] = []
            result = self._evaluate(inputs, True, None, None, env_box)
            values = self.row_values(inputs)
            pays: dict[str, np.ndarray] = {}
            if rows is None:
                return result, values, pays
            env = env_box[0]
            placed = rows.period >= 0
            R, P = inputs.shape
            pos = np.flatnonzero(placed)
            order = pos[np.lexsort((rows.file_row[pos], rows.date[pos], rows.period[pos], rows.rep[pos]))]
            rep, period = rows.rep[order], rows.period[order]
            cell = rep * P + period
            starts = np.ones(len(order), dtype=bool)
            starts[1:] = cell[1:] != cell[:-1]
            for spec in self.components:
                c: Component = spec["c"]
                names = _row_sum_base(c.base, self.checked) if c.base is not None else None
                hook = kind_of(c.kind).line_pay(c, ComponentLowering(self, None, 1.0)) if names else None
                if hook is None or names is None:
                    continue
                contrib = np.zeros(len(rows.rep))
                final = np.zeros((R, P))
                for m in names:
                    contrib = contrib + values[m] * rows.split
                    final = final + np.broadcast_to(env.get(Ref("measure", m)), (R, P))
                x = contrib[order]
                cum = np.cumsum(x)
                cell_first = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
                before_cell = cum[cell_first] - x[cell_first]
                within = cum - before_cell
                cell_sum = np.bincount(cell, weights=x, minlength=R * P)
                start = final.reshape(-1)[cell] - cell_sum[cell]
                pay_at = hook(PayEnv(self, env))
                raw = pay_at(start + within, rep, period) - pay_at(start + within - x, rep, period)
                col = np.broadcast_to(result.columns[c.name], (R, P)).reshape(-1)
                s = np.bincount(cell, weights=raw, minlength=R * P)
                n = np.bincount(cell, minlength=R * P)
                scale = np.where(np.abs(s) > 1e-12, col / np.where(np.abs(s) > 1e-12, s, 1.0), 0.0)
                even = np.where((np.abs(s) <= 1e-12) & (n > 0), col / np.maximum(n, 1), 0.0)
                line = raw * scale[cell] + even[cell]
                out = np.full(len(rows.rep), np.nan)
                out[order] = line
                pays[c.name] = out
        return result, values, pays

    def _evaluate(self, inputs: Inputs, want_grades: bool = True, record: dict | None = None,
                  reference: dict | None = None, keep: list | None = None) -> PayoutArrays:
        raw = _Env(self, inputs, "raw", record=record, reference=reference)
        env = _Env(self, inputs, "final", raw, record=record, reference=reference)
        if keep is not None:
            keep.append(env)
        active = env.active
        shape = env.shape
        # Measures and targets (lazily, in dependency order, but force all for explain).
        for ref in self.checked.order:
            env.get(ref)
        earned: dict[str, np.ndarray] = {}
        cx = PayEnv(self, env)
        for spec in self.components:
            c: Component = spec["c"]
            pay = spec["pay"](cx)
            if spec["gate"] and spec["when"] is not None:
                pay = np.where(self._cond(env, spec["when"], c.when), pay, 0.0)
            if spec["cap"] is not None:
                pay = np.minimum(pay, self._check(env, spec["cap"](env), c.cap, f"the cap of component '{c.name}'"))
            pay = np.where(active, pay, 0.0) if not env.all_active else np.broadcast_to(pay, shape)
            earned[c.name] = pay
            env.components[c.name] = pay
        modified = {k: v for k, v in earned.items()}
        for m, when, mult, applies in self.modifiers:
            factor = self._check(env, mult(env), m.multiply, f"the multiplier of modifier '{m.name}'")
            if when is not None:
                factor = np.where(self._cond(env, when, m.when), factor, 1.0)
            for name in modified:
                if applies is None or name in applies:
                    modified[name] = modified[name] * factor
        total = np.zeros(shape)
        for v in modified.values():
            total += v
        capped = total
        if self.cap_fn is not None:
            cap = self._check(env, self.cap_fn(env), self.plan.cap, "the plan cap")
            capped = np.minimum(total, cap)
        all_active = env.all_active
        if not all_active:
            capped = np.where(active, capped, 0.0)
        if self.accumulate:
            columns = {k: self._ytd_delta(v, active) for k, v in modified.items()}
            paid = self._true_up(capped, active)
        else:
            columns = modified
            paid = capped
        final = paid
        if self.draw_fn is not None:
            draw = self.plan.draw
            assert draw is not None  # draw_fn is its lowered amount
            amount = self._check(env, self.draw_fn(env), draw.amount, "the draw amount")
            final = self._draw(paid, np.broadcast_to(amount, shape), active, draw.recoverable)
        if self.accumulate:
            colsum = np.zeros(shape)
            for k in columns:
                if not all_active:
                    columns[k] = np.where(active, columns[k], 0.0)
                colsum += columns[k]
        else:
            colsum = total if all_active else np.where(active, total, 0.0)  # columns are `modified`
        if not all_active:
            final = np.where(active, final, 0.0)
        adjustment = final - colsum
        grades = grade_codes = None
        grade_labels: tuple[str, ...] = ()
        if self.grade_fn is not None and want_grades:
            assert self.plan.grades is not None  # grade_fn is its lowered input
            gv = self._check(env, self.grade_fn(env), self.plan.grades.input, "the input of grades")
            grades = np.full(shape, "", dtype=object)
            grade_codes = np.zeros(shape, dtype=np.int8 if len(self.grade_bands) < 127 else np.int32)
            done = np.zeros(shape, dtype=bool)
            for code, (lo, grade) in enumerate(self.grade_bands, start=1):
                hit = ~done if lo is None else (~done & (gv >= lo))
                grades[hit] = grade
                grade_codes[hit] = code
                done |= hit
            grades[~active] = ""
            grade_codes[~active] = 0
            grade_labels = ("", *(grade for _, grade in self.grade_bands))
        values = {}
        for ref in self.checked.order:
            key = {"measure": ref.name, "target": f"targets.{ref.name}", "ti": "target_incentive"}[ref.kind]
            values[key] = np.asarray(env.get(ref))
        base_pay = None
        if self.base_pay_fn is not None:
            base_pay = np.where(active, env.get(Ref("base_pay")), 0.0)
        return PayoutArrays(
            columns=columns, adjustment=adjustment, total=final, grades=grades, active=active,
            earned=earned, modified=modified, scores=dict(env.scores), values=values,
            capped_total=capped, paid_before_draw=paid, base_pay=base_pay, grade_codes=grade_codes,
            grade_labels=grade_labels,
        )

    def _cond(self, env: _Env, fn: Fn, code: Code | None) -> np.ndarray:
        return np.broadcast_to(np.asarray(fn(env), dtype=bool), env.shape)

    def ti(self, env: _Env) -> np.ndarray:
        return env.get(Ref("ti"))

    def _ytd_delta(self, ytd: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Change in a year-to-date value since the rep's previous statement in the same year.

        One period at a time over all cells: the value at the rep's latest active period
        of the year so far (0 before the first) is carried forward and subtracted.
        """
        full = np.broadcast_to(ytd, np.broadcast_shapes(np.shape(ytd), active.shape))
        active = np.broadcast_to(active, full.shape)
        out = np.empty(full.shape, dtype=np.result_type(full.dtype, np.float64))
        starts = {lo for lo, _ in self._year_slices}
        prev = np.zeros(full.shape[:-1], dtype=out.dtype)
        for p in range(full.shape[-1]):
            if p in starts:
                prev = np.zeros_like(prev)
            np.subtract(full[..., p], prev, out=out[..., p])
            prev = np.where(active[..., p], full[..., p], prev)
        return out

    def _true_up(self, capped_ytd: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Each period pays YTD earned minus paid to date (floored at 0 without clawback)."""
        paid = np.zeros_like(capped_ytd)
        to_date = np.zeros(capped_ytd.shape[:-1])
        starts = {lo for lo, _ in self._year_slices}
        for p in range(capped_ytd.shape[-1]):
            if p in starts:
                to_date = np.zeros_like(to_date)
            due = capped_ytd[..., p] - to_date
            if not self.plan.clawback:
                due = np.maximum(due, 0.0)
            due = np.where(active[..., p], due, 0.0)
            paid[..., p] = due
            to_date = to_date + due
        return paid

    @staticmethod
    def _draw(paid: np.ndarray, amount: np.ndarray, active: np.ndarray, recoverable: bool) -> np.ndarray:
        """Guarantee ``amount`` each active period; recover top-ups from later excess if recoverable."""
        if not recoverable:
            return np.where(active, np.maximum(paid, amount), paid)
        out = np.zeros_like(paid)
        owed = np.zeros(paid.shape[:-1])
        for p in range(paid.shape[-1]):
            e, a, act = paid[..., p], amount[..., p], active[..., p]
            top_up = np.maximum(a - e, 0.0)
            recover = np.minimum(owed, np.maximum(e - a, 0.0))
            pay = e + top_up - recover
            out[..., p] = np.where(act, pay, 0.0)
            owed = np.where(act, owed + top_up - recover, owed)
        return out


class ComponentLowering:
    """What a kind's :meth:`~engine.plan.kinds.Kind.lower` hook is given (once per compiled plan).

    Attributes:
        when: the lowered ``when`` of the component (None without one).
        weight: the component's folded ``weight`` (1 without one).
    """

    def __init__(self, prog: CompiledPlan, when: Fn | None, weight: float):
        self.prog = prog
        self.when = when
        self.weight = weight

    def lower(self, code: Code) -> Fn:
        """A per-rep expression as a closure over the evaluation's environment."""
        return self.prog._low.lower(code)

    def const(self, code: Code) -> float:
        """A parameter-only expression's value."""
        return self.prog._low.const(code)

    def curve(self, curve: Curve | None) -> tuple[np.ndarray, np.ndarray, str, str]:
        """``(xs, ys, interpolate, beyond)`` of a curve (``[[0, 0], [1, 1]]`` for None)."""
        return self.prog._curve(curve)


class PayEnv:
    """What a lowered component is called with (once per evaluation): the environment of
    named values and the checks every component applies to what it computes.

    Attributes:
        env: the environment; a lowered expression ``fn`` is evaluated as ``fn(env)``.
        shape: the evaluation's shape ``(..., R, P)``.
    """

    def __init__(self, prog: CompiledPlan, env: _Env):
        self.prog = prog
        self.env = env
        self.shape = env.shape

    def check(self, value, code: Code | None, what: str):
        """Broadcast a computed value, check it is finite where active (else an error naming
        ``what`` and ``code``), and zero it elsewhere."""
        return self.prog.checked_value(self.env, None, value, code=code, what=what)

    def ti(self) -> np.ndarray:
        """The target incentive seen by components."""
        return self.prog.ti(self.env)

    def cond(self, fn: Fn, code: Code) -> np.ndarray:
        """A lowered condition, broadcast to the evaluation's shape."""
        return self.prog._cond(self.env, fn, code)

    @staticmethod
    def curve(x, xs: np.ndarray, ys: np.ndarray, interpolate: str, beyond: str) -> np.ndarray:
        """:func:`curve_numpy`."""
        return curve_numpy(x, xs, ys, interpolate, beyond)

    @staticmethod
    def award_shares(rank: np.ndarray, ties: np.ndarray, eligible: np.ndarray, cum: np.ndarray) -> np.ndarray:
        """Each eligible rep's share of the awards of the ranks it covers with its ties
        (``cum``: the awards' running sums from 0); :func:`~engine.plan.kernels.award_shares`."""
        return award_shares(rank, ties, eligible, cum)

    def factorize(self, key) -> np.ndarray:
        """Integer group codes for ``key``, broadcast to the evaluation's shape."""
        return _factorize(key, self.env.shape)


def _describe_ref(ref: Ref | None) -> str:
    if ref is None:
        return "a value"
    return {"measure": f"measure '{ref.name}'", "target": f"target '{ref.name}'",
            "ti": "target_incentive", "base_pay": "base_pay"}.get(ref.kind, ref.name)


def _row_sum_base(code: Code, checked: CheckedPlan) -> list[str] | None:
    """The row-level ``sum`` measures a base adds up (``new_rev + old_rev``), or None when the
    base is anything else."""
    names: list[str] = []
    stack = [code.tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ex.Binary) and node.op == "+":
            stack += [node.left, node.right]
        elif isinstance(node, ex.Name) and checked.ref(node).kind == "measure" and \
                checked.row_measures.get(node.name) == "sum":
            names.append(node.name)
        else:
            return None
    return names


class _MixEnv:
    """Named values over the kinds of deal of a :class:`~engine.core.inputs.Mix`, ``(..., R, P, J)``:
    each amount column at the kind's size times the period's mean deal, each level column (a
    score, a rate) at the period's value, each text attribute at the kind's value."""

    def __init__(self, raw: _Env, mix, credit: bool = False):
        self.raw = raw
        self.mix = mix
        # Credit notes: each amount column at minus its credited value, shared over the credits.
        self.credited = dict(mix.credit_columns) if credit else None
        self.prog = raw.prog
        self.inputs = raw.inputs
        self.shape = raw.shape + (len(mix.share),)
        self.missing: list = []

    def get(self, ref: Ref):
        if ref.kind == "actual":
            attr = self.mix.attributes.get(ref.name)
            if attr is not None:
                return attr
            if ref.name in self.mix.levels:  # a score or rate: every deal (and credit note) at the period's value
                return np.asarray(self.raw.get(ref), dtype=np.float64)[..., None]
            if self.credited is not None:
                credited = self.credited.get(ref.name)
                if credited is None:  # a column no deal amount rides on: as on the deal
                    value = np.asarray(self.raw.get(ref), dtype=np.float64)[..., None]
                    return value * (self.mix.size / self.mix.deals)
                value = np.broadcast_to(np.asarray(self.inputs.actuals[credited], dtype=np.float64),
                                        self.raw.shape)[..., None]
                return -value * (self.mix.size / self.mix.credits)
            value = np.asarray(self.raw.get(ref), dtype=np.float64)[..., None]
            return value * (self.mix.size / self.mix.deals)
        return np.asarray(self.raw.get(ref))[..., None]

    def lookup(self, table: str, key, default, piece: _Piece, has: bool = False):
        return _lookup(self, table, key, default, piece, has)


class _RowEnv:
    """Named values over the transaction rows ``(N,)``, for row-level measures: each row's
    own actuals (unsplit), its rep's roster row in effect in the row's period, its tenure."""

    def __init__(self, prog: CompiledPlan, inputs: Inputs, rows):
        self.prog = prog
        self.inputs = inputs
        self.rows = rows
        self.shape = (len(rows.rep),)
        self.period = np.maximum(rows.period, 0)
        self.values: dict[Ref, object] = {}
        self.missing: list = []

    def get(self, ref: Ref):
        v = self.values.get(ref)
        if v is not None:
            return v
        rows, inputs = self.rows, self.inputs
        if ref.kind == "actual":
            v = rows.columns[ref.name]
        elif ref.kind == "roster":
            at = inputs.roster_at.get(ref.name)
            latest = np.asarray(inputs.roster[ref.name]).reshape(-1)[rows.rep]
            v = latest if at is None or not inputs.shape[1] else \
                np.where(rows.period >= 0, np.asarray(at)[rows.rep, self.period], latest)
        elif ref.kind == "tenure" and not inputs.shape[1]:  # every row pending: no period to measure from
            v = np.zeros(len(rows.rep))
        elif ref.kind == "tenure":
            t = np.asarray(self.prog.tenure(inputs))
            P = inputs.shape[1]
            v = np.broadcast_to(t, t.shape[:-2] + inputs.shape if t.ndim > 2 else inputs.shape).reshape(-1, P)[
                rows.rep, self.period]
        else:  # validation admits nothing else in a row-level measure
            raise AssertionError(ref)
        self.values[ref] = v
        return v

    def lookup(self, table: str, key, default, piece: _Piece, has: bool = False):
        """``lookup``/``has`` on each row (see :func:`_lookup`)."""
        return _lookup(self, table, key, default, piece, has)

    def missing_key_error(self, i: int) -> DataErrors | None:
        """The missing-key error behind row ``i``'s value not being finite, if any."""
        for table, key, miss, piece in self.missing:
            if np.broadcast_to(miss, self.shape)[i]:
                k = np.broadcast_to(np.asarray(key, dtype=object), self.shape)[i]
                col = piece.text[len("actuals."):] if piece.text.startswith("actuals.") else None
                return _missing_key(table, k, piece, "", file=self.inputs.sources.get("actuals"),
                                    row=int(self.rows.file_row[i]), column=col,
                                    rep=str(self.inputs.rep_ids[self.rows.rep[i]]))
        return None


def _missing_key(table: str, key, piece: _Piece, where: str, **located) -> DataErrors:
    """The error for a lookup of a key the table lacks, where its value is used."""
    return DataErrors([DataError(
        "missing-key", f"table '{table}' has no key '{key}' (in {piece.text}) and no default",
        hint=f"add '{key}' to the table, give the table a 'default', or call lookup({table}, key, default){where}",
        **located)])


def _lookup(env, table: str, key, default, piece: _Piece, has: bool):
    """``has``: whether each key is in the table; ``lookup``: its value, else the default
    (the call's, then the table's); with no default a missing key gives NaN, recorded in
    ``env.missing`` so that the error names the key where the value is used."""
    t = env.prog.tables[table]
    pos = t.positions(key)
    if has:
        return pos >= 0
    d = t.default if default is None else default
    vals = t.values[np.maximum(pos, 0)] if len(t.values) else np.zeros(pos.shape)
    if d is None:
        miss = pos < 0
        if miss.any():
            env.missing.append((table, key, miss, piece))
        return np.where(miss, np.nan, vals)
    return np.where(pos >= 0, vals, d)


def _is_number(v) -> bool:
    """Whether a roster cell reads as a finite number ('NaN' and 'inf' text do not)."""
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- backends


class PayoutProgram(Protocol):
    """A compiled plan, whatever the backend: what the simulator and statements call.

    Attributes:
        checked: the validated plan (with the parameter overrides applied).
    """

    checked: CheckedPlan

    def evaluate(self, inputs: Inputs, grades: bool = True, record: dict | None = None,
                 reference: dict | None = None) -> PayoutArrays:
        """Evaluate the plan for every rep and period of ``inputs`` (as :meth:`CompiledPlan.evaluate`)."""
        ...


Backend = Callable[[CheckedPlan, "dict[str, float] | None"], PayoutProgram]

BACKENDS: dict[str, Backend] = {
    "numpy": CompiledPlan,
}
"""Backend name -> ``make(checked, params)`` returning a :class:`PayoutProgram`. A new
backend is a module and a row here; nothing that evaluates plans changes. The ``"numba"``
row is added by :mod:`engine.plan.numba_backend` (it imports this module, so this module
cannot name it), which :mod:`engine.plan` imports."""

BACKEND_ENV = "INCENTIVE_BACKEND"
"""Environment variable naming the backend simulations use when none is given."""


def default_backend() -> str:
    """The backend simulations, comparisons, recalibrations and the studio use when none is
    given: ``$INCENTIVE_BACKEND`` where set, else ``numba`` (each plan's compiled kernel;
    numpy where numba is missing or the plan uses what the kernel does not compute, which
    the document's ``backend`` says). Statements (``compile_plan``) default to numpy: one
    evaluation does not repay importing the compiler.

    Raises:
        DataError: ``bad-backend`` when the variable names no backend.
    """
    name = os.environ.get(BACKEND_ENV, "").strip() or "numba"
    if name not in BACKENDS:
        raise DataError("bad-backend", f"{BACKEND_ENV}={name} is not a plan backend",
                        hint=f"set it to one of {', '.join(sorted(BACKENDS))}, or unset it")
    return name


@overload
def compile_plan(checked: CheckedPlan, params: dict[str, float] | None = None) -> CompiledPlan: ...


@overload
def compile_plan(checked: CheckedPlan, params: dict[str, float] | None = None, *,
                 backend: str) -> PayoutProgram: ...


def compile_plan(checked: CheckedPlan, params: dict[str, float] | None = None, *,
                 backend: str = "numpy") -> PayoutProgram:
    """Compile a checked plan with parameter values overridden by ``params``.

    Args:
        checked: the validated plan.
        params: parameter overrides.
        backend: a row of :data:`BACKENDS` (default ``"numpy"``: :class:`CompiledPlan`).

    Raises:
        ValueError: ``backend`` is not a known backend (the message lists them).
    """
    make = BACKENDS.get(backend)
    if make is None:
        raise ValueError(f"unknown plan backend '{backend}' (known: {', '.join(sorted(BACKENDS))})")
    return make(checked, params)
