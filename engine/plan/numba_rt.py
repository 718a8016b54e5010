"""The scalar helpers every generated kernel calls (see :mod:`engine.plan.lower_numba`).

They are compiled once per process and cached on disk by numba, rather than once per
kernel. The kernels' cache key includes a digest of this file
(:data:`engine.plan.lower_numba.RUNTIME_DIGEST`), so that a change here never meets a kernel
compiled against the old helpers. Minimum and
maximum propagate NaN as ``numpy.minimum``/``numpy.maximum`` do; the curves follow
``numpy.interp`` (0 below the first point).
"""

from __future__ import annotations

import math

from numba import njit

__all__ = ["_fin", "_fl", "_lin", "_max", "_min", "_sdiv", "_sel", "_stp"]


@njit(cache=True, nogil=True)
def _min(a, b):
    if math.isnan(a) or math.isnan(b):
        return a + b
    return min(a, b)


@njit(cache=True, nogil=True)
def _max(a, b):
    if math.isnan(a) or math.isnan(b):
        return a + b
    return max(a, b)


@njit(cache=True, nogil=True)
def _sel(c, a, b):
    return a if c else b


@njit(cache=True, nogil=True)
def _fl(c):
    return 1.0 if c else 0.0


@njit(cache=True, nogil=True)
def _fin(v):
    return v if math.isfinite(v) else 0.0


@njit(cache=True, nogil=True)
def _sdiv(a, b, d):
    q = a / b
    return d if (b == 0.0 or not math.isfinite(q)) else q


@njit(cache=True, nogil=True)
def _lin(x, xs, ys, extend):
    n = len(xs)
    if x < xs[0]:
        return 0.0
    if x >= xs[n - 1]:
        if extend and n >= 2 and x > xs[n - 1]:
            slope = (ys[n - 1] - ys[n - 2]) / (xs[n - 1] - xs[n - 2])
            return ys[n - 1] + slope * (x - xs[n - 1])
        return ys[n - 1]
    j = 0
    while x >= xs[j + 1]:
        j += 1
    slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
    return slope * (x - xs[j]) + ys[j]


@njit(cache=True, nogil=True)
def _stp(x, xs, ys):
    n = len(xs)
    k = -1
    while k + 1 < n and xs[k + 1] <= x:
        k += 1
    return ys[k] if k >= 0 else 0.0
