"""The simulator's compiled helpers give numpy's numbers bit for bit, and numpy's formula runs without numba."""

from __future__ import annotations

import numpy as np
import pytest

from engine.sim import behaviour, kernels


def utility_case(seed: int, S: int = 3, G: int = 4, n: int = 2_000):
    """A what-if's arguments: values ``(S, G, n)``, traits ``(1, n)``, choice ``(A, G, n)``,
    with risk-neutral, negligible and ordinary risk aversion, cells near the mean and far,
    zero target incentives and effort below and above 1."""
    rng = np.random.default_rng(seed)
    ti = rng.uniform(0.0, 2e5, (1, n))
    ti[0, :20] = 0.0
    values = ti / 4 * rng.uniform(0.0, 3.0, (1, G, n)) * rng.lognormal(0.0, 0.8, (S, G, n))
    rho = np.where(rng.random((1, n)) < 0.1, 0.0, rng.uniform(0.0, 4.0, (1, n)))
    rho[0, :50] = behaviour.RHO_NEGLIGIBLE / 3
    kappa = rng.lognormal(0.7, 0.3, (1, n))
    shares = np.array([0.7, 0.15, 0.15])
    choice = rng.choice(np.array([0.5, 1.0, 1.15, 1.3, 1.75, 2.0]), (3, G, n))
    weights = behaviour.quadrature(S)[1]
    return values, weights, rho, kappa, ti, 2, shares, choice


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("S", [1, 3, 5])
def test_compiled_utility_is_numpys_bit_for_bit(seed, S):
    """effort_utility of the kernels is behaviour.effort_utility's, every cell's bits, in
    every branch of the certainty equivalent and with traits broadcast over candidates."""
    args = utility_case(seed, S=S)
    want = behaviour.effort_utility(*args)
    got = kernels.effort_utility(*args)
    assert kernels.kernel_status() == "numba"
    assert got.shape == want.shape
    assert np.array_equal(got, want)


def test_without_numba_numpys_formula_runs(monkeypatch, without_numba):
    """Where numba cannot be imported, the helpers run numpy's formula (same numbers) and say why."""
    monkeypatch.setattr(kernels, "_STATE", {})
    args = utility_case(7)
    assert np.array_equal(kernels.effort_utility(*args), behaviour.effort_utility(*args))
    assert kernels.kernel_status() == "numba is not installed"


def test_a_kernel_that_rounds_differently_is_not_used(monkeypatch):
    """The kernel runs only where it reproduces numpy's bits (checked before its first use)."""
    monkeypatch.setattr(kernels, "_STATE", {})
    monkeypatch.setattr(kernels, "_agrees", lambda kernel: False)
    args = utility_case(8)
    assert np.array_equal(kernels.effort_utility(*args), behaviour.effort_utility(*args))
    assert kernels.kernel_status().startswith("the C library's exp/log round differently")


def poisson_case(seed: int, n: int = 20_000):
    """Uniforms (near 0 and 1 too) and means: small, up to 50, above 50 (the normal
    approximation), zero, negative and missing."""
    rng = np.random.default_rng(seed)
    lam = np.concatenate([rng.lognormal(0.3, 1.3, n // 2), rng.uniform(0.0, 60.0, n // 4),
                          rng.choice(np.array([0.0, -2.0, np.nan, 1e-12, 49.99, 50.0, 50.01, 400.0]), n // 4)])
    u = rng.random(n)
    u[::5] = 1.0 - rng.random(len(u[::5])) * 1e-13
    u[::9] = rng.random(len(u[::9])) * 1e-13
    return u.reshape(40, -1), lam.reshape(40, -1)


@pytest.mark.parametrize("seed", range(3))
def test_compiled_poisson_counts_are_numpys(seed):
    """poisson_ppf of the kernels gives behaviour._poisson_ppf's counts for every cell, with
    the mean per cell or one mean for all, and keeps the input's shape."""
    u, lam = poisson_case(seed)
    assert np.array_equal(kernels.poisson_ppf(u, lam), behaviour._poisson_ppf(u, lam))
    assert kernels.kernel_status("poisson") == "numba"
    for mean in (4.0, 0.8, 75.0):
        got = kernels.poisson_ppf(u.T, mean)  # a non-contiguous view
        assert got.shape == u.T.shape
        assert np.array_equal(got, behaviour._poisson_ppf(u.T, mean))


def test_without_numba_numpys_poisson_search_runs(monkeypatch, without_numba):
    """Where numba cannot be imported, the counts come from numpy's search, and the status says why."""
    monkeypatch.setattr(kernels, "_STATE", {})
    u, lam = poisson_case(5)
    assert np.array_equal(kernels.poisson_ppf(u, lam), behaviour._poisson_ppf(u, lam))
    assert kernels.kernel_status("poisson") == "numba is not installed"


def test_a_poisson_kernel_that_counts_differently_is_not_used(monkeypatch):
    """The Poisson kernel runs only where it reproduces numpy's counts (checked before its first use)."""
    monkeypatch.setattr(kernels, "_STATE", {})
    monkeypatch.setattr(kernels, "_poisson_agrees", lambda kernel: False)
    u, lam = poisson_case(6)
    assert np.array_equal(kernels.poisson_ppf(u, lam), behaviour._poisson_ppf(u, lam))
    assert kernels.kernel_status("poisson").startswith("the C library's exp/log round differently")
