"""A forecast of a plan with no target (a pure commission on paid invoices): the roster has
no quota, so each rep's production scale is their pace so far (engine/jobs/forecast.py,
_run_rate), and the forecast says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.jobs.forecast import forecast
from engine.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "scenarios" / "plans" / "product_rates_on_payment.yaml"
ROSTER = ROOT / "scenarios" / "data" / "product_rates_roster.csv"
ACTUALS = ROOT / "scenarios" / "data" / "product_rates_invoices.csv"


@pytest.fixture(scope="module")
def fc():
    return forecast(load_plan(PLAN), ROSTER, ACTUALS, runs=24, seed=4, decompose=False)


def test_a_commission_plan_without_targets_forecasts_at_the_reps_pace(fc):
    """The year costs about what the months so far cost, at their pace: the expected annual
    payout over the paid to date scaled to twelve months is between 0.5 and 1.5 (the team's
    pace, seasonality and quits move it; no quota column is needed)."""
    year = fc.by_period[fc.by_period["period"] == "year"].iloc[0]
    paid = float(year["paid"])
    assert paid > 0
    pace = paid * 12 / fc.closed_months
    assert 0.5 < float(year["mean"]) / pace < 1.5, (year["mean"], pace)
    assert dict(fc.assumptions)["production scale"].startswith("each rep's run rate so far")


def test_reps_who_sold_more_are_expected_to_earn_more(fc):
    reps = fc.reps[fc.reps["rep_id"] != "(new hires)"]
    paid, expected = reps["paid_to_date"].to_numpy(float), reps["expected_year"].to_numpy(float)
    assert np.corrcoef(paid, expected)[0, 1] > 0.5
