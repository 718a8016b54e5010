"""Payment delays and cancellations of deals in the simulator (engine/sim/payment.py): plans
that pay on payment see a deal when it is paid, plans that pay at booking see cancelled deals
come back as credit notes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.core.errors import PlanErrors
from engine.core.inputs import Inputs, Mix
from engine.jobs.compare import compare_plans
from engine.plan import compile_plan, parse_plan
from engine.sim.payment import MONTH_DAYS, Placement, month_lags, placement_for
from engine.sim.scenario import Deals, Payment, default_scenario, parse_scenario
from tests.plan.strategies import period_infos

ON_PAYMENT = """
plan: on_payment
period: month
transactions: {date: paid_date}
target_incentive: roster.ti / 12
measures:
  paid: {expr: actuals.revenue, aggregate: sum}
components:
  - {name: commission, kind: rate, base: paid, rate: roster.ti / roster.quota}
"""

AT_BOOKING = ON_PAYMENT.replace("plan: on_payment", "plan: at_booking").replace("transactions: {date: paid_date}\n", "")


def _scenario(payment: str = "") -> object:
    text = "scenario: deals\nteam:\n  reps: 24\n  teams: 3\n" + (f"deals:\n  payment: {payment}\n" if payment else "")
    return parse_scenario(text, "deals.yaml")


def _cost(plan_text: str, payment: str, runs: int = 6, seed: int = 5) -> tuple[float, float]:
    res = compare_plans([parse_plan(plan_text, "p.yaml")], _scenario(payment), runs=runs, seed=seed).results[0]
    return res.document["cost"]["mean"], res.document["revenue"]["mean"]


def test_lags_sum_to_one_and_average_the_days_to_payment():
    """A deal paid X days after it closes, at a uniform day of its month, lands on average
    X / (days in a month) months later: the lags are a distribution with that mean."""
    for days, spread in ((45.0, 20.0), (10.0, 5.0), (90.0, 40.0)):
        lags = month_lags(days, spread)
        assert lags.sum() == pytest.approx(1.0, abs=1e-12)
        assert (lags >= 0).all()
        mean = float(np.dot(np.arange(len(lags)), lags))
        assert mean == pytest.approx(days / MONTH_DAYS, abs=0.03), (days, mean)


def test_a_fixed_delay_lands_by_the_day_of_the_month():
    """Paid exactly 30 days after closing: only deals closed in the first 0.44 days of a month
    (30.44-day month) are paid in the same month; with no delay every deal is."""
    assert month_lags(0.0, 0.0).tolist() == [1.0]
    lags = month_lags(30.0, 0.0)
    assert len(lags) == 2
    assert lags[0] == pytest.approx(1.0 - 30.0 / MONTH_DAYS, abs=1.0 / 240 + 1e-12)


def test_deals_closed_late_in_the_month_are_paid_later():
    """With more deals closed in a month's last week, more of a month's business is paid in the
    months after it."""
    even, late = month_lags(20.0, 10.0), month_lags(20.0, 10.0, last_week=0.6)
    assert np.dot(np.arange(len(late)), late) > np.dot(np.arange(len(even)), even) + 0.1


def test_the_scenario_reads_payment_and_names_bad_values():
    sc = _scenario("{days: 45, spread: 20, cancel: 0.1, cancel_days: 60, plan_pays_on: booking}")
    assert sc.deals is not None and sc.deals.payment == Payment(45.0, 20.0, 0.1, 60.0, "booking")
    with pytest.raises(PlanErrors) as err:
        _scenario("{days: 45, cancel: 1.5}")
    e = err.value.errors[0]
    assert e.code == "bad-value" and "cancel" in e.message and e.span is not None and e.span.line == 6
    with pytest.raises(PlanErrors) as err:
        _scenario("{days: 45, delay: 3}")
    assert "delay" in err.value.errors[0].message


def test_which_plans_pay_on_payment():
    """A plan placing its transactions by a date it declares (not `date`) pays on payment; the
    scenario may say otherwise; credit notes go to row-level plans as rows of their own."""
    sc = _scenario("{days: 45, cancel: 0.1}")
    on, at = parse_plan(ON_PAYMENT, "on.yaml"), parse_plan(AT_BOOKING, "at.yaml")
    p_on = placement_for(on, sc, ["revenue"])
    p_at = placement_for(at, sc, ["revenue"])
    assert p_on is not None and p_on.on_payment and p_on.credit is None
    assert p_on.paid.sum() == pytest.approx(0.9)  # cancelled deals are never paid
    assert p_at is not None and not p_at.on_payment and p_at.paid.tolist() == [1.0]
    assert p_at.credit is not None and p_at.credit.sum() == pytest.approx(0.1) and p_at.row_credits
    told = replace(sc, deals=replace(sc.deals, payment=replace(sc.deals.payment, plan_pays_on="booking")))
    p_told = placement_for(on, told, ["revenue"])
    assert p_told is not None and not p_told.on_payment
    assert placement_for(on, _scenario(), ["revenue"]) is None
    conditioned = placement_for(on, sc, ["revenue"], conditioned=6)  # a forecast's months to come
    assert conditioned is not None and conditioned.paid.tolist() == pytest.approx([0.9]) and conditioned.depth == 0
    # the six closed months are the real team's actuals, as the plan placed them: unchanged
    assert conditioned.months(lambda m: 100.0, 5)[""] == 100.0
    assert conditioned.months(lambda m: 100.0, 6)[""] == pytest.approx(90.0)


def test_placing_is_a_convolution_with_the_business_before_the_horizon():
    pl = Placement(columns=("revenue",), paid=np.array([0.2, 0.5, 0.3]), credit=None, on_payment=True, cancel=0.0,
                   row_credits=False)
    closed = {-2: 10.0, -1: 20.0, 0: 100.0, 1: 200.0}
    assert pl.months(closed.get, 0)[""] == pytest.approx(0.2 * 100 + 0.5 * 20 + 0.3 * 10)
    assert pl.months(closed.get, 1)[""] == pytest.approx(0.2 * 200 + 0.5 * 100 + 0.3 * 20)
    # At the horizon's end, what would be paid after it counts there (a rep's view).
    assert pl.months(closed.get, 1, fold=True)[""] == pytest.approx(1.0 * 200 + 0.8 * 100 + 0.3 * 20)


def test_credit_notes_enter_a_row_level_measure_as_negative_rows():
    """Kinds of deal and their credit notes: 1,000 booked and 100 credited in the period, half
    the deals of product A (10%) and half of B (5%): commission 75 - 7.5; the count adds the
    credit notes; the smallest row is a credit note of A (-100 / 0.4 credit notes x 10%)."""
    plan = parse_plan("""
