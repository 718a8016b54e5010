"""The out-of-model generator of plan years (tests/jobs/outofmodel.py) and its back-test script.

These tests check the generator itself: that it is the process it says it is (a common
market, lumpy deals, quits and backfills), that it is reproducible, and that its tables are
the ones the engine reads. They do not check the forecast's coverage on it: that is issue
12's work, and benchmarks/backtest_out_of_model.py measures it.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data.history import load_history
from engine.data.statements import load_for_plan, statements
from engine.plan import load_plan
from tests.cli import incentive
from tests.jobs.outofmodel import OutOfModel, generate

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


@pytest.fixture(scope="module")
def world():
    return generate(11)


@pytest.fixture(scope="module")
def seeds():
    return load_plan(SEEDS)


def test_same_seed_same_world_other_seed_other_world(world):
    """A world depends only on its seed: generated twice it is identical; another seed differs."""
    again = generate(11)
    pd.testing.assert_frame_equal(world.history, again.history)
    pd.testing.assert_frame_equal(world.roster, again.roster)
    pd.testing.assert_frame_equal(world.actuals, again.actuals)
    assert np.array_equal(world.market, again.market)
    other = generate(12)
    assert not np.array_equal(world.market, other.market)
    assert not world.actuals.revenue.equals(other.actuals.revenue)


def test_written_without_the_simulator():
    """The generator imports nothing from engine.sim (nor any other engine module): it is another process."""
    tree = ast.parse((ROOT / "tests" / "jobs" / "outofmodel.py").read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in names if m.startswith("engine")], names


def _market_ratio(spec: OutOfModel, seed: int) -> float:
    """Variance of the team's quarterly revenue index over what independent reps would give.

    Each rep's monthly revenue (seasonality removed, ramp months dropped) is divided by the
    rep's own mean; the team index of a quarter is the mean over its rep-months. Were reps
    independent, its variance would be the sum of the reps' own variances over the squared
    rep-months of the quarter; the ratio of the observed variance to that is about 1 without
    a common factor.
    """
    w = generate(seed, spec)
    season = np.asarray(spec.seasonality) / np.mean(spec.seasonality)
    m = w.monthly.assign(rev=lambda d: d.revenue / season[d.month % 12])
    m = m[m.groupby("rep_id").cumcount() >= spec.ramp_months]
    mean = m.groupby("rep_id").rev.transform("mean")
    m = m[mean > 0].assign(x=lambda d: d.rev / mean[mean > 0], q=lambda d: d.month // 3)
    m = m.assign(v=m.groupby("rep_id").x.transform("var"))
    quarters = m.groupby("q")
    independent = (quarters.v.sum() / quarters.size() ** 2).mean()
    return float(quarters.x.mean().var() / independent)


def test_the_market_moves_everybody_together():
    """Team revenue varies far more than independent reps with the same rep-level noise would make it
    vary: the quarterly team index's variance is several times the independent-reps variance with the
    market (median over 5 worlds of 300 reps), and about 1 without it."""
    spec = OutOfModel(reps=300, teams=30)
    calm = spec.with_overrides(market_year_sigma=0.0, market_sigma=0.0)
    assert np.median([_market_ratio(spec, s) for s in range(5)]) > 3.0
    assert np.median([_market_ratio(calm, s) for s in range(5)]) < 1.5


def test_the_market_path_is_a_level_shock_and_an_ar1():
    """The market is one yearly level per year times a persistent monthly factor: log factor
    autocorrelation at lag 1 near rho over many worlds, and one level per year."""
    spec = OutOfModel(reps=5, teams=1, market_year_sigma=0.0)
    paths = np.log([generate(s, spec).market for s in range(60)])
    x, y = paths[:, :-1].ravel(), paths[:, 1:].ravel()
    rho = np.corrcoef(x, y)[0, 1]
    assert abs(rho - spec.market_rho) < 0.1, rho
    assert 0.04 < np.std(paths[:, 1:] - spec.market_rho * paths[:, :-1]) < 0.06


def test_quits_and_backfills_happen(world):
    """Reps quit (end_date in the plan year) and are backfilled by new hires (start_date, new ids),
    in every year; a hire's first months are ramped (lower revenue than tenured reps)."""
    assert min(world.quits) > 5 and min(world.hires) > 5
    r = world.roster
    assert (r.end_date != "").sum() == world.quits[2]
    assert (r.start_date != "").sum() == world.hires[2]
    assert not set(r.rep_id[r.start_date != ""]) & set(world.history.rep_id)
    rev = world.actuals.merge(r[["rep_id", "start_date"]], on="rep_id")
    first = rev[rev.date == rev.start_date].revenue.mean()
    tenured = rev[rev.start_date == ""].revenue.mean()
    assert first < 0.5 * tenured
    assert 0.18 < np.mean(world.quits) / 100 < 0.40


def test_deals_are_lumpy(world):
    """Monthly revenue comes as whole deals: some rep-months book exactly 0, and the spread of a
    rep's months is wide."""
    zero = (world.actuals.revenue == 0).mean()
    assert 0.02 < zero < 0.4, zero
    assert (world.history.attainment == 0).mean() > 0.02
    cv = world.history.groupby("rep_id").attainment.agg(lambda a: a.std() / a.mean())
    assert cv.median() > 0.6


