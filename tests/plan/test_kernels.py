"""The numpy evaluator's compiled helpers give numpy's numbers exactly, and numpy's formula runs without numba."""

from __future__ import annotations

import numpy as np
import pytest

from engine.plan import kernels
from engine.plan.compile import deviation_rank, grouped_rank


def rows_case(seed: int, rows: int = 50, R: int = 60):
    """Candidate and reference values with many ties (a coarse grid, signed zeros,
    infinities), up to five groups per row and about a fifth of the reps ineligible."""
    rng = np.random.default_rng(seed)
    grid = np.array([-np.inf, -2.0, -0.0, 0.0, 0.25, 1.0, 3.0, np.inf])
    xr = np.where(rng.random((rows, R)) < 0.6, rng.choice(grid, (rows, R)), rng.normal(size=(rows, R)))
    rr = np.where(rng.random((rows, R)) < 0.4, xr, np.where(rng.random((rows, R)) < 0.5, rng.choice(grid, (rows, R)),
                                                           rng.normal(size=(rows, R))))
    er, re = rng.random((rows, R)) < 0.8, rng.random((rows, R)) < 0.8
    gr = rng.integers(0, rng.integers(1, 6, (rows, 1)), (rows, R))
    return xr, er, rr, re, gr


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("R", [1, 2, 60, 700])
def test_compiled_deviation_counts_are_numpys(seed, R):
    """The kernel counts, for every rep, the same others above and tied as numpy's dense-rank
    search, with ties, groups, ineligible reps, one rep and many."""
    args = rows_case(seed, rows=20 if R == 700 else 50, R=R)
    want = kernels.deviation_counts_numpy(*args)
    got = kernels.deviation_counts(*args)
    assert kernels.kernel_status() == "numba"
    for a, b in zip(want, got):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_rows_with_nan_are_counted_by_numpy():
    """A NaN (never in checked values) is left to numpy, which orders NaNs its own way."""
    xr, er, rr, re, gr = rows_case(9)
    xr[3, 5] = rr[7, 1] = np.nan
    want = kernels.deviation_counts_numpy(xr, er, rr, re, gr)
    for a, b in zip(want, kernels.deviation_counts(xr, er, rr, re, gr)):
        assert np.array_equal(a, b)


def test_deviation_rank_at_the_reference_is_the_plain_rank():
    """With every rep at its reference value the deviation ranks are grouped_rank's (the
    rule deviation_rank's docstring states), through the compiled counts."""
    rng = np.random.default_rng(4)
    x = np.round(rng.normal(size=(3, 40, 2)), 1)
    eligible = rng.random((3, 40, 2)) < 0.9
    group = np.broadcast_to(rng.integers(0, 3, (40, 1)), (3, 40, 2))
    for a, b in zip(deviation_rank(x, eligible, x, eligible, group), grouped_rank(x, eligible, group)):
        assert np.array_equal(a, b)


def test_without_numba_numpys_counts_run(monkeypatch, without_numba):
    """Where numba cannot be imported, numpy counts (same numbers) and the status says why."""
    monkeypatch.setattr(kernels, "_STATE", {})
    args = rows_case(7)
    for a, b in zip(kernels.deviation_counts(*args), kernels.deviation_counts_numpy(*args)):
        assert np.array_equal(a, b)
    assert kernels.kernel_status() == "numba is not installed"


def test_a_kernel_that_counts_differently_is_not_used(monkeypatch):
    """The kernel runs only where it reproduces numpy's counts (checked before its first use)."""
    monkeypatch.setattr(kernels, "_STATE", {})
    monkeypatch.setattr(kernels, "_agrees", lambda kernel: False)
    args = rows_case(8)
    for a, b in zip(kernels.deviation_counts(*args), kernels.deviation_counts_numpy(*args)):
        assert np.array_equal(a, b)
    assert kernels.kernel_status().startswith("the kernel's counts differ")


