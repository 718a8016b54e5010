"""The forecast workbook speaks to finance in words: headers say what a column holds, the
plan is named by its label, a Glossary explains the terms, a note says why the year's P50 is
not the sum of the periods' P50s, variance shares are never negative (shown with standard
error and interval), and an Inputs sheet records what the forecast was computed from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from engine.jobs.forecast import forecast
from engine.plan import load_plan
from engine.report.forecast_book import write_forecast_xlsx
from tests.cli import incentive

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """``incentive forecast --xlsx`` on the Chinese plan (it has a label), opened with openpyxl."""
    out = tmp_path_factory.mktemp("fc") / "forecast.xlsx"
    done = incentive("forecast", PLANS / "seeds_cn_deals.yaml", "--roster", DATA / "seeds_cn_roster.csv",
                     "--actuals", DATA / "seeds_cn_deals.csv", "--runs", 20, "--seed", 5, "--workers", 1,
                     "--budget", 90000, "--xlsx", out)
    assert done.returncode == 0, done.stderr
    return openpyxl.load_workbook(out)


def _pairs(ws) -> dict:
    return {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True) if r[0] is not None}


def test_headers_are_words_not_code(book):
    """No column header is a code name (``skill_sd``, ``quit_probability``, ``p50_year``):
    each says what it holds, money headers with the currency."""
    headers = [c.value for name in ("By period", "Reps", "Variance", "Distribution", "Market")
               for c in book[name][1] if c.value]
    assert not [h for h in headers if "_" in h], headers
    reps = [c.value for c in book["Reps"][1]]
    assert "Probability of leaving before the year ends" in reps
    assert "Uncertainty of the skill estimate (sd of log skill)" in reps and "Paid to date (CNY)" in reps
    assert [c.value for c in book["By period"][1]][:5] == ["Period", "Status", "Paid (CNY)", "Expected (mean, CNY)",
                                                           "P50: median (CNY)"]
    assert "Share of the year's payout variance" in [c.value for c in book["Variance"][1]]


def test_plan_label_glossary_and_the_note_on_percentiles(book):
    """The plan's label (in its own language) is on the Summary; the Glossary explains P50,
    P90, P95, accrual, variance share and market; the Summary and By period sheets say the
    year's P50 is not the sum of the periods' P50s."""
    summary = _pairs(book["Summary"])
    assert summary["Plan (label)"] == "底薪 + 浮动 + 超额（新老客户、新老产品分开计提，大单奖励）"
    terms = _pairs(book["Glossary"])
    for term in ("P50 (median)", "P90", "P95", "Cost earned to date (accrual)", "Share of the year's payout variance",
                 "Market (demand multiplier)", "Standard error"):
        assert term in terms and len(terms[term]) > 20
    assert "not the sum of the periods' P50s" in summary["Note"]
    by_period = [c for row in book["By period"].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any("not the sum of the periods' P50s" in c for c in by_period)


def test_inputs_sheet_records_files_runs_seed_and_version(book):
    """The Inputs sheet names the plan file, roster, actuals, scenario, runs, seed and the
    engine's version."""
    inputs = _pairs(book["Inputs"])
    assert inputs["Plan file"].endswith("seeds_cn_deals.yaml")
    assert inputs["Roster"].endswith("seeds_cn_roster.csv") and inputs["Actuals"].endswith("seeds_cn_deals.csv")
    assert inputs["Scenario file"].startswith("none") and inputs["Scenario"]
    assert inputs["Simulated runs"] == 20 and inputs["Seed"] == 5 and inputs["Budget"] == 90000
    assert inputs["Engine version"].startswith("incentive-engine ")


def test_variance_shares_are_never_negative_and_carry_their_interval(tmp_path):
    """A share of variance estimated below 0 (few runs) is shown as 0, with its standard
    error and a 95% interval clipped to 0-100%; what the sources leave is recomputed from the
    shares as shown; the history file and its fit given by the caller are recorded."""
    checked = load_plan(PLANS / "seeds_base_float_excess.yaml")
    fc = forecast(checked, DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv", runs=10, seed=1, workers=1)
    variance = pd.DataFrame([("skill", 0.6, 0.1, 600.0), ("market", -0.14, 0.2, 0.0),
                             ("other (interactions, other traits)", 0.54, float("nan"), 700.0)],
                            columns=["source", "share", "se", "sd"])
    out = tmp_path / "fc.xlsx"
    write_forecast_xlsx(dataclasses.replace(fc, variance=variance, variance_runs=50), out,
                        inputs=[("History file", "history.csv"), ("Fit", "level 1.02, spread 0.31")])
    ws = openpyxl.load_workbook(out)["Variance"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=2, values_only=True) if r[0] and r[1] is not None}
    assert rows["market"][0] == 0 and rows["market"][1] == pytest.approx(0.2)
    assert rows["market"][2] == 0 and rows["market"][3] == pytest.approx(-0.14 + 1.96 * 0.2)
    assert rows["skill"][2:4] == pytest.approx((0.6 - 0.196, 0.6 + 0.196))
    assert rows["other (interactions, other traits)"][0] == pytest.approx(0.4)
    assert all(r[0] >= 0 for r in rows.values())
    assert ws["B2"].number_format == "0.0%"
    inputs = _pairs(openpyxl.load_workbook(out)["Inputs"])
    assert inputs["History file"] == "history.csv" and inputs["Fit"] == "level 1.02, spread 0.31"
    assert inputs["Plan"] == fc.plan and inputs["Seed"] == 1
