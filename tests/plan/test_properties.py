"""Properties every plan evaluation must have, checked on both evaluators.

Each test states its rule in its docstring. Most run on the random plans of
:mod:`tests.plan.strategies`; a few use small dedicated plans where the rule needs a
known shape (a monotone curve, a contest). Both the compiled (numpy) and the reference
(scalar) evaluators are checked: one shared suite for the fast path and the obvious path.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.core.errors import EvaluationError
from engine.core.inputs import Inputs
from engine.data.statements import (
    allocate_minor_units,
    load_for_plan,
    round_half_away,
    statement_table,
    to_minor_units,
)
from engine.plan import ReferenceEvaluator, compile_plan, parse_plan
from tests.plan.strategies import (
    GenPlan,
    curve_points,
    inputs_for,
    period_infos,
    plans,
    weight_parts,
    yq,
)

SETTINGS = {"deadline": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
TOL = 1e-9


def _compiled(checked, inputs):
    return compile_plan(checked).evaluate(inputs)


def _reference(checked, inputs):
    return ReferenceEvaluator(checked, inputs).run()


EVALUATORS = pytest.mark.parametrize("evaluate", [_compiled, _reference],
                                     ids=["compiled", "reference"])


def run(evaluate, text: str, inputs: Inputs):
    """Evaluate, or None where the plan cannot be evaluated on these inputs (non-finite)."""
    checked = parse_plan(text, "gen.yaml")
    try:
        return checked, evaluate(checked, inputs)
    except EvaluationError:
        return checked, None


def f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def amount_of(spec, result) -> np.ndarray:
    """A recomputable amount: ``("ti", k)`` -> k * target_incentive, ``("lit", v)`` -> v."""
    kind, value = spec
    if kind == "ti":
        return value * f64(result.values["target_incentive"])
    return np.full(np.shape(result.total), value)


def one_period_inputs(revenue, *, quota=1000.0, ti=400.0, csat=4.0, units=None, complaints=None,
                      team=None, proration=None, period="quarter") -> Inputs:
    """``R`` reps with the same roster (unless given) in one period."""
    revenue = np.asarray(revenue, dtype=np.float64).reshape(-1, 1)
    R = len(revenue)
    zeros = np.zeros((R, 1))
    return Inputs(
        rep_ids=np.array([f"R{r + 1:02d}" for r in range(R)], dtype=object),
        periods=period_infos(period, 1, [0]),
        roster={"quota": np.full(R, quota), "ti": np.full(R, ti), "level": np.ones(R),
                "team": np.array(team if team is not None else ["A"] * R, dtype=object)},
        actuals={"revenue": revenue, "collected": zeros, "csat": np.full((R, 1), csat),
                 "units": f64(units).reshape(R, 1) if units is not None else zeros,
                 "complaints": f64(complaints).reshape(R, 1) if complaints is not None else zeros},
        active=np.ones((R, 1), dtype=bool),
        proration=f64(proration).reshape(R, 1) if proration is not None else np.ones((R, 1)),
    )


@st.composite
def random_case(draw, **options):
    gp: GenPlan = draw(plans(**options))
    return gp, draw(inputs_for(gp))


# --------------------------------------------------------------------------- monotone payouts

MONOTONE_INPUTS = ("revenue / targets.revenue", "safe_div(revenue, targets.revenue, 0)",
                   "actuals.revenue / 1000", "max(revenue, 0) / 500",
                   "clip(revenue / targets.revenue, 0, 2)")
revenues = st.lists(st.floats(-2000, 20000, allow_nan=False, allow_infinity=False),
                    min_size=2, max_size=8)


def assert_non_decreasing(values: np.ndarray, what: str) -> None:
    v = f64(values).reshape(-1)
    slack = TOL * np.maximum(1.0, np.abs(v[:-1]))
    bad = np.nonzero(v[1:] < v[:-1] - slack)[0]
    assert not len(bad), f"{what} decreases from {v[bad[0]]} to {v[bad[0] + 1]}: {v}"


@EVALUATORS
@settings(max_examples=60, **SETTINGS)
@given(data=st.data(), revenue=revenues)
def test_curve_payout_never_decreases_in_its_input(evaluate, data, revenue):
    """A curve whose points' y never decrease (from y >= 0, so the threshold is no drop)
    pays no less for a higher input, whatever the interpolation and the beyond rule."""
    pts, _ = data.draw(curve_points({}, monotone=True))
    interp = data.draw(st.sampled_from(["linear", "step"]))
    beyond = data.draw(st.sampled_from(["extend", "flat"]))
    weight = data.draw(st.sampled_from(["0.6", "1", "25%"]))
    inp = data.draw(st.sampled_from(MONOTONE_INPUTS))
    text = f"""plan: monotone
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
targets:
  revenue: roster.quota / 4
