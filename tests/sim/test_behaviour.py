"""The simulator's mechanisms, each checked directly on a purpose-built scenario and plan."""

from __future__ import annotations

import numpy as np
import pytest

from engine.plan import parse_plan
from engine.sim.scenario import parse_scenario
from engine.sim.simulate import Simulation

# A quiet single-activity team: no morale dynamics, no quits, no timing, little noise, so
# that what is measured is the response to the plan.
QUIET = """\
scenario: quiet
seed: 11
team: {{reps: {reps}, teams: 1, quota_multiple: 5, base_salary: 80000, pay_mix: 0.5}}
reps:
  skill: {skill}
  effort_cost: 1.0
  risk_aversion: 0
  outside_offer: 0.5
  initial_morale: 1.0
  tenure_months: 24
activities:
  selling: {{share: 1.0, max_effort: 2.0}}
outputs:
  revenue: {{kind: amount, activity: selling, level: 1.0, elasticity: 0.7, noise: {noise}, sigma: {sigma}}}
seasonality: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
timing: {{max_shift: {shift}}}
morale: {{pay_gap: 0, outside_gap: 0, hopeless: 0, unfair: 0, wins: 0, recovery: 0, effort_floor: 1.0}}
attrition: {{annual_base_rate: 0}}
"""


def scenario(skill="1.0", reps=40, noise="lognormal", sigma=0.05, shift=0.0):
    return parse_scenario(QUIET.format(skill=skill, reps=reps, noise=noise, sigma=sigma, shift=shift), "quiet.yaml")


def plan(components: str, period: str = "month") -> str:
    return f"""\
plan: p
period: {period}
target_incentive: roster.ti / {12 if period == 'month' else 4}
measures:
  revenue: actuals.revenue
  attainment: revenue / targets.revenue
targets:
  revenue: roster.quota / {12 if period == 'month' else 4}
components:
{components}"""


def run(plan_text: str, sc, runs: int = 4):
    sim = Simulation(parse_plan(plan_text, "p.yaml"), sc, seed=5)
    return sim.run_chunk(np.arange(runs))


def by_skill(res, value):
    mask = res.rep_mask & np.isclose(res.skill, value)
    return res.effort[mask]


def test_plan_paying_nothing_buys_baseline_effort():
    """With a plan that pays nothing, every rep gives exactly the baseline effort."""
    res = run(plan("  - {name: none, kind: rate, base: revenue, rate: 0}\n"), scenario())
    assert np.allclose(res.effort[res.rep_mask], 1.0)


def test_rep_just_below_a_step_works_harder_than_one_far_below():
    """A rep whose baseline output is just short of a step pushes; one far below does not."""
    step = plan("  - name: bonus\n    kind: step\n    input: attainment\n"
                "    steps: [{at: 1.0, pay: target_incentive}]\n")
    res = run(step, scenario(skill="{dist: empirical, values: [0.5, 0.93]}"))
    near, far = by_skill(res, 0.93), by_skill(res, 0.5)
    assert near.size and far.size
    assert near.mean() > 1.08
    assert np.allclose(far, 1.0)


def test_effort_falls_above_a_binding_cap():
    """Above a cap that binds, the marginal incentive is zero and effort falls to baseline."""
    capped = plan("  - name: bonus\n    kind: curve\n    input: attainment\n"
                  "    points: [[0, 0], [1.0, 1.0]]\n    beyond: flat\n")
    uncapped = capped.replace("beyond: flat", "beyond: extend")
    sc = scenario(skill="{dist: empirical, values: [0.7, 1.6]}")
    a, b = run(capped, sc), run(uncapped, sc)
    assert np.allclose(by_skill(a, 1.6), 1.0)          # already above the cap: baseline
    assert by_skill(b, 1.6).mean() > 1.2               # without the cap the same reps push
    assert by_skill(a, 0.7).mean() > 1.2               # below the cap reps still respond


def test_flat_rate_without_noise_pays_rate_times_sales():
    """With a flat-rate plan and no noise, each rep's payout is exactly rate x sales."""
    res = run(plan("  - {name: commission, kind: rate, base: revenue, rate: 5%}\n"),
              scenario(noise="none", sigma=0.0))
    m = res.rep_mask
    np.testing.assert_allclose(res.payout[m], 0.05 * res.primary[m], rtol=1e-12)
    assert res.primary[m].min() > 0


def test_higher_rate_buys_more_effort_and_revenue():
    """A steeper commission raises effort and revenue (same reps, same random numbers)."""
    low = run(plan("  - {name: c, kind: rate, base: revenue, rate: 2%}\n"), scenario())
    high = run(plan("  - {name: c, kind: rate, base: revenue, rate: 8%}\n"), scenario())
    assert high.effort[high.rep_mask].mean() > low.effort[low.rep_mask].mean() + 0.05
    assert high.revenue.sum() > low.revenue.sum()


def _moves(r):
    """Shares of rep period-ends that pulled business in and pushed it out."""
    ends, pulls, pushes = r.timing_moves.sum(axis=0)
    return pulls / ends, pushes / ends


