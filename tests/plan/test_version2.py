"""Plan language version 2, rule by rule (plan-language.md, "Version 2 additions"): each test
states the rule it checks and computes the expected numbers by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.core.errors import DataErrors, PlanErrors
from engine.data.statements import load_for_plan, statements
from engine.plan import ReferenceEvaluator, compile_plan, parse_plan

HEAD = """
plan: v2
period: quarter
target_incentive: roster.ti / 4
"""


def plan(body: str, head: str = HEAD):
    return parse_plan(head + body, "v2.yaml")


def errors_of(body: str, head: str = HEAD) -> list:
    with pytest.raises(PlanErrors) as caught:
        plan(body, head)
    return caught.value.errors


ROSTER = pd.DataFrame({"rep_id": ["A", "B"], "ti": [40_000.0, 40_000.0], "quota": [400_000.0, 400_000.0]})


def tx(*rows, columns=("rep_id", "date", "amount", "customer")):
    return pd.DataFrame(list(rows), columns=list(columns))


# --------------------------------------------------------------------------- validation

def test_a_row_level_measure_may_not_name_another_measure_and_the_error_is_located():
    """A row-level measure names only row-level things: a measure, a target, target_incentive,
    rank, previous or a group function there is a `row-level` error at its position."""
    errs = errors_of("""measures:
  revenue: actuals.amount
  share: {expr: "actuals.amount / revenue", aggregate: sum}
  r: {expr: "rank(actuals.amount)", aggregate: max}
components:
  - {name: c, kind: rate, base: revenue, rate: 1%}
""")
    codes = [(e.code, e.span.line, e.span.column) for e in errs]
    assert ("row-level", 7, 35) in codes  # line 7, column 35: the "revenue" in share
    assert any(e.code == "row-level" and "rank()" in e.message for e in errs)


def test_comparing_an_attribute_with_a_number_is_a_located_type_error():
    """A column compared with text is an attribute (text): using it as a number is a
    type-mismatch naming it."""
    errs = errors_of("""measures:
  new: "where(actuals.customer == 'new', actuals.amount, 0)"
  bad: "where(actuals.customer > 3, 1, 0)"
components:
  - {name: c, kind: rate, base: new, rate: 1%}
""")
    assert any(e.code == "type-mismatch" and "actuals.customer" in e.message for e in errs)


def test_an_attribute_of_the_actuals_is_refused_outside_measures():
    """Attributes are properties of each transaction: a component's gate naming one is an
    error that says to write a measure."""
    errs = errors_of("""measures:
  new: "where(actuals.customer == 'new', actuals.amount, 0)"
components:
  - {name: c, kind: rate, base: new, rate: 1%, when: "actuals.customer == 'new'"}
""")
    assert [e.code for e in errs] == ["attribute-outside-measure"]


def test_lookup_needs_a_table_of_the_plan_and_base_pay_only_roster_values():
    """lookup()'s first argument names a table (did-you-mean); base_pay may not name a
    measure."""
    errs = errors_of("""tables:
  rates: {values: {A: 1%}}
base_pay: "roster.salary * 3 + revenue"
measures:
  revenue: "actuals.amount * lookup(rate, actuals.product)"
components:
  - {name: c, kind: rate, base: revenue, rate: 1}
""")
    assert any(e.code == "unknown-name" and "rates" in (e.hint or "") for e in errs)
    assert any(e.code == "bad-reference" and "base_pay" in e.message for e in errs)


# --------------------------------------------------------------------------- evaluation

def test_a_spiff_per_deal_counts_deals_not_the_periods_total():
    """`where(actuals.amount >= 150000, 1, 0)` with an aggregate is evaluated on each deal:
    two qualifying deals in a quarter pay two SPIFFs (the plain form would see one total)."""
    checked = plan("""measures:
  big: {expr: "where(actuals.amount >= 150000, 1, 0)", aggregate: sum}
  big_plain: "where(actuals.amount >= 150000, 1, 0)"
components:
  - {name: spiff, kind: rate, base: big, rate: 1000}
  - {name: plain, kind: rate, base: big_plain, rate: 1000}
""")
    df = statements(checked, ROSTER, tx(("A", "2027-01-10", 150_000, "n"), ("A", "2027-02-10", 200_000, "n"),
                                        ("A", "2027-03-10", 10_000, "n"), ("B", "2027-01-05", 90_000, "n")))
    a = df[df.rep_id == "A"].iloc[0]
    assert a["spiff"] == 2000.0 and a["plain"] == 1000.0


def test_split_scales_sums_but_not_means():
    """A split deal counts its share in a sum and in full in a mean; `count` counts it as one."""
    checked = plan("""measures:
  rev: {expr: actuals.amount, aggregate: sum}
  avg: {expr: actuals.amount, aggregate: mean}
  n: {expr: "1", aggregate: count}
