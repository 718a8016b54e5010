"""History read under the plan that paid it (engine/jobs/history.py, issue 12 item 3).

The calibrated level is the history's attainment, effort included; the simulator adds the
plan's effort response on top. ``calibrate_under_plan`` moves the level until the history
plan, simulated on the calibrated scenario, reproduces the history's mean attainment.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.jobs.history import (
    _slope,
    calibrate_under_plan,
    history_attainment,
    market_mean_factor,
    write_scenario_under_plan,
)
from engine.plan import load_plan
from engine.report.text import history_fit_report
from engine.sim.calibrated_scenario import write_calibrated_scenario
from engine.sim.market import MarketModel
from engine.sim.scenario import DEFAULT_SCENARIO, default_scenario, load_scenario
from engine.sim.simulate import Simulation, simulated_year_tables
from engine.sim.streams import stream
from tests.cli import incentive

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"
SEEDS = PLANS / "seeds_base_float_excess.yaml"
RUNS = 20  # per simulation of the history plan (a 40-rep team)

COMMISSION = """\
plan: {name}
currency: USD
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue:
    expr: actuals.revenue
targets:
  revenue: roster.quota / 4
components:
  - name: commission
    kind: rate
    base: revenue
    tiers:
      - {{rate: {rate}}}
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("history")


@pytest.fixture(scope="module")
def plans(work) -> dict[str, Path]:
    """A commission that pays almost nothing (buys no effort) and a steep one (10% of
    revenue pays about the whole target incentive at quota; 15% more)."""
    out = {}
    for name, rate in (("low", 0.001), ("steep", 0.15)):
        path = work / f"commission_{name}.yaml"
        path.write_text(COMMISSION.format(name=f"commission_{name}", rate=rate))
        out[name] = path
    return out


@pytest.fixture(scope="module")
def base(work) -> Path:
    """The default scenario with a 40-rep team (the team the history plan is simulated on)."""
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8")
    assert "reps: 120" in text and "teams: 12" in text
    path = work / "small_base.yaml"
    path.write_text(text.replace("reps: 120", "reps: 40").replace("teams: 12", "teams: 4"))
    return path