plan: credits
period: month
target_incentive: 1000
measures:
  commission: {expr: "actuals.amount * where(actuals.product == 'A', 0.1, 0.05)", aggregate: sum}
  rows: {expr: "1", aggregate: count}
  smallest: {expr: "actuals.amount * where(actuals.product == 'A', 0.1, 0.05)", aggregate: min}
components:
  - {name: c, kind: rate, base: commission, rate: 1}
""", "credits.yaml")
    mix = Mix(attributes={"product": np.array(["A", "B"], dtype=object)}, size=np.ones(2), share=np.array([0.5, 0.5]),
              deals=4.0, credits=0.4, credit_columns=(("amount", "amount~credit"),))
    inputs = Inputs(rep_ids=np.array(["R1"], dtype=object), periods=period_infos("month", 1, [0]), roster={},
                    actuals={"amount": np.array([[1000.0]]), "amount~credit": np.array([[100.0]])},
                    active=np.ones((1, 1), dtype=bool), proration=np.ones((1, 1)), mix=mix)
    res = compile_plan(plan).evaluate(inputs)
    assert res.values["commission"][0, 0] == pytest.approx(75.0 - 7.5)
    assert res.values["rows"][0, 0] == pytest.approx(4.4)
    assert res.values["smallest"][0, 0] == pytest.approx(-25.0)


def test_no_delay_and_no_cancellation_change_nothing():
    """Payment the day a deal closes is the month it closes: the same numbers as no payment
    section; a plan paying at booking does not see payment delays at all."""
    assert _cost(ON_PAYMENT, "{days: 0, spread: 0}") == _cost(ON_PAYMENT, "")
    assert _cost(AT_BOOKING, "{days: 60, spread: 30}") == _cost(AT_BOOKING, "")


def test_paying_on_payment_costs_what_the_year_closes_and_cancelled_deals_are_not_paid():
    """In the steady state a running team is in, a year of a linear commission paid on payment
    costs about what it costs paid at booking (business closed before the year is paid in it,
    business closed at its end is paid after it); with 20% of deals cancelled and never paid it
    costs about 20% less, and reps, paid less per deal, sell a little less."""
    base_cost, base_rev = _cost(ON_PAYMENT, "")
    late_cost, late_rev = _cost(ON_PAYMENT, "{days: 45, spread: 20}")
    cancel_cost, cancel_rev = _cost(ON_PAYMENT, "{days: 45, spread: 20, cancel: 0.2}")
    assert late_cost / late_rev == pytest.approx(base_cost / base_rev, rel=0.05)  # the same rate on business closed
    assert (cancel_cost / cancel_rev) / (late_cost / late_rev) == pytest.approx(0.8, abs=0.02)
    assert cancel_rev < late_rev


def test_a_plan_paying_at_booking_claws_back_cancelled_deals():
    """At booking, cancellations come back as credit notes: about the cancelled share of the
    commission is taken back within the year (less what is cancelled after it)."""
    base_cost, _ = _cost(AT_BOOKING, "")
    cancel_cost, cancel_rev = _cost(AT_BOOKING, "{days: 30, cancel: 0.2, cancel_days: 30}")
    _, base_rev = _cost(AT_BOOKING, "")
    ratio = (cancel_cost / cancel_rev) / (base_cost / base_rev)  # commission per unit of business booked
    assert 0.78 < ratio < 0.84, ratio


def test_deal_shaped_plans_carry_payment_into_check(tmp_path):
    from engine.sim.shape import describe, shape_scenario

    plan = parse_plan(ON_PAYMENT.replace("actuals.revenue", "actuals.amount"), "p.yaml")
    sc = replace(default_scenario(), deals=Deals(payment=Payment(45.0, 20.0, 0.1)))
    shaped, shaping = shape_scenario(plan, sc)
    assert shaped.deals is not None and shaped.deals.payment == Payment(45.0, 20.0, 0.1)
    text = "\n".join(describe(shaping))
    assert "pays on payment" in text and "10% cancelled" in text


def test_the_shipped_scenario_simulates_a_plan_paid_on_payment():
    """scenarios/deals_paid_late.yaml reads, and the plan paid on payment costs less on it than on
    the default team (5% of deals never paid), the same seed."""
    from pathlib import Path

    from engine.plan import load_plan
    from engine.sim.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "scenarios" / "deals_paid_late.yaml")
    assert sc.deals is not None and sc.deals.payment == Payment(45.0, 20.0, 0.05, 60.0)
    plan = load_plan(root / "scenarios" / "plans" / "product_rates_on_payment.yaml")
    late = compare_plans([plan], replace(sc, reps=24, teams=3), runs=4, seed=2).results[0].document
    now = compare_plans([plan], replace(default_scenario(), reps=24, teams=3), runs=4, seed=2).results[0].document
    assert late["cost"]["mean"] < now["cost"]["mean"]
