"""Compiled helpers of the numpy evaluator, each giving exactly the numbers of its numpy formula.

Ranks among the eligible reps of a group, and the ranks of a best response (each rep's
candidate value against the *other* reps' reference values: contests, ``rank``, which the
simulator evaluates for every effort and timing candidate of every rep), both come from the
same counts: for every rep, the other eligible reps of its group whose reference value is
above, or equal to, the rep's value. In numpy that is a stable sort of the union of
reference and candidate values per row, dense ranks, and four searches in one large sorted
array (:func:`deviation_counts_numpy`). Compiled, it is two steps:

* :func:`sort_reference`: each row's eligible reference values bucketed by group (a counting
  sort) and each bucket sorted, once per reference: the simulator prices every candidate of
  a month against the same reference, so the sort is kept for them all;
* :func:`ranks_against`: each rep's value searched in its group's bucket (a binary search
  without branches on the data: every step a select), its own reference taken out; the
  ranks and tie counts written as the evaluator uses them (floats, 0 where not eligible), in
  the evaluator's own ``(..., R, P)`` layout.

The counts are integers, so the kernels' are numpy's exactly: equal values compare equal
(``-0.0 == 0.0``) in both. Rows holding a NaN (never, for values the evaluator checked) are
counted by numpy, which orders NaNs its own way; so are all rows where numba is not
installed, or where the kernels were found to disagree with numpy on a test of rows covering
ties, groups and ineligible reps before their first use (:func:`kernel_status`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SortedReference", "award_shares", "award_shares_numpy", "counts_compiled", "deviation_counts", "deviation_counts_numpy", "kernel_status",
           "ranks_against", "sort_reference"]

_STATE: dict = {}  # "kernel" -> the compiled kernels (sort, search) or None, "status" -> why


@dataclass(frozen=True)
class SortedReference:
    """A reference's eligible values sorted per row (``(L, W)``: every leading index and
    period) and group: what :func:`ranks_against` searches.

    Attributes:
        ref, ref_eligible: ``(L, R, W)`` the reference values and eligibility (contiguous).
        group: ``(L, R, W)`` int64 group codes.
        values: ``(L, W, R)`` each row's eligible values, bucketed by group, each bucket sorted.
        start: ``(L, W, G + 1)`` where each group's bucket starts (and the last one ends).
        seen, seen_rank, seen_ties: ``(L, W)`` the rows whose own ranks were counted, and
            those ranks and ties ``(L, R, W)``: filled by :func:`ranks_against` at the first
            candidate whose row is the reference's, copied for the next ones.
    """

    ref: np.ndarray
    ref_eligible: np.ndarray
    group: np.ndarray
    values: np.ndarray
    start: np.ndarray
    seen: np.ndarray
    seen_rank: np.ndarray
    seen_ties: np.ndarray


def sort_reference(ref: np.ndarray, ref_eligible: np.ndarray, group: np.ndarray) -> SortedReference | None:
    """The reference sorted for :func:`ranks_against` (``(L, R, W)`` arrays), or None where
    the kernels do not run (numba missing) or a reference value is NaN: numpy counts those."""
    kernels = _kernel()
    if kernels is None:
        return None
    c = np.ascontiguousarray
    ref, ref_eligible, group = c(ref, dtype=np.float64), c(ref_eligible, dtype=np.bool_), c(group, dtype=np.int64)
    if np.isnan(ref).any():
        return None
    L, R, W = ref.shape
    G = int(group.max()) + 1 if group.size else 1
    values = np.empty((L, W, R))
    start = np.empty((L, W, G + 1), dtype=np.int64)
    kernels[0](ref, ref_eligible, group, G, values, start)
    return SortedReference(ref, ref_eligible, group, values, start, np.zeros((L, W), dtype=np.bool_),
                           np.empty((L, R, W)), np.empty((L, R, W)))


def ranks_against(sorted_ref: SortedReference, x: np.ndarray, eligible: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """Per rep ``i`` of each ``(L, R, W)`` row: ``1 + #{j != i: reference eligible, same
    group, ref[j] > x[i]}`` and ``1 + #{... ref[j] == x[i]}`` as floats, 0 where ``eligible``
    is false; None where a value of ``x`` is NaN (numpy counts those)."""
    kernels = _kernel()
    assert kernels is not None  # a SortedReference exists only where they run
    c = np.ascontiguousarray
    x = c(x, dtype=np.float64)
    if np.isnan(x).any():
        return None
    rank = np.empty(x.shape)
    ties = np.empty(x.shape)
    s = sorted_ref
    kernels[1](x, c(eligible, dtype=np.bool_), s.ref, s.ref_eligible, s.group, s.values, s.start, s.seen, s.seen_rank,
               s.seen_ties, rank, ties)
    return rank, ties


def award_shares(rank: np.ndarray, ties: np.ndarray, eligible: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Each eligible rep's share of the awards of the ranks it covers with its ties (``kind:
    rank``): ``(cum[hi] - cum[lo]) / ties`` with ``lo = clip(rank - 1, 0, n)`` and ``hi =
    clip(rank - 1 + ties, 0, n)``, 0 where not eligible or ``ties`` is 0; compiled (one pass,
    the same operations cell by cell) where numba is, else :func:`award_shares_numpy`.

    Args:
        rank, ties: float arrays of one shape (:func:`ranks_against`'s).
        eligible: bool, broadcast to it.
        cum: ``(n + 1,)`` the awards' running sums from 0.
    """
    kernels = _kernel()
    rank, ties = np.asarray(rank, dtype=np.float64), np.asarray(ties, dtype=np.float64)
    if kernels is None or rank.shape != ties.shape or np.broadcast_shapes(rank.shape, np.shape(eligible)) != rank.shape:
        return award_shares_numpy(rank, ties, eligible, cum)
    c = np.ascontiguousarray
    out = np.empty(rank.shape)
    kernels[2](c(rank).reshape(-1), c(ties).reshape(-1), c(np.broadcast_to(eligible, rank.shape), dtype=np.bool_
                                                             ).reshape(-1), c(cum, dtype=np.float64), out.reshape(-1))
    return out


