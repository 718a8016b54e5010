"""Business moved across period ends: whether the team moves it (its month profile against the
model's with and without timing), the runs mixing the two, the carry-in across the as-of period
end in the first open month, and the reads seeing the as-of month with it put back
(engine/jobs/forecast_carry.py, engine/jobs/forecast_runs.py; engine/sim/conditioning.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.jobs import forecast_carry, forecast_read, forecast_team
from engine.plan import load_plan
from engine.sim.executor import SimTask, simulation_for
from engine.sim.scenario import default_scenario
from engine.sim.shape import shape_scenario
from engine.sim.simulate import Simulation, simulated_year_tables

PLAN = Path(__file__).resolve().parents[2] / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


@pytest.fixture(scope="module")
def team_at_midyear():
    """A 12-rep team's first half, simulated under the seeds plan, read as a forecast reads it."""
    checked = load_plan(PLAN)
    small = default_scenario().with_overrides(reps=12, teams=3)
    gen = Simulation(checked, small, 777)
    res = gen.run_chunk(np.arange(1), keep=True)
    roster, actuals = simulated_year_tables(gen, res, 0, until=6)
    setup = forecast_team.setup_year(checked, roster, actuals, None)
    team = forecast_team.real_team(checked, setup, shape_scenario(checked, small)[0], True)
    read = forecast_read.read_closed_months(checked, setup, team, 5, None, None, True, (1.0, 1.0))
    return checked, setup, team, read


def _run(checked, setup, team, read, carry_in, carry, runs=16):
    cond = forecast_read.conditioning_for(setup, team, team.closed_months, read.skill_mean, read.skill_sd, behaviour=None,
                                carry_in=carry_in, carry=carry)
    return simulation_for(SimTask(checked, team.scenario, 5, None, condition=cond)).run_chunk(np.arange(runs),
                                                                                           keep=True)


def test_the_carry_in_arrives_in_the_first_open_month(team_at_midyear):
    """A carry-in of 20,000 per roster rep (multiplier 1) adds about that to each present rep's
    July business (reps may answer it with a little less effort, hence the tolerance); a range
    of (0, 0) carries nothing and changes no other number."""
    checked, setup, team, read = team_at_midyear
    R = team.n_reps
    none = _run(checked, setup, team, read, None, None)
    zero = _run(checked, setup, team, read, np.full(R, 20_000.0), (0.0, 0.0))
    np.testing.assert_array_equal(none.period_cost, zero.period_cost)
    one = _run(checked, setup, team, read, np.full(R, 20_000.0), (1.0, 1.0))
    july = 6
    seats = slice(0, R)
    present = one.detail["active"][:, seats, july]
    added = (one.detail["actual"]["revenue"][:, seats, july] - none.detail["actual"]["revenue"][:, seats, july]).sum()
    assert added == pytest.approx(20_000.0 * present.sum(), rel=0.25)
    # The closed months stay the real ones.
    np.testing.assert_array_equal(one.detail["actual"]["revenue"][:, seats, :6],
                                  none.detail["actual"]["revenue"][:, seats, :6])


def test_each_run_draws_its_own_share_of_the_carry(team_at_midyear):
    """With U(0, 2) each run carries its own multiple of the carry-in: the runs' July additions
    spread between 0 and twice the carry-in (not all alike), from the run's own stream (the same
    run gives the same figure in any chunk)."""
    checked, setup, team, read = team_at_midyear
    R = team.n_reps
    none = _run(checked, setup, team, read, None, None)
    two = _run(checked, setup, team, read, np.full(R, 20_000.0), (0.0, 2.0))
    added = (two.detail["actual"]["revenue"][:, :R, 6] - none.detail["actual"]["revenue"][:, :R, 6]).sum(axis=1)
    per_rep = added / np.maximum(two.detail["active"][:, :R, 6].sum(axis=1), 1)
    assert per_rep.min() < 12_000 and per_rep.max() > 28_000 and per_rep.max() < 2.5 * 20_000
    cond = forecast_read.conditioning_for(setup, team, team.closed_months, read.skill_mean, read.skill_sd, behaviour=None,
                                carry_in=np.full(R, 20_000.0), carry=(0.0, 2.0))
    sim = simulation_for(SimTask(checked, team.scenario, 5, None, condition=cond))
    alone = sim.run_chunk(np.arange(3, 5))
    np.testing.assert_array_equal(alone.period_cost, two.period_cost[3:5])


