"""Sums along a short last axis: the same bits as numpy's own reduction and accumulation."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.sums import cumsum_last_axis, sum_last_axis


@pytest.mark.parametrize("n", range(13))
@pytest.mark.parametrize("shape", [(1000,), (7, 11, 13), (3, 1)])
def test_sum_last_axis_is_numpys_sum_bit_for_bit(n, shape):
    """Values spanning nine orders of magnitude, so that any other order of addition shows."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=shape + (n,)) * 10.0 ** rng.integers(-3, 6, size=shape + (n,))
    got, want = sum_last_axis(x), x.sum(axis=-1)
    assert got.shape == want.shape
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_period_sums_are_numpys_cumsum_bit_for_bit():
    """Year-to-date sums taken one period at a time are numpy's cumulative sums exactly
    (signed zeros, infinities and NaN included), for broadcast inputs too."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 7, 5, 12)) * 10.0 ** rng.integers(-8, 8, (3, 7, 5, 12))
    x[0, 0, 0, :3] = [-0.0, -0.0, np.inf]
    x[1, 0, 0, 4] = np.nan
    for a in (x, x[..., :4], x[..., :1], np.broadcast_to(x[:1, :, :1], x.shape)):
        want, got = np.cumsum(a, axis=-1), cumsum_last_axis(a)
        assert np.array_equal(want, got, equal_nan=True) and np.array_equal(np.signbit(want), np.signbit(got))