components:
  - {name: c, kind: rate, base: rev + avg + n, rate: 1}
""")
    df = statements(checked, ROSTER, tx(("A", "2027-01-10", 100.0, "x", 0.5), ("A", "2027-01-11", 300.0, "x", None),
                                        columns=("rep_id", "date", "amount", "customer", "split")))
    # rev = 50 + 300 = 350; avg = (100 + 300) / 2 = 200; n = 2
    assert df[df.rep_id == "A"]["c"].iloc[0] == 552.0


def test_pending_rows_are_in_no_period_until_paid():
    """With `transactions: {date: paid_date}` an empty paid_date leaves the row pending: in no
    period, creating none; filled in, it is paid in its payment period."""
    checked = plan("""transactions: {date: paid_date}
measures:
  rev: actuals.amount
components:
  - {name: c, kind: rate, base: rev, rate: 10%}
""")
    cols = ("rep_id", "date", "paid_date", "amount")
    unpaid = tx(("A", "2027-01-10", "2027-02-01", 100.0), ("A", "2027-03-10", "", 500.0), columns=cols)
    df = statements(checked, ROSTER, unpaid)
    assert list(df["period"].unique()) == ["2027-Q1"] and df[df.rep_id == "A"]["c"].iloc[0] == 10.0
    paid = tx(("A", "2027-01-10", "2027-02-01", 100.0), ("A", "2027-03-10", "2027-04-20", 500.0), columns=cols)
    df = statements(checked, ROSTER, paid)
    assert df.set_index(["rep_id", "period"]).loc[("A", "2027-Q2"), "c"] == 50.0


def test_a_missing_attribute_and_a_missing_key_are_data_errors_naming_column_and_row():
    """An attribute the data lacks is a missing-column error naming it; a lookup of a key the
    table lacks (no default) names the row."""
    checked = plan("""tables:
  rate: {values: {DESK: 5%}}
measures:
  com: "actuals.amount * lookup(rate, actuals.product)"
components:
  - {name: c, kind: rate, base: com, rate: 1}
""")
    with pytest.raises(DataErrors) as caught:
        load_for_plan(checked, ROSTER, tx(("A", "2027-01-10", 100.0, "x")))
    assert caught.value.errors[0].column == "product"
    inputs = load_for_plan(checked, ROSTER, tx(("A", "2027-01-10", 100.0, "DESK"), ("A", "2027-01-11", 5.0, "SOFA"),
                                               columns=("rep_id", "date", "amount", "product")))
    with pytest.raises(DataErrors) as caught:
        compile_plan(checked).evaluate(inputs)
    err = caught.value.errors[0]
    assert err.code == "missing-key" and err.row == 3 and "SOFA" in err.message
    with pytest.raises(DataErrors):
        ReferenceEvaluator(checked, inputs).run()


def test_precedence_by_where_has_reads_a_missing_key_only_where_used():
    """Most specific wins: `where(has(sku_rate, sku), lookup(sku_rate, sku), lookup(product_rate,
    product))` pays a SKU's own rate and otherwise its product's, with no error for SKUs the
    first table lacks."""
    checked = plan("""tables:
  sku_rate: {values: {S1: 15%}}
  product_rate: {default: 3%, values: {DESK: 5%}}
measures:
  com: "actuals.amount * where(has(sku_rate, actuals.sku), lookup(sku_rate, actuals.sku), lookup(product_rate, actuals.product))"
components:
  - {name: c, kind: rate, base: com, rate: 1}
""")
    cols = ("rep_id", "date", "amount", "product", "sku")
    df = statements(checked, ROSTER, tx(("A", "2027-01-10", 100.0, "DESK", "S1"), ("A", "2027-01-11", 100.0, "DESK", "S2"),
                                        ("A", "2027-01-12", 100.0, "LAMP", "S3"), columns=cols))
    assert df[df.rep_id == "A"]["c"].iloc[0] == 15.0 + 5.0 + 3.0


def test_overlapping_roster_rows_name_both_rows():
    """Two rows of one rep in effect on the same day are a data error naming both."""
    checked = plan("""measures:
  rev: actuals.amount