def test_the_model_rate_is_the_pilots_pushes_less_pulls(team_at_midyear):
    """The carry-in is the pilot's net carry over a month of its business in the last closed
    period, spread over the roster in proportion to each rep's real business then."""
    _, _setup, team, read = team_at_midyear
    assert read.carry_share is not None and read.carry_in is not None
    per_month = team.real["revenue"][:, 3:6].sum(axis=1) / 3
    np.testing.assert_allclose(read.carry_in, read.carry_share * per_month)


def test_the_reads_see_the_as_of_month_with_the_carry_put_back():
    """The as-of month gets the carry-in times the mean of its multiplier back (here 1.5); the
    other months are untouched, and a pull larger than the month leaves 0, not a negative month."""
    real = np.array([[100.0, 50.0], [80.0, 10.0]])
    out = forecast_carry.unmoved(real, np.array([20.0, -40.0]), 1.5)
    np.testing.assert_allclose(out, [[100.0, 80.0], [80.0, 0.0]])
    assert forecast_carry.unmoved(real, None, 1.0) is real


def test_a_month_that_collapses_at_a_period_end_counts_there():
    """Four reps over six months, timing touching months 3 and 6: one rep's June collapses
    (moved out), one rep's February collapses (a bad month); the profile is the share of
    collapsed rep-months where timing touches (1 of 8) less elsewhere (1 of 16); a rep not in the role
    throughout is left out; the seasonality is taken out first (a low season is no collapse)."""
    season = np.array([0.5, 1, 1, 1, 1, 1.0])
    out = np.array([[50, 100, 100, 100, 100, 5],
                    [50, 10, 100, 100, 100, 100],
                    [50, 100, 100, 100, 100, 100],
                    [50, 100, 100, 100, 100, 100],
                    [0, 0, 0, 0, 0, 0]], dtype=float)
    ends = np.array([False, False, True, False, False, True])
    full = np.array([True, True, True, True, False])
    assert forecast_carry.month_profile(out, full, season, ends) == pytest.approx(1 / 8 - 1 / 16)
    runs = np.stack([out, out])  # (runs, R, M) as the pilots give it
    np.testing.assert_allclose(forecast_carry.month_profile(runs, np.stack([full, full]), season, ends), [1 / 16, 1 / 16])


def test_the_months_timing_touches_are_period_ends_and_the_months_after(team_at_midyear):
    """Quarterly periods from January: business is moved out of or into March, April and June;
    January (the year's first month: nothing crosses the year's end), February and May are
    untouched."""
    _, setup, _, _ = team_at_midyear
    np.testing.assert_array_equal(forecast_carry.timing_months(setup, 6), [False, False, True, True, False, True])


def test_the_profile_reads_whether_the_team_moves_business():
    """A team whose profile is the model's with timing is read as moving business (posterior
    near 1), one whose profile is the model's without as not (near 0); halfway between, the
    prior's 0.5 stays about 0.5; a profile not measured leaves the prior, and a prior of 1 or 0
    is not moved by any profile."""
    rng = np.random.default_rng(3)
    on = 0.15 + 0.05 * rng.standard_normal(60)
    off = 0.0 + 0.05 * rng.standard_normal(60)
    assert forecast_carry.read_timing(0.15, on, off).p_on > 0.95
    assert forecast_carry.read_timing(-0.02, on, off).p_on < 0.02
    assert 0.2 < forecast_carry.read_timing(float(0.5 * (on.mean() + off.mean())), on, off).p_on < 0.8
    unread = forecast_carry.read_timing(float("nan"), on, off)
    assert unread.p_on == 0.5 and unread.prior == 0.5
    assert forecast_carry.read_timing(-0.5, on, off, prior=1.0).p_on == 1.0
    assert forecast_carry.read_timing(0.5, on, off, prior=0.0).p_on == 0.0