def award_shares_numpy(rank: np.ndarray, ties: np.ndarray, eligible: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """:func:`award_shares` in numpy."""
    n = len(cum) - 1
    lo = np.clip(rank - 1, 0, n).astype(np.int64)
    hi = np.clip(rank - 1 + ties, 0, n).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(ties > 0, (cum[hi] - cum[lo]) / np.where(ties > 0, ties, 1), 0.0)
    return np.where(eligible, share, 0.0)


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
    rows = lambda a: a[:, :, None]  # one period per row
    sorted_ref = sort_reference(rows(rr), rows(re), rows(gr))
    got = None if sorted_ref is None else ranks_against(sorted_ref, rows(xr), np.ones(rows(xr).shape, dtype=bool))
    if got is None:
        return deviation_counts_numpy(xr, er, rr, re, gr)
    return got[0][:, :, 0].astype(np.int64) - 1, got[1][:, :, 0].astype(np.int64) - 1


def counts_compiled() -> bool:
    """Whether the counts run compiled here (numpy's ranks are faster their own way)."""
    return _kernel() is not None


def kernel_status() -> str:
    """``"numba"`` when the compiled kernels run, else why numpy's formula does."""
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


def _kernel():
    """The compiled kernels, or None (numba missing, or not numpy's counts here)."""
    if "kernel" not in _STATE:
        _STATE["kernel"], _STATE["status"] = _load()
    return _STATE["kernel"]


def _load():
    try:
        from numba import njit
    except ImportError:
        return None, "numba is not installed"
    kernels = tuple(njit(cache=True, nogil=True)(f) for f in (_sort_rows, _search_rows, _award_cells))
    if not _agrees(kernels):
        return None, "the kernel's counts differ from numpy's here"
    return kernels, "numba"


def _agrees(kernels) -> bool:
    """The kernels against numpy on rows with many ties (values on a coarse grid, signed
    zeros, infinities), one to four groups, a share of ineligible reps, and a third of the
    rows at the reference (searched twice: counted, then copied)."""
    rng = np.random.default_rng(15)
    rows, R = 64, 40
    grid = np.array([-np.inf, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, np.inf])
    xr = np.where(rng.random((rows, R)) < 0.5, rng.choice(grid, (rows, R)), rng.normal(size=(rows, R)))
    rr = np.where(rng.random((rows, R)) < 0.3, xr, rng.choice(grid, (rows, R)))
    er, re = rng.random((rows, R)) < 0.8, rng.random((rows, R)) < 0.8
    xr[::3], er[::3] = rr[::3], re[::3]
    gr = rng.integers(0, rng.integers(1, 5, (rows, 1)), (rows, R))
    above, equal = deviation_counts_numpy(xr, er, rr, re, gr)
    # Sixteen rows of four periods: the kernels' own layout, not one period per row.
    lay = lambda a: np.ascontiguousarray(a.reshape(16, 4, R).transpose(0, 2, 1))
    G = int(gr.max()) + 1
    values, start = np.empty((16, 4, R)), np.empty((16, 4, G + 1), dtype=np.int64)
    x, e, r, ee, g = lay(xr), lay(er), lay(rr), lay(re), lay(gr)
    kernels[0](r, ee, g, G, values, start)
    seen, seen_rank, seen_ties = np.zeros((16, 4), dtype=np.bool_), np.empty(x.shape), np.empty(x.shape)
    for _ in range(2):
        rank, ties = np.empty(x.shape), np.empty(x.shape)
        kernels[1](x, e, r, ee, g, values, start, seen, seen_rank, seen_ties, rank, ties)
        if not (np.array_equal(rank, np.where(e, 1 + lay(above), 0).astype(np.float64))
                and np.array_equal(ties, np.where(e, 1 + lay(equal), 0).astype(np.float64))):
            return False
    # The awards' shares, bit for bit, ties beyond the last award included.
    cum = np.cumsum([0.0, 1000.0, 600.0, 1.0 / 3.0])
    want = award_shares_numpy(rank, ties, e, cum)
    got = np.empty(rank.size)
    kernels[2](rank.reshape(-1), ties.reshape(-1), e.reshape(-1), cum, got)
    return np.array_equal(want.reshape(-1), got) and not np.signbit(got).any()


def _sort_rows(ref, ref_eligible, group, G, values, start):  # pragma: no cover - compiled
    """Row by row (each leading index and period): the eligible reference values bucketed by
    group (a counting sort) and each bucket sorted."""
    L, R, W = ref.shape
    fill = np.zeros(G, dtype=np.int64)
    for lead in range(L):
        for w in range(W):
            st = start[lead, w]
            st[:] = 0
            for j in range(R):
                if ref_eligible[lead, j, w]:
                    st[group[lead, j, w] + 1] += 1
            for g in range(G):
                st[g + 1] += st[g]
                fill[g] = st[g]
            vals = values[lead, w]
            for j in range(R):
                if ref_eligible[lead, j, w]:
                    g = group[lead, j, w]
                    vals[fill[g]] = ref[lead, j, w]
                    fill[g] += 1
            for g in range(G):
                if st[g + 1] - st[g] > 1:
                    vals[st[g]: st[g + 1]].sort()


def _search_rows(x, eligible, ref, ref_eligible, group, values, start, seen, seen_rank, seen_ties, rank, ties
                 ):  # pragma: no cover - compiled
    """Row by row (each leading index and period): where the row's values and eligibility
    are the reference's (periods a candidate does not change), the reference's own ranks,
    counted at the first such row and kept (``seen``); elsewhere each rep's value searched in
    its group's sorted bucket: the numbers at or below it and below it, counted straight
    through a small bucket, else by a binary search whose steps are selects, not branches
    (the second search only where the value just below is equal); its own reference taken
    out."""
    L, R, W = x.shape
    for lead in range(L):
        for w in range(W):
            same = True
            for i in range(R):
                if x[lead, i, w] != ref[lead, i, w] or eligible[lead, i, w] != ref_eligible[lead, i, w]:
                    same = False
                    break
            if same and seen[lead, w]:
                for i in range(R):
                    rank[lead, i, w] = seen_rank[lead, i, w]
                    ties[lead, i, w] = seen_ties[lead, i, w]
                continue
            vals = values[lead, w]
            st = start[lead, w]
            for i in range(R):
                if not eligible[lead, i, w]:
                    rank[lead, i, w] = 0.0
                    ties[lead, i, w] = 0.0
                    continue
                g = group[lead, i, w]
                lo = st[g]
                n = st[g + 1] - lo
                v = x[lead, i, w]
                upper, lower = 0, 0  # values <= v, values < v
                if n <= 16:  # a small bucket: counted straight through (compares the compiler vectorizes)
                    for k in range(lo, lo + n):
                        upper += vals[k] <= v
                        lower += vals[k] < v
                else:
                    base, m = lo, n
                    while m > 1:
                        half = m >> 1
                        base = base + half if vals[base + half - 1] <= v else base
                        m -= half
                    upper = base - lo + (1 if vals[base] <= v else 0)
                    lower = upper
                    if upper > 0 and vals[lo + upper - 1] == v:
                        base, m = lo, upper
                        while m > 1:
                            half = m >> 1
                            base = base + half if vals[base + half - 1] < v else base
                            m -= half
                        lower = base - lo + (1 if vals[base] < v else 0)
                above, equal = n - upper, upper - lower
                if ref_eligible[lead, i, w]:  # not against its own reference
                    r = ref[lead, i, w]
                    if r > v:
                        above -= 1
                    elif r == v:
                        equal -= 1
                rank[lead, i, w] = 1.0 + above
                ties[lead, i, w] = 1.0 + equal
            if same:
                seen[lead, w] = True
                for i in range(R):
                    seen_rank[lead, i, w] = rank[lead, i, w]
                    seen_ties[lead, i, w] = ties[lead, i, w]


def _award_cells(rank, ties, eligible, cum, out):  # pragma: no cover - compiled
    """Cell by cell, :func:`award_shares_numpy`'s operations in its order."""
    n = float(len(cum) - 1)
    for k in range(rank.size):
        t = ties[k]
        if eligible[k] and t > 0:
            lo = min(max(rank[k] - 1, 0.0), n)
            hi = min(max(rank[k] - 1 + t, 0.0), n)
            out[k] = (cum[int(hi)] - cum[int(lo)]) / t
        else:
            out[k] = 0.0
