"""Money is exact: rounding half away from zero, and columns that add up to the total."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 9, 12])
def test_column_at_a_time_allocation_is_the_stacked_one(k):
    """Statements allocate a column at a time (no (rows, columns) copy): the same minor
    units as allocate_minor_units, ties and negative columns included."""
    from engine.data.statements import _allocate_columns

    rng = np.random.default_rng(k)
    n = 5000
    cols = np.round(rng.normal(0, 300, size=(n, k)) * 4) / 4  # many equal remainders (quarters)
    cols[::7] = np.round(cols[::7])
    cols[::11, 0] = cols[::11, -1]
    total = round_half_away(cols.sum(axis=1))
    total[::13] += rng.integers(-3 * k, 3 * k, size=total[::13].shape)  # float error of several units
    expected = allocate_minor_units(cols, total)
    got = _allocate_columns([cols[:, j].copy() for j in range(k)], total)
    np.testing.assert_array_equal(np.stack(got, axis=1), expected)


def _obvious_statement_table(plan, inputs, result):
    """The statement table as it was built before it was made fast: object arrays of the
    active cells and the stacked largest-remainder allocation (no base pay here)."""
    import pandas as pd

    d = plan.minor_unit
    r, p = np.nonzero(result.active)
    names = [c.name for c in plan.components]
    cols = np.stack([np.asarray(result.columns[n])[r, p] for n in names] + [result.adjustment[r, p]], axis=1)
    total = round_half_away(to_minor_units(result.total[r, p], d))
    alloc = allocate_minor_units(to_minor_units(cols, d), total)
    data = {"rep_id": np.asarray(inputs.rep_ids, dtype=object)[r],
            "period": np.array(inputs.period_labels, dtype=object)[p], "currency": plan.currency}
    for j, n in enumerate(names):
        data[n] = alloc[:, j] / 10.0 ** d
    data["adjustment"] = alloc[:, -1] / 10.0 ** d
    data["total"] = total / 10.0 ** d
    data["grade"] = np.asarray(result.grades, dtype=object)[r, p]
    return pd.DataFrame(data)


@pytest.mark.parametrize("block", [1 << 20, 7])
def test_statement_table_is_the_obvious_one(block, monkeypatch):
    """The fast statement table (Arrow text columns, a column at a time, in blocks of rows)
    equals, values and dtypes, the one built from object arrays and stacked columns; with
    inactive cells."""
    import pandas as pd

    from engine.data import statements
    from engine.data.statements import load_for_plan, statement_table
    from engine.plan import compile_plan, load_plan

    blocks = statements._Cells.blocks
    monkeypatch.setattr(statements._Cells, "blocks", lambda self, size=block: blocks(self, size))

    root = Path(__file__).resolve().parent.parent
    checked = load_plan(root / "scenarios/plans/seeds_base_float_excess.yaml")
    roster = pd.read_csv(root / "scenarios/data/seeds_roster.csv")
    actuals = pd.read_csv(root / "scenarios/data/seeds_actuals.csv")
    roster["start_date"] = ""
    roster.loc[1, "start_date"] = "2027-04-02"  # not active in Q1
    actuals = actuals[~((actuals["rep_id"] == roster.loc[1, "rep_id"]) & (actuals["period"] == "2027-Q1"))]
    inputs = load_for_plan(checked, roster, actuals)
    result = compile_plan(checked).evaluate(inputs)
    assert not result.active.all()
    fast = statement_table(checked.plan, inputs, result)
    pd.testing.assert_frame_equal(fast, _obvious_statement_table(checked.plan, inputs, result))
    inputs = load_for_plan(checked, root / "scenarios/data/seeds_roster.csv", root / "scenarios/data/seeds_actuals.csv")
    result = compile_plan(checked).evaluate(inputs)
    assert result.active.all()
    every = statement_table(checked.plan, inputs, result)
    pd.testing.assert_frame_equal(every, _obvious_statement_table(checked.plan, inputs, result))
    assert set(every.dtypes.astype(str)) == {"str", "float64"}


@pytest.mark.parametrize("block", [1 << 20, 1, 5])
def test_an_amount_too_large_is_named_whatever_the_block(block, monkeypatch):
    """The first statement row that cannot be paid exactly is named (rep and period),
    whichever block of rows it falls in."""
    import pandas as pd

    from engine.core.errors import EvaluationError
    from engine.data import statements
    from engine.plan import load_plan

    blocks = statements._Cells.blocks
    monkeypatch.setattr(statements._Cells, "blocks", lambda self, size=block: blocks(self, size))
    root = Path(__file__).resolve().parent.parent
    roster = pd.read_csv(root / "scenarios/data/seeds_roster.csv")
    roster["ti"] = roster["ti"].astype(float)
    roster.loc[roster["rep_id"] == "R003", "ti"] = 1e300
    with pytest.raises(EvaluationError) as info:
        statements.statements(load_plan(root / "scenarios/plans/seeds_base_float_excess.yaml"), roster,
                              root / "scenarios/data/seeds_actuals.csv")
    assert (info.value.code, info.value.rep, info.value.period) == ("amount-too-large", "R003", "2027-Q1")
