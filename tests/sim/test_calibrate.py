"""Calibrating a scenario to a team's attainment history: reading it (engine/data/history.py),
the fit (engine/sim/calibrate.py), its report (engine/report/calibrate.py) and the scenario
written (engine/sim/calibrated_scenario.py).

Recovery tolerances are 4 standard errors computed from the sample size (the fixed seeds
make every test deterministic; 4 se leaves room for the seed, not for a wrong estimator),
and the standard errors the fit reports are checked against the same formulas.
"""

from __future__ import annotations

import dataclasses
import math
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.core.errors import DataError, DataErrors, PlanErrors
from engine.data.history import load_history
from engine.report.calibrate import calibration_report
from engine.sim.behaviour import Production
from engine.sim.calibrate import Calibration, MarketParameter, fit_history
from engine.sim.calibrated_scenario import write_calibrated_scenario
from engine.sim.market import MarketModel
from engine.sim.scenario import DEFAULT_SCENARIO, load_scenario

SEASON = np.array([0.90, 0.95, 1.05, 0.95, 1.00, 1.05, 0.90, 0.90, 1.05, 1.00, 1.05, 1.20])
SEASON = SEASON / SEASON.mean()
SIGMA_SKILL, NOISE, LEVEL = 0.3, 0.25, 0.95

NEGATIVE_HINT = ("attainment is fitted on a log scale, so a period's result must be 0 or more: where credit "
                 "notes exceed a month's sales, net them against the sales they reverse, or give the history "
                 "by quarter (sum the months; see scenarios/data/field_team_history.csv)")


