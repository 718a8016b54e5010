"""Sums along a short last axis, bit for bit as numpy's, at a fraction of the cost.

numpy adds fewer than 8 values along an axis one after the other (its pairwise summation
starts at 8 values), but reduces a short last axis with a loop per cell. Adding the slices
elementwise in the same order gives the same bits over all cells at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sum_last_axis"]


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
