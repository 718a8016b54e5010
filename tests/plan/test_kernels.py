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