components:
  - {name: c, kind: rate, base: rev, rate: 1%}
""")
    roster = pd.DataFrame({"rep_id": ["A", "A"], "ti": [1.0, 2.0], "effective_from": ["", "2027-03-01"],
                           "effective_to": ["2027-03-31", ""]})
    with pytest.raises(DataErrors) as caught:
        load_for_plan(checked, roster, tx(("A", "2027-01-10", 100.0, "x")))
    err = caught.value.errors[0]
    assert err.code == "overlapping-rows" and "rows 2 and 3" in err.message


def test_a_quota_change_is_day_weighted_and_a_leave_has_no_statement():
    """A quota change on 1 May: Q2's target is 30/91 of the old quarterly quota plus 61/91 of
    the new one; a quarter wholly inside a gap between rows (a leave) gets no statement."""
    checked = plan("""measures:
  rev: actuals.amount
targets:
  rev: roster.quota / 4
components:
  - {name: c, kind: curve, input: rev / targets.rev, points: [[0, 0], [1, 1]]}
""")
    roster = pd.DataFrame({"rep_id": ["A", "A", "B", "B"], "ti": 40_000.0, "quota": [400_000.0, 800_000.0] * 2,
                           "effective_from": ["", "2027-05-01", "", "2027-10-01"],
                           "effective_to": ["2027-04-30", "", "2027-03-31", ""]})
    acts = pd.DataFrame({"rep_id": ["A", "A", "B"], "period": ["2027-Q2", "2027-Q3", "2027-Q1"],
                         "amount": [100_000.0, 1.0, 1.0]})
    inputs = load_for_plan(checked, roster, acts)
    res = compile_plan(checked).evaluate(inputs)
    target_q2 = 100_000 * 30 / 91 + 200_000 * 61 / 91
    assert res.values["targets.rev"][0, 1] == pytest.approx(target_q2)
    assert res.columns["c"][0, 1] == pytest.approx(10_000 * 100_000 / target_q2)
    assert not inputs.active[1, 2]  # B on leave all of Q3: no statement
    np.testing.assert_allclose(ReferenceEvaluator(checked, inputs).run().columns["c"], res.columns["c"])


def test_base_pay_is_prorated_and_kept_out_of_the_incentive():
    """base_pay is prorated by active days (a 15 February start: 45/90 of Q1), has its own
    column before the components and total_pay after total; total stays the incentive."""
    checked = plan("""base_pay: roster.salary * 3
measures:
  rev: actuals.amount
components:
  - {name: c, kind: rate, base: rev, rate: 10%}
""")
    roster = pd.DataFrame({"rep_id": ["A"], "ti": [40_000.0], "salary": [6_000.0], "start_date": ["2027-02-15"]})
    df = statements(checked, roster, pd.DataFrame({"rep_id": ["A"], "period": ["2027-Q1"], "amount": [1000.0]}))
    row = df.iloc[0]
    assert list(df.columns)[3] == "base_pay" and list(df.columns)[-1] == "total_pay"
    assert row["base_pay"] == 9_000.0 and row["total"] == 100.0 and row["total_pay"] == 9_100.0


def test_tenure_months_counts_whole_months_from_the_first_start():
    """tenure_months: whole months from start_date to the period's start, 0 before it; without
    a start_date, the roster's tenure_months plus the months since the first period."""
    checked = plan("""target_incentive: 1000 * where(tenure_months < 3, 0.5, 1)
measures:
  rev: actuals.amount
components:
  - {name: c, kind: step, input: rev, steps: [{at: 0, pay: target_incentive}]}
""", head="plan: v2\nperiod: month\n")
    roster = pd.DataFrame({"rep_id": ["A", "B"], "start_date": ["2027-01-15", ""], "tenure_months": [None, 2]})
    acts = pd.DataFrame({"rep_id": ["A"] * 5 + ["B"] * 2, "period": ["2027-01", "2027-02", "2027-03", "2027-04",
                                                                     "2027-05", "2027-01", "2027-02"],
                         "amount": 1.0})
    inputs = load_for_plan(checked, roster, acts)
    # A: Feb 1 is 0 whole months after Jan 15, Mar 1 one, Apr 1 two, May 1 three
    np.testing.assert_array_equal(inputs.tenure[0, :5], [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(inputs.tenure[1, :2], [2, 3])
    res = compile_plan(checked).evaluate(inputs)
    assert res.columns["c"][0, 4] == 1000.0 and res.columns["c"][0, 3] == 500.0
