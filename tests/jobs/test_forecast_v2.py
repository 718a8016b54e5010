"""Forecasts of the version 2 examples: a plan with no target (a pure commission on paid
invoices), whose roster has no quota, so each rep's production scale is their pace so far
(engine/jobs/forecast_team.py, _run_rate); and an effective-dated roster (several rows per rep)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.jobs.forecast import forecast
from engine.jobs.forecast_team import one_row_per_rep
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


def test_an_effective_dated_roster_forecasts_from_the_row_in_effect():
    """roster_changes: a quota change on 1 May, a transfer on 16 May, a leave from March to
    May. The forecast's seats are the four reps with the row in effect at the as-of date (T01's
    new quota, T02's new team, T04 back from leave) and their employment over all their rows."""
    table = pd.read_csv(ROOT / "scenarios" / "data" / "roster_changes_roster.csv", dtype=str)
    one = one_row_per_rep(table, np.array(["T01", "T02", "T03", "T04"]), dt.date(2027, 6, 30))
    assert list(one["rep_id"]) == ["T01", "T02", "T03", "T04"]
    assert list(one["quota"]) == ["600000", "400000", "400000", "400000"]
    assert list(one["team"]) == ["NORTH", "SOUTH", "SOUTH", "SOUTH"]
    assert list(one["start_date"]) == ["2026-06-01", "2025-01-01", "2027-01-01", "2024-09-01"]
    before = one_row_per_rep(table, np.array(["T01", "T02", "T03", "T04"]), dt.date(2027, 3, 31))
    assert list(before["quota"]) == ["400000", "400000", "400000", "400000"] and list(before["team"])[1] == "NORTH"
    fc = forecast(load_plan(ROOT / "scenarios" / "plans" / "roster_changes.yaml"),
                  ROOT / "scenarios" / "data" / "roster_changes_roster.csv",
                  ROOT / "scenarios" / "data" / "roster_changes_actuals.csv", runs=12, seed=1, decompose=False)
    assert [r for r in fc.reps["rep_id"] if r != "(new hires)"] == ["T01", "T02", "T03", "T04"]
    year = fc.by_period[fc.by_period["period"] == "year"].iloc[0]
    assert float(year["mean"]) > float(year["paid"]) > 0