components:
  - name: bonus
    kind: curve
    weight: {weight}
    input: {yq(inp)}
    points: {pts}
    interpolate: {interp}
    beyond: {beyond}
"""
    revenue = sorted(revenue)
    _, res = run(evaluate, text, one_period_inputs(revenue))
    assert_non_decreasing(res.total, "the curve payout")


@EVALUATORS
@settings(max_examples=60, **SETTINGS)
@given(data=st.data(), revenue=revenues, csat=st.sampled_from([1.0, 3.0, 4.5, 5.0]))
def test_scorecard_payout_never_decreases_with_monotone_metrics(evaluate, data, revenue, csat):
    """A scorecard whose metrics' inputs rise with revenue (or stay fixed), with
    non-decreasing metric curves and payout curve (from y >= 0), pays no less for more revenue."""
    metrics = []
    for j, part in enumerate(data.draw(weight_parts())):
        inp = data.draw(st.sampled_from(MONOTONE_INPUTS + ("actuals.csat / 5",)))
        pts, _ = data.draw(curve_points({}, monotone=True))
        beyond = data.draw(st.sampled_from(["extend", "flat"]))
        interp = data.draw(st.sampled_from(["linear", "step"]))
        metrics.append(f"      - {{name: m{j}, input: {yq(inp)}, weight: {part}%, "
                       f"points: {pts}, interpolate: {interp}, beyond: {beyond}}}")
    payout = ""
    if data.draw(st.booleans()):
        pts, _ = data.draw(curve_points({}, monotone=True))
        payout = f"    payout: {pts}\n"
    text = ("plan: monotone\nperiod: quarter\ntarget_incentive: roster.ti / 4\n"
            "measures:\n  revenue: actuals.revenue\ntargets:\n  revenue: roster.quota / 4\n"
            "components:\n  - name: kpi\n    kind: scorecard\n    weight: 0.4\n    metrics:\n"
            + "\n".join(metrics) + "\n" + payout)
    revenue = sorted(revenue)
    _, res = run(evaluate, text, one_period_inputs(revenue, csat=csat))
    assert_non_decreasing(res.scores["kpi"], "the weighted score")
    assert_non_decreasing(res.total, "the scorecard payout")


# --------------------------------------------------------------------------- caps

@EVALUATORS
@settings(max_examples=30, **SETTINGS)
@given(case=random_case(simple_caps=True))
def test_component_cap_holds(evaluate, case):
    """A component never earns more than its `cap` (after its gate, before modifiers),
    year-to-date with `accumulate: year`."""
    gp, inputs = case
    _, res = run(evaluate, gp.text, inputs)
    assume(res is not None)
    active = inputs.active
    for name, spec in gp.component_caps.items():
        cap = amount_of(spec, res)
        earned = f64(res.earned[name])
        over = active & (earned > cap + TOL * np.abs(cap))
        assert not over.any(), f"{name} earned {earned[over]} above its cap {cap[over]}"


@EVALUATORS
@settings(max_examples=30, **SETTINGS)
@given(case=random_case(simple_caps=True, draw_=False, plan_cap="always"))
def test_plan_cap_holds(evaluate, case):
    """The total before the draw never exceeds the plan `cap`. With `accumulate: year`
    the cap sees year-to-date values, so what is paid to date in the plan year never
    exceeds the cap on the year-to-date target incentive either."""
    gp, inputs = case
    _, res = run(evaluate, gp.text, inputs)
    assume(res is not None)
    active = inputs.active
    cap = amount_of(gp.plan_cap, res)
    slack = TOL * np.maximum(1.0, np.abs(cap))
    capped = f64(res.capped_total)
    assert not (active & (capped > cap + slack)).any(), (capped, cap)
    if not gp.accumulate:
        assert not (active & (f64(res.total) > cap + slack)).any(), (res.total, cap)
        return
    assume(cap[active].min(initial=0.0) >= 0)
    paid = f64(res.total)
    years = inputs.fiscal_years
    for y in np.unique(years):
        cols = years == y
        to_date = np.cumsum(paid[:, cols], axis=1)
        over = active[:, cols] & (to_date > cap[:, cols] + slack[:, cols])
        assert not over.any(), f"paid to date {to_date} above the year-to-date cap {cap[:, cols]}"


# --------------------------------------------------------------------------- draws

@EVALUATORS
@settings(max_examples=30, **SETTINGS)
@given(case=random_case(draw_="always", simple_draw=True))
def test_draw_guarantees_the_amount(evaluate, case):
    """With a draw every active period pays at least the draw amount. A non-recoverable
    draw pays exactly max(earned, amount); a recoverable one never pays more than that."""
    gp, inputs = case
    _, res = run(evaluate, gp.text, inputs)
    assume(res is not None)
    (spec, recoverable) = gp.draw
    amount = amount_of(spec, res)
    active = inputs.active
    pay, earned = f64(res.total), f64(res.paid_before_draw)
    slack = TOL * np.maximum(1.0, np.abs(amount) + np.abs(earned))
    assert not (active & (pay < amount - slack)).any(), (pay, amount)
    ceiling = np.maximum(earned, amount)
    if recoverable:
        assert not (active & (pay > ceiling + slack)).any(), (pay, ceiling)
    else:
        np.testing.assert_allclose(pay[active], ceiling[active], rtol=TOL, atol=1e-9)


@EVALUATORS
@settings(max_examples=30, **SETTINGS)
@given(case=random_case(draw_="always", simple_draw=True))
def test_recoverable_draw_ledger(evaluate, case):
    """A recoverable draw only advances money and takes it back, with no end date:

    * the balance owed (payments minus earnings so far, over all plan years) is never
      negative: nothing is recovered that was not advanced;
    * a period earning less than the draw pays exactly the draw (the top-up is owed);
    * a period earning more pays either the draw amount (everything above it went to
      recovery) or clears the balance;
    * in total, payments = earnings + the balance still owed, so payments >= earnings.

    (Payments are *not* bounded by max(sum of earnings, sum of draws): earning 100 then 0
    against a draw of 50 pays 100 then 50; see test_recoverable_draw_can_exceed_both_sums.)
    """
    gp, inputs = case
    text = gp.text.replace("recoverable: false", "recoverable: true")
    if "recoverable:" not in text:
        text = text.replace("draw:\n", "draw:\n  recoverable: true\n")
    _, res = run(evaluate, text, inputs)
    assume(res is not None)
    amount = amount_of(gp.draw[0], res)
    active = inputs.active
    pay = np.where(active, f64(res.total), 0.0)
    earned = np.where(active, f64(res.paid_before_draw), 0.0)
    scale = 1.0 + np.abs(earned).sum() + np.abs(np.where(active, amount, 0)).sum()
    eps = 1e-9 * scale
    balance = np.cumsum(pay - earned, axis=1)
    assert (balance >= -eps).all(), f"recovered more than was advanced: balance {balance}"
    before = np.concatenate([np.zeros((balance.shape[0], 1)), balance[:, :-1]], axis=1)
    short = active & (earned <= amount)
    np.testing.assert_allclose(pay[short], amount[short], rtol=TOL, atol=eps)
    above = active & (earned > amount)
    held = np.isclose(pay, amount, rtol=TOL, atol=eps) | (np.abs(balance) <= eps)
    assert not (above & ~held).any(), \
        f"recovery left money owed while paying above the draw: {pay} {balance}"
    # Recovery comes only out of the excess over the draw, never more than was owed.
    taken = np.where(above, earned - pay, 0.0)
    assert (taken <= before + eps).all() and (taken >= -eps).all()
    assert (pay.sum(axis=1) >= earned.sum(axis=1) - eps).all()


def test_recoverable_draw_can_exceed_both_sums():
    """Earning 100 then 0 against a recoverable draw of 50 pays 100 then 50 (the second
    top-up stays owed): 150 paid, more than both the 100 earned and the 100 of draws."""
    text = """plan: d
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
components:
  - {name: commission, kind: rate, base: revenue, rate: "1"}