def synthetic(reps: int = 200, months: int = 24, *, sigma_skill: float = SIGMA_SKILL,
              noise: float = NOISE, level: float = LEVEL, season: np.ndarray = SEASON,
              seed: int = 1, first: tuple[int, int] = (2025, 1),
              spans: np.ndarray | None = None) -> pd.DataFrame:
    """Monthly history from the model: log att = log(level season[m]) + a_i + e, with
    a_i ~ N(0, sigma_skill^2) and e ~ N(-noise^2/2, noise^2). ``spans`` gives each rep's
    (first month, number of months) for an unbalanced panel."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(0.0, sigma_skill, reps)
    frames = []
    for i in range(reps):
        start, count = spans[i] if spans is not None else (0, months)
        t = np.arange(start, start + count)
        month = (first[1] - 1 + t) % 12
        year = first[0] + (first[1] - 1 + t) // 12
        e = rng.normal(-noise * noise / 2, noise, len(t))
        frames.append(pd.DataFrame({
            "rep_id": f"R{i:03d}",
            "period": [f"{y}-{m + 1:02d}" for y, m in zip(year, month)],
            "attainment": np.exp(np.log(level * season[month]) + skill[i] + e),
        }))
    return pd.concat(frames, ignore_index=True)


def quarterly(monthly: pd.DataFrame) -> pd.DataFrame:
    """Quarterly attainment: the mean of each rep's three monthly attainments."""
    month = monthly["period"].str[-2:].astype(int)
    label = monthly["period"].str[:5] + "Q" + ((month - 1) // 3 + 1).astype(str)
    return (monthly.assign(period=label).groupby(["rep_id", "period"], as_index=False)
            ["attainment"].mean())


def se_sigma_skill(reps: int, n: float, sigma_skill: float = SIGMA_SKILL,
                   noise: float = NOISE) -> float:
    """Large-sample se of sigma_skill: var(sigma^2) = 2 (sigma^2 + s^2/n)^2 / reps."""
    return (sigma_skill ** 2 + noise ** 2 / n) * math.sqrt(2 / reps) / (2 * sigma_skill)


def se_noise(reps: int, n: float, noise: float = NOISE) -> float:
    """Large-sample se of s: reps (n - 1) within-rep degrees of freedom."""
    return noise / math.sqrt(2 * reps * (n - 1))


@pytest.fixture(scope="module")
def balanced() -> Calibration:
    return fit_history(synthetic())


def write(folder: Path, text: str, name: str = "history.csv") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- recovery


def test_balanced_panel_recovers_parameters(balanced):
    """200 reps x 24 months: sigma_skill, noise, level and each month's factor are within
    4 se of the truth, and the reported se match the large-sample formulas within 20%."""
    cal, reps, n = balanced, 200, 24
    assert (cal.n_reps, cal.n_periods, cal.n_observations) == (200, 24, 4800)
    assert cal.period_kind == "month"
    assert cal.converged and cal.zeros_dropped == 0
    # The level averages each rep's log skill (and noise) over reps, and the market over the
    # history's months (the fit's market: small here, the data have none).
    t = np.arange(n)
    market_var = cal.market.month_covariance(t, t // 12).mean()
    se_level = LEVEL * math.sqrt((SIGMA_SKILL ** 2 + NOISE ** 2 / n) / reps + market_var)
    for est, se_rep, truth, se_true in [
        (cal.sigma_skill, cal.sigma_skill_se, SIGMA_SKILL, se_sigma_skill(reps, n)),
        (cal.noise_sigma, cal.noise_sigma_se, NOISE, se_noise(reps, n)),
        (cal.level, cal.level_se, LEVEL, se_level),
    ]:
        assert abs(est - truth) < 4 * se_true
        assert 0.8 < se_rep / se_true < 1.25
    assert cal.monthly_noise_sigma == cal.noise_sigma
    # Each month: 2 periods x 200 reps; skill cancels between months of the same reps; the
    # market adds the variance of its mean in the month against its mean over the history.
    contrast = np.tile(np.eye(12), 2) / 2 - 1 / n  # (12, 24)
    market_part = np.einsum("ij,jk,ik->i", contrast, cal.market.month_covariance(t, t // 12),
                            contrast)
    se_factor = SEASON * np.sqrt(NOISE ** 2 * (1 - 1 / 12) / (reps * n / 12) + market_part)
    np.testing.assert_array_less(np.abs(np.array(cal.seasonality) - SEASON), 4 * se_factor)
    assert 0.8 < np.mean(np.array(cal.season_factors_se) / se_factor) < 1.25
    assert math.isclose(np.mean(cal.seasonality), 1.0, abs_tol=1e-12)
    assert cal.months_present == tuple(range(1, 13))
    assert math.isclose(cal.icc, 1 / (1 + (cal.noise_sigma / cal.sigma_skill) ** 2))


def test_balanced_panel_fits_well(balanced):
    """Data from the model (with no market) pass every goodness-of-fit test and the market
    test does not reject; k counts the 12 season factors, the two sigmas and the three
    market parameters; no warning is raised."""
    assert balanced.residual_ks_pvalue > 0.01
    assert balanced.rep_means_ks_pvalue > 0.01
    assert balanced.market_fitted and balanced.n_fiscal_years == 2
    assert balanced.period_effects_df == 2 and balanced.period_effects_pvalue > 0.01
    assert balanced.n_parameters == 17
    assert balanced.aic == pytest.approx(2 * 17 - 2 * balanced.log_likelihood)
    assert balanced.bic == pytest.approx(17 * math.log(4800) - 2 * balanced.log_likelihood)
    assert balanced.warnings == ()


def test_log_likelihood_is_the_exact_marginal_likelihood_of_an_unbalanced_panel():
    """On an unbalanced panel of one year (no market fitted) the reported log-likelihood
    equals the sum over reps of the multivariate normal density of their log attainments
    (covariance s^2 I + sigma^2 J), and moving sigma_skill or s away from the estimate
    lowers it (it is the maximum). tests/sim/test_calibrate_market.py checks the crossed
    model's."""
    spans = np.array([(0, 3), (2, 7), (1, 11), (5, 4), (0, 9), (3, 5), (0, 12), (6, 6)])
    history = synthetic(reps=8, spans=spans, seed=5)
    cal = fit_history(history)
    assert not cal.market_fitted
    y = np.log(history["attainment"].to_numpy())
    month = history["period"].str[-2:].astype(int).to_numpy()

    def loglik(sa: float, s: float) -> float:
        mean = np.log(cal.level * np.array(cal.seasonality)[month - 1]) - cal.noise_sigma ** 2 / 2
        total = 0.0
        for rows in history.groupby("rep_id").indices.values():
            cov = s * s * np.eye(len(rows)) + sa * sa * np.ones((len(rows), len(rows)))
            total += stats.multivariate_normal(mean[rows], cov).logpdf(y[rows])
        return total

    best = loglik(cal.sigma_skill, cal.noise_sigma)
    assert cal.log_likelihood == pytest.approx(best, rel=1e-9)
    for sa, s in [(1.02, 1), (0.98, 1), (1, 1.02), (1, 0.98)]:
        assert loglik(cal.sigma_skill * sa, cal.noise_sigma * s) < best


def test_unbalanced_panel_recovers_parameters():
    """300 reps with 3 to 24 months each, starting at different months: the estimates are
    within 4 reported se of the truth, and the reported se lie between those of balanced
    panels with the fewest and the most periods per rep."""
    rng = np.random.default_rng(11)
    counts = rng.integers(3, 25, 300)
    spans = np.column_stack([rng.integers(0, 25 - counts + 1), counts])
    cal = fit_history(synthetic(reps=300, spans=spans, seed=12))
    assert cal.periods_per_rep[0] == counts.min() and cal.periods_per_rep[2] == counts.max()
    assert cal.n_observations == counts.sum()
    assert abs(cal.sigma_skill - SIGMA_SKILL) < 4 * cal.sigma_skill_se
    assert abs(cal.noise_sigma - NOISE) < 4 * cal.noise_sigma_se
    assert abs(cal.level - LEVEL) < 4 * cal.level_se
    np.testing.assert_array_less(np.abs(np.array(cal.season_factors) - SEASON),
                                 4 * np.array(cal.season_factors_se))
    fit = {"sigma_skill": cal.sigma_skill, "noise": cal.noise_sigma}
    assert se_sigma_skill(300, 24, **fit) < cal.sigma_skill_se < se_sigma_skill(300, 3, **fit)
    s = cal.noise_sigma
    assert se_noise(300, 24, s) < cal.noise_sigma_se < se_noise(300, 3, s)


def test_quarterly_history_gives_monthly_noise_and_quarter_seasonality():
    """Quarterly attainment (the mean of three monthly ones) fits the quarterly noise, whose
    monthly equivalent (CV_q^2 = CV_m^2 / 3) recovers the monthly sigma; each quarter's
    factor (the mean of its months') applies to its three months."""
    cal = fit_history(quarterly(synthetic(reps=300, months=36, seed=3)))
    assert (cal.period_kind, cal.months_per_period, cal.n_periods) == ("quarter", 3, 12)
    assert cal.season_labels == ("Jan-Mar", "Apr-Jun", "Jul-Sep", "Oct-Dec")
    s_q = math.sqrt(math.log1p(math.expm1(NOISE ** 2) / 3))
    assert abs(cal.noise_sigma - s_q) < 4 * se_noise(300, 12, s_q)
    assert abs(cal.monthly_noise_sigma - NOISE) < 4 * cal.monthly_noise_sigma_se
    s, s_m = cal.noise_sigma, cal.monthly_noise_sigma  # delta method: d s_m / d s
    assert cal.monthly_noise_sigma_se == pytest.approx(
        cal.noise_sigma_se * 3 * s * math.exp(s * s) / (s_m * math.exp(s_m * s_m)), rel=1e-9)
    assert abs(cal.sigma_skill - SIGMA_SKILL) < 4 * se_sigma_skill(300, 12, noise=s_q)
    quarter_season = SEASON.reshape(4, 3).mean(axis=1)
    np.testing.assert_array_less(np.abs(np.array(cal.season_factors) - quarter_season),
                                 4 * np.array(cal.season_factors_se))
    assert cal.seasonality == tuple(np.repeat(cal.season_factors, 3))
    assert any("derived from the quarterly one" in w for w in cal.warnings)


def test_written_scenario_reproduces_its_history_through_the_production_model(tmp_path, balanced):
    """A history produced by the simulator's own production model (baseline effort, no ramp)
    from a calibrated scenario fits back to that scenario's skill, noise, level and
    seasonality: calibration and simulation share their conventions."""
    path = write_calibrated_scenario(balanced, tmp_path / "cal.yaml")
    sc = load_scenario(path)
    prod = Production(sc)
    rng = np.random.default_rng(8)
    reps, months = 200, 24
    skill = sc.skill.sample(rng, reps)
    quota = np.full(reps, 120.0)
    effort = np.ones((len(sc.activities), reps))
    rows = []
    for t in range(months):
        expected = prod.expected(effort, skill, quota, sc.seasonality[t % 12], np.ones(reps))
        actual = prod.realize(expected, effort, rng.uniform(size=(len(prod.outputs), reps)),
                              rng.normal(size=(len(prod.outputs), reps)))[sc.primary_measure]
        rows += [(f"R{i}", f"{2025 + t // 12}-{t % 12 + 1:02d}", a / 10.0)
                 for i, a in enumerate(actual)]
    cal = fit_history(pd.DataFrame(rows, columns=["rep_id", "period", "attainment"]))
    out = sc.output(sc.primary_measure)
    sa, s = sc.skill.get("sigma"), out.get("sigma")
    assert abs(cal.sigma_skill - sa) < 4 * se_sigma_skill(reps, months, sa, s)
    assert abs(cal.noise_sigma - s) < 4 * se_noise(reps, months, s)
    assert abs(cal.level - out.get("level")) < 4 * cal.level_se
    np.testing.assert_array_less(np.abs(np.array(cal.seasonality) - sc.seasonality),
                                 4 * np.array(cal.season_factors_se))


def test_no_skill_differences_put_sigma_skill_at_zero():
    """When reps differ by no more than noise, the likelihood is highest at sigma_skill = 0:
    it is reported as 0 without a standard error, with a warning, and the noise (then
    estimated with one degree of freedom per observation) is still recovered."""
    cal = fit_history(synthetic(reps=100, months=12, sigma_skill=0.0, seed=3))
    assert cal.sigma_skill == 0.0 and math.isnan(cal.sigma_skill_se) and cal.icc == 0.0
    assert abs(cal.noise_sigma - NOISE) < 4 * NOISE / math.sqrt(2 * 1200)
    assert cal.noise_sigma_se == pytest.approx(cal.noise_sigma / math.sqrt(2 * 1200), rel=0.05)
    assert any(w.startswith("sigma_skill is 0") for w in cal.warnings)
    assert re.search(r"sigma_skill +0.000 ± n/a", calibration_report(cal))


def test_fiscal_quarters_are_placed_in_their_calendar_months():
    """With fiscal_year_start 4, a quarter labelled Q1 is April to June: its factor lands on
    months 4-6."""
    history = quarterly(synthetic(reps=40, months=24, seed=4))
    boosted = history["period"].str.endswith("Q1")
    history.loc[boosted, "attainment"] *= 1.5
    cal = fit_history(load_history(history, fiscal_year_start=4))
    assert cal.season_labels == ("Jan-Mar", "Apr-Jun", "Jul-Sep", "Oct-Dec")
    assert max(cal.seasonality) == cal.seasonality[3] == cal.seasonality[5]


def test_zero_attainments_are_left_out_and_counted():
    """Zero attainments are dropped (the lognormal model has none): the fit equals the fit
    without them, and the count, a warning and reps with nothing but zeros are reported."""
    history = synthetic(reps=30, months=12, seed=4)
    history.loc[[3, 40, 41], "attainment"] = 0.0
    history.loc[history["rep_id"] == "R029", "attainment"] = 0.0
    cal = fit_history(history)
    without = fit_history(history[history["attainment"] > 0].reset_index(drop=True))
    assert cal.zeros_dropped == 15 and cal.reps_dropped == ("R029",)
    assert cal.n_reps == 29 and without.zeros_dropped == 0
    assert (cal.sigma_skill, cal.noise_sigma, cal.level) == (
        without.sigma_skill, without.noise_sigma, without.level)
    assert any(w.startswith("15 zero attainments (4.2%) were left out (and reps R029")
               for w in cal.warnings)
    assert "zero attainments left out of the fit: 15" in calibration_report(cal)


def test_team_wide_shocks_are_the_market():
    """A shock shared by the whole team in each period (independent, sd 0.1) fails the
    market test and is fitted as the market (total sd within 2.5 se of 0.1), not counted as
    rep noise; no warning says the simulator does not model it."""
    history = synthetic(reps=100, months=24, seed=6)
    shock = {p: f for p, f in zip(sorted(history["period"].unique()),
                                  np.exp(np.random.default_rng(7).normal(0, 0.1, 24)))}
    history["attainment"] *= history["period"].map(shock)
    cal = fit_history(history)
    assert cal.period_effects_pvalue < 1e-6
    assert abs(cal.market_sd - 0.1) < 2.5 * cal.market_sd_se
    assert abs(cal.noise_sigma - NOISE) < 4 * se_noise(100, 24)
    assert not any("not model" in w for w in cal.warnings)


def test_non_lognormal_noise_fails_the_residual_test():
    """Noise that is uniform on the log scale (light tails) fails the residual KS test."""
    history = synthetic(reps=200, months=24, noise=1e-9, seed=9)
    history["attainment"] *= np.exp(np.random.default_rng(10).uniform(-0.45, 0.45, len(history)))
    cal = fit_history(history)
    assert cal.residual_ks_pvalue < 1e-4
    assert any(w.startswith("the standardized residuals are not normal") for w in cal.warnings)


def test_partial_year_and_few_periods_are_warned():
    """A history of 5 months for 10 reps: months not covered get factor 1.0 and every
    limitation (few periods per rep, few reps, months missing, one period per month of the
    year) is a warning."""
    cal = fit_history(synthetic(reps=10, months=5, seed=2, first=(2026, 3)))
    assert cal.months_present == (3, 4, 5, 6, 7)
    assert [cal.seasonality[m] for m in (0, 1, 7, 8, 9, 10, 11)] == [1.0] * 7
    assert math.isclose(np.mean(cal.seasonality[2:7]), 1.0)
    assert cal.period_effects_pvalue is None
    text = " | ".join(cal.warnings)
    for part in ["few periods per rep (median 5)", "only 10 reps",
                 "does not cover Jan, Feb, Aug, Sep, Oct, Nov, Dec: seasonality 1.0 there",
                 "5 of the 5 months of the year appear in only one period"]:
        assert part in text


# --------------------------------------------------------------------------- loading


def test_history_with_actual_and_target_and_canonical_labels(tmp_path):
    """``actual`` / ``target`` give the attainment; labels are canonical; the source and
    period kind are kept in ``attrs``; loading a loaded history changes nothing."""
    path = write(tmp_path, """
        rep_id,period,actual,target
        A, 2026-Q1 ,50,100
        A,2026-Q2,120,100
        B,2026-Q1,0,80
        B,2026-Q3,40,80
    """)
    h = load_history(path)
    assert list(h.columns) == ["rep_id", "period", "attainment"]
    assert list(h.index) == [2, 3, 4, 5]
    assert list(h["period"]) == ["2026-Q1", "2026-Q2", "2026-Q1", "2026-Q3"]
    assert list(h["attainment"]) == [0.5, 1.2, 0.0, 0.5]
    assert (h.attrs["source"], h.attrs["period_kind"]) == (str(path), "quarter")
    again = load_history(h)
    pd.testing.assert_frame_equal(again, h)
    assert again.attrs["source"] == str(path)


def test_parquet_history_is_read(tmp_path):
    """A Parquet history loads like a CSV one."""
    path = tmp_path / "h.parquet"
    synthetic(reps=3, months=4).to_parquet(path)
    assert len(load_history(path)) == 12


ERRORS = [
    # (csv text, [(row, column, rep, code, message, hint)])
    ("""
        rep_id,period,attainmnet
        A,2026-01,1
     """, [(None, "attainment", None, "missing-column",
            "no column 'attainment' in the history (nor 'actual' and 'target')",
            "did you mean 'attainmnet'?")]),
    ("""
        rep,period,actual
        A,2026-01,1
     """, [(None, "rep_id", None, "missing-column", "no column 'rep_id' in the history",
            "did you mean 'rep'?"),
           (None, "target", None, "missing-column",
            "no column 'target' in the history (attainment is actual / target)",
            "its columns are 'rep', 'period', 'actual'")]),
    ("""
        rep_id,period,attainment
        A,2026-01,0.9
        A,2026-02,lots
        A,2026-03,-0.2
        B,2026-01,
        B,2026-13,1.0
        B,2026-Q1,1.0
        ,2026-02,1.0
        B,,1.1
        A,2026-02,1.0
     """, [(3, "attainment", "A", "not-a-number",
            "'attainment' must be a finite number (got 'lots')", None),
           (4, "attainment", "A", "negative-value",
            "'attainment' must not be negative (got -0.2)", NEGATIVE_HINT),
           (5, "attainment", "B", "missing-value", "'attainment' is empty", None),
           (6, "period", "B", "bad-period",
            "expected a month label like 2027-01 (got '2026-13')", None),
           (7, "period", "B", "bad-period", "expected a month label like 2027-01 (got '2026-Q1')",
            "the other periods in the history are months: use one period length throughout"),
           (8, "rep_id", None, "missing-value", "'rep_id' is empty", None),
           (9, "period", "B", "missing-value", "'period' is empty", None),
           (10, "period", "A", "duplicate-row",
            "a second row for rep 'A' in period 2026-02 (the first is row 3)",
            "keep one row per rep and period (add up split rows first)")]),
    ("""
        rep_id,period,actual,target
        A,2026-01,10,0
        A,2026-02,10,20
        B,2026-03,x,20
     """, [(2, "target", "A", "not-positive", "'target' must be positive (got 0)",
            "attainment is actual / target: leave out periods without a target"),
           (4, "actual", "B", "not-a-number", "'actual' must be a finite number (got 'x')", None)]),
    ("""
        rep_id,period,attainment
        A,2026-01,1
        A,2026-02,1
        A,2026-03,1
     """, [(None, None, None, "too-few-reps",
            ("the history has 1 rep; calibration needs at least 2 "
             "(skill dispersion is the spread between reps)"),
            "include every rep of the team, one row per rep and period")]),
    ("""
        rep_id,period,attainment
        A,2026-Q1,1
        A,2026-Q2,1
        B,2026-Q1,1
     """, [(None, None, None, "too-few-periods",
            ("the history has 2 distinct quarter periods; calibration needs at least 3 "
             "(to tell noise from skill and seasonality)"),
            ("give more periods of history (a year of months or two years of quarters is a "
             "good start)"))]),
    ("""
        rep_id,period,attainment
        A,2026-01,1
        B,2026-02,1
        C,2026-03,1
     """, [(None, None, None, "too-few-periods",
            "no rep has more than one period: skill and noise cannot be told apart",
            "give at least two periods for some reps")]),
    ("""
        rep_id,period,attainment
        A,March,1
     """, [(2, "period", "A", "bad-period",
            "expected a period label like 2026-03 (month) or 2026-Q1 (quarter) (got 'March')",
            None),
           (None, None, None, "too-few-reps",
            ("the history has 0 reps; calibration needs at least 2 (skill dispersion is the "
             "spread between reps)"), "include every rep of the team, one row per rep and period"),
           (None, None, None, "too-few-periods",
            ("the history has 0 distinct periods; calibration needs at least 3 (to tell noise "
             "from skill and seasonality)"),
            ("give more periods of history (a year of months or two years of quarters is a "
             "good start)"))]),
]


@pytest.mark.parametrize("text, expected", ERRORS, ids=range(len(ERRORS)))
def test_data_errors_name_row_column_and_rep(tmp_path, text, expected):
    """Each bad input gives exactly these errors (spreadsheet rows: header = 1), in row
    order, each naming the file."""
    path = write(tmp_path, text)
    with pytest.raises(DataErrors) as caught:
        load_history(path)
    got = [(e.row, e.column, e.rep, e.code, e.message, e.hint) for e in caught.value.errors]
    assert got == expected
    assert all(e.file == str(path) for e in caught.value.errors)


def test_too_little_left_after_zeros():
    """When dropping zero attainments leaves one rep, the fit says so."""
    history = synthetic(reps=2, months=4)
    history.loc[history["rep_id"] == "R001", "attainment"] = 0.0
    with pytest.raises(DataErrors) as caught:
        fit_history(history)
    (error,) = caught.value.errors
    assert (error.code, error.file, error.message) == (
        "too-few-reps", "history", ("after leaving out 4 zero attainments, the history has "
        "1 rep with a positive attainment; calibration needs at least 2"))


def test_missing_file_is_a_data_error(tmp_path):
    """A history file that does not exist is a DataError (from read_table)."""
    with pytest.raises(DataError) as caught:
        load_history(tmp_path / "nope.csv")
    assert caught.value.code == "unreadable-file"


# --------------------------------------------------------------------------- writing


def test_written_scenario_loads_with_the_fitted_values(tmp_path):
    """The default scenario calibrated to a history file loads, carries the fitted skill,
    level, monthly lognormal noise (no deal parameters) and seasonality, is named after the
    history file, starts with the fit summary, and keeps every other setting."""
    source = tmp_path / "team 2026.csv"
    synthetic(reps=50, months=12, seed=3).to_csv(source, index=False)
    cal = fit_history(load_history(source))
    path = write_calibrated_scenario(cal, tmp_path / "out" / "cal.yaml")
    sc = load_scenario(path)
    assert sc.name == "calibrated_team_2026"
    assert sc.skill.kind == "lognormal" and sc.skill.get("median") == 1.0
    assert sc.skill.get("sigma") == pytest.approx(cal.sigma_skill, rel=1e-3)
    out = sc.output("revenue")
    assert out.get("noise") == "lognormal"
    assert out.get("sigma") == pytest.approx(cal.monthly_noise_sigma, rel=1e-3)
    assert out.get("level") == pytest.approx(cal.level, rel=1e-3)
    assert out.get("deals_per_month") is None and out.get("size_sigma") is None
    np.testing.assert_allclose(sc.seasonality, cal.seasonality, rtol=1e-3)
    base = load_scenario(DEFAULT_SCENARIO)
    # The label says what the scenario was fitted to, then the base's description.
    assert sc.label == (f"Calibrated to {Path(cal.source).name} ({cal.n_reps} reps, {cal.first_period} to "
                        f"{cal.last_period}); team and behaviour of: {base.label}")
    for key in ("reps", "teams", "effort_cost", "activities", "morale", "attrition",
                "timing_max_shift", "primary_measure", "effort_grid", "ramp_months"):
        assert getattr(sc, key) == getattr(base, key), key
    assert [o for o in sc.outputs if o.name != "revenue"] == \
        [o for o in base.outputs if o.name != "revenue"]
    text = path.read_text()
    summary = " ".join(line[2:] for line in text.split("\n\n")[0].splitlines())
    for part in [f"the built-in default scenario fitted to the history in {source}",
                 "50 reps, 12 monthly periods (600 rep-periods, 0 zero attainments left out)",
                 f"sigma_skill {cal.sigma_skill:.3f}",
                 f"noise sigma {cal.noise_sigma:.3f} per month", f"level {cal.level:.3f}",
                 "residual KS p-value"]:
        assert part in summary, part
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cal.yaml"]


BASE_BLOCK = """
    # My team's scenario.
    # Second header line.
    scenario: my_team
    label: "Mine"

    reps:
      # Skill comment, replaced.
      skill: {dist: lognormal, median: 1.0, sigma: 0.25}
      # Effort comment, kept.
      effort_cost: {dist: lognormal, median: 2.0, sigma: 0.3}

    activities:
      selling: {share: 1.0}

    outputs:
      revenue:
        kind: amount
        activity: selling
        level: 0.95          # level comment
        elasticity: 0.7      # kept comment
        noise: deals         # deals comment
        deals_per_month: 4
        size_sigma: 0.8      # size comment

    # Seasonality comment, replaced.
    seasonality: [0.90, 0.95, 1.05, 0.95, 1.00, 1.05, 0.90, 0.90, 1.05, 1.00, 1.05, 1.20]

    # Ramp comment, kept.
    ramp: {months: 5, start: 0.25}
"""
EXPECTED_BLOCK = """
    # Calibrated scenario: base.yaml fitted to the history in hist.csv
    # (`incentive calibrate`). Fit: 40 reps, 12 monthly periods (480 rep-periods, 2 zero
    # attainments left out); sigma_skill 0.300, noise sigma 0.250 per month, level 0.950,
    # market sd 0.091 per month, residual KS p-value 0.500. Fitted keys: reps.skill,
    # outputs.revenue (level, noise), seasonality, market (year_sigma, rho, month_sigma); the
    # rest is the base scenario's. The level includes the effort reps gave under the plan the
    # history was paid under.

    scenario: calibrated_hist
    label: "Calibrated to hist.csv (40 reps, 2025-01 to 2026-12); team and behaviour of: Mine"

    reps:
      # Productivity multiplier: expected output at baseline effort = level x quota/12 x skill.
      # Fitted to hist.csv: sigma is the spread of log attainment between reps (se 0.015).
      skill: {dist: lognormal, median: 1.0, sigma: 0.3}
      # Effort comment, kept.
      effort_cost: {dist: lognormal, median: 2.0, sigma: 0.3}

    activities:
      selling: {share: 1.0}

    outputs:
      revenue:
        kind: amount
        activity: selling
        level: 0.95          # fitted (se 0.020): median-skill rep's attainment in the history
        elasticity: 0.7      # kept comment
        noise: lognormal     # fitted to the history
        sigma: 0.25          # fitted monthly noise (se 0.003)

    # Monthly demand factors, January first (mean 1), fitted to hist.csv.
    # Months not in the history (Jan): 1.0.
    seasonality: [1.0, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1]

    # The market moves every rep of a run together: each month's demand is multiplied by
    # exp(x - var/2), x = a plan-year level shock (sd year_sigma) + an AR(1) monthly part
    # (coefficient rho, innovation sd month_sigma). Fitted to hist.csv (2 fiscal years;
    # posterior mode, prior centred on year_sigma 0.1, rho 0.6, month_sigma 0.05):
    # year_sigma 0.080 (se 0.030), rho 0.50 (se 0.20), month_sigma 0.040 (se 0.010); total
    # sd of a month's log factor 0.091 (se 0.030). team_share is not fitted.
    market: {year_sigma: 0.08, rho: 0.5, month_sigma: 0.04, team_share: 0.0}

    # Ramp comment, kept.
    ramp: {months: 5, start: 0.25}
"""


def test_calibration_edits_only_the_fitted_lines(tmp_path, monkeypatch, balanced):
    """Written from a commented base, the scenario is the base's text with exactly these
    changes: the opening comment becomes the fit summary; the name, skill, level, noise and
    seasonality lines change (their stale comments too); the deal parameters go; the monthly
    sigma is added, its comment aligned with the others'; the base has no market, so the
    fitted one is added after the seasonality with a comment giving its se."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, BASE_BLOCK, "base.yaml")
    season = (1.0, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1)
    cal = dataclasses.replace(
        balanced, source="hist.csv", n_reps=40, n_periods=12, n_observations=480,
        zeros_dropped=2, sigma_skill=0.3, sigma_skill_se=0.015, noise_sigma=0.25,
        noise_sigma_se=0.003, monthly_noise_sigma=0.25, monthly_noise_sigma_se=0.003,
        level=0.95, level_se=0.02, residual_ks_pvalue=0.5, seasonality=season,
        months_present=tuple(range(2, 13)), n_fiscal_years=2, market_fitted=True,
        market=MarketModel(0.08, 0.5, 0.04), market_prior=MarketModel(0.1, 0.6, 0.05),
        market_parameters=(MarketParameter("year_sigma", 0.08, 0.03, 0.1, "log", 0.7, 0.6),
                           MarketParameter("rho", 0.5, 0.2, 0.6, "atanh", 0.5, 0.4),
                           MarketParameter("month_sigma", 0.04, 0.01, 0.05, "log", 0.7, 0.3)),
        market_sd=0.0914, market_sd_se=0.03)
    path = write_calibrated_scenario(cal, "cal.yaml", base="base.yaml")
    expected = textwrap.dedent(EXPECTED_BLOCK).lstrip("\n")
    assert path.read_text() == expected
    load_scenario(path)


def test_written_scenario_marks_months_not_in_the_history(tmp_path):
    """Months the history does not cover are 1.0, and a comment says which they are."""
    cal = fit_history(synthetic(reps=20, months=6, seed=2, first=(2026, 4)))
    path = write_calibrated_scenario(cal, tmp_path / "cal.yaml", name="spring")
    sc = load_scenario(path)
    assert sc.name == "spring"
    assert [sc.seasonality[m] for m in (0, 1, 2, 9, 10, 11)] == [1.0] * 6
    assert "# Months not in the history (Jan, Feb, Mar, Oct, Nov, Dec): 1.0." in path.read_text()


def test_quarterly_calibration_writes_the_monthly_sigma(tmp_path):
    """A scenario from quarterly history carries the monthly sigma and repeats each
    quarter's factor over its months."""
    cal = fit_history(quarterly(synthetic(reps=40, months=24, seed=13)))
    sc = load_scenario(write_calibrated_scenario(cal, tmp_path / "q.yaml"))
    assert sc.output("revenue").get("sigma") == pytest.approx(cal.monthly_noise_sigma, rel=1e-3)
    assert cal.monthly_noise_sigma > cal.noise_sigma
    np.testing.assert_allclose(sc.seasonality, np.repeat(cal.season_factors, 3), rtol=1e-3)


BASE_FLOW = """
    scenario: flow_team
    reps: {skill: {dist: lognormal, median: 1.0, sigma: 0.5}, effort_cost: 2.0}
    outputs:
      sales: {kind: amount, activity: selling, level: 1.2, noise: deals, deals_per_month: 3,
              size_sigma: 0.5}
    activities:
      selling: {share: 1.0}
    primary: {measure: sales}
"""
BASE_MINIMAL = """
    # just a name
    scenario: tiny
"""


@pytest.mark.parametrize("base_text, primary", [(BASE_FLOW, "sales"), (BASE_MINIMAL, "revenue")])
def test_other_bases_get_the_fitted_values(tmp_path, balanced, base_text, primary):
    """A base written in flow style, or one that leaves reps, outputs and seasonality to
    their defaults, still gets every fitted value, and the rest of it is kept."""
    base = write(tmp_path, base_text, "base.yaml")
    path = write_calibrated_scenario(balanced, tmp_path / "cal.yaml", base=str(base))
    sc = load_scenario(path)
    out = sc.output(primary)
    assert (out.get("noise"), out.get("deals_per_month")) == ("lognormal", None)
    assert out.get("level") == pytest.approx(balanced.level, rel=1e-3)
    assert out.get("sigma") == pytest.approx(balanced.noise_sigma, rel=1e-3)
    assert sc.skill.get("sigma") == pytest.approx(balanced.sigma_skill, rel=1e-3)
    np.testing.assert_allclose(sc.seasonality, balanced.seasonality, rtol=1e-3)
    assert f"fitted to the history in {balanced.source}" in path.read_text().replace("\n# ", " ")
    base_sc = load_scenario(base)
    assert [o.name for o in sc.outputs] == [o.name for o in base_sc.outputs]
    assert sc.effort_cost == base_sc.effort_cost


def test_a_relative_roster_still_points_at_its_file(tmp_path, balanced):
    """A base scenario's relative roster path is rewritten relative to where the calibrated
    scenario is written, so that both name the same file."""
    (tmp_path / "base" / "data").mkdir(parents=True)
    base = write(tmp_path / "base", """
        scenario: rostered
        team: {roster: data/roster.csv, teams: 1}   # our people
    """, "base.yaml")
    path = write_calibrated_scenario(balanced, tmp_path / "out" / "cal.yaml", base=base)
    assert load_scenario(path).roster == str(tmp_path / "out" / "../base/data/roster.csv")
    assert 'team: {roster: "../base/data/roster.csv", teams: 1}   # our people' in path.read_text()


def test_a_failed_write_leaves_no_file(tmp_path, balanced):
    """An invalid scenario name is refused before anything is written: an existing file is
    untouched and no temporary file is left behind."""
    target = tmp_path / "cal.yaml"
    target.write_text("previous\n")
    with pytest.raises(PlanErrors) as caught:
        write_calibrated_scenario(balanced, target, name="2bad name")
    assert caught.value.codes == ["bad-identifier"]
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cal.yaml"]


# --------------------------------------------------------------------------- report


def test_report_mentions_every_statistic(balanced):
    """The report shows each parameter with its standard error, each fit statistic with
    what it means, the simulated rep-mean quantiles, and the warnings section."""
    b = balanced
    text = re.sub(r" {2,}", "  ", calibration_report(b))  # columns: any run of spaces
    for part in [
        "Calibration of history", "200 reps, 24 monthly periods (2025-01 to 2026-12)",
        "zero attainments left out of the fit: 0",
        f"sigma_skill  {b.sigma_skill:.3f} ± {b.sigma_skill_se:.3f}  spread of log skill",
        f"noise sigma (month)  {b.noise_sigma:.3f} ± {b.noise_sigma_se:.3f}  noise of log",
        f"level  {b.level:.3f} ± {b.level_se:.3f}  expected attainment of a median-skill rep",
        "Seasonality (mean 1 over the months of the year present)",
        f"Dec {b.season_factors[11]:.3f} ± {b.season_factors_se[11]:.3f}",
        f"log-likelihood  {b.log_likelihood:.1f}  of log attainment", f"AIC  {b.aic:.1f}  2k - 2",
        f"BIC  {b.bic:.1f}  k ln(n)", f"ICC  {b.icc:.3f}  share of log-attainment variance",
        f"residual KS  D {b.residual_ks_statistic:.3f}, p {b.residual_ks_pvalue:.3f}  standardized",
        f"rep means KS  D {b.rep_means_ks_statistic:.3f}, p {b.rep_means_ks_pvalue:.3f}  per-rep",
        "p10/p50/p90 observed {:.2f}/{:.2f}/{:.2f}, predicted {:.2f}/{:.2f}/{:.2f}".format(
            *b.rep_means_observed, *b.rep_means_predicted),
        f"market LR  LR {b.period_effects_lr:.1f}, p {b.period_effects_pvalue:.3f}  team-wide",
        "Market (fitted to 2 fiscal years: separable from seasonality",
        f"year_sigma  {b.market.year_sigma:.3f} ± {b.market_parameters[0].se:.3f}  prior 0.1",
        f"total sd (month)  {b.market_sd:.3f} ± {b.market_sd_se:.3f}",
        "Warnings: none",
    ]:
        assert part in text, part


def test_report_lists_warnings_and_quarterly_sigma():
    """A report on a short quarterly history shows the monthly sigma and each warning."""
    cal = fit_history(quarterly(synthetic(reps=12, months=12, seed=1)))
    text = calibration_report(cal)
    assert "noise sigma (month)" in text and "noise sigma (quarter)" in text
    assert "\nWarnings\n" in text
    for w in cal.warnings:
        assert f"  - {w}" in text


# --- the shipped sample history, and what a user sees on a history it cannot fit ------------

SAMPLE_HISTORY = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "field_team_history.csv"


def test_shipped_sample_history_calibrates_and_labels_the_scenario(tmp_path):
    """The sample history fits, and the written scenario's label says what it was fitted to
    (not the base's "120 reps in 12 teams")."""
    from engine.data.history import load_history
    from engine.sim.calibrate import fit_history
    from engine.sim.calibrated_scenario import write_calibrated_scenario
    from engine.sim.scenario import load_scenario

    cal = fit_history(load_history(SAMPLE_HISTORY))
    assert cal.n_reps >= 100 and cal.period_kind == "quarter"
    out = write_calibrated_scenario(cal, tmp_path / "cal.yaml")
    sc = load_scenario(out)
    assert sc.label.startswith(f"Calibrated to field_team_history.csv ({cal.n_reps} reps, 2025-Q1 to 2026-Q4)")


def test_negative_history_value_says_how_to_proceed(tmp_path):
    from engine.core.errors import DataErrors
    from engine.data.history import load_history

    path = tmp_path / "h.csv"
    rows = ["rep_id,period,actual,target"] + [f"R{i},2026-{m:02d},{1000 + 10 * i},1000"
                                              for i in range(12) for m in range(1, 7)]
    rows.append("R3,2026-07,-250.5,1000")
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataErrors) as info:
        load_history(path)
    (error,) = info.value.errors
    assert error.code == "negative-value" and error.rep == "R3" and error.row == len(rows)
    assert "by quarter" in (error.hint or "") and "credit notes" in (error.hint or "")
