"""Sums along a short last axis, bit for bit as numpy's, at a fraction of the cost.

numpy adds fewer than 8 values along an axis one after the other (its pairwise summation
starts at 8 values), and accumulates in order, but reduces or accumulates a short last axis
(periods, months, kinds of deal) with a loop per cell. Adding the slices elementwise in the
same order gives the same bits over all cells at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cumsum_last_axis", "sum_last_axis"]


def sum_last_axis(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=-1)`` with the same bits: elementwise in order below 8 values, numpy's own
    reduction from 8 (where its pairwise order begins)."""
    n = x.shape[-1]
    if n >= 8 or n == 0:
        return x.sum(axis=-1)
    out = x[..., 0].copy()
    for i in range(1, n):
        out = out + x[..., i]
    return out


def cumsum_last_axis(x) -> np.ndarray:
    """``np.cumsum(x, axis=-1)`` (float64) with the same bits: the same sums in the same order,
    one position at a time over all cells (numpy's accumulation along a 4- or 12-long last axis
    loops per cell, about four times slower)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    if x.shape[-1]:
        out[..., 0] = x[..., 0]
    for p in range(1, x.shape[-1]):
        np.add(out[..., p - 1], x[..., p], out=out[..., p])
    return out
