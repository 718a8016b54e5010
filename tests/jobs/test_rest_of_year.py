"""Why the rest of the year is forecast to pay more or less than the months closed
(engine/jobs/rest_of_year.py, and its line in the forecast's text and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.jobs.forecast import forecast
from engine.jobs.rest_of_year import RunRecords, against_so_far
from engine.plan import load_plan
from engine.report.text import forecast_text

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "scenarios" / "data"


def _team_year(runs: int = 3):
    """A made-up year: 10 reps in the closed 6 months, 9 in the open ones; each rep's capacity
    100 a month at demand 1, new hires at 90% of it in the open months; demand 1.0 then 1.1;
    effort 1.2 behind the closed months, 1.1 in the open ones; the closed months produced 5%
    less than capacity x effort, the open ones exactly that; pay 7% of output then 6%."""
    season = np.array([1.0] * 6 + [1.1] * 6)
    present = np.array([10.0] * 6 + [9.0] * 6)
    cap = 100.0 * present * season * np.array([1.0] * 6 + [0.9] * 6)
    closed_output = float(cap[:6].sum() * 1.2 * 0.95)
    open_output = float(cap[6:].sum() * 1.1)
    expected = np.concatenate([cap[:6] * 0.93, cap[6:] * 1.1])  # closed months: whatever the runs recorded
    records = RunRecords(open_pay=np.full(runs, 0.06 * open_output),
                         output=np.full(runs, closed_output + open_output),
                         expected=np.tile(expected, (runs, 1)), capacity=np.tile(cap, (runs, 1)),
                         headcount=np.full(runs, present.mean()))
    return records, season, present, closed_output, 0.07 * closed_output


def test_the_parts_are_what_moved_and_multiply_to_the_change():
    """Each part is the ratio that was built into the year (demand +10%, one rep in ten fewer,
    new hires at 90%, effort 1.1 against 1.2, the closed months 5% below their expectation), the
    parts multiply to the output's change, and pay's change is output's times pay per output's."""
    records, season, present, closed_output, paid = _team_year()
    r = against_so_far(records, None, closed_months=6, paid=paid, closed_output=closed_output,
                       closed_effort=np.full(6, 1.2), closed_present=present[:6], season=season)
    assert r is not None
    parts = {p["part"]: p["change"] for p in r["parts"]}
    assert parts["seasonality"] == pytest.approx(0.10)
    assert parts["reps in the role"] == pytest.approx(-0.10)
    assert parts["ramp, market and skill"] == pytest.approx(-0.10)
    assert parts["effort"] == pytest.approx(1.1 / 1.2 - 1)
    assert parts["other"] == pytest.approx(1 / 0.95 - 1)
    assert np.prod([1 + c for c in parts.values()]) == pytest.approx(1 + r["output"]["change"])
    assert r["pay_per_output"]["change"] == pytest.approx(0.06 / 0.07 - 1)
    assert 1 + r["pay"]["change"] == pytest.approx((1 + r["output"]["change"]) * (1 + r["pay_per_output"]["change"]))


def test_changes_are_per_month_and_weighted():
    """With 4 months closed the open 8 are compared per month; a run of weight 0 counts for nothing."""
    records, season, present, closed_output, paid = _team_year(runs=2)
    M = 4
    closed_output = float(records.capacity[0, :M].sum() * 1.2)
    open_output = float((records.expected[0, M:]).sum())
    records = RunRecords(open_pay=np.array([2 * paid, 99 * paid]),
                         output=np.array([closed_output + open_output, 5 * (closed_output + open_output)]),
                         expected=records.expected, capacity=records.capacity, headcount=records.headcount)
    r = against_so_far(records, np.array([1.0, 0.0]), closed_months=M, paid=paid, closed_output=closed_output,
                       closed_effort=np.full(M, 1.2), closed_present=present[:M], season=season)
    assert r is not None and r["open_months"] == 8
    assert r["pay"]["change"] == pytest.approx(2 * paid / 8 / (paid / 4) - 1)
    assert r["output"]["open"] == pytest.approx(open_output)


@pytest.mark.parametrize("closed", [0, 12])
def test_nothing_to_compare(closed):
    """No month closed, or none open: nothing is said."""
    records, season, _present, closed_output, paid = _team_year()
    assert against_so_far(records, None, closed_months=closed, paid=paid, closed_output=closed_output,
                          closed_effort=np.ones(closed), closed_present=np.ones(closed), season=season) is None


def test_the_shipped_sample_says_why_the_second_half_pays_less():
    """On the shipped mid-year sample the forecast says, per month, how the second half's pay
    compares with the first's and why: its figures are the forecast's own (expected still to pay,
    H1 paid, H1 revenue from the actuals), in the text and in the JSON."""
    checked = load_plan(ROOT / "scenarios" / "plans" / "kpi_scorecard.yaml")
    fc = forecast(checked, DATA / "field_team_roster.csv", DATA / "field_team_actuals_h1.csv", runs=12,
                  decompose=False)
    r = fc.rest_of_year
    assert r is not None and r["closed_months"] == 6
    assert r["pay"]["open"] == pytest.approx(fc.summary["expected_remaining"], rel=1e-9)
    assert r["pay"]["closed"] == pytest.approx(fc.summary["paid_to_date"])
    assert r["output"]["closed"] == pytest.approx(pd.read_csv(DATA / "field_team_actuals_h1.csv")["revenue"].sum())
    assert r["output"]["measure"] == "revenue"
    parts = {p["part"]: p["change"] for p in r["parts"]}
    assert parts["seasonality"] == pytest.approx(6.10 / 5.90 - 1)  # the default scenario's demand factors
    text = forecast_text(fc)
    assert "The rest of the year against the months closed, per month: pay " in text
    assert f"seasonality {100 * parts['seasonality']:+.1f}%" in text
    doc = json.loads(json.dumps(fc.document))
    assert doc["rest_of_year"]["pay"]["change"] == pytest.approx(r["pay"]["change"])
