"""Calibration with a market: skill, noise, season and market told apart (engine/sim/calibrate.py).

Histories are drawn here with numpy from the model the calibration fits (not with the
simulator): log attainment = log(level season[m]) + a_i + x[t] - V/2 + e, with x[t] the
market of engine/sim/market.py (a level shock per fiscal year plus a stationary AR(1)
monthly part) and V its stationary variance, so that the demand factor has mean 1.
Tolerances are in the standard errors the fit reports (2.5 se for the market, whose
standard errors come from the posterior) or in large-sample formulas (4 se).
"""

from __future__ import annotations

import math
import re
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.report.calibrate import calibration_report
from engine.sim.calibrate import fit_history
from engine.sim.calibrated_scenario import write_calibrated_scenario
from engine.sim.likelihood import (
    PRIOR_SD_ATANH_RHO,
    PRIOR_SD_LOG_MONTH_SIGMA,
    PRIOR_SD_LOG_YEAR_SIGMA,
    Crossed,
    Panel,
)
from engine.sim.market import MarketModel
from engine.sim.scenario import default_scenario, load_scenario
from tests.sim.test_calibrate import (
    LEVEL,
    NOISE,
    SEASON,
    SIGMA_SKILL,
    quarterly,
    se_noise,
    se_sigma_skill,
)

PRIOR = default_scenario().market  # the prior when none is given
TRUE = MarketModel(year_sigma=0.10, rho=0.6, month_sigma=0.05)