draw: {amount: "50", recoverable: true}
"""
    inputs = one_period_inputs([100.0])
    actuals = {k: np.concatenate([v, np.zeros_like(v)], axis=1) for k, v in inputs.actuals.items()}
    inputs = Inputs(rep_ids=inputs.rep_ids, periods=period_infos("quarter", 1, [0, 1]),
                    roster=inputs.roster, actuals=actuals,
                    active=np.ones((1, 2), dtype=bool), proration=np.ones((1, 2)))
    for evaluate in (_compiled, _reference):
        _, res = run(evaluate, text, inputs)
        np.testing.assert_allclose(res.total, [[100.0, 50.0]])


# --------------------------------------------------------------------------- true-ups

@EVALUATORS
@settings(max_examples=30, **SETTINGS)
@given(case=random_case(accumulate=True, draw_=False))
def test_year_to_date_true_up(evaluate, case):
    """With `accumulate: year`, what is paid to date in a plan year is:

    * without clawback: the highest year-to-date (capped) earnings reached so far, or 0 --
      so no period pays a negative amount, paid to date never falls below year-to-date
      earnings, and exceeds them only by what a later drop in earnings did not claw back;
    * with clawback: exactly the year-to-date (capped) earnings, so a drop is owed back.

    Paid to date restarts at every plan year.
    """
    gp, inputs = case
    _, res = run(evaluate, gp.text, inputs)
    assume(res is not None)
    active = inputs.active
    capped = f64(res.capped_total)
    pay = np.where(active, f64(res.total), 0.0)
    years = inputs.fiscal_years
    for y in np.unique(years):
        cols = years == y
        to_date = np.cumsum(pay[:, cols], axis=1)
        act = active[:, cols]
        ytd = capped[:, cols]
        if gp.clawback:
            expect = ytd
        else:
            best = np.maximum.accumulate(np.where(act, ytd, -np.inf), axis=1)
            expect = np.maximum(best, 0.0)
            assert (pay[:, cols] >= 0).all(), f"negative payment without clawback: {pay}"
        scale = 1.0 + np.abs(ytd).max(initial=0)
        np.testing.assert_allclose(to_date[act], expect[act], rtol=0,
                                   atol=1e-9 * scale * cols.sum())


@EVALUATORS
@settings(max_examples=30, **SETTINGS)
@given(case=random_case(accumulate=True, clawback=False, draw_="always", simple_draw=True))
def test_year_to_date_paid_is_earned_plus_top_ups(evaluate, case):
    """With `accumulate: year`, no clawback and a draw, every total is >= 0 (for a
    non-negative draw), and paid to date never exceeds the highest year-to-date (capped)
    earnings so far plus the draw top-ups paid so far in that year."""
    gp, inputs = case
    _, res = run(evaluate, gp.text, inputs)
    assume(res is not None)
    active = inputs.active
    amount = amount_of(gp.draw[0], res)
    pay = np.where(active, f64(res.total), 0.0)
    due = np.where(active, f64(res.paid_before_draw), 0.0)
    if (amount[active] >= 0).all():
        assert (pay[active] >= 0).all()
    top_up = np.where(active, np.maximum(amount - due, 0.0), 0.0)
    years = inputs.fiscal_years
    capped = f64(res.capped_total)
    for y in np.unique(years):
        cols = years == y
        act = active[:, cols]
        best = np.maximum.accumulate(np.where(act, capped[:, cols], -np.inf), axis=1)
        best = np.maximum(best, 0.0)
        bound = best + np.cumsum(top_up[:, cols], axis=1)
        to_date = np.cumsum(pay[:, cols], axis=1)
        scale = 1.0 + np.abs(bound).max(initial=0)
        assert not (act & (to_date > bound + 1e-9 * scale)).any(), (to_date, bound)


def test_year_to_date_paid_can_exceed_year_to_date_earned():
    """Without clawback, paid to date is the *highest* year-to-date earnings so far, not
    the current ones: on target in Q1 (YTD earned 100, paid 100), nothing in Q2 (YTD
    attainment 50%, below the threshold: YTD earned 0) pays 0 and keeps the 100 paid. With
    clawback Q2 pays -100."""
    text = """plan: ytd
