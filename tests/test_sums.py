"""Sums along a short last axis: the same bits as numpy's own reduction, for every length."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.sums import sum_last_axis


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
