"""The forecast workbook speaks to finance in words: headers say what a column holds, the
plan is named by its label (a plan written in Chinese gets a Chinese workbook), a Glossary
explains the terms, a note says why the year's P50 is not the sum of the periods' P50s,
variance shares are never negative (shown with standard error and interval), and an Inputs
sheet records what the forecast was computed from."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pandas as pd
import pytest

from engine.jobs.forecast import forecast
from engine.jobs.with_history import GroupEffect, check_history
from engine.plan import load_plan
from engine.report import forecast_book
from engine.report.forecast_book import GLOSSARY, write_forecast_xlsx
from engine.report.forecast_words_zh import ZH
from engine.sim.scenario import Dist, default_scenario
from tests.cli import incentive

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"
VARIANCE = pd.DataFrame([("skill", 0.6, 0.1, 600.0), ("market", -0.14, 0.2, 0.0),
                         ("other (interactions, other traits)", 0.54, float("nan"), 700.0)],
                        columns=["source", "share", "se", "sd"])


@pytest.fixture(scope="module")
def zh_book(tmp_path_factory):
    """``incentive forecast --xlsx`` on the Chinese plan (it has a label), opened with openpyxl."""
    out = tmp_path_factory.mktemp("fc") / "forecast.xlsx"
    done = incentive("forecast", PLANS / "seeds_cn_deals.yaml", "--roster", DATA / "seeds_cn_roster.csv",
                     "--actuals", DATA / "seeds_cn_deals.csv", "--runs", 20, "--seed", 5, "--workers", 1,
                     "--budget", 90000, "--xlsx", out)
    assert done.returncode == 0, done.stderr
    return openpyxl.load_workbook(out)


@pytest.fixture(scope="module")
def en_book(tmp_path_factory):
    """An English plan's forecast, with a variance decomposition holding a negative estimate
    (as 50 runs can give), and a history file and fit recorded by the caller."""
    checked = load_plan(PLANS / "seeds_base_float_excess.yaml")
    fc = forecast(checked, DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv", runs=10, seed=1, workers=1)
    out = tmp_path_factory.mktemp("fc") / "fc.xlsx"
    write_forecast_xlsx(dataclasses.replace(fc, variance=VARIANCE, variance_runs=50), out,
                        inputs=[("Plan file", "plan.yaml"), ("History file", "history.csv"),
                                ("Fit", "level 1.02, spread 0.31")])
    return fc, openpyxl.load_workbook(out)


def _pairs(ws) -> dict:
    return {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True) if r[0] is not None}


def test_headers_are_words_not_code(en_book):
    """No column header is a code name (``skill_sd``, ``quit_probability``, ``p50_year``):
    each says what it holds, money headers with the currency."""
    _, book = en_book
    headers = [c.value for name in ("By period", "Reps", "Variance", "Distribution") for c in book[name][1] if c.value]
    assert not [h for h in headers if "_" in h], headers
    reps = [c.value for c in book["Reps"][1]]
    assert "Probability of leaving before the year ends" in reps
    assert "Uncertainty of the skill estimate (sd of log skill)" in reps and "Paid to date (USD)" in reps
    assert [c.value for c in book["By period"][1]][:5] == ["Period", "Status", "Paid (USD)", "Expected (mean, USD)",
                                                           "P50: median (USD)"]
    assert "Share of the year's payout variance" in [c.value for c in book["Variance"][1]]


def test_glossary_and_the_note_on_percentiles(en_book):
    """The Glossary explains P50, P90, P95, accrual, variance share and market; the Summary
    and By period sheets say the year's P50 is not the sum of the periods' P50s."""
    _, book = en_book
    terms = _pairs(book["Glossary"])
    for term in ("P50 (median)", "P90", "P95", "Cost earned to date (accrual)", "Share of the year's payout variance",
                 "Market (demand multiplier)", "Standard error"):
        assert term in terms and len(terms[term]) > 20
    assert "not the sum of the periods' P50s" in _pairs(book["Summary"])["Note"]
    by_period = [c for row in book["By period"].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any("not the sum of the periods' P50s" in c for c in by_period)


def test_variance_shares_are_never_negative_and_carry_their_interval(en_book):
    """A share of variance estimated below 0 (few runs) is shown as 0, with its standard
    error and a 95% interval clipped to 0-100%; what the sources leave is recomputed from the
    shares as shown."""
    _, book = en_book
    ws = book["Variance"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=2, values_only=True) if r[0] and r[1] is not None}
    assert rows["market"][0] == 0 and rows["market"][1] == pytest.approx(0.2)
    assert rows["market"][2] == 0 and rows["market"][3] == pytest.approx(-0.14 + 1.96 * 0.2)
    assert rows["skill"][2:4] == pytest.approx((0.6 - 0.196, 0.6 + 0.196))
    assert rows["other (interactions, other traits)"][0] == pytest.approx(0.4)
    assert all(r[0] >= 0 for r in rows.values())
    assert ws["B2"].number_format == "0.0%"
    assert any("cannot be negative" in str(r[0]) for r in ws.iter_rows(values_only=True))


def test_inputs_sheet_records_files_history_fit_runs_seed_and_version(en_book, zh_book):
    """The Inputs sheet names the plan file, roster, actuals, scenario, the history file and
    fit the caller gives, runs, seed and the engine's version; the command line records its
    files, the scenario file and the budget."""
    fc, book = en_book
    inputs = _pairs(book["Inputs"])
    assert inputs["Plan file"] == "plan.yaml" and inputs["History file"] == "history.csv"
    assert inputs["Fit"] == "level 1.02, spread 0.31"
    assert inputs["Roster"].endswith("seeds_roster.csv") and inputs["Actuals"].endswith("seeds_actuals.csv")
    assert inputs["Plan"] == fc.plan and inputs["Seed"] == 1 and inputs["Simulated runs"] == 10
    assert inputs["Engine version"].startswith("incentive-engine ")
    cli = _pairs(zh_book["Inputs"])
    assert cli[ZH["Plan file"]].endswith("seeds_cn_deals.yaml")
    assert cli[ZH["Roster"]].endswith("seeds_cn_roster.csv") and cli[ZH["Actuals"]].endswith("seeds_cn_deals.csv")
    assert cli[ZH["Scenario file"]].startswith("none") and cli[ZH["Budget"]] == 90000
    assert cli[ZH["Simulated runs"]] == 20 and cli[ZH["Seed"]] == 5


def test_a_chinese_plan_gets_a_chinese_workbook(zh_book):
    """A plan written in Chinese: its label on the Summary, and the headers, items, note and
    glossary in Chinese (sheet names stay as they are, for formulas and scripts)."""
    summary = _pairs(zh_book["Summary"])
    assert summary["方案名称"] == "底薪 + 浮动 + 超额（新老客户、新老产品分开计提，大单奖励）"
    assert "不等于各期间 P50 之和" in summary["说明"]
    assert "年底前离职的概率" in [c.value for c in zh_book["Reps"][1]]
    assert [c.value for c in zh_book["By period"][1]][:3] == ["期间", "状态", "已发放（CNY）"]
    assert "P50（中位数）" in _pairs(zh_book["Glossary"])
    assert zh_book.sheetnames[:4] == ["Summary", "By period", "Distribution", "Reps"]


def test_every_english_word_of_the_workbook_has_its_chinese():
    """Every header, note and glossary entry has a Chinese text (a missing one would show
    English in a Chinese workbook)."""
    words = [forecast_book.YEAR_P50_NOTE, forecast_book.VARIANCE_NOTE, *forecast_book.HISTORY_WORDS,
             *forecast_book.REST_WORDS,
             *forecast_book._PERIOD_HEADERS.values(),
             *forecast_book._REP_HEADERS.values(), *(t for pair in GLOSSARY for t in pair)]
    assert [x for x in words if x not in ZH] == []


@pytest.fixture(scope="module")
def history_book(en_book, tmp_path_factory):
    """The English forecast written with a history check: the scenario with history has a
    narrower skill spread and another market rho than the one without, and the forecast
    without history is 10% higher."""
    fc, _ = en_book
    base = default_scenario()
    calibrated = dataclasses.replace(base, name="calibrated", skill=Dist("lognormal", (("median", 1.0), ("sigma", 0.15))),
                                     market=dataclasses.replace(base.market, rho=0.5))
    higher = dataclasses.replace(fc, summary={**fc.summary, **{k: 1.1 * fc.summary[k] for k in ("p05", "p50", "p90", "p95")}})
    check = check_history(fc, calibrated, higher, base, SimpleNamespace(market_fitted=True))
    check = dataclasses.replace(check, alone=(GroupEffect("market", ("market.rho",), 1.05 * fc.summary["p50"],
                                                          1.05 * fc.summary["p90"]),))
    out = tmp_path_factory.mktemp("fc") / "history.xlsx"
    write_forecast_xlsx(fc, out, inputs=[("History file", "history.csv")], history=check)
    return fc, check, openpyxl.load_workbook(out)


def test_the_history_sheet_says_what_the_history_moved_and_what_that_did(history_book, en_book):
    """With a history, a History sheet lists each moved parameter with its value without and
    with history, P50 and P90 without and with history with the change, what a group does
    alone, and which to trust; a forecast without history has no History sheet."""
    fc, check, book = history_book
    assert "History" in book.sheetnames and "History" not in en_book[1].sheetnames
    assert book.sheetnames.index("History") < book.sheetnames.index("Inputs")
    rows = {r[0]: r[1:] for r in book["History"].iter_rows(values_only=True) if r[0] is not None}
    assert rows["skill.sigma"][:2] == (0.25, 0.15) and rows["market.rho"][:2] == (0.6, 0.5)
    assert rows["skill.sigma"][2] == "spread of log skill between reps"
    assert {m.name for m in check.moved} == {"skill.sigma", "market.rho"}
    p50 = rows["Annual P50"]
    assert p50[:3] == pytest.approx((1.1 * fc.summary["p50"], fc.summary["p50"], -0.1 * fc.summary["p50"]))
    assert p50[3] == pytest.approx(1 / 1.1 - 1)
    assert rows["Annual P90"][1] == pytest.approx(fc.summary["p90"])
    assert rows["Which to trust"][0] == check.verdict
    assert rows["market"][:2] == pytest.approx((1.05 * fc.summary["p50"], 1.05 * fc.summary["p90"]))
    assert rows["market"][2] == pytest.approx(1.05 / 1.1 - 1)  # against the forecast without history
    assert _pairs(book["Inputs"])["History file"] == "history.csv"


def test_the_summary_says_why_the_rest_of_the_year_differs(en_book):
    """The Summary sheet holds the forecast's rest-of-year figures (per month, open months
    against closed): pay, the primary output and each of its parts, pay per unit of output."""
    fc, wb = en_book
    summary = _pairs(wb["Summary"])
    r = fc.rest_of_year
    assert r is not None
    assert summary[forecast_book.REST_WORDS[0]] == pytest.approx(r["pay"]["change"])
    assert summary[forecast_book.REST_WORDS[1]] == pytest.approx(r["output"]["change"])
    assert summary[forecast_book.REST_WORDS[2]] == pytest.approx(r["pay_per_output"]["change"])
    for part in r["parts"]:
        assert summary[forecast_book.REST_PARTS[part["part"]]] == pytest.approx(part["change"])