period: quarter
accumulate: year
clawback: {claw}
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
targets:
  revenue: roster.quota / 4
components:
  - {{name: bonus, kind: curve, input: revenue / targets.revenue, points: [[1, 1]], beyond: flat}}
"""
    one = one_period_inputs([250.0], quota=1000.0, ti=400.0)
    inputs = Inputs(rep_ids=one.rep_ids, periods=period_infos("quarter", 1, [0, 1]),
                    roster=one.roster,
                    actuals={k: np.concatenate([v, np.zeros_like(v)], axis=1)
                             for k, v in one.actuals.items()},
                    active=np.ones((1, 2), dtype=bool), proration=np.ones((1, 2)))
    for evaluate in (_compiled, _reference):
        _, res = run(evaluate, text.format(claw="false"), inputs)
        np.testing.assert_allclose(res.capped_total, [[100.0, 0.0]])
        np.testing.assert_allclose(res.total, [[100.0, 0.0]])
        np.testing.assert_allclose(res.columns["bonus"], [[100.0, -100.0]])
        np.testing.assert_allclose(res.adjustment, [[0.0, 100.0]])
        _, res = run(evaluate, text.format(claw="true"), inputs)
        np.testing.assert_allclose(res.total, [[100.0, -100.0]])


# --------------------------------------------------------------------------- statements add up

@EVALUATORS
@settings(max_examples=30, **SETTINGS)
@given(case=random_case())
def test_components_plus_adjustment_equal_total(evaluate, case):
    """Components plus adjustment equal the total: unrounded (to float precision), and
    exactly in the rounded statements, in integer minor units."""
    gp, inputs = case
    checked, res = run(evaluate, gp.text, inputs)
    assume(res is not None)
    names = [c.name for c in checked.plan.components]
    colsum = sum(f64(res.columns[n]) for n in names) + f64(res.adjustment)
    scale = 1.0 + sum(np.abs(f64(res.columns[n])) for n in names) + np.abs(f64(res.adjustment))
    assert (np.abs(colsum - f64(res.total)) <= 1e-12 * scale).all()
    table = statement_table(checked.plan, inputs, res)
    assert len(table) == int(inputs.active.sum())
    unit = 10.0 ** checked.plan.minor_unit
    money = table[names + ["adjustment", "total"]].to_numpy(dtype=np.float64) * unit
    # Statements hold money as floats: a whole number of minor units survives the round
    # trip (units / 100 * 100) only up to ~1e15 units; generated plans can reach absurd
    # amounts (products of products), so exactness is checked below 1e13 minor units.
    sane = (np.abs(money) < 1e13).all(axis=1)
    money = money[sane]
    cents = np.rint(money)
    assert (np.abs(money - cents) <= 1e-6 + 4 * np.spacing(np.abs(money))).all(), \
        "statement amounts are not whole minor units"
    cents = cents.astype(np.int64)
    assert (cents[:, :-1].sum(axis=1) == cents[:, -1]).all()
    r_idx, p_idx = np.nonzero(inputs.active)
    total = f64(res.total)[r_idx, p_idx][sane] * unit
    # round_half_away treats values within 1e-6 (+ float resolution) of a half as the half.
    assert (np.abs(cents[:, -1] - total) <= 0.5 + 1e-6 + 4e-15 * np.abs(total)).all()


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(1, 6), k=st.integers(1, 6))
def test_allocate_minor_units(data, n, k):
    """Largest remainder: each row of the allocation sums exactly to its rounded total,
    every rounded column is within one minor unit of its unrounded value, and a column
    that gets the extra unit has a remainder no smaller than one that does not."""
    values = st.one_of(
        st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
        st.integers(-10**9, 10**9).map(lambda i: i / 8),       # exact halves and quarters
        st.integers(-10**6, 10**6).map(lambda i: i / 1000 * 100),  # decimal amounts in cents
    )
    rows = st.lists(st.lists(values, min_size=k, max_size=k), min_size=n, max_size=n)
    cols = np.array(data.draw(rows))
    total = round_half_away(cols.sum(axis=1))
    alloc = allocate_minor_units(cols, total)
    assert alloc.dtype == np.int64 and alloc.shape == (n, k)
    np.testing.assert_array_equal(alloc.sum(axis=1), total)
    tol = 1.0 + 1e-6 + 1e-12 * np.abs(cols).max(initial=0) * k
    assert (np.abs(alloc - cols) <= tol).all(), (cols, alloc)


@pytest.mark.parametrize("amount, decimals, expected", [
    ("0.125", 2, 13), ("-0.125", 2, -13), ("2.675", 2, 268), ("-2.675", 2, -268),
    ("1.005", 2, 101), ("-1.005", 2, -101), ("0.005", 2, 1), ("-0.005", 2, -1),
    ("1.0049", 2, 100), ("1.015", 2, 102), ("1234567.895", 2, 123456790),
    ("0.5", 0, 1), ("-2.5", 0, -3), ("2.4999", 0, 2), ("1.0005", 3, 1001), ("-0.0005", 3, -1),
])
def test_round_half_away_on_decimal_halves(amount, decimals, expected):
    """Money is rounded half away from zero as written in decimal: 2.675 is 2.68 even
    though the float 2.675 is 2.67499999..."""
    got = round_half_away(to_minor_units(np.array([float(amount)]), decimals))
    assert got.tolist() == [expected]


@settings(max_examples=500, deadline=None)
@given(units=st.integers(-10**13, 10**13), decimals=st.sampled_from([0, 2, 3]))
def test_round_half_away_matches_decimal(units, decimals):
    """For any amount written with one more decimal than the currency's minor unit (so
    exact halves are common), rounding agrees with decimal ROUND_HALF_UP (half away from zero)."""
    d = Decimal(units).scaleb(-(decimals + 1))
    want = int(d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP).scaleb(decimals))
    got = round_half_away(to_minor_units(np.array([float(d)]), decimals))
    assert got.tolist() == [want], str(d)


def test_statement_rounds_decimal_halves_half_away():
    """End to end: a commission of exactly 2.675, 0.125 and -1.005 (a cancellation) is
    stated as 2.68, 0.13 and -1.01; in JPY, 2.5 and -2.5 as 3 and -3."""
    for currency, revenue, expected in [("USD", [2.675, 0.125, -1.005], [2.68, 0.13, -1.01]),
                                        ("JPY", [2.5, -2.5, 0.49], [3.0, -3.0, 0.0])]:
        text = f"""plan: r