def test_the_runs_that_move_business_are_a_share_of_the_runs_by_index():
    """A share p of the runs moves business, spread evenly over the run indices (within a
    run or two of p x runs at every length), the same runs whatever the number of runs; p 0:
    none, p 1: all."""
    many = forecast_carry.timing_runs(1000, 0.3)
    assert abs(many.sum() - 300) <= 2
    for n in (10, 37, 200):
        assert abs(many[:n].sum() - 0.3 * n) <= 2
        np.testing.assert_array_equal(forecast_carry.timing_runs(n, 0.3), many[:n])
    assert not forecast_carry.timing_runs(50, 0.0).any() and forecast_carry.timing_runs(50, 1.0).all()


def test_a_forecast_mixing_the_two_timings_is_the_same_whatever_the_chunks(team_at_midyear):
    """With half the runs moving business: every run's payout is the same in chunks of 3 and
    of 7 runs; the runs that move none are the runs of the scenario without timing and nothing
    carried (the same run simulated alone), the others those of the scenario's timing."""
    from dataclasses import replace

    from engine.jobs import forecast_runs

    checked, setup, team, read = team_at_midyear
    mixed = replace(read, timing=forecast_carry.TimingRead(0.0, 0.1, 0.05, 0.0, 0.05, 0.5, 0.5))
    paid = forecast_team.paid_so_far(checked, setup, None, None)

    def rest(chunk):
        return forecast_runs.simulate_rest(checked, setup, team, mixed, team.scenario, paid, 12, 5, None, None,
                                           (1.0, 1.0), workers=1, chunk_runs=chunk, scheduler=None, progress=False,
                                           decompose=False)

    three, seven = rest(3), rest(7)
    np.testing.assert_array_equal(three.period_runs, seven.period_runs)
    moving = forecast_carry.timing_runs(12, 0.5)
    assert 0 < moving.sum() < 12
    for moves, scenario, carry_in in ((True, team.scenario, read.carry_in),
                                      (False, forecast_carry.without_timing(team.scenario), None)):
        idx = np.nonzero(moving == moves)[0]
        cond = forecast_read.conditioning_for(setup, team, team.closed_months, read.skill_mean, read.skill_sd,
                                              behaviour=None, settle_gap=read.settle_gap, market=read.market,
                                              carry_in=carry_in, carry=(1.0, 1.0))
        alone = simulation_for(SimTask(checked, scenario, 5, None, condition=cond)).run_chunk(idx)
        np.testing.assert_array_equal(alone.period_cost, three.period_runs[idx])


def test_the_decomposition_redraws_which_runs_move_business():
    """The variance decomposition's redone runs move business in a share p of runs drawn
    independently of the forecast's own (each run's uniform from its seed sequence): about p of
    them, agreeing with the forecast's choice about as often as two independent draws would
    (p^2 + (1 - p)^2), not always; the same seed gives the same runs."""
    p, n = 0.4, 4000
    again = forecast_carry.timing_redrawn(11, n, p)
    assert abs(again.mean() - p) < 0.03
    agree = float((again == forecast_carry.timing_runs(n, p)).mean())
    assert abs(agree - (p * p + (1 - p) ** 2)) < 0.03
    np.testing.assert_array_equal(again[:50], forecast_carry.timing_redrawn(11, 50, p))
    assert not np.array_equal(again[:200], forecast_carry.timing_redrawn(12, 200, p))
