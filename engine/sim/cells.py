"""Array helpers of the monthly step: the cells of present reps packed into one row, the
best of candidates tried in order, and sums and gatherings that round the same whatever the
chunk (engine/sim/simulate.py uses them; nothing here knows the plan or the scenario)."""

from __future__ import annotations

import numpy as np

__all__ = ["Cells", "aggregate", "by_period", "effort_rows", "first_best", "labels", "percentile_rank", "run_totals",
           "take_cells"]


class Cells:
    """Selects the (run, slot) cells of present reps, packed into one row, and puts results back.

    With ``pack=False`` (plans whose pay depends on other reps) arrays keep their shape.
    Arrays have the cell axes as ``(..., runs, slots)`` or ``(runs, slots, months)``.
    """

    def __init__(self, present: np.ndarray, pack: bool):
        self.shape = present.shape
        self.pack = pack
        if pack:  # the cells' flat positions (row-major, as np.nonzero lists them): one index, not two
            self.flat = np.flatnonzero(present)

    def take_months(self, x: np.ndarray) -> np.ndarray:
        """A ``(runs, slots, k)`` array (months, months ahead) as ``(1, cells, k)``: said
        explicitly, since ``(5, 5, 5)`` would read either way to :meth:`take`."""
        if not self.pack:
            return x
        return take_cells(np.asarray(x), self.shape, self.flat, lead=False)[None]

    def take(self, x: np.ndarray) -> np.ndarray:
        if not self.pack:
            return x
        x = np.asarray(x)
        c, n = self.shape
        if x.shape[-2:] == (c, n):
            return take_cells(x, self.shape, self.flat, lead=True)[..., None, :]
        if x.shape[:2] == (c, n):  # (runs, slots, months)
            return take_cells(x, self.shape, self.flat, lead=False)[None]
        raise ValueError(f"cannot select cells of an array of shape {x.shape}")

    def put(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """``(..., 1, cells)`` back to ``(..., runs, slots)``."""
        if not self.pack:
            return x
        out = np.full(x.shape[:-2] + self.shape, fill, dtype=np.result_type(x.dtype, np.float64))
        out.reshape(out.shape[:-2] + (out.shape[-2] * out.shape[-1],))[..., self.flat] = x[..., 0, :]
        return out


def take_cells(x: np.ndarray, shape: tuple, flat: np.ndarray, lead: bool) -> np.ndarray:
    """``x[..., ci, si]`` (``lead``: the cell axes last) or ``x[ci, si]`` (first), for the
    cells at flat positions ``flat`` of ``shape``: the same values, by one ``np.take`` along
    the merged cell axes (several times faster than indexing with two arrays)."""
    cells = shape[0] * shape[1]
    if lead:
        return np.take(x.reshape(x.shape[:-2] + (cells,)), flat, axis=-1)
    return np.take(x.reshape((cells,) + x.shape[2:]), flat, axis=0)


def labels(cond: np.ndarray, yes: str, no: str) -> np.ndarray:
    """``np.where(cond, yes, no).astype(object)``, the same object array, by indexing a
    two-element one (without a text array and a Python string made per cell)."""
    return np.array([no, yes], dtype=object)[np.asarray(cond, dtype=bool).view(np.int8)]


def run_totals(x: np.ndarray) -> np.ndarray:
    """Per-run totals of a ``(runs, ...)`` array, summed in the same order whatever the
    number of runs in the chunk (a multi-axis ``sum`` may traverse a one-run array and a
    many-run array in different orders, and so round differently)."""
    x = np.ascontiguousarray(x)
    return x.reshape(len(x), -1).sum(axis=1)


def first_best(trials) -> tuple[np.ndarray, np.ndarray | None]:
    """The best of candidates tried in order, per cell: ``trials`` yields ``(value,
    utility, expected pay per period or None)``; a later candidate wins only where its
    utility is higher by more than 1e-9 relative. Returns the value chosen and its pay."""
    best_u = best = best_pp = None
    for value, u, pp in trials:
        if best_u is None:
            best_u, best, best_pp = u, np.full_like(u, value), pp
            continue
        better = u > best_u + 1e-9 * np.abs(best_u)
        best_u = np.where(better, u, best_u)
        best = np.where(better, value, best)
        if pp is not None:
            best_pp = np.where(better[..., None], pp, best_pp)
    assert best is not None, "no candidate tried"
    return best, best_pp


def effort_rows(rows: list) -> np.ndarray:
    """Effort per activity as an ``(A,)`` object array of arrays, each only as large as it
    varies: in a what-if that tries levels of one activity, the others' rows stay one
    candidate wide, so the production model (which indexes effort by activity) computes
    the outputs they drive once instead of once per candidate, with the same numbers."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out


def by_period(values: list) -> np.ndarray:
    """Values per period (arrays or numbers) as one ``(..., W)`` array of their broadcast shape."""
    out = np.empty(np.broadcast_shapes(*(np.shape(v) for v in values)) + (len(values),))
    for w, v in enumerate(values):
        out[..., w] = v
    return out


def aggregate(values: list, actives: list, agg: str):
    """Gather monthly values into a plan period with the column's aggregation."""
    if not values:
        return 0.0
    if agg == "sum":
        out = values[0]
        for v in values[1:]:
            out = out + v
        return out
    if agg == "mean" and len(values) < 8:
        # Month by month in order, as numpy sums fewer than 8 values along an axis (pairwise
        # summation starts at 8), without stacking them and its slow reduction over a short axis.
        shape = np.broadcast_shapes(*(np.shape(v) for v in values))
        total = cnt = np.zeros(0)
        for i, (v, a) in enumerate(zip(values, actives)):
            a = np.broadcast_to(a, shape)
            term = np.where(a, v, 0.0)
            total = term if i == 0 else total + term
            cnt = a.astype(np.int64) if i == 0 else cnt + a
        return np.where(cnt > 0, total / np.maximum(cnt, 1), 0.0)
    stack = np.stack(np.broadcast_arrays(*values), axis=-1)
    act = np.stack(np.broadcast_arrays(*actives), axis=-1)
    act = np.broadcast_to(act, stack.shape)
    if agg == "mean":
        cnt = act.sum(axis=-1)
        return np.where(cnt > 0, np.where(act, stack, 0.0).sum(axis=-1) / np.maximum(cnt, 1), 0.0)
    if agg == "last":
        idx = np.where(act, np.arange(stack.shape[-1]), -1).max(axis=-1)
        got = np.take_along_axis(stack, np.maximum(idx, 0)[..., None], axis=-1)[..., 0]
        return np.where(idx >= 0, got, 0.0)
    fill = np.inf if agg == "min" else -np.inf
    red = np.where(act, stack, fill)
    red = red.min(axis=-1) if agg == "min" else red.max(axis=-1)
    return np.where(np.isfinite(red), red, 0.0)


def percentile_rank(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of masked reps in the same run strictly below each rep (0 for the lowest)."""
    big = np.where(mask, x, np.inf)
    order = np.argsort(big, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(x.shape[1])[None, :].repeat(x.shape[0], axis=0), axis=1)
    count = np.maximum(mask.sum(axis=1, keepdims=True) - 1, 1)
    return np.where(mask, ranks / count, 0.0)