currency: {currency}
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
components:
  - {{name: commission, kind: rate, base: revenue, rate: "1"}}
"""
        inputs = one_period_inputs(revenue)
        for evaluate in (_compiled, _reference):
            checked, res = run(evaluate, text, inputs)
            table = statement_table(checked.plan, inputs, res)
            assert table["total"].tolist() == expected
            assert table["commission"].tolist() == expected
            assert table["adjustment"].tolist() == [0.0] * 3


# --------------------------------------------------------------------------- contests

@st.composite
def contest_case(draw):
    awards = draw(st.lists(st.sampled_from([5000, 3000, 1000, 600, 250.5, 100, 0]),
                           min_size=1, max_size=5))
    awards.sort(reverse=True)
    grouped = draw(st.booleans())
    gated = draw(st.booleans())
    by = draw(st.sampled_from(["actuals.units", "revenue",
                               "actuals.units * 100 + actuals.complaints"]))
    text = (
        "plan: contest\nperiod: quarter\ntarget_incentive: roster.ti / 4\n"
        "measures:\n  revenue: actuals.revenue\n"
        "components:\n  - name: contest\n    kind: rank\n"
        f"    by: {yq(by)}\n"
        + ("    group: roster.team\n" if grouped else "")
        + ("    when: actuals.complaints < 3\n" if gated else "")
        + "    awards: [" + ", ".join(f"{a:g}" for a in awards) + "]\n"
    )
    gp = GenPlan(text=text, period="quarter", fiscal_year_start=1, accumulate=False, clawback=False)
    inputs = draw(inputs_for(gp, min_reps=1, max_reps=8, actuals={
        "units": (0.0, 1.0, 2.0), "complaints": (0.0, 1.0, 3.0), "revenue": (100.0, 200.0, 150.0)}))
    return text, awards, grouped, gated, by, inputs


@EVALUATORS
@settings(max_examples=60, **SETTINGS)
@given(case=contest_case())
def test_rank_awards_are_shared_not_created(evaluate, case):
    """In each period (and group), the awards paid add up to the awards of the ranks the
    eligible reps occupy, sum(awards[:number of eligible reps]), however they tie; tied
    reps get equal shares; a better rep never gets less than a worse one (awards sorted
    descending); awards are amounts, not prorated."""
    text, awards, grouped, gated, by, inputs = case
    _, res = run(evaluate, text, inputs)
    paid = f64(res.earned["contest"])
    np.testing.assert_allclose(f64(res.total), paid)
    act = inputs.actuals
    value = {"actuals.units": act["units"], "revenue": act["revenue"],
             "actuals.units * 100 + actuals.complaints": act["units"] * 100 + act["complaints"]}[by]
    eligible = inputs.active & ((act["complaints"] < 3) if gated else True)
    teams = inputs.roster["team"]
    if not grouped:
        teams = np.array(["all"] * len(inputs.rep_ids), dtype=object)
    for p in range(len(inputs.periods)):
        for team in set(teams.tolist()):
            members = eligible[:, p] & (teams == team)
            n = int(members.sum())
            assert paid[members, p].sum() == pytest.approx(sum(awards[:n]), rel=1e-12, abs=1e-9)
            v, a = value[members, p], paid[members, p]
            for i in range(n):
                for j in range(n):
                    if v[i] == v[j]:
                        assert a[i] == pytest.approx(a[j], rel=1e-12, abs=1e-9)
                    elif v[i] > v[j]:
                        assert a[i] >= a[j] - 1e-9
    assert (paid[~eligible] == 0).all()


@EVALUATORS
def test_rank_ties_example_from_the_spec(evaluate):
    """200, 150, 150, 120 with awards 5000, 3000, 1000 pay 5000, 2000, 2000, 0."""
    text = """plan: contest
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
components:
  - {name: gold, kind: rank, by: revenue, awards: [5000, 3000, 1000]}
