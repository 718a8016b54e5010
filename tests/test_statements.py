"""Money is exact: rounding half away from zero, and columns that add up to the total."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.statements import (
    allocate_minor_units,
    format_money,
    round_half_away,
    to_minor_units,
)


@pytest.mark.parametrize("value,cents", [
    (0.125, 13), (2.675, 268), (1.005, 101), (-1.005, -101), (-0.125, -13), (0.124999, 12),
    (1234567.895, 123456790), (0.0, 0), (-0.004, 0), (0.005, 1), (-0.005, -1),
])
def test_round_half_away_from_zero_on_decimal_halves(value, cents):
    """Amounts written as decimal halves round away from zero, despite binary floats."""
    assert round_half_away(to_minor_units(np.array([value]), 2))[0] == cents


def test_round_yen_has_no_minor_unit():
    """JPY has 0 decimals: 1234.5 yen rounds to 1235."""
    assert round_half_away(to_minor_units(np.array([1234.5, -2.5]), 0)).tolist() == [1235, -3]


def test_largest_remainder_adds_up():
    """Rounded components add up exactly to the rounded total; the cent goes to the largest remainder."""
    cols = np.array([[200000.4, 53333.3, 0.0]])  # cents: 2000.004 + 533.333 = 2533.337
    total = round_half_away(cols.sum(axis=1))
    out = allocate_minor_units(cols, total)
    assert total.tolist() == [253334]
    assert out.tolist() == [[200001, 53333, 0]]
    assert out.sum(axis=1).tolist() == total.tolist()


def test_largest_remainder_ties_go_to_first_column():
    """Equal remainders: the earlier column gets the unit."""
    cols = np.array([[0.5, 0.5]])
    out = allocate_minor_units(cols, np.array([1]))
    assert out.tolist() == [[1, 0]]


def test_largest_remainder_with_negative_columns():
    """A negative adjustment still yields columns summing to the total, each within one unit."""
    rng = np.random.default_rng(7)
    cols = rng.normal(0, 1e5, size=(1000, 4))
    total = round_half_away(cols.sum(axis=1))
    out = allocate_minor_units(cols, total)
    assert (out.sum(axis=1) == total).all()
    assert (np.abs(out - cols) < 1.0 + 1e-9).all()


def test_format_money_exact_text():
    """Statement amounts are written as exact decimal text."""
    assert format_money(np.array([1234.5, -0.1, 0.0, 7.0]), 2) == ["1234.50", "-0.10", "0.00", "7.00"]
    assert format_money(np.array([1234.0]), 0) == ["1234"]
