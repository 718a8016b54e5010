"""Compiled helpers of the simulator's monthly step, each the same numbers as its numpy formula.

* :func:`effort_utility`: the value of every effort candidate (below);
* :func:`poisson_ppf`: Poisson counts by inversion of given uniforms, the same sequential
  search of the CDF as :func:`engine.sim.behaviour._poisson_ppf`, one cell at a time
  instead of one vectorized pass per step of the search over the cells still searching.

The effort choice values every candidate by :func:`engine.sim.behaviour.effort_utility`: a
certainty equivalent over the quadrature nodes minus the cost of effort. In numpy that is
about twenty passes over the candidates' cells, both branches of the certainty equivalent
computed everywhere; :func:`effort_utility` here makes one pass per cell and computes only
the branch it keeps (a quarter of the simulator's time before, outside the plan's pricing).

Same bits, not just close: the kernel does each cell's operations in numpy's order (sums
over nodes and activities left to right, ``-r * x`` as ``(-r) * x``, minimum and maximum
propagating NaN) with the C library's ``exp``, ``expm1``, ``log`` and ``log1p``, which are
numpy's on most machines. Where they are not (numpy's own float64 ``exp``/``log`` with
AVX-512), or numba is not installed, numpy's formula runs instead: before its first use the
kernel is checked against it, bit for bit, on cells covering every branch
(:func:`kernel_status`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from engine.sim import behaviour
from engine.sim.behaviour import RHO_NEGLIGIBLE

__all__ = ["effort_utility", "kernel_status", "poisson_ppf"]

_STATE: dict = {}  # kernel name -> (the compiled kernel or None, its status)


def effort_utility(values, weights, rho, kappa, ti, months, shares, choice) -> np.ndarray:
    """:func:`engine.sim.behaviour.effort_utility`, compiled (same arguments, same bits).

    ``values`` is ``(S, ...)``, ``choice`` ``(A, ...)``; ``rho``, ``kappa`` and ``ti``
    broadcast to the cells.
    """
    kernel = _kernel("utility")
    if kernel is None:
        return behaviour.effort_utility(values, weights, rho, kappa, ti, months, shares, choice)
    values, choice = np.asarray(values, dtype=float), np.asarray(choice, dtype=float)
    shape = np.broadcast_shapes(values.shape[1:], choice.shape[1:], np.shape(rho), np.shape(kappa), np.shape(ti))
    out = np.empty(shape)
    kernel(_flat(values, shape), np.asarray(weights, dtype=float), _flat(rho, shape)[0], _flat(kappa, shape)[0],
           _flat(ti, shape)[0], float(months), np.asarray(shares, dtype=float), _flat(choice, shape), out.reshape(-1))
    return out


def poisson_ppf(u, lam) -> np.ndarray:
    """:func:`engine.sim.behaviour._poisson_ppf`, compiled (same arguments, same counts).

    Means above 50 (the normal approximation, with scipy's ``ndtri``) stay in numpy.
    """
    kernel = _kernel("poisson")
    if kernel is None:
        return behaviour._poisson_ppf(u, lam)
    u = np.asarray(u, dtype=np.float64)
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), u.shape)
    flat_u, flat_l = np.ascontiguousarray(u).reshape(-1), np.ascontiguousarray(lam).reshape(-1)
    out = np.empty(flat_u.shape)
    kernel(flat_u, flat_l, out)
    big = flat_l > 50.0
    if big.any():
        out[big] = behaviour._poisson_ppf(flat_u[big], flat_l[big])
    return out.reshape(u.shape)


def kernel_status(name: str = "utility") -> str:
    """``"numba"`` when the compiled kernel ``name`` (``"utility"``, ``"poisson"``) runs, else
    why numpy's formula does."""
    _kernel(name)
    return _STATE[name][1]


def _flat(x, shape: tuple) -> np.ndarray:
    """``x`` broadcast to ``(k, *shape)`` (its leading axis of nodes or activities, else
    ``k = 1``), as a contiguous ``(k, cells)`` array."""
    x = np.asarray(x, dtype=float)
    k = x.shape[0] if x.ndim > len(shape) else 1
    return np.ascontiguousarray(np.broadcast_to(x, (k,) + shape)).reshape(k, -1)


def _kernel(name: str):
    """The compiled kernel ``name``, or None (numba missing, or not numpy's bits on this machine)."""
    if name not in _STATE:
        _STATE[name] = _load(name)
    return _STATE[name][0]


def _load(name: str):
    try:
        from numba import njit
    except ImportError:
        return None, "numba is not installed"
    cells: Callable[..., None] = _utility_cells if name == "utility" else _poisson_cells
    agrees = _agrees if name == "utility" else _poisson_agrees
    kernel = njit(cache=True, nogil=True)(cells)
    if not agrees(kernel):
        return None, "the C library's exp/log round differently from numpy's here"
    return kernel, "numba"


def _agrees(kernel) -> bool:
    """The kernel against numpy's formula on cells covering every branch: risk neutral,
    negligible and ordinary risk aversion, near the mean and far, effort below and above 1."""
    rng = np.random.default_rng(15)
    n = 4096
    ti = rng.uniform(1e-8, 2e5, n)
    values = ti / 4 * rng.uniform(0.0, 3.0, n) * rng.lognormal(0.0, 0.6, (3, n))
    rho = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0.0, 3.0, n))
    rho[:64] = RHO_NEGLIGIBLE / 2
    kappa = rng.lognormal(0.7, 0.3, n)
    shares = np.array([0.7, 0.15, 0.15])
    choice = rng.choice(np.array([0.5, 1.0, 1.15, 1.5, 2.0]), (3, n))
    weights = behaviour.quadrature(3)[1]
    want = behaviour.effort_utility(values[:, None], weights, rho[None], kappa[None], ti[None], 3, shares,
                                    choice[:, None])[0]
    got = np.empty(n)
    kernel(values, weights, rho, kappa, ti, 3.0, shares, choice, got)
    return bool(np.array_equal(want, got, equal_nan=True))