def test_about_half_the_team_reaches_quota():
    """Full-year reps reach quota about as often as surveys report (44-59%), across a few worlds."""
    shares = []
    for s in range(4):
        w = generate(100 + s)
        full = w.roster[(w.roster.start_date == "") & (w.roster.end_date == "")]
        total = w.actuals.groupby("rep_id").revenue.sum()
        shares.append((total[full.rep_id].to_numpy() / w.market[24:].mean() >= full.quota.to_numpy()).mean())
    assert 0.3 < np.mean(shares) < 0.7, shares


def test_tables_load_and_pay(world, seeds):
    """The history loads as `--history` reads it; the roster and actuals (full year and as of June)
    load through engine.data and pay through the payout engine, one statement per rep and quarter."""
    hist = load_history(world.history)
    assert hist.attrs["period_kind"] == "month" and len(hist) == len(world.history)
    inputs = load_for_plan(seeds, world.roster, world.actuals)
    assert len(inputs.rep_ids) == len(world.roster)
    st = statements(seeds, world.roster, world.actuals)
    assert set(st.period) == {"2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"}
    assert st.total.sum() > 0
    roster, actuals = world.as_of(6)
    assert actuals.date.max() == "2027-06-01"
    assert (roster.start_date <= "2027-06-01").all() and (roster.end_date <= "2027-06-30").all()
    assert set(statements(seeds, roster, actuals).period) == {"2027-Q1", "2027-Q2"}


def test_incentive_payout_accepts_the_files(world, tmp_path):
    """`incentive payout` reads the generated roster and actuals written as CSV (exit 0)."""
    world.roster.to_csv(tmp_path / "roster.csv", index=False)
    world.actuals.to_csv(tmp_path / "actuals.csv", index=False)
    proc = incentive("payout", SEEDS, "--roster", tmp_path / "roster.csv", "--actuals", tmp_path / "actuals.csv",
                     "--out", tmp_path / "st.csv")
    assert proc.returncode == 0, proc.stderr
    assert f"for {len(world.roster)} reps over 4 periods" in proc.stdout


def _script():
    spec = importlib.util.spec_from_file_location("backtest_out_of_model",
                                                  ROOT / "benchmarks" / "backtest_out_of_model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_backtest_script_quick():
    """The back-test script's core runs on 3 years with and without history and returns shares in
    [0, 1] (a smoke test: it does not assert the coverage, which issue 12 is to fix)."""
    script = _script()
    for history in (False, True):
        bt = script.backtest(years=3, runs=8, reps=30, seed=1, history=history, history_runs=20)
        assert bt.years == 3 and len(bt.realized) == 3
        assert 0.0 <= bt.share_over_p90 <= 1.0 and 0.0 <= bt.share_over_p50 <= 1.0
        assert all(a <= b for a, b in zip(bt.p50, bt.p90))
        assert "realized > P90" in script.report(bt)
    lo, hi = script.wilson(10, 100)
    assert 0.05 < lo < 0.1 < hi < 0.18


def test_backtest_script_plans_every_process_and_pools():
    """`--process all` (what `make backtest` runs) back-tests every process, the out-of-model one
    without and with history and the simulator's without (they have no history years); the pooled
    shares count every year once."""
    script = _script()
    assert script.plan_of_runs("all", None) == [("default", False), ("drift0", False), ("drift2", False),
                                                ("outofmodel", False), ("outofmodel", True)]
    assert script.plan_of_runs("all", True) == [("outofmodel", True)]
    assert script.plan_of_runs("drift0", True) == []
    bts = [script.Backtest(history=h, process=p, years=n, over_p90=k90, over_p50=k50, seconds=0.0, realized=(),
                           p50=(), p90=()) for p, h, n, k90, k50 in (("drift0", False, 10, 1, 5),
                                                                     ("outofmodel", True, 30, 5, 16))]
    text = script.pooled(bts)
    lo, hi = script.wilson(6, 40)
    assert "pooled over 2 back-tests: 40 years" in text
    assert f"realized > P90:  15.0%  (95% CI {lo:.1%}-{hi:.1%}" in text and "realized > P50:  52.5%" in text


def test_backtest_script_years_are_the_same_however_they_run():
    """A year's figures depend on its index only: spread over two processes (``workers``) or run
    from a later first year (``first``) they are those of the plain run; ``trust`` adds each year's
    forecast without history and which of the two the check says to trust, and the report scores it."""
    script = _script()
    kw = {"runs": 8, "reps": 30, "seed": 1, "history": True, "history_runs": 10}
    plain = script.backtest(years=2, trust=True, **kw)
    spread = script.backtest(years=2, workers=2, **kw)
    later = script.backtest(years=1, first=1, **kw)
    assert spread.p50 == plain.p50 and spread.p90 == plain.p90 and spread.realized == plain.realized
    assert later.p50 == plain.p50[1:] and later.realized == plain.realized[1:]
    assert spread.trust == () and len(plain.trust) == len(plain.disagree) == len(plain.p50_without) == 2
    assert set(plain.trust) <= {"with history", "without history", "either"}
    assert all(t == "either" for t, d in zip(plain.trust, plain.disagree) if not d)
    assert all(w > 0 for w in plain.p50_without) and plain.p50_without != plain.p50
    text = script.trust_report(plain)
    assert "without history, same years" in text and "the rule in every year" in text
    assert script.trust_report(spread) == ""