"""
    inputs = one_period_inputs([200.0, 150.0, 150.0, 120.0], proration=[0.5, 1, 1, 1])
    _, res = run(evaluate, text, inputs)
    np.testing.assert_allclose(res.total[:, 0], [5000.0, 2000.0, 2000.0, 0.0])


# --------------------------------------------------------------------------- determinism

@settings(max_examples=25, **SETTINGS)
@given(case=random_case())
def test_evaluation_is_deterministic(case):
    """Evaluating twice (the same compiled plan, a recompiled one, the reference) gives
    bit-identical arrays, and evaluation does not modify its inputs."""
    gp, inputs = case
    before = copy.deepcopy(inputs)
    checked = parse_plan(gp.text, "gen.yaml")
    prog = compile_plan(checked)

    def attempt(f):
        try:
            return f()
        except EvaluationError as exc:
            return str(exc)

    runs = [
        (attempt(lambda: prog.evaluate(inputs)), attempt(lambda: prog.evaluate(inputs)),
         attempt(lambda: compile_plan(parse_plan(gp.text, "gen.yaml")).evaluate(inputs))),
        (attempt(lambda: ReferenceEvaluator(checked, inputs).run()),
         attempt(lambda: ReferenceEvaluator(checked, inputs).run())),
    ]
    for results in runs:
        first = results[0]
        for other in results[1:]:
            if isinstance(first, str):
                assert other == first
                continue
            for field in ("total", "adjustment", "capped_total", "paid_before_draw"):
                np.testing.assert_array_equal(getattr(other, field), getattr(first, field))
            for field in ("columns", "earned", "modified", "scores"):
                a, b = getattr(first, field), getattr(other, field)
                assert a.keys() == b.keys()
                for k in a:
                    np.testing.assert_array_equal(f64(a[k]), f64(b[k]))
            if first.grades is not None:
                np.testing.assert_array_equal(other.grades, first.grades)
    np.testing.assert_array_equal(inputs.active, before.active)
    np.testing.assert_array_equal(inputs.proration, before.proration)
    for k in before.actuals:
        np.testing.assert_array_equal(inputs.actuals[k], before.actuals[k])
    for k in before.roster:
        np.testing.assert_array_equal(inputs.roster[k], before.roster[k])


@settings(max_examples=25, **SETTINGS)
@given(case=random_case(), data=st.data())
def test_rep_order_does_not_matter(case, data):
    """Reordering the roster reorders the results and changes nobody's pay."""
    gp, inputs = case
    R = len(inputs.rep_ids)
    perm = np.array(data.draw(st.permutations(range(R))), dtype=np.int64)
    shuffled = Inputs(
        rep_ids=inputs.rep_ids[perm], periods=inputs.periods,
        roster={k: v[perm] for k, v in inputs.roster.items()},
        actuals={k: v[perm] for k, v in inputs.actuals.items()},
        active=inputs.active[perm], proration=inputs.proration[perm],
        counts={k: v[perm] for k, v in inputs.counts.items()},
    )
    checked = parse_plan(gp.text, "gen.yaml")
    prog = compile_plan(checked)
    try:
        a = prog.evaluate(inputs)
    except EvaluationError:
        with pytest.raises(EvaluationError):
            prog.evaluate(shuffled)
        return
    b = prog.evaluate(shuffled)
    np.testing.assert_allclose(f64(b.total), f64(a.total)[perm], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(f64(b.adjustment), f64(a.adjustment)[perm], rtol=1e-9, atol=1e-6)
    for k in a.columns:
        np.testing.assert_allclose(f64(b.columns[k]), f64(a.columns[k])[perm], rtol=1e-9, atol=1e-6)
    if a.grades is not None:
        np.testing.assert_array_equal(b.grades, a.grades[perm])


# --------------------------------------------------------------------------- YTD aggregation

@pytest.mark.parametrize("aggregate, expected", [
    ("min", [4.5, 4.5, 4.5]), ("max", [4.5, 4.5, 5.0]), ("last", [4.5, 4.5, 5.0]),
    ("mean", [4.5, 4.5, 4.75]),
])
def test_year_to_date_aggregate_skips_periods_without_transactions(aggregate, expected):
    """With `accumulate: year`, a measure's aggregation applies "when transactions are
    gathered into periods and periods into year-to-date": the year-to-date min/max/last/
    mean of a survey score is that of the year's surveys, so a quarter in which a rep had
    no survey changes nothing (it does not count as a survey scoring 0)."""
    text = f"""plan: p
period: quarter
accumulate: year
target_incentive: roster.ti / 4
measures:
  csat: {{expr: actuals.csat, aggregate: {aggregate}}}
components:
  - {{name: bonus, kind: rate, base: csat, rate: "1"}}
"""
    checked = parse_plan(text, "p.yaml")
    roster = pd.DataFrame({"rep_id": ["R1", "R2"], "ti": [400.0, 400.0]})
    # R1 has surveys in Q1 and Q3 only; R2's Q2 survey makes Q2 a period of the run.
    surveys = pd.DataFrame({"rep_id": ["R1", "R2", "R1"],
                            "date": ["2027-01-15", "2027-04-15", "2027-07-15"],
                            "csat": [4.5, 3.0, 5.0]})
    inputs = load_for_plan(checked, roster, surveys)
    assert inputs.period_labels == ["2027-Q1", "2027-Q2", "2027-Q3"]
    for evaluate in (_compiled, _reference):
        res = evaluate(checked, inputs)
        got = f64(res.values["csat"])[0]
        np.testing.assert_allclose(got, expected,
                                   err_msg=f"{evaluate.__name__}: year-to-date {aggregate}")