def test_a_step_invites_timing_games_and_a_flat_rate_none():
    """Oyer (1998): a lump sum at a quota gives reps just short of it a reason to pull business
    into the period and reps past it a reason to hold business back for the next; with a flat
    rate (nothing to gain, a discount or lost deals to pay) nobody moves any, and the months
    are those of a team that cannot move business at all. The moves pay: the step pays more
    with them than without."""
    skill = "{dist: empirical, values: [0.85, 0.95]}"
    step = plan("  - name: bonus\n    kind: step\n    input: attainment\n"
                "    steps: [{at: 1.0, pay: target_incentive}]\n", period="quarter")
    flat = plan("  - {name: c, kind: rate, base: revenue, rate: 5%}\n", period="quarter")
    sc, fixed = scenario(skill=skill, sigma=0.2, shift=0.33), scenario(skill=skill, sigma=0.2, shift=0.0)
    with_step, with_flat = run(step, sc), run(flat, sc)
    pulls, pushes = _moves(with_step)
    assert pulls > 0.05 and pushes > 0.05
    assert _moves(with_flat) == (0.0, 0.0)
    share = lambda r: r.last_month_primary.sum() / r.revenue.sum()
    assert share(with_flat) == pytest.approx(share(run(flat, fixed)), abs=1e-12)
    assert with_step.cost.sum() > run(step, fixed).cost.sum()


def test_an_accelerating_rate_pulls_business_into_the_period():
    """Larkin (2014): where the rate rises above the quarter's target, reps pull deals into
    the quarter the higher rate pays in, so its last month books more than under a flat rate."""
    skill = "{dist: empirical, values: [0.85, 0.95, 1.05, 1.15]}"
    accel = plan("  - name: c\n    kind: rate\n    base: revenue\n    tiers:\n"
                 "      - {upto: targets.revenue, rate: 4%}\n      - {rate: 8%}\n", period="quarter")
    flat = plan("  - {name: c, kind: rate, base: revenue, rate: 5%}\n", period="quarter")
    sc = scenario(skill=skill, sigma=0.2, shift=0.33)
    with_accel, with_flat = run(accel, sc), run(flat, sc)
    share = lambda r: r.last_month_primary.sum() / r.revenue.sum()
    assert share(with_accel) > share(with_flat) + 0.02
    assert _moves(with_accel)[0] > 0.2


def test_morale_falls_and_people_quit_when_pay_falls_short():
    """A plan that pays far less than the team expected raises attrition (default morale model)."""
    from engine.sim.scenario import default_scenario

    sc = default_scenario()
    generous = run(plan("  - {name: c, kind: rate, base: revenue, rate: 12%}\n"), sc, runs=6)
    stingy = run(plan("  - {name: c, kind: rate, base: revenue, rate: 1%}\n"), sc, runs=6)
    assert stingy.leavers.sum() > generous.leavers.sum()
    assert stingy.disengaged_months.sum() > generous.disengaged_months.sum()


def test_contest_is_an_incentive_through_unilateral_deviation():
    """A monthly contest with large awards makes contenders push: each rep weighs its own
    deviation against the others' current effort (if everyone moved together, ranks would
    not change and the contest would buy nothing)."""
    contest = plan("  - name: gold\n    kind: rank\n    by: revenue\n    awards: [20000, 10000]\n")
    res = run(contest, scenario(skill="{dist: empirical, values: [0.9, 1.0, 1.1]}", reps=12), runs=3)
    assert res.effort[res.rep_mask].mean() > 1.05
    nothing = run(plan("  - {name: none, kind: rate, base: revenue, rate: 0}\n"),
                  scenario(skill="{dist: empirical, values: [0.9, 1.0, 1.1]}", reps=12), runs=3)
    assert np.allclose(nothing.effort[nothing.rep_mask], 1.0)


def test_alerts_and_the_simulator_share_one_morale_and_quit_model():
    """The morale update and the quit hazard exist once (engine/sim/behaviour.py): the
    alerts replay of a rep's history uses the simulator's own functions, so they cannot
    drift apart."""
    import inspect

    from engine.jobs import alerts
    from engine.sim import behaviour, simulate

    for module in (alerts, simulate):
        source = inspect.getsource(module)
        for fn in ("morale_after_pay", "morale_after_month", "quit_hazard"):
            assert getattr(module, fn) is getattr(behaviour, fn)
        assert 'mp["pay_gap"]' not in source and 'ap["morale_sensitivity"]' not in source


def test_timing_moves_priced_together_or_one_at_a_time_agree(monkeypatch):
    """The period-end moves are priced stacked in one what-if where they fit, else one at a time:
    the choices and every result are the same either way."""
    from engine.sim import simulate

    step = plan("  - name: bonus\n    kind: step\n    input: attainment\n"
                "    steps: [{at: 1.0, pay: target_incentive}]\n", period="quarter")
    sc = scenario(skill="{dist: empirical, values: [0.85, 0.95, 1.1]}", sigma=0.2, shift=0.33)
    together = run(step, sc)
    monkeypatch.setattr(simulate, "_WHAT_IF_CELLS", 1)
    alone = run(step, sc)
    assert together.timing_moves.sum() > 0
    for field in ("revenue", "cost", "timing_moves", "attainment", "payout"):
        np.testing.assert_array_equal(getattr(together, field), getattr(alone, field))


def test_under_a_ratchet_a_flat_rate_still_moves_no_business():
    """Moving business between a period's last month and the next inside the plan year leaves
    the year's output (and so next year's ratcheted quota) as it was, less what the move loses:
    under a ratchet that costs less per unit of output than the rate pays (a fifth of this
    year's result in next year's quota), a flat rate gives no reason to move any (Weitzman
    1980's ratchet prices the year's output, not the month it lands in). Pricing only the months
    ahead, every rep pulled business in at every period end."""
    from dataclasses import replace

    from engine.sim.scenario import QuotaPolicy

    flat = plan("  - {name: c, kind: rate, base: revenue, rate: 5%}\n", period="quarter")
    sc = scenario(skill="{dist: empirical, values: [0.85, 0.95]}", sigma=0.2, shift=0.33)
    ratcheted = run(flat, replace(sc, months=24, quota_policy=QuotaPolicy("ratchet", 0.0, 0.2)))
    assert ratcheted.timing_moves[:, 0].sum() > 0
    assert _moves(ratcheted) == (0.0, 0.0)