@pytest.fixture(scope="module")
def history(work) -> Path:
    """Three years of a 40-rep team simulated under the seeds plan, by quarter (whole quarters
    only, as scenarios/tools/make_field_history.py writes the shipped history)."""
    seeds = load_plan(SEEDS)
    gen = Simulation(seeds, default_scenario().with_overrides(reps=40, teams=4), 99)
    res = gen.run_chunk(np.arange(3), keep=True)
    frames = []
    for i in range(3):
        roster, acts = simulated_year_tables(gen, res, i)
        month = pd.to_datetime(acts["date"]).dt.month
        acts["period"] = f"{2024 + i}-Q" + ((month - 1) // 3 + 1).astype(str)
        q = acts.groupby(["rep_id", "period"], as_index=False).agg(actual=("revenue", "sum"),
                                                                   months=("revenue", "size"))
        q = q[q["months"] == 3]
        q["target"] = q["rep_id"].map(roster.set_index("rep_id")["quota"]) / 4
        q["actual"] = q["actual"].clip(lower=0)
        q["rep_id"] = q["rep_id"] + f"y{i}"  # each run is another team
        frames.append(q[["rep_id", "period", "actual", "target"]])
    path = work / "history.csv"
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def calibrated(history, base, plans):
    """``calibrate_under_plan`` under each commission plan, the level alone (computed once)."""
    return {name: calibrate_under_plan(history, load_plan(path), base=base, runs=RUNS, workers=1, moments=False)
            for name, path in plans.items()}


def mean_attainment_by_hand(path: Path) -> float:
    """The history's mean attainment computed here from the raw file: per rep and year the
    mean of actual / target, then the mean over rep-years."""
    h = pd.read_csv(path)
    h["attainment"] = h["actual"] / h["target"]
    return float(h.groupby([h["rep_id"], h["period"].str[:4]])["attainment"].mean().mean())


def simulated_by_hand(plan: Path, scenario, runs: int, seed: int) -> float:
    """Mean over rep-years of the simulator's annual attainment, without engine.jobs.history:
    the ratio over rep-years, less the market's control variate written out here (each run's
    mean company demand multiplier redrawn from its own market stream, expectation 1; the
    least-squares slope of the run's share of the ratio on it)."""
    sim = Simulation(load_plan(plan), scenario, seed)
    res = sim.run_chunk(np.arange(runs))
    total = np.where(res.rep_mask, res.attainment, 0.0).sum(axis=1)
    count = res.rep_mask.sum(axis=1)
    plain = float(total.sum() / count.sum())
    market = scenario.market
    assert market.active  # the scenarios here have one: the control variate is exercised
    factor = np.array([np.mean(np.exp(market.draw(stream(seed, i, "market").standard_normal((1 + sim.teams, 14))[0],
                                                  12) - market.var / 2)) for i in range(runs)])
    slope = np.polyfit(factor, (total - plain * count) / count.mean(), 1)[0]
    return plain - float(slope) * (float(factor.mean()) - 1.0)


def test_history_attainment_is_the_mean_over_rep_years_zeros_included():
    """Rep A: 2025 periods 1.0 and 0.0 (mean 0.5), 2026 one period 2.0; rep B: 2025 three
    periods of 1.0. Rep-year means 0.5, 2.0, 1.0: mean 7/6 over 3 rep-years (not the mean of
    the 6 periods, 1.0, nor of the positive ones, 1.2)."""
    frame = pd.DataFrame({"rep_id": ["A", "A", "A", "B", "B", "B"],
                          "period": ["2025-01", "2025-02", "2026-01", "2025-01", "2025-02", "2025-03"],
                          "attainment": [1.0, 0.0, 2.0, 1.0, 1.0, 1.0]})
    mean, rep_years = history_attainment(frame)
    assert rep_years == 3
    assert mean == pytest.approx(7 / 6)


def test_simulating_the_history_plan_reproduces_the_history(calibrated, history, base, plans):
    """The issue's property: after calibrate_under_plan, the history plan simulated on the
    returned scenario (checked here with the simulator directly, same runs and seed) gives
    the history's mean attainment (computed here from the file) within the tolerance;
    the plainly fitted level missed it by much more than the tolerance."""
    scenario, cal, fit = calibrated["low"]
    target = mean_attainment_by_hand(history)
    assert fit.target == pytest.approx(target, rel=1e-12)
    assert abs(fit.simulated_fitted / target - 1) > 4 * fit.tolerance  # there was something to fix
    assert fit.converged and 1 < fit.iterations <= 8
    again = simulated_by_hand(plans["low"], scenario, RUNS, fit.seed)
    assert again == pytest.approx(fit.simulated, rel=1e-9)
    assert abs(again / target - 1) <= fit.tolerance
    # Only the primary output's level moved, and the record says by how much.
    level = scenario.output(scenario.primary_measure).get("level")
    assert level == fit.level != fit.fitted_level
    assert fit.fitted_level == pytest.approx(cal.level, rel=1e-3)  # as written: 4 digits
    assert fit.effort_factor == pytest.approx(fit.fitted_level / fit.level)
    assert fit.trace[0][0] == fit.fitted_level and len(fit.trace) == fit.iterations
    assert fit.plan == "commission_low" and fit.runs == RUNS
    plain = load_scenario(write_calibrated_scenario(cal, history.parent / "plain_low.yaml", base=base))
    assert scenario.skill == plain.skill and scenario.seasonality == plain.seasonality
    assert [o.name for o in scenario.outputs] == [o.name for o in plain.outputs]
    report = history_fit_report(fit)
    assert "commission_low" in report and f"{fit.level:#.4g}" in report and "effort factor" in report
    assert "noise sigma" not in report  # the level alone (moments=False): nothing else moved


def test_a_plan_that_buys_more_effort_gets_a_lower_level(calibrated):
    """No double counting: the same history read under a steep commission leaves a lower
    level than under one that pays nothing, and the steep plan's effort factor is above 1
    (the history's output included effort the simulator will add again)."""
    low, steep = calibrated["low"][2], calibrated["steep"][2]
    assert low.target == steep.target and low.fitted_level == steep.fitted_level
    assert steep.simulated_fitted > low.simulated_fitted  # the effort response, at the same level
    assert steep.level < low.level
    assert steep.effort_factor > 1.02
    assert steep.effort_factor > low.effort_factor
    assert steep.converged and abs(steep.gap) <= steep.tolerance


def test_the_written_scenario_loads_with_the_adjusted_level(calibrated, history, base, work):
    """write_scenario_under_plan writes a valid scenario whose level is the in-memory one
    (4 significant digits), says so in its comments, and leaves no draft behind."""
    scenario, cal, fit = calibrated["steep"]
    out = work / "written" / "steep.yaml"
    out.parent.mkdir()
    path = write_scenario_under_plan(cal, fit, out, base=base, name="steep_read")
    loaded = load_scenario(path)
    assert loaded.name == "steep_read"
    assert loaded.output(loaded.primary_measure).get("level") == scenario.output(scenario.primary_measure).get("level")
    assert loaded.skill == scenario.skill and loaded.seasonality == scenario.seasonality
    assert loaded.reps == 40  # the base's team
    text = path.read_text()
    assert "read under commission_steep" in text and "level includes the effort" not in text
    assert sorted(p.name for p in out.parent.iterdir()) == ["steep.yaml"]


def test_cli_calibrate_with_plan_writes_the_adjusted_level(tmp_path, history, base, plans, calibrated):
    """`calibrate --plan` writes a loadable scenario whose level differs from the plain
    calibration's, and prints the fixed point after the fit; without --plan a note says the
    level includes the history plan's effort."""
    plain, adjusted = tmp_path / "plain.yaml", tmp_path / "adjusted.yaml"
    proc = incentive("calibrate", "--history", history, "--out", plain, "--scenario", base)
    assert proc.returncode == 0, proc.stderr
    assert "give --plan PLAN" in proc.stdout and "History read under" not in proc.stdout
    proc = incentive("calibrate", "--history", history, "--out", adjusted, "--scenario", base,
                     "--plan", plans["steep"], "--runs", RUNS, "--workers", 1)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.index("Calibration of") < out.index("History read under the plan commission_steep") \
        < out.index("wrote scenario")
    a, b = load_scenario(plain), load_scenario(adjusted)
    level_a, level_b = a.output("revenue").get("level"), b.output("revenue").get("level")
    assert level_b < level_a
    # The in-memory result (the default: noise and skill spread by simulation too), same runs and seed.
    _, _, fit = calibrate_under_plan(history, load_plan(plans["steep"]), base=base, runs=RUNS)
    assert fit.moments
    # The report names what the simulation moved beside the level, and the moments it matched.
    report = history_fit_report(fit)
    assert f"{fit.fitted_noise_sigma:.3f} -> {fit.noise_sigma:.3f}" in report
    assert f"{fit.fitted_skill_sigma:.3f} -> {fit.skill_sigma:.3f}" in report
    assert f"{fit.history_moments[0]:.3f} in the history" in report and "within-year profile" in report
    assert level_b == fit.level
    assert b.output("revenue").get("sigma") == fit.noise_sigma != a.output("revenue").get("sigma")
    assert b.skill.get("sigma") == fit.skill_sigma != a.skill.get("sigma")
    assert b.seasonality == pytest.approx(fit.seasonality, abs=1e-12) and b.seasonality != a.seasonality
    text = adjusted.read_text(encoding="utf-8")
    assert "calibrated by simulation under commission_steep" in text
    header = " ".join(line[1:].strip() for line in text.splitlines() if line.startswith("#"))
    assert "The noise, skill spread and seasonality are calibrated by simulation too" in header
    proc = incentive("calibrate", "--history", history, "--out", tmp_path / "x.yaml", "--runs", 5)
    assert proc.returncode == 2 and "--plan" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_forecast_reads_the_history_under_the_history_plan():
    """`forecast --history H --history-plan P` on the shipped mid-year data: the history is
    read under P (reported on stderr with --json -) and the forecast of PLAN runs."""
    proc = incentive("forecast", PLANS / "kpi_scorecard.yaml", "--roster", DATA / "field_team_roster.csv",
                     "--actuals", DATA / "field_team_actuals_h1.csv", "--history", DATA / "field_team_history.csv",
                     "--history-plan", SEEDS, "--runs", 5, "--workers", 1, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert "History read under the plan seeds_base_float_excess" in proc.stderr
    assert "sigma_skill" in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["plan"] == "kpi_scorecard" and doc["scenario"] == "calibrated_field_team_history"


@pytest.mark.parametrize("case", ["missing", "invalid", "without-history", "explain-without-history"])
def test_cli_forecast_bad_history_plan_is_a_clean_error(tmp_path, case):
    """A missing or invalid --history-plan, or one (or --explain-history) without --history,
    exits 2 with a message."""
    args = ["forecast", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals", DATA / "seeds_actuals.csv",
            "--runs", 2, "--workers", 1]
    bad = tmp_path / "bad.yaml"
    bad.write_text("plan: bad\n")
    if case == "missing":
        args += ["--history", DATA / "field_team_history.csv", "--history-plan", tmp_path / "nope.yaml"]
        expected = "nope.yaml"
    elif case == "invalid":
        args += ["--history", DATA / "field_team_history.csv", "--history-plan", bad]
        expected = "error[missing-key]"
    elif case == "without-history":
        args += ["--history-plan", SEEDS]
        expected = "--history"
    else:
        args += ["--explain-history"]
        expected = "--explain-history says what the --history changed: give --history too"
    proc = incentive(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert expected in proc.stderr
    assert "Forecast of" not in proc.stdout


def test_the_root_search_steps_by_the_secant_slope_on_the_log_scale():
    """The level's step uses the elasticity of attainment to the level: 1 before two steps,
    then the secant's on the log scale (attainment = 0.9 x level^1.2 gives 1.2), kept within
    [0.25, 4] and 1 where the pair says nothing (the same level twice, a zero)."""
    assert _slope([(1.0, 0.9)]) == 1.0
    assert _slope([(1.0, 0.9), (0.8, 0.9 * 0.8 ** 1.2)]) == pytest.approx(1.2)
    assert _slope([(2.0, 5.0), (1.0, 0.9), (0.8, 0.9 * 0.8 ** 1.2)]) == pytest.approx(1.2)  # the last two
    assert _slope([(1.0, 0.9), (0.9, 0.9)]) == 0.25
    assert _slope([(1.0, 0.9), (0.9, 0.3)]) == 4.0
    assert _slope([(1.0, 0.9), (1.0, 0.8)]) == 1.0 and _slope([(1.0, 0.0), (0.9, 0.8)]) == 1.0


def test_the_market_control_variate_is_the_simulators_market(calibrated, plans):
    """Each run's mean demand multiplier, redrawn from its market stream, is the market the
    simulator drew: it explains most of the runs' spread of mean attainment (a redraw that
    missed the simulator's would explain none), and it is not biased: its mean is 1."""
    scenario = calibrated["low"][0]
    sim = Simulation(load_plan(plans["low"]), scenario, 123)
    res = sim.run_chunk(np.arange(60))
    attainment = np.where(res.rep_mask, res.attainment, 0.0).sum(axis=1) / res.rep_mask.sum(axis=1)
    factor = market_mean_factor(scenario, 123, np.arange(60), sim.teams, sim.months)
    assert factor is not None
    assert np.corrcoef(attainment, factor)[0, 1] ** 2 > 0.5
    many = market_mean_factor(scenario, 7, np.arange(4000), sim.teams, sim.months)
    assert abs(many.mean() - 1.0) < 3 * many.std() / np.sqrt(many.size)
    assert market_mean_factor(replace(scenario, market=MarketModel(0.0, 0.0, 0.0)), 1, np.arange(3), 1) is None