def market_path(rng: np.random.Generator, months: int, market: MarketModel) -> np.ndarray:
    """Log factors of ``months`` months from January of a fiscal year: a level per year and a
    stationary AR(1) monthly part."""
    level = np.repeat(rng.normal(0.0, market.year_sigma, (months + 11) // 12), 12)[:months]
    m = np.empty(months)
    m[0] = rng.normal(0.0, math.sqrt(market.month_var))
    for t in range(1, months):
        m[t] = market.rho * m[t - 1] + rng.normal(0.0, market.month_sigma)
    return level + m


def with_market(reps: int = 100, months: int = 24, market: MarketModel = TRUE, *,
                sigma_skill: float = SIGMA_SKILL, noise: float = NOISE, seed: int = 1,
                first_year: int = 2025) -> pd.DataFrame:
    """A monthly history from January ``first_year`` with the market ``market`` in it."""
    rng = np.random.default_rng(seed)
    x = market_path(rng, months, market)
    skill = rng.normal(0.0, sigma_skill, reps)
    t = np.arange(months)
    log_att = ((np.log(LEVEL * SEASON[t % 12]) + x - market.var / 2)[None, :] + skill[:, None]
               + rng.normal(-noise * noise / 2, noise, (reps, months)))
    labels = [f"{first_year + k // 12}-{k % 12 + 1:02d}" for k in t]
    return pd.DataFrame({"rep_id": np.repeat([f"R{i:04d}" for i in range(reps)], months),
                         "period": np.tile(labels, reps), "attainment": np.exp(log_att).ravel()})


# --------------------------------------------------------------------------- recovery


def test_two_years_recover_skill_noise_season_and_market():
    """100 reps x 24 months, 8 histories with the default market: the market's total sd is
    within 2.5 reported se of the truth every time (and within 1.96 se in at least 6 of 8),
    its se is informative (under half the estimate), the market test rejects "no market";
    sigma_skill and noise are within 4 se (large-sample formulas), the level within 3
    reported se (1.96 in at least 6 of 8; its se includes the market's: the history's two
    years are one draw of it), and the season factors within 4 reported se."""
    truth = math.sqrt(TRUE.var)
    within = level_within = 0
    for seed in range(8):
        cal = fit_history(with_market(seed=seed), simulations=5)
        assert cal.market_fitted and cal.n_fiscal_years == 2 and cal.converged
        z = (cal.market_sd - truth) / cal.market_sd_se
        assert abs(z) < 2.5, (seed, cal.market_sd, cal.market_sd_se)
        within += abs(z) < 1.96
        assert cal.market_sd_se < 0.5 * cal.market_sd
        assert cal.period_effects_pvalue < 0.01
        assert abs(cal.sigma_skill - SIGMA_SKILL) < 4 * se_sigma_skill(100, 24)
        assert abs(cal.noise_sigma - NOISE) < 4 * se_noise(100, 24)
        z_level = (cal.level - LEVEL) / cal.level_se
        assert abs(z_level) < 3.0, (seed, cal.level, cal.level_se)
        level_within += abs(z_level) < 1.96
        np.testing.assert_array_less(np.abs(np.array(cal.seasonality) - SEASON),
                                     4 * np.array(cal.season_factors_se))
        assert cal.market.team_share == PRIOR.team_share
    assert within >= 6 and level_within >= 6


def test_the_data_move_the_market_away_from_the_prior():
    """A market much busier month to month than the prior (month_sigma 0.12 against 0.05):
    the fitted month_sigma lands nearer the truth than the prior, the data removed most of
    its prior variance, while two years say little about year_sigma; the total sd is within
    2.5 se of the truth."""
    busy = MarketModel(year_sigma=0.10, rho=0.6, month_sigma=0.12)
    for seed in (0, 1):
        cal = fit_history(with_market(market=busy, seed=seed), simulations=5)
        ys, rho, ms = cal.market_parameters
        assert (ys.name, rho.name, ms.name) == ("year_sigma", "rho", "month_sigma")
        assert (ys.prior, rho.prior, ms.prior) == (PRIOR.year_sigma, PRIOR.rho, PRIOR.month_sigma)
        assert (ys.prior_sd, rho.prior_sd, ms.prior_sd) == (
            PRIOR_SD_LOG_YEAR_SIGMA, PRIOR_SD_ATANH_RHO, PRIOR_SD_LOG_MONTH_SIGMA)
        assert abs(ms.estimate - 0.12) < abs(ms.estimate - 0.05)
        assert ms.learned > 0.8 and ys.learned < 0.7
        assert ms.se == pytest.approx(ms.estimate * ms.posterior_sd)  # delta method, log scale
        assert rho.se == pytest.approx((1 - rho.estimate ** 2) * rho.posterior_sd)
        assert abs(cal.market_sd - math.sqrt(busy.var)) < 2.5 * cal.market_sd_se
        assert cal.market_sd == pytest.approx(math.sqrt(cal.market.var))


def test_no_market_rarely_rejects_and_shrinks_the_market():
    """Histories with no market (8 seeds, 100 reps x 24 months): the market test rejects at
    the 5% level in at most 2 of them (about 3% expected: the chi-bar-square is slightly
    conservative), and the estimates shrink below the prior: month_sigma and the total sd
    under the prior's every time, the total sd well under on average."""
    rejected, sds = 0, []
    for seed in range(8):
        cal = fit_history(with_market(market=MarketModel(0.0, 0.0, 0.0), seed=100 + seed),
                          simulations=5)
        rejected += cal.period_effects_pvalue < 0.05
        assert cal.market.month_sigma < PRIOR.month_sigma
        assert cal.market_sd < math.sqrt(PRIOR.var)
        sds.append(cal.market_sd)
    assert rejected <= 2
    assert np.mean(sds) < 0.7 * math.sqrt(PRIOR.var)


def test_quarterly_history_averages_the_market_over_each_quarter():
    """Quarterly attainment (the mean of three months) of 200 reps over three years: the
    market is fitted on the covariance of its three-month averages (its per-period variance
    is year_sigma^2 + month_var x the mean of rho^|i-j| over a quarter's months, less than a
    month's), its total sd per month is within 2.5 se of the truth, the level within 2.5 se
    and the monthly noise within 4 se."""
    cal = fit_history(quarterly(with_market(reps=200, months=36, seed=3)), simulations=5)
    assert (cal.period_kind, cal.n_periods, cal.n_fiscal_years, cal.market_fitted) == (
        "quarter", 12, 3, True)
    m = cal.market
    lag = np.abs(np.subtract.outer(np.arange(3), np.arange(3)))
    expected = m.year_sigma ** 2 + m.month_var * np.mean(np.power(m.rho, lag))
    assert cal.market_period_var == pytest.approx(expected, rel=1e-9)
    assert cal.market_period_var < m.var
    assert abs(cal.market_sd - math.sqrt(TRUE.var)) < 2.5 * cal.market_sd_se
    assert abs(cal.level - LEVEL) < 2.5 * cal.level_se
    assert abs(cal.monthly_noise_sigma - NOISE) < 4 * cal.monthly_noise_sigma_se


def test_sigma_skill_at_zero_with_a_market():
    """No skill differences and a market: sigma_skill is exactly 0 without a standard error
    (the boundary fit), with its warning, and the market and noise are still recovered."""
    cal = fit_history(with_market(sigma_skill=0.0, seed=2), simulations=5)
    assert cal.market_fitted
    assert cal.sigma_skill == 0.0 and math.isnan(cal.sigma_skill_se) and cal.icc == 0.0
    assert any(w.startswith("sigma_skill is 0") for w in cal.warnings)
    assert abs(cal.market_sd - math.sqrt(TRUE.var)) < 2.5 * cal.market_sd_se
    assert abs(cal.noise_sigma - NOISE) < 4 * NOISE / math.sqrt(2 * 2400)
    assert math.isfinite(cal.level_se) and math.isfinite(cal.market_sd_se)


def test_large_history_fits_in_seconds():
    """1,000 reps x 36 months (36,000 rep-periods) fit in well under 30 s (about 1-2 s
    here), and the market is recovered."""
    history = with_market(reps=1000, months=36, seed=3)
    start = time.perf_counter()
    cal = fit_history(history)
    elapsed = time.perf_counter() - start
    print(f"1,000 reps x 36 months: {elapsed:.1f} s")
    assert elapsed < 30
    assert cal.n_observations == 36_000 and cal.n_fiscal_years == 3
    assert abs(cal.market_sd - math.sqrt(TRUE.var)) < 2.5 * cal.market_sd_se


# --------------------------------------------------------------------------- the likelihood


def dense_loglik(history: pd.DataFrame, cal, length: int) -> float:
    """The multivariate normal density of all log attainments at the fitted values, with
    the full covariance s^2 I + sigma^2 Z_a Z_a' + Z_u A C A' Z_u' built explicitly."""
    y = np.log(history["attainment"].to_numpy())
    labels = sorted(history["period"].unique())
    period = np.searchsorted(labels, history["period"].to_numpy())
    year = np.array([int(p[:4]) for p in labels])
    first = np.array([(int(p[-1]) - 1) * 3 if length == 3 else int(p[5:]) - 1 for p in labels])
    months = (year * 12 + first)[:, None] + np.arange(length)[None, :]
    c = cal.market.month_covariance(months.ravel(), np.repeat(year, length))
    sigma_u = c.reshape(len(labels), length, len(labels), length).mean(axis=(1, 3))
    rep = pd.factorize(history["rep_id"])[0]
    same_rep = rep[:, None] == rep[None, :]
    s, sa = cal.noise_sigma, cal.sigma_skill
    cov = s * s * np.eye(len(y)) + sa * sa * same_rep + sigma_u[np.ix_(period, period)]
    start_month = first[period] % 12
    v_u = float(np.mean(np.diag(sigma_u)))
    assert cal.market_period_var == pytest.approx(v_u, rel=1e-9)
    mean = (np.log(cal.level * np.array(cal.seasonality)[start_month]) - s * s / 2 - v_u / 2)
    return float(stats.multivariate_normal(mean, cov).logpdf(y))


def test_crossed_log_likelihood_is_the_exact_gaussian_density():
    """On an unbalanced monthly panel over two fiscal years, the reported log-likelihood is
    the density of all log attainments jointly at the reported values (the Woodbury
    computation equals the dense one), which also checks the level convention (beta = log
    of level x season - s^2/2 - V_u/2)."""
    rng = np.random.default_rng(21)
    history = with_market(reps=9, months=20, seed=21)
    keep = rng.uniform(size=len(history)) < 0.7
    history = history[keep].reset_index(drop=True)
    cal = fit_history(history, simulations=2)
    assert cal.market_fitted and cal.n_periods == 20
    assert cal.log_likelihood == pytest.approx(dense_loglik(history, cal, 1), rel=1e-9)


def test_quarterly_crossed_log_likelihood_is_exact():
    """The same for quarterly history: the market covariance is averaged over each quarter's
    three months."""
    history = quarterly(with_market(reps=6, months=36, seed=22))
    cal = fit_history(history, simulations=2)
    assert cal.market_fitted and cal.period_kind == "quarter"
    assert cal.log_likelihood == pytest.approx(dense_loglik(history, cal, 3), rel=1e-9)


def test_standardized_residuals_are_exactly_decorrelated():
    """The residual test's transform W (residual -> z) satisfies W V W' = I for the full
    covariance V of a small crossed panel, built column by column from unit vectors."""
    reps, periods = 4, 14
    rep = np.repeat(np.arange(reps), periods)
    period = np.tile(np.arange(periods), reps)
    keep = np.random.default_rng(3).uniform(size=len(rep)) < 0.8
    rep, period = rep[keep], period[keep]
    group_of_period = np.arange(periods) % 12
    months = np.arange(periods, dtype=float)
    years = np.arange(periods) // 12
    sa2, s2, theta = 0.09, 0.0625, (0.1, 0.6, 0.05)
    n = len(rep)
    columns = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        panel = Panel(e, rep, group_of_period[period], reps, 12)
        crossed = Crossed(panel, period, group_of_period, months, years, 1)
        columns.append(crossed.residuals(np.zeros(12), sa2, s2, theta)[1])
    w = np.column_stack(columns)
    sigma_u = MarketModel(*theta).month_covariance(months, years)
    v = s2 * np.eye(n) + sa2 * (rep[:, None] == rep[None, :]) + sigma_u[np.ix_(period, period)]
    np.testing.assert_allclose(w @ v @ w.T, np.eye(n), atol=1e-10)


# --------------------------------------------------------------------------- one fiscal year


def test_one_fiscal_year_does_not_separate_market_and_season():
    """Twelve months of one fiscal year: the fit says the market is not separable (field,
    note and warning), fits the model without period effects and keeps the given market:
    the prior passed in, or the built-in default scenario's when none is."""
    history = with_market(reps=100, months=12, seed=4)
    given = MarketModel(year_sigma=0.2, rho=0.3, month_sigma=0.07, team_share=0.5)
    cal = fit_history(history, market_prior=given, simulations=5)
    assert not cal.market_fitted and cal.n_fiscal_years == 1
    assert cal.market == given and cal.market_prior == given
    assert cal.period_effects_lr is None and cal.period_effects_pvalue is None
    assert cal.n_parameters == 14 and cal.market_period_var == 0.0
    assert "not fitted" in cal.market_note and "one fiscal year" in cal.market_note
    assert any(w.startswith("the history covers one fiscal year, so the market") for w in cal.warnings)
    assert [p.estimate for p in cal.market_parameters] == [0.2, 0.3, 0.07]
    assert all(math.isnan(p.se) and math.isnan(p.learned) for p in cal.market_parameters)
    assert cal.market_sd == pytest.approx(math.sqrt(given.var)) and math.isnan(cal.market_sd_se)
    default = fit_history(history, simulations=5)
    assert default.market_prior == default.market == PRIOR
    assert "Market: not fitted (one fiscal year" in calibration_report(default)


# --------------------------------------------------------------------------- writing

BLOCK_MARKET = """
    scenario: my_team
    seasonality: [0.90, 0.95, 1.05, 0.95, 1.00, 1.05, 0.90, 0.90, 1.05, 1.00, 1.05, 1.20]
    # Our market, from the finance team.
    market:
      year_sigma: 0.2     # finance says
      rho: 0.3
      month_sigma: 0.07
      team_share: 0.5
    ramp: {months: 5, start: 0.25}
"""


@pytest.fixture(scope="module")
def two_years():
    return fit_history(with_market(seed=7), simulations=5)


def test_written_scenario_carries_the_fitted_market(tmp_path, two_years):
    """Written over the default scenario (a flow-style market), the scenario loads with the
    fitted market as written (4 significant digits), a comment giving each se and the
    history, the header listing the market among the fitted keys, and the report a market
    section."""
    cal = two_years
    path = write_calibrated_scenario(cal, tmp_path / "cal.yaml")
    sc = load_scenario(path)
    for key in ("year_sigma", "rho", "month_sigma", "team_share"):
        assert getattr(sc.market, key) == pytest.approx(getattr(cal.market, key), rel=5e-4, abs=1e-12)
    assert sc.market != PRIOR
    text = path.read_text()
    flat = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    ys, rho, ms = cal.market_parameters
    for part in ["Fitted to history (2 fiscal years", f"year_sigma {ys.estimate:.3f} (se {ys.se:.3f})",
                 f"rho {rho.estimate:.2f} (se {rho.se:.2f})", f"month_sigma {ms.estimate:.3f} (se {ms.se:.3f})",
                 f"total sd of a month's log factor {cal.market_sd:.3f} (se {cal.market_sd_se:.3f})",
                 "seasonality, market (year_sigma, rho, month_sigma); the rest is the base scenario's",
                 f"market sd {cal.market_sd:.3f} per month"]:
        assert part in flat, part
    assert "Comin & Mulani" not in text  # the base's stale citation went with its values
    assert text.count("\nmarket:") == 1
    report = calibration_report(cal)
    assert "Market (fitted to 2 fiscal years: separable from seasonality" in report
    assert "data removed" in report and "total sd (month)" in report


def test_a_block_style_market_gets_each_fitted_value(tmp_path, two_years):
    """A base whose market is a block mapping keeps its layout: each key's value is replaced
    (its stale comment too), the comment above says where the values come from, and
    team_share is written as the fit has it (the prior's)."""
    base = tmp_path / "base.yaml"
    base.write_text(textwrap.dedent(BLOCK_MARKET).lstrip("\n"))
    path = write_calibrated_scenario(two_years, tmp_path / "cal.yaml", base=base)
    sc = load_scenario(path)
    assert sc.market.year_sigma == pytest.approx(two_years.market.year_sigma, rel=5e-4)
    assert sc.market.month_sigma == pytest.approx(two_years.market.month_sigma, rel=5e-4)
    assert sc.market.team_share == two_years.market.team_share == 0.0
    text = path.read_text()
    assert "finance" not in text
    found = re.search(r"^  year_sigma: (\S+) +# fitted \(se ([0-9.]+)\)$", text, re.MULTILINE)
    assert found is not None
    assert float(found.group(1)) == sc.market.year_sigma
    assert float(found.group(2)) == pytest.approx(two_years.market_parameters[0].se, abs=1e-3)
    assert re.search(r"^  team_share: 0.0 +# not fitted$", text, re.MULTILINE)


def test_one_year_fallback_writes_the_base_market(tmp_path):
    """One fiscal year, fitted with the base's market as prior: the written scenario's market
    is the base's, its text unchanged, and the header says the market was not fitted."""
    base = tmp_path / "base.yaml"
    base.write_text(textwrap.dedent(BLOCK_MARKET).lstrip("\n"))
    base_sc = load_scenario(base)
    cal = fit_history(with_market(reps=60, months=12, seed=5), market_prior=base_sc.market,
                      simulations=5)
    path = write_calibrated_scenario(cal, tmp_path / "cal.yaml", base=base)
    assert load_scenario(path).market == base_sc.market == MarketModel(0.2, 0.3, 0.07, 0.5)
    written = path.read_text()
    block = BLOCK_MARKET[BLOCK_MARKET.index("# Our"):BLOCK_MARKET.index("ramp")]
    assert textwrap.dedent("    " + block.lstrip()) in written
    flat = " ".join(line.lstrip("# ") for line in written.splitlines() if line.startswith("#"))
    assert "the market is the one the fit was given (one fiscal year does not separate it" in flat
    assert f"market sd {math.sqrt(base_sc.market.var):.3f} per month (not fitted)" in flat


def test_a_fallback_market_other_than_the_base_is_written(tmp_path):
    """When the fit kept a market other than the base's (a caller gave another prior), that
    market is written: the scenario carries what the calibration says."""
    cal = fit_history(with_market(reps=40, months=12, seed=6),
                      market_prior=MarketModel(0.2, 0.3, 0.07, 0.5), simulations=5)
    path = write_calibrated_scenario(cal, tmp_path / "cal.yaml")  # the default base
    assert load_scenario(path).market == MarketModel(0.2, 0.3, 0.07, 0.5)
    assert "Not fitted: history covers one fiscal year" in path.read_text().replace("\n# ", " ")


def test_a_base_without_market_gets_one_after_the_seasonality(tmp_path, two_years):
    """A base with no market key gets one after its seasonality line, with its comment."""
    base = tmp_path / "base.yaml"
    base.write_text("scenario: plain\nseasonality: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
                    "ramp: {months: 5, start: 0.25}\n")
    path = write_calibrated_scenario(two_years, tmp_path / "cal.yaml", base=base)
    lines = Path(path).read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("market: {"))
    above = " ".join(x[2:] for x in lines[at - 6:at])
    assert lines[at - 1].startswith("# ") and above.endswith("team_share is not fitted.")
    assert lines.index(next(x for x in lines if x.startswith("seasonality:"))) < at
    assert lines[at + 1].startswith("ramp:")
    assert load_scenario(path).market.month_sigma == pytest.approx(two_years.market.month_sigma,
                                                                   rel=5e-4)
