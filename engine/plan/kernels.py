"""Compiled helpers of the numpy evaluator, each giving exactly the numbers of its numpy formula.

:func:`deviation_counts` counts, for every rep, the other eligible reps of its group whose
reference value is above, or equal to, the rep's candidate value: the heart of a best
response against a ranking (contests, ``rank``), which the simulator evaluates for every
effort and timing candidate of every rep. In numpy that is a stable sort of the union of
reference and candidate values per row, dense ranks, and four searches in one large sorted
array (about 15 ms a call on a chunk of 13 runs of the default team); the kernel sorts each
group's eligible reference values per row and searches them (a tenth of that).

The counts are integers, so the kernel's are numpy's exactly: equal values compare equal
(``-0.0 == 0.0``) in both. Rows holding a NaN (never, for values the evaluator checked) are
counted by numpy, which orders NaNs its own way; so are all rows where numba is not
installed, or where the kernel was found to disagree with numpy on a test of rows covering
ties, groups and ineligible reps before its first use (:func:`kernel_status`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["counts_compiled", "deviation_counts", "deviation_counts_numpy", "kernel_status"]

_STATE: dict = {}  # "kernel" -> the compiled kernel or None, "status" -> why


def deviation_counts(xr: np.ndarray, er: np.ndarray, rr: np.ndarray, re: np.ndarray, gr: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per row and rep ``i``: ``#{j != i: re[j], gr[j] == gr[i], rr[j] > xr[i]}`` and the same
    with ``==`` (compiled where numba is, else :func:`deviation_counts_numpy`).

    Args:
        xr, er: ``(rows, R)`` candidate values and eligibility.
        rr, re: ``(rows, R)`` the reference values and eligibility.
        gr: ``(rows, R)`` non-negative integer group codes.

    Returns:
        ``(above, equal)``, ``(rows, R)`` int64 arrays.
    """
    kernel = _kernel()
    if kernel is None or np.isnan(xr).any() or np.isnan(rr).any():
        return deviation_counts_numpy(xr, er, rr, re, gr)
    return _run(kernel, xr, er, rr, re, gr)


def counts_compiled() -> bool:
    """Whether :func:`deviation_counts` runs compiled here (numpy's ranks are faster their own way)."""
    return _kernel() is not None


def kernel_status() -> str:
    """``"numba"`` when the compiled kernel runs, else why numpy's formula does."""
    _kernel()
    return _STATE["status"]


def deviation_counts_numpy(xr: np.ndarray, er: np.ndarray, rr: np.ndarray, re: np.ndarray, gr: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`deviation_counts` in numpy: dense ranks of the union of reference and candidate
    values row by row, then the eligible reference keys counted by searching one sorted array."""
    n_rows, R = xr.shape
    union = np.concatenate([rr, xr], axis=1)
    order = np.argsort(union, axis=1, kind="stable")
    sv = np.take_along_axis(union, order, axis=1)
    new = np.ones_like(sv, dtype=bool)
    new[:, 1:] = sv[:, 1:] != sv[:, :-1]
    dense_sorted = np.cumsum(new, axis=1) - 1
    dense = np.empty_like(dense_sorted)
    np.put_along_axis(dense, order, dense_sorted, axis=1)
    d_ref, d_x = dense[:, :R], dense[:, R:]
    D = 2 * R
    G = int(gr.max()) + 1 if gr.size else 1
    base = (np.arange(n_rows, dtype=np.int64)[:, None] * G + gr) * D
    ref_keys = np.sort((base + d_ref)[re])
    kx = base + d_x
    above = np.searchsorted(ref_keys, base + D, side="left") - np.searchsorted(ref_keys, kx, side="right")
    equal = np.searchsorted(ref_keys, kx, side="right") - np.searchsorted(ref_keys, kx, side="left")
    above = above - (re & (d_ref > d_x))
    equal = equal - (re & (d_ref == d_x))
    return above, equal


def _run(kernel, xr, er, rr, re, gr) -> tuple[np.ndarray, np.ndarray]:
    above = np.empty(xr.shape, dtype=np.int64)
    equal = np.empty(xr.shape, dtype=np.int64)
    G = int(gr.max()) + 1 if gr.size else 1
    c = np.ascontiguousarray
    kernel(c(xr, dtype=np.float64), c(rr, dtype=np.float64), c(re, dtype=np.bool_), c(gr, dtype=np.int64), G,
           above, equal)
    return above, equal


def _kernel():
    """The compiled kernel, or None (numba missing, or not numpy's counts here)."""
    if "kernel" not in _STATE:
        _STATE["kernel"], _STATE["status"] = _load()
    return _STATE["kernel"]


def _load():
    try:
        from numba import njit
    except ImportError:
        return None, "numba is not installed"
    kernel = njit(cache=True, nogil=True)(_counts_rows)
    if not _agrees(kernel):
        return None, "the kernel's counts differ from numpy's here"
    return kernel, "numba"


def _agrees(kernel) -> bool:
    """The kernel against numpy on rows with many ties (values on a coarse grid, signed
    zeros, infinities), one to four groups and a share of ineligible reps."""
    rng = np.random.default_rng(15)
    rows, R = 64, 40
    grid = np.array([-np.inf, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, np.inf])
    xr = np.where(rng.random((rows, R)) < 0.5, rng.choice(grid, (rows, R)), rng.normal(size=(rows, R)))
    rr = np.where(rng.random((rows, R)) < 0.3, xr, rng.choice(grid, (rows, R)))
    er, re = rng.random((rows, R)) < 0.8, rng.random((rows, R)) < 0.8
    gr = rng.integers(0, rng.integers(1, 5, (rows, 1)), (rows, R))
    want = deviation_counts_numpy(xr, er, rr, re, gr)
    got = _run(kernel, xr, er, rr, re, gr)
    return all(np.array_equal(a, b) for a, b in zip(want, got))


def _counts_rows(xr, rr, re, gr, G, above, equal):  # pragma: no cover - compiled
    """Row by row: the eligible reference values bucketed by group (a counting sort) and each
    bucket sorted; each rep's value searched in its group's bucket, its own reference taken out."""
    n_rows, R = xr.shape
    start = np.zeros(G + 1, dtype=np.int64)
    fill = np.zeros(G, dtype=np.int64)
    vals = np.empty(R)
    for row in range(n_rows):
        start[:] = 0
        for j in range(R):
            if re[row, j]:
                start[gr[row, j] + 1] += 1
        for g in range(G):
            start[g + 1] += start[g]
            fill[g] = start[g]
        for j in range(R):
            if re[row, j]:
                g = gr[row, j]
                vals[fill[g]] = rr[row, j]
                fill[g] += 1
        for g in range(G):
            if start[g + 1] - start[g] > 1:
                vals[start[g]: start[g + 1]].sort()
        for i in range(R):
            g = gr[row, i]
            lo, hi, v = start[g], start[g + 1], xr[row, i]
            a, b = lo, hi
            while a < b:  # the first value above v
                m = (a + b) // 2
                if vals[m] <= v:
                    a = m + 1
                else:
                    b = m
            upper = a
            a, b = lo, upper
            while a < b:  # the first value equal to v
                m = (a + b) // 2
                if vals[m] < v:
                    a = m + 1
                else:
                    b = m
            n_above, n_equal = hi - upper, upper - a
            if re[row, i]:  # not against its own reference
                r = rr[row, i]
                if r > v:
                    n_above -= 1
                elif r == v:
                    n_equal -= 1
            above[row, i] = n_above
            equal[row, i] = n_equal