def _poisson_agrees(kernel) -> bool:
    """The kernel against numpy's search: small and large means up to 50, uniforms near 0
    and 1, zero, negative and missing means and uniforms."""
    rng = np.random.default_rng(15)
    n = 8192
    lam = np.concatenate([rng.lognormal(0.5, 1.2, n // 2), rng.uniform(0.0, 50.0, n // 4),
                          rng.choice(np.array([0.0, -1.0, np.nan, 1e-300, 1e-9, 50.0, 4.0]), n // 4)])
    u = rng.random(n)
    u[::7] = 1.0 - rng.random(len(u[::7])) * 1e-12
    u[::11] = rng.random(len(u[::11])) * 1e-12
    u[::13] = rng.choice(np.array([0.0, 1.0, np.nan]), len(u[::13]))
    got = np.empty(n)
    kernel(u, lam, got)
    small = ~(lam > 50.0)
    return bool(np.array_equal(behaviour._poisson_ppf(u, lam)[small], got[small]))


def _poisson_cells(u, lam, out):  # pragma: no cover - compiled
    """Per cell ``i``: the count whose Poisson(``lam[i]``) CDF first reaches ``u[i]``, by the
    sequential search of behaviour._poisson_ppf, step for step (0 where the mean is not
    positive; means above 50 are left to the caller)."""
    for i in range(u.shape[0]):
        mean = lam[i]
        count = 0.0
        if mean > 0.0 and not mean > 50.0:
            ui = u[i]
            p = math.exp(-mean)
            cdf = p
            k = 0
            while k < 400 and ui > cdf:
                k += 1
                count += 1.0
                p = p * mean / k
                cdf = cdf + p
                if p < 1e-17 * cdf:  # round-off: the CDF has stopped growing
                    break
        out[i] = count


def _utility_cells(values, w, rho, kappa, ti, months, shares, choice, out):  # pragma: no cover - compiled
    """Per cell ``i``: the certainty equivalent of ``values[:, i]`` minus the cost of
    ``choice[:, i]``, operation for operation as behaviour.certainty_equivalent and
    behaviour.effort_utility compute them."""
    S, n, A = values.shape[0], values.shape[1], choice.shape[0]
    for i in range(n):
        scale = ti[i] / 12.0
        scale = scale if (scale > 1e-9 or math.isnan(scale)) else 1e-9
        mean = w[0] * values[0, i]
        lowest = values[0, i]
        for j in range(1, S):
            mean = mean + w[j] * values[j, i]
            v = values[j, i]
            lowest = lowest if (lowest < v or math.isnan(lowest)) else v
        active = rho[i] > RHO_NEGLIGIBLE
        r = rho[i] if active else 1.0
        if not active:
            x = (values[0, i] - mean) / scale
            acc = w[0] * (x * x)
            for j in range(1, S):
                x = (values[j, i] - mean) / scale
                acc = acc + w[j] * (x * x)
            ce = mean + scale * (-0.5 * rho[i] * acc)
        elif r * (mean - lowest) / scale <= 1.0:
            e = -r * ((values[0, i] - mean) / scale)
            acc = w[0] * math.expm1(e if (e < 1.0 or math.isnan(e)) else 1.0)
            for j in range(1, S):
                e = -r * ((values[j, i] - mean) / scale)
                acc = acc + w[j] * math.expm1(e if (e < 1.0 or math.isnan(e)) else 1.0)
            ce = mean + scale * (-math.log1p(acc) / r)
        else:
            acc = w[0] * math.exp(-r * (values[0, i] - lowest) / scale)
            for j in range(1, S):
                acc = acc + w[j] * math.exp(-r * (values[j, i] - lowest) / scale)
            ce = lowest - scale / r * math.log(acc)
        d = choice[0, i] - 1.0
        d = d if (d > 0.0 or math.isnan(d)) else 0.0
        cost = shares[0] * (d * d)
        for a in range(1, A):
            d = choice[a, i] - 1.0
            d = d if (d > 0.0 or math.isnan(d)) else 0.0
            cost = cost + shares[a] * (d * d)
        out[i] = ce - kappa[i] * scale * months * 0.5 * cost
