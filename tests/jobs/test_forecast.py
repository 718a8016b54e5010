"""Payout forecasts: paid to date as statements, the rest of the year simulated for the real team."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.core.errors import DataError, DataErrors
from engine.data.statements import statements
from engine.jobs.forecast import forecast
from engine.plan import load_plan
from engine.report.forecast_book import write_forecast_xlsx
from engine.report.text import forecast_text
from engine.sim.population import log_skill_prior, skill_posterior
from engine.sim.scenario import default_scenario
from engine.sim.simulate import Simulation, simulated_year_tables
from tests.cli import incentive

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"
SEEDS = PLANS / "seeds_base_float_excess.yaml"
TRUEUP = PLANS / "annual_quarterly_trueup.yaml"


@pytest.fixture(scope="module")
def seeds():
    return load_plan(SEEDS)


@pytest.fixture(scope="module")
def small():
    return default_scenario().with_overrides(reps=12, teams=3)


def synthetic_years(checked, scenario, years: int, seed: int = 777):
    """Full simulated years of a small team (the truth the back-test forecasts)."""
    gen = Simulation(checked, scenario, seed)
    return gen, gen.run_chunk(np.arange(years), keep=True)


@pytest.fixture(scope="module")
def history(seeds, small):
    return synthetic_years(seeds, small, 3)


def test_paid_to_date_is_the_statements(seeds):
    """Closed periods are paid exactly as `incentive payout` pays them, rep by rep and in total."""
    fc = forecast(seeds, DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv", runs=20, seed=1)
    st = statements(seeds, DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv")
    closed = fc.by_period[fc.by_period.status == "closed"].set_index("period")["paid"]
    assert closed.to_dict() == pytest.approx(st.groupby("period")["total"].sum().to_dict(), abs=1e-9)
    assert fc.summary["paid_to_date"] == pytest.approx(st["total"].sum(), abs=1e-9)
    reps = fc.reps.set_index("rep_id")["paid_to_date"]
    for rep, total in st.groupby("rep_id")["total"].sum().items():
        assert reps[rep] == pytest.approx(total, abs=1e-9)
    assert list(fc.by_period.status) == ["closed", "closed", "forecast", "forecast", ""]


@pytest.mark.parametrize("plan", ["seeds_base_float_excess", "annual_quarterly_trueup", "kpi_scorecard"])
def test_simulation_reproduces_the_closed_periods(plan, small):
    """Inside every run the simulator pays the closed periods what the statements pay (to the cent):
    the real actuals, roster columns and proration reach the plan unchanged (YTD true-ups included;
    the KPI scorecard's survey score, averaged over the period, is not split over the period's deals)."""
    checked = load_plan(PLANS / f"{plan}.yaml")
    gen, res = synthetic_years(checked, small, 2)
    roster, actuals = simulated_year_tables(gen, res, 1, until=6)
    fc = forecast(checked, roster, actuals, scenario=small, runs=6, seed=4)
    assert fc.summary["closed_period_gap"] <= 0.005 * len(roster) + 1e-9


def test_same_seed_same_result_whatever_the_chunks(seeds, history, small):
    """Run i depends only on (seed, i): chunk sizes and workers do not change a single number."""
    gen, res = history
    roster, actuals = simulated_year_tables(gen, res, 0, until=6)
    a = forecast(seeds, roster, actuals, scenario=small, runs=9, seed=5, chunk_runs=9)
    b = forecast(seeds, roster, actuals, scenario=small, runs=9, seed=5, chunk_runs=2)
    c = forecast(seeds, roster, actuals, scenario=small, runs=9, seed=5, chunk_runs=4, workers=2)
    assert np.array_equal(a.annual, b.annual) and np.array_equal(a.annual, c.annual)
    assert json.dumps(a.document) == json.dumps(b.document) == json.dumps(c.document)
    d = forecast(seeds, roster, actuals, scenario=small, runs=9, seed=6)
    assert not np.array_equal(a.annual, d.annual)


def test_full_year_of_actuals_leaves_nothing_to_forecast(seeds, history, small):
    """With all 12 months closed, P50 = P90 = P95 = paid and the accrual is what was paid."""
    gen, res = history
    roster, actuals = simulated_year_tables(gen, res, 0)
    fc = forecast(seeds, roster, actuals, scenario=small, runs=7, seed=1, budget=0.0)
    year = fc.by_period.iloc[-1]
    assert set(fc.by_period.status[:-1]) == {"closed"}
    assert year.p50 == year.p90 == year.p95 == year.paid == fc.summary["paid_to_date"]
    assert fc.summary["accrued_liability"] == 0.0
    assert fc.summary["probability_over_budget"] == 1.0
    assert fc.summary["paid_to_date"] == pytest.approx(res.cost[0], abs=0.01 * len(roster))


def test_higher_actuals_to_date_forecast_more(seeds, history, small):
    """Reps who sold more so far are believed more skilled (posterior): the rest of the year costs more."""
    gen, res = history
    roster, actuals = simulated_year_tables(gen, res, 0, until=6)
    base = forecast(seeds, roster, actuals, scenario=small, runs=20, seed=2)
    more = actuals.copy()
    more["revenue"] *= 1.25
    high = forecast(seeds, roster, more, scenario=small, runs=20, seed=2)
    assert high.summary["paid_to_date"] > base.summary["paid_to_date"]
    assert high.summary["expected_remaining"] > base.summary["expected_remaining"]
    assert (high.reps.skill_median[:-1] > base.reps.skill_median[:-1]).all()
    for k in (2, 3):  # Q3, Q4
        assert high.by_period.p50[k] > base.by_period.p50[k]


def test_budget_probability(seeds):
    """P(annual payout > budget) is 1 at a budget of 0, 0 at a huge budget, and falls as the budget rises."""
    args = (seeds, DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv")
    zero = forecast(*args, runs=30, seed=3, budget=0.0)
    huge = forecast(*args, runs=30, seed=3, budget=1e12)
    mid = forecast(*args, runs=30, seed=3, budget=float(zero.summary["p50"]))
    assert zero.summary["probability_over_budget"] == 1.0
    assert huge.summary["probability_over_budget"] == 0.0
    assert 0.3 <= mid.summary["probability_over_budget"] <= 0.7
    assert zero.document["budget"] == {"amount": 0.0, "probability_exceeded": 1.0}


def test_accrual_by_period_and_ratable(small):
    """Per-period plans accrue what the closed periods paid (plus the earned part of a period in
    progress); a YTD plan accrues its expected annual cost ratably, never below what was paid."""
    seeds = load_plan(SEEDS)
    gen, res = synthetic_years(seeds, small, 1)
    roster, actuals = simulated_year_tables(gen, res, 0, until=5)
    fc = forecast(seeds, roster, actuals, scenario=small, runs=10, seed=1, as_of="2027-05")
    assert fc.method == "by period" and fc.by_period.status[1] == "in progress"
    q2 = fc.by_period["mean"][1]
    share = (30 + 31) / (30 + 31 + 30)  # April and May of Q2
    assert fc.summary["earned_to_date"] == pytest.approx(fc.summary["paid_to_date"] + q2 * share)
    trueup = load_plan(TRUEUP)
    gen, res = synthetic_years(trueup, small, 1)
    roster, actuals = simulated_year_tables(gen, res, 0, until=6)
    fc = forecast(trueup, roster, actuals, scenario=small, runs=10, seed=1)
    s = fc.summary
    assert fc.method == "ratable"
    assert s["share_of_year_elapsed"] == pytest.approx(181 / 365)
    assert s["earned_to_date"] == pytest.approx(max(s["paid_to_date"], s["mean"] * 181 / 365))
    assert s["accrued_liability"] == pytest.approx(s["earned_to_date"] - s["paid_to_date"])


def test_skill_posterior_shrinks():
    """The posterior sits between the prior and the data, nearer the data the less noisy it is."""
    m0, s0 = log_skill_prior(default_scenario().skill)
    assert (m0, s0) == (0.0, 0.25)
    obs = np.array([1.5, 1.5, 0.0, 1.0])
    mean, sd = skill_posterior(m0, s0, obs, np.array([1.0, 1.0, 1.0, 0.0]), np.array([0.5, 0.05, 0.1, 0.1]))
    v = np.log1p(0.5)
    assert 0 < mean[0] < np.log(1.5) + v / 2 and mean[0] < mean[1]
    assert sd[1] < sd[0] < s0
    assert mean[2] < 0  # nothing sold: floored, far below the prior
    assert (mean[3], sd[3]) == (m0, s0)  # nothing expected yet: the prior


def test_outputs_xlsx_json_and_text(seeds, tmp_path):
    """The workbook has one sheet per view and a native chart; the JSON has the documented keys."""
    fc = forecast(seeds, DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv", runs=25, seed=1, budget=90_000)
    out = tmp_path / "fc.xlsx"
    write_forecast_xlsx(fc, out)
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert wb.sheetnames == ["Summary", "By period", "Distribution", "Reps", "Variance", "Market", "Glossary",
                             "Inputs", "Assumptions"]
    assert len(wb["By period"]._charts) == 1 and len(wb["Distribution"]._charts) == 1
    assert [c.value for c in wb["By period"][1]] == ["Period", "Status", "Paid (USD)", "Expected (mean, USD)",
                                                     "P50: median (USD)", "P90 (USD)", "P95 (USD)"]
    assert wb["Reps"].max_row == 1 + 6 + 1  # header, six reps, new hires
    # Paid amounts are exact cents and shown as money; forecasts as whole units; shares in percent.
    paid = [c for c in wb["Reps"]["B"][1:7]]
    assert all(c.number_format == "#,##0.00" and c.value == round(c.value, 2) for c in paid)
    assert wb["By period"]["E2"].number_format == "#,##0" and wb["Reps"]["G2"].number_format == "0.0%"
    assert sorted(os.listdir(tmp_path)) == ["fc.xlsx"]
    doc = json.loads(json.dumps(fc.document))
    assert set(doc) == {"plan", "scenario", "currency", "as_of", "as_of_date", "closed_months", "runs", "seed", "reps",
                        "periods", "year", "budget", "accrual", "variance", "market", "rest_of_year", "warnings",
                        "reps_detail"}
    assert doc["warnings"] == []
    assert {s["source"] for s in doc["variance"]["sources"]} >= {"skill", "noise", "market", "attrition"}
    assert len(doc["market"]["months"]) == 6
    assert set(doc["year"]) == {"paid_to_date", "mean", "p05", "p50", "p90", "p95", "expected_remaining"}
    assert set(doc["accrual"]) == {"method", "share_of_year_elapsed", "earned_to_date", "paid_to_date", "liability"}
    assert [p["status"] for p in doc["periods"]] == ["closed", "closed", "forecast", "forecast"]
    text = forecast_text(fc)
    assert "2027-Q3  forecast" in text and "Accrual at 2027-06-30" in text and "exceeds it" in text


def test_data_errors_are_engine_errors(seeds, tmp_path):
    """Bad inputs raise DataError(s) naming the file, row, column or rep."""
    actuals = pd.read_csv(DATA / "seeds_actuals.csv")
    roster = pd.read_csv(DATA / "seeds_roster.csv")
    with pytest.raises(DataError, match="no rows for 2027-Q1"):
        forecast(seeds, roster, actuals[actuals.period == "2027-Q2"], runs=2)
    with pytest.raises(DataError, match="quarter or month label"):
        forecast(seeds, roster, actuals, runs=2, as_of="June")
    with pytest.raises(DataError, match="falls inside a quarter"):
        forecast(seeds, roster, actuals, runs=2, as_of="2027-05")
    salary = roster.assign(base_salary=["90000", "n/a", "80000", "80000", "80000", "80000"])
    with pytest.raises(DataError, match="'base_salary' must be a number") as err:
        forecast(seeds, salary, actuals, runs=2)
    assert (err.value.row, err.value.rep, err.value.column) == (3, "R002", "base_salary")
    bad = roster.astype({"quota": object})
    bad.loc[2, "quota"] = "lots"
    with pytest.raises(DataErrors) as err:
        forecast(seeds, bad, actuals, runs=2)
    assert "row 4" in err.value.render() and "R003" in err.value.render()


def test_cli_bad_roster_row_exits_2_without_output(tmp_path):
    """A bad roster row: exit 2, the row, rep and column named, no traceback, no file written."""
    roster = (DATA / "seeds_roster.csv").read_text().replace("R003,South,1000000", "R003,South,1e6x")
    (tmp_path / "roster.csv").write_text(roster)
    proc = incentive("forecast", SEEDS, "--roster", tmp_path / "roster.csv", "--actuals", DATA / "seeds_actuals.csv",
                     "--runs", 5, "--xlsx", tmp_path / "out.xlsx", "--json", tmp_path / "out.json")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "row 4" in proc.stderr and "'quota'" in proc.stderr and "R003" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["roster.csv"]


def test_cli_json_to_stdout_and_files(tmp_path):
    """`--json -` prints only JSON; files are written next to the text table."""
    proc = incentive("forecast", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals", DATA / "seeds_actuals.csv",
                     "--runs", 10, "--seed", 3, "--budget", 90000, "--json", "-", "--workers", 1)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["runs"] == 10 and doc["as_of"] == "2027-Q2" and doc["budget"]["amount"] == 90000
    proc = incentive("forecast", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals", DATA / "seeds_actuals.csv",
                     "--runs", 10, "--seed", 3, "--xlsx", tmp_path / "f.xlsx", "--json", tmp_path / "f.json",
                     "--workers", 1)
    assert proc.returncode == 0, proc.stderr
    assert "P90" in proc.stdout and json.loads((tmp_path / "f.json").read_text()) == doc | {"budget": None}
    assert (tmp_path / "f.xlsx").exists()


def small_scenario_file(folder: Path) -> Path:
    """The built-in scenario with a team of 12 reps in 3 teams, as a file: `--history` reads the
    history under the plan by simulating the base scenario's team, ten times cheaper at 12 reps
    than at the default 120."""
    text = (ROOT / "engine" / "sim" / "default_scenario.yaml").read_text(encoding="utf-8")
    assert "\n  reps: 120\n  teams: 12\n" in text
    path = folder / "small_team.yaml"
    path.write_text(text.replace("\n  reps: 120\n  teams: 12\n", "\n  reps: 12\n  teams: 3\n"), encoding="utf-8")
    return path


def test_cli_history_calibrates_the_scenario(tmp_path, small, seeds):
    """`--history` fits a scenario to an attainment history and forecasts with it."""
    gen, res = synthetic_years(seeds, small, 2, seed=9)
    rows = []
    for i in range(2):
        roster, acts = simulated_year_tables(gen, res, i)
        acts["period"] = pd.to_datetime(acts["date"]).dt.strftime(f"{2025 + i}-%m")
        q = dict(zip(roster.rep_id, roster.quota))
        rows.append(pd.DataFrame({"rep_id": acts.rep_id + f"y{i}", "period": acts.period,
                                  "attainment": (acts.revenue / (acts.rep_id.map(q) / 12)).clip(lower=0)}))
    pd.concat(rows).to_csv(tmp_path / "history.csv", index=False)
    proc = incentive("forecast", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals", DATA / "seeds_actuals.csv",
                     "--history", tmp_path / "history.csv", "--runs", 5, "--json", "-", "--workers", 1,
                     "--scenario", small_scenario_file(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scenario"] == "calibrated_history"


def backtest(checked, scenario, years: int, runs: int, seed: int = 777):
    """Hold back the second half of simulated years; forecast it from the first half."""
    gen, res = synthetic_years(checked, scenario, years, seed)
    over90 = over50 = 0
    for i in range(years):
        roster, actuals = simulated_year_tables(gen, res, i, until=6)
        fc = forecast(checked, roster, actuals, scenario=scenario, runs=runs, seed=10_000 + i, decompose=False)
        over90 += res.cost[i] > fc.summary["p90"]
        over50 += res.cost[i] > fc.summary["p50"]
    return over90 / years, over50 / years


def test_backtest_p90_coverage_short(seeds, small):
    """Realized annual payout exceeds the forecast P90 in about 10% of held-back years, P50 in about half:
    20 simulated years of a 12-rep team (seed 778), forecast from the first half with 20 runs. 10% and 50%
    must lie in the 99% Wilson intervals of the observed shares: loose at 20 years, yet a forecast as far
    off as the out-of-model one before issue 27 (29% of years over P90, 79% over P50) fails it. The slow
    test below is the 120-year version (its seed 777 starts with low years: 5 of the first 20 above P50)."""
    years = 20
    p90, p50 = backtest(seeds, small, years=years, runs=20, seed=778)
    for share, nominal in ((p90, 0.10), (p50, 0.50)):
        ci = stats.binomtest(round(share * years), years).proportion_ci(0.99, method="wilson")
        assert ci.low <= nominal <= ci.high, (share, nominal, ci)


@pytest.mark.slow
def test_backtest_p90_coverage(seeds, small):
    """Realized annual payout exceeds the forecast P90 in about 10% of held-back years, P50 in about half
    (120 simulated years of a 12-rep team, forecast from the first half; binomial tolerance)."""
    p90, p50 = backtest(seeds, small, years=120, runs=40)
    assert 0.04 <= p90 <= 0.18, p90
    assert 0.38 <= p50 <= 0.62, p50


@pytest.mark.slow
@pytest.mark.parametrize("plan", ["seeds_base_float_excess", "annual_quarterly_trueup"])
def test_backtest_p90_coverage_200_years(plan):
    """The same back-test on 200 years of a 15-rep team with 60 runs per forecast."""
    checked = load_plan(PLANS / f"{plan}.yaml")
    p90, p50 = backtest(checked, default_scenario().with_overrides(reps=15, teams=3), years=200, runs=60, seed=31)
    assert 0.05 <= p90 <= 0.16, p90
    assert 0.40 <= p50 <= 0.60, p50


def test_2000_reps_end_to_end_through_the_cli(tmp_path, seeds):
    """A realistic roster (2,000 reps, 6 months of transactions) forecasts through the CLI."""
    sc = default_scenario().with_overrides(reps=2000, teams=200)
    gen = Simulation(seeds, sc, 21)
    res = gen.run_chunk(np.arange(1), keep=True)
    roster, actuals = simulated_year_tables(gen, res, 0, until=6)
    roster.to_csv(tmp_path / "roster.csv", index=False)
    actuals.to_csv(tmp_path / "actuals.csv", index=False)
    t0 = time.perf_counter()
    proc = incentive("forecast", SEEDS, "--roster", tmp_path / "roster.csv", "--actuals", tmp_path / "actuals.csv",
                     "--runs", 8, "--json", tmp_path / "fc.json", "--xlsx", tmp_path / "fc.xlsx")
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "fc.json").read_text())
    assert doc["reps"] == len(roster) >= 2000 and doc["closed_months"] == 6
    assert doc["year"]["p50"] > doc["year"]["paid_to_date"] > 0
    print(f"2,000-rep forecast through the CLI: {elapsed:.1f} s")


def test_forecast_with_history_reports_the_fit(tmp_path):
    """`forecast --history` says what it fitted before the forecast that rests on it (on
    stderr when stdout carries JSON), and in the text, the JSON and the workbook which
    parameters the history moved (the level among them, the shipped history being of another
    level than the base scenario) and what that did to P50 and P90 (with --explain-history, each
    group of them alone); the workbook records the plan, roster, actuals, history file and fit."""
    args = ["forecast", "scenarios/plans/kpi_scorecard.yaml", "--roster", "scenarios/data/field_team_roster.csv",
            "--actuals", "scenarios/data/field_team_actuals_h1.csv", "--history",
            "scenarios/data/field_team_history.csv", "--runs", "4", "--workers", "1",
            "--scenario", str(small_scenario_file(tmp_path))]
    proc = incentive(*args, "--xlsx", tmp_path / "fc.xlsx")
    assert proc.returncode == 0, proc.stderr
    assert "What the history moved (without history -> with history)" in proc.stdout
    assert "outputs.revenue.level 0.97 -> " in proc.stdout and "skill.sigma 0.25 -> " in proc.stdout
    assert "What that did (USD): with history, P50 " in proc.stdout
    import openpyxl

    book = openpyxl.load_workbook(tmp_path / "fc.xlsx")
    history = {r[0]: r[1:] for r in book["History"].iter_rows(values_only=True) if r[0] is not None}
    assert history["outputs.revenue.level"][0] == 0.97 and history["skill.sigma"][0] == 0.25
    inputs = {r[0]: r[1] for r in book["Inputs"].iter_rows(min_row=2, values_only=True)}
    assert inputs["Plan file"] == "scenarios/plans/kpi_scorecard.yaml"
    assert inputs["Roster"] == "scenarios/data/field_team_roster.csv"
    assert inputs["Actuals"] == "scenarios/data/field_team_actuals_h1.csv"
    assert inputs["History file"] == "scenarios/data/field_team_history.csv"
    assert "Calibration of scenarios/data/field_team_history.csv" in inputs["Fit"] and "effort factor" in inputs["Fit"]
    assert "outputs.revenue.level: 0.97 -> " in inputs["What the history moved"]
    assert inputs["What that did"].startswith("with history, P50 ")
    assert proc.stdout.index("Calibration of scenarios/data/field_team_history.csv") < proc.stdout.index("Forecast of")
    assert "sigma_skill" in proc.stdout and "calibrated_field_team_history" in proc.stdout
    # Then the same forecast without the history, side by side, and which to trust.
    assert proc.stdout.index("Forecast of") < proc.stdout.index("With and without history")
    assert "without history" in proc.stdout and "actuals vs expected" in proc.stdout
    proc = incentive(*args, "--json", "-", "--explain-history")
    assert proc.returncode == 0 and "sigma_skill" in proc.stderr and "With and without history" in proc.stderr
    assert "Each group alone" in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["plan"] == "kpi_scorecard"
    check = doc["history_check"]
    assert check["trust"] in ("either", "with history", "without history")
    assert check["disagree"] == (check["trust"] != "either") and check["reasons"]
    assert check["with_history"]["p50"] == doc["year"]["p50"]
    level = next(m for m in check["moved"] if m["parameter"] == "outputs.revenue.level")
    assert level["without_history"] == 0.97 and level["with_history"] != 0.97 and "fitted" in level["note"]
    assert check["effect"]["p50"]["with_history"] == doc["year"]["p50"]
    assert check["effect"]["p90"]["without_history"] == check["without_history"]["p90"]
    assert check["effect"]["p50"]["change"] == pytest.approx(
        check["with_history"]["p50"] - check["without_history"]["p50"], abs=0.02)
    # --explain-history: one forecast per group of moved parameters, each against the one without.
    groups = [g["group"] for g in check["alone"]]
    assert groups[:2] == ["skill", "outputs.revenue.level"] and "seasonality" in groups and "market" in groups
    assert sorted(p for g in check["alone"] for p in g["parameters"]) == sorted(m["parameter"] for m in check["moved"])
    for g in check["alone"]:
        assert g["p50_change_percent"] == pytest.approx(100 * (g["p50"] / check["without_history"]["p50"] - 1), abs=0.01)


def test_a_simulation_that_does_not_pay_the_closed_periods_as_statements_warns(seeds):
    """The forecast checks itself: where the simulation pays a closed period more than rounding
    away from the statements (half a cent per rep), the text starts with a warning and the JSON
    lists it (the kpi_scorecard sample was 508,476 USD off before the csat fix); within rounding,
    nothing is said."""
    from dataclasses import replace

    from engine.jobs.forecast_runs import self_check

    fc = forecast(seeds, DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv", runs=4, decompose=False)
    assert fc.warnings == () and "Warning" not in forecast_text(fc)
    assert self_check(0.6, 125, "USD") == ()
    bad = replace(fc, warnings=self_check(508_476.2, 125, "USD"))
    assert "Warning: the simulation paid a closed period up to 508,476.20 USD away from its statements" \
        in forecast_text(bad)
    assert bad.document["warnings"] == list(bad.warnings)
