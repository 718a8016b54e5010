"""The market: a demand factor shared by every rep of a run (engine/sim/market.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import PlanErrors
from engine.plan import load_plan
from engine.sim.market import MarketModel
from engine.sim.run import simulate
from engine.sim.scenario import default_scenario, parse_scenario
from engine.sim.simulate import Simulation

PLANS = Path(__file__).resolve().parents[2] / "scenarios" / "plans"
MODEL = MarketModel(year_sigma=0.10, rho=0.6, month_sigma=0.05)


def draws(model: MarketModel, n: int, months: int = 12, seed: int = 1) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal((n, (months + 11) // 12 + months + 1))
    return model.draw(z, months)


def test_draws_have_the_stated_variance_and_a_mean_one_factor():
    x = draws(MODEL, 200_000)
    assert np.allclose(x.var(axis=0), MODEL.var, rtol=0.03)
    assert np.allclose(MODEL.factor(x).mean(axis=0), 1.0, atol=0.002)
    # Lag-1 covariance: the level's variance plus rho times the monthly part's.
    lag1 = np.mean(x[:, 1:] * x[:, :-1])
    assert lag1 == pytest.approx(MODEL.year_sigma ** 2 + MODEL.rho * MODEL.month_var, rel=0.05)


def test_outlook_is_the_conditional_mean_and_variance():
    """What reps expect after seeing 6 months is the Gaussian conditional: residuals of the
    other 6 months have mean 0 and exactly the stated variance."""
    x = draws(MODEL, 200_000, seed=2)
    mean, var = MODEL.outlook(x[:, :6], 6)
    resid = x[:, 6:] - mean
    assert np.abs(resid.mean(axis=0)).max() < 0.001
    assert np.allclose(resid.var(axis=0), var, rtol=0.03)
    assert (np.diff(var) > 0).all() and var[-1] < MODEL.var  # the level seen so far still helps
    # Nothing seen: the prior.
    mean0, var0 = MODEL.outlook(x[:, :0], 3)
    assert np.all(mean0 == 0) and np.allclose(var0, MODEL.var)


def test_noisy_readings_of_periods_give_a_calibrated_posterior():
    """Readings of quarter averages with noise: the level's posterior covers the truth at the
    nominal rate (the forecast reads the market off quarterly actuals this way)."""
    rng = np.random.default_rng(3)
    x = draws(MODEL, 20_000, months=6, seed=4)
    weights = np.zeros((2, 6))
    weights[0, :3] = weights[1, 3:] = 1 / 3
    noise = np.array([0.03, 0.03]) ** 2
    readings = x @ weights.T + rng.normal(0, 0.03, (len(x), 2))
    got = MODEL.read(readings, noise, weights)
    z = np.random.default_rng(4).standard_normal((len(x), 1 + 6 + 1))  # as draws(): the level is z[:, 0] * year_sigma
    level = MODEL.year_sigma * z[:, 0]
    inside = np.abs(level - got.state[:, 0]) < 1.6449 * np.sqrt(got.cov[0, 0])
    assert inside.mean() == pytest.approx(0.90, abs=0.015)
    inside_m = np.abs(x - got.months) < 1.6449 * np.sqrt(got.months_var)
    assert inside_m.mean() == pytest.approx(0.90, abs=0.015)


def test_plans_compared_on_one_seed_share_the_market_path():
    sc = default_scenario().with_overrides(reps=20, teams=4)
    a = Simulation(load_plan(PLANS / "seeds_base_float_excess.yaml"), sc, 9)._begin(np.arange(5))
    b = Simulation(load_plan(PLANS / "kpi_scorecard.yaml"), sc, 9)._begin(np.arange(5))
    assert a.market is not None and b.market is not None
    assert np.array_equal(a.market.x, b.market.x)
    assert not np.allclose(a.market.x[0], a.market.x[1])  # runs differ
    # One market for the company: every team moves together.
    assert np.allclose(a.market.x[:, :1], a.market.x)


def test_team_share_gives_teams_their_own_correlated_markets():
    sc = default_scenario().with_overrides(reps=40, teams=4)
    sc = replace(sc, market=replace(sc.market, team_share=0.5))
    st = Simulation(load_plan(PLANS / "seeds_base_float_excess.yaml"), sc, 9)._begin(np.arange(4000))
    x = st.market.x[:, :, 5]
    corr = np.corrcoef(x[:, 0], x[:, 1])[0, 1]
    assert corr == pytest.approx(0.5, abs=0.05)
    assert np.allclose(x.var(axis=0), sc.market.var, rtol=0.08)


def test_reps_see_a_bad_first_half():
    """After six months of weak demand the reps expect less for the rest of the year."""
    sim = Simulation(load_plan(PLANS / "seeds_base_float_excess.yaml"), default_scenario().with_overrides(reps=10,
                     teams=2), 3)
    st = sim._begin(np.arange(2))
    st.market.x[0, :, :6] = -0.25
    st.market.x[1, :, :6] = 0.0
    sim._seat(st, 6)
    assert st.outlook is not None and st.outlook.shape[-1] == 6
    assert (st.outlook[0] < 0.9).all() and (st.outlook[1] > 0.97).all()


def test_the_market_widens_the_cost_distribution():
    """Plans' costs carry the market: the same runs without it have a much narrower cost P90."""
    plan = load_plan(PLANS / "seeds_base_float_excess.yaml")
    sc = default_scenario().with_overrides(reps=60, teams=6)
    with_market = simulate(plan, sc, runs=60, seed=5).per_run["cost"]
    without = simulate(plan, replace(sc, market=MarketModel(0.0, 0.0, 0.0)), runs=60, seed=5).per_run["cost"]
    spread = np.quantile(with_market, 0.9) - np.median(with_market)
    spread0 = np.quantile(without, 0.9) - np.median(without)
    assert spread > 1.8 * spread0


def test_market_section_is_validated():
    sc = parse_scenario("scenario: s\nmarket: {year_sigma: 0.2, rho: 0.5, month_sigma: 0.0}\n", "s.yaml")
    assert sc.market == MarketModel(0.2, 0.5, 0.0, 0.0)
    with pytest.raises(PlanErrors) as err:
        parse_scenario("scenario: s\nmarket:\n  rho: 1.5\n  sigma: 0.1\n", "s.yaml")
    text = err.value.render() if hasattr(err.value, "render") else str(err.value)
    assert "s.yaml:3" in text and "rho" in text and "sigma" in text