@pytest.mark.parametrize("seed", range(3))
def test_grouped_rank_through_the_kernel_is_numpys(seed, monkeypatch):
    """grouped_rank counted by the kernel gives the ranks and ties of its own numpy sort, with
    ties (signed zeros, infinities), groups and ineligible reps."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-np.inf, -1.0, -0.0, 0.0, 0.5, 2.0, np.inf]), (2, 3, 50, 4))
    x = np.where(rng.random(x.shape) < 0.3, rng.normal(size=x.shape), x)
    eligible = rng.random(x.shape) < 0.8
    group = np.broadcast_to(rng.integers(0, 4, (50, 1)), x.shape)
    got = grouped_rank(x, eligible, group)
    assert kernels.counts_compiled()
    monkeypatch.setattr(kernels, "_STATE", {"kernel": None, "status": "off for the test"})
    import engine.plan.compile as compile_module
    monkeypatch.setattr(compile_module, "counts_compiled", lambda: False)
    want = grouped_rank(x, eligible, group)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_deviations_from_one_reference_reuse_its_sort_and_its_own_ranks():
    """Deviations from the same reference (the simulator's candidates of a month) give, with
    the sorted reference kept in a memo, the counts numpy gives for each, including rows
    where the candidate is the reference (their own ranks, counted once and copied); a memo
    kept for other groups is not used."""
    rng = np.random.default_rng(11)
    shape = (2, 3, 30, 4)
    ref = np.round(rng.normal(size=shape), 1)
    ref_e = rng.random(shape) < 0.8
    group = np.broadcast_to(rng.integers(0, 3, (30, 1)), shape)
    memo: dict = {}
    R = shape[-2]
    rows = lambda a: np.moveaxis(np.broadcast_to(a, shape), -2, -1).reshape(-1, R)
    back = lambda a: np.moveaxis(a.reshape(shape[:-2] + (shape[-1], R)), -1, -2)
    for trial in range(4):
        x = np.where(rng.random(shape) < 0.5, np.round(rng.normal(size=shape), 1), ref)
        e = rng.random(shape) < 0.8
        x[..., :2], e[..., :2] = ref[..., :2], ref_e[..., :2]  # periods the candidate leaves alone
        g = group if trial < 3 else np.broadcast_to(rng.integers(0, 2, (30, 1)), shape)
        got = deviation_rank(x, e, ref, ref_e, g, memo)
        above, equal = kernels.deviation_counts_numpy(rows(x), rows(e), rows(ref), rows(ref_e), rows(g))
        want = (back(np.where(rows(e), 1 + above, 0).astype(float)), back(np.where(rows(e), 1 + equal, 0).astype(float)))
        for a, b in zip(got, want):
            assert np.array_equal(a, b)
    assert memo["sorted"][3].seen.any()


def test_award_shares_compiled_are_numpys():
    """The awards' shares (ties sharing the awards of the ranks they cover, ranks beyond the
    last award, ineligible reps) are numpy's, bit for bit."""
    rng = np.random.default_rng(5)
    rank = rng.integers(0, 6, (4, 50, 3)).astype(float)
    ties = np.where(rank > 0, rng.integers(1, 4, rank.shape), 0).astype(float)
    eligible = rank > 0
    cum = np.concatenate([[0.0], np.cumsum([1000.0, 600.0, 1.0 / 3.0])])
    got = kernels.award_shares(rank, ties, eligible, cum)
    want = kernels.award_shares_numpy(rank, ties, eligible, cum)
    assert np.array_equal(got, want) and not np.signbit(got).any()


def test_group_codes_are_reused_only_for_equal_keys():
    """Group codes kept from an earlier key serve a key of equal values, not one changed in
    place since."""
    from engine.plan.compile import _factorize

    key = np.array(["b", "a", "c", "a"], dtype=object)
    first = _factorize(key, (2, 4)).copy()
    assert np.array_equal(_factorize(key.copy(), (2, 4)), first)
    key[0] = "a"
    assert np.array_equal(_factorize(key, (4,)), [0, 0, 1, 0])


def test_year_to_date_change_since_the_previous_statement():
    """The change in a year-to-date value since the rep's latest active period of the same
    year (the value itself at the year's first active period), across two plan years."""
    from engine.plan.compile import CompiledPlan

    class Years:
        _year_slices = ((0, 3), (3, 5))

    ytd = np.array([[1.0, 3.0, 6.0, 2.0, 5.0], [1.0, 3.0, 6.0, 2.0, 5.0]])
    active = np.array([[True, False, True, True, True], [False, True, True, False, True]])
    got = CompiledPlan._ytd_delta(Years(), ytd, active)  # type: ignore[arg-type]
    assert np.array_equal(got, [[1.0, 2.0, 5.0, 2.0, 3.0], [1.0, 3.0, 3.0, 2.0, 5.0]])
