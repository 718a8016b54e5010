"""Dominance and units (issue #28): what a plan buys depends on what it pays, not on how
pay is written.

- A plan that pays at least as much in every outcome, and more where performance is higher
  (removing a cap, extending an accelerator), never buys less effort or revenue. This holds
  for expected-utility maximisers whose utility increases in pay (CARA, docs/model.md §3);
  it failed with the mean-variance certainty equivalent the simulator used before.
- Multiplying every money amount (quota, target incentive, base salary, amounts written in
  the plan) by the same factor changes no rep's effort.
- The field findings the change restores, each naming its source.

Plans compared share the scenario's reps and random numbers (common random numbers), so a
difference between them is the plan's, not noise.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.plan import load_plan, parse_plan
from engine.sim.population import build_roster
from engine.sim.scenario import Dist, Scenario, default_scenario
from engine.sim.simulate import ChunkResult, Simulation

PLANS = Path(__file__).parent / "plans"
CLASSIC_AE = Path(__file__).parents[2] / "scenarios" / "plans" / "classic_ae.yaml"

HEAD = """\
plan: {name}
period: {period}
target_incentive: roster.ti / {per_year}
measures:
  revenue: actuals.revenue
targets:
  revenue: roster.quota / {per_year}
components:
"""


def _curve(points, beyond: str) -> str:
    return ("  - name: bonus\n    kind: curve\n    input: revenue / targets.revenue\n"
            f"    points: {points}\n    beyond: {beyond}\n")


def dominated_pairs(rng: np.random.Generator, count: int) -> list[tuple[str, str, str]]:
    """Random ``(label, plan, dominating plan)`` pairs, monthly and quarterly, in turn:

    - a curve (threshold, 1x at target, an accelerator) held flat past a cap, against the
      same curve extended past it;
    - the same curve with its accelerator ending at a higher attainment (the same slope);
    - a commission rate under a plan cap in target incentives, against the same rate uncapped.
    """
    out = []
    for i in range(count):
        period = ("month", "quarter")[i % 2]
        head = HEAD.format(name="p", period=period, per_year=12 if period == "month" else 4)
        t, p0, slope, top = rng.uniform(0.3, 0.8), rng.uniform(0.0, 0.5), rng.uniform(1.0, 3.0), rng.uniform(1.1, 2.5)

        def points(end: float, t=t, p0=p0, slope=slope) -> list[list[float]]:
            return [[round(t, 3), round(p0, 3)], [1.0, 1.0], [round(end, 3), round(1.0 + slope * (end - 1.0), 3)]]

        kind = i % 3
        if kind == 0:
            label, a, b = f"{period} curve capped at {top:.2f}", _curve(points(top), "flat"), _curve(points(top), "extend")
        elif kind == 1:
            longer = top + rng.uniform(0.3, 1.5)
            label = f"{period} accelerator {top:.2f} -> {longer:.2f}"
            a, b = _curve(points(top), "flat"), _curve(points(longer), "flat")
        else:
            rate, cap = rng.uniform(0.03, 0.15), rng.uniform(1.0, 2.5)
            line = f"  - {{name: commission, kind: rate, base: revenue, rate: {rate:.4f}}}\n"
            label, a, b = f"{period} rate {rate:.3f} capped at {cap:.2f}x TI", line + f"cap: {cap:.3f} * target_incentive\n", line
        out.append((label, head + a, head + b))
    return out


def simulate(plan_text: str, sc: Scenario, runs: int, seed: int = 7) -> ChunkResult:
    return Simulation(parse_plan(plan_text, "p.yaml"), sc, seed=seed).run_chunk(np.arange(runs))


def assert_buys_no_less(label: str, low: ChunkResult, high: ChunkResult) -> None:
    """Mean effort and revenue under the dominating plan are not lower (to 0.1%: the
    effort grid is discrete and, through morale and quits, teams differ slightly)."""
    e_low, e_high = low.effort[low.rep_mask].mean(), high.effort[high.rep_mask].mean()
    assert e_high >= e_low - 1e-3, f"{label}: effort {e_low:.4f} -> {e_high:.4f}"
    assert high.revenue.sum() >= low.revenue.sum() * (1 - 1e-3), \
        f"{label}: revenue {low.revenue.sum():,.0f} -> {high.revenue.sum():,.0f}"


TEAMS = {
    "default": default_scenario(),
    # Annual quota about 67x the annual target incentive (10x on the default team): the
    # team of issue #28 on which removing a commission cap cut revenue by 20%.
    "quota 67x TI": dataclasses.replace(default_scenario(),
                                        quota_multiple=Dist("lognormal", (("median", 33.5), ("sigma", 0.08)))),
    "70/30 pay mix": dataclasses.replace(default_scenario(), pay_mix=0.3),
    "risk aversion up to 3": dataclasses.replace(default_scenario(),
                                                 risk_aversion=Dist("uniform", (("low", 0.0), ("high", 3.0)))),
}


def test_a_plan_paying_more_in_every_outcome_buys_no_less_effort_or_revenue():
    """Dominance (issue #28), default team: removing a cap or extending an accelerator
    never lowers mean effort or revenue (six random plan pairs, three runs each)."""
    sc = TEAMS["default"]
    for label, a, b in dominated_pairs(np.random.default_rng(28), 6):
        assert_buys_no_less(label, simulate(a, sc, 3), simulate(b, sc, 3))


# The very risk-averse team was a known exception until issue #28's running team: one of the
# 24 pairs (a monthly curve capped at 248% of target) lost 0.26% of revenue when the cap went,
# through the pay-gap morale term (a 3-point projection of deal-level noise overstates an
# uncapped curve's upside, so the uncapped plan disappointed more often and lost a few more
# reps). Since issue #28's running team (morale recovery 0.30: a disappointment fades within
# a quarter) and timing changes, every pair holds (which change did it was not isolated).
@pytest.mark.slow
@pytest.mark.parametrize("team", list(TEAMS))
def test_dominance_over_random_plans_and_teams(team):
    """Dominance (issue #28) over 24 random plan pairs on four teams (the default, a quota
    67x the target incentive, a 70/30 pay mix, risk aversion up to 3), ten runs each."""
    sc = TEAMS[team]
    for label, a, b in dominated_pairs(np.random.default_rng(2028), 24):
        assert_buys_no_less(f"{team}: {label}", simulate(a, sc, 10), simulate(b, sc, 10))


# --- units --------------------------------------------------------------------------------

MONEY_PLAN = HEAD.format(name="money", period="quarter", per_year=4) + """\
  - {{name: commission, kind: rate, base: revenue, rate: 4%}}
  - name: bonus
    kind: step
    input: revenue / targets.revenue
    steps: [{{at: 1.0, pay: {bonus}}}, {{at: 1.3, pay: {bonus2}}}]
cap: {cap}
"""


def money_plan(k: float) -> str:
    """A plan with amounts written in money (a step bonus of 5,000 / 9,000 a quarter, a cap
    of 20,000 a quarter), every amount times ``k``."""
    return MONEY_PLAN.format(bonus=5000 * k, bonus2=9000 * k, cap=20000 * k)


def assert_same_behaviour(one: ChunkResult, scaled: ChunkResult, k: float) -> None:
    np.testing.assert_array_equal(one.rep_mask, scaled.rep_mask)
    np.testing.assert_allclose(scaled.effort, one.effort, rtol=1e-9, atol=0)
    np.testing.assert_allclose(scaled.revenue, k * one.revenue, rtol=1e-9)
    np.testing.assert_allclose(scaled.payout, k * one.payout, rtol=1e-9, atol=1e-9 * k)
    np.testing.assert_array_equal(scaled.leavers, one.leavers)


@pytest.mark.parametrize("k", [1000.0, 0.01])
def test_paying_in_other_units_changes_no_effort_generated_team(k):
    """Units: the default team with base salaries (so TI, OTE and quotas) and the plan's
    money amounts times k (a currency, or amounts in thousands) works exactly as hard, and
    its revenue and pay are k times as large. The generated roster rounds to three
    significant figures of the salaries, not to a fixed 100 or 1,000."""
    sc = default_scenario()
    bs = sc.base_salary
    scaled_sc = dataclasses.replace(sc, base_salary=Dist(bs.kind, tuple((n, v * k) for n, v in bs.params)))
    one, scaled = build_roster(sc), build_roster(scaled_sc)
    np.testing.assert_allclose(scaled.quota, k * one.quota, rtol=1e-12)
    np.testing.assert_allclose(scaled.ti, k * one.ti, rtol=1e-12)
    assert_same_behaviour(simulate(money_plan(1.0), sc, 2), simulate(money_plan(k), scaled_sc, 2), k)


@pytest.mark.parametrize("k", [67.0, 1000.0])
def test_paying_in_other_units_changes_no_effort_roster_file(tmp_path, k):
    """Units, with the roster from a file: quota, TI and base salary of every rep and the
    plan's amounts times k (67: the issue's quota-to-TI ratio against the default 10x is
    not what is tested here; any factor is) leave every rep's effort unchanged."""
    sc = default_scenario()
    roster = build_roster(sc)
    for name, factor in (("one", 1.0), ("scaled", k)):
        pd.DataFrame({"rep_id": roster.rep_ids, "team": roster.columns["team"], "quota": roster.quota * factor,
                      "ti": roster.ti * factor, "base_salary": roster.base_salary * factor,
                      "new_customer_quota": roster.columns["new_customer_quota"]}).to_csv(tmp_path / f"{name}.csv",
                                                                                           index=False)
    one = simulate(money_plan(1.0), dataclasses.replace(sc, roster=str(tmp_path / "one.csv")), 2)
    scaled = simulate(money_plan(k), dataclasses.replace(sc, roster=str(tmp_path / "scaled.csv")), 2)
    assert_same_behaviour(one, scaled, k)


# --- field findings -----------------------------------------------------------------------


def test_a_cap_on_a_quarterly_curve_lowers_revenue_misra_nair_2011():
    """Caps lower output. Misra & Nair (2011, Quantitative Marketing and Economics 9: 211-257):
    after a contact-lens maker removed its quarterly quotas and the cap on its commissions,
    revenue rose by about 9%. On the default team a quarterly curve capped at 120% of target
    earns less revenue than the same curve uncapped (measured: about 10% less)."""
    sc = default_scenario()
    capped = Simulation(load_plan(PLANS / "quarterly_curve_cap120.yaml"), sc, seed=2027).run_chunk(np.arange(8))
    uncapped = Simulation(load_plan(PLANS / "quarterly_curve_uncapped.yaml"), sc, seed=2027).run_chunk(np.arange(8))
    assert capped.revenue.sum() < 0.95 * uncapped.revenue.sum()
    assert (capped.revenue < uncapped.revenue).all()


def test_extending_the_accelerator_raises_revenue_chung_steenburgh_sudhir_2014():
    """Overachievement commissions sustain the best performers: Chung, Steenburgh & Sudhir
    (2014, Marketing Science 33(2): 165-187) estimate that removing them would cut revenue
    by about 6%. Extending classic_ae's accelerator from 300% to 400% of target (no rep paid
    less in any outcome) does not lower revenue (measured: +0.3%; -4.5% before the CARA
    certainty equivalent)."""
    sc = default_scenario()
    base = Simulation(load_plan(CLASSIC_AE), sc, seed=2027).run_chunk(np.arange(8))
    longer = Simulation(load_plan(PLANS / "classic_ae_accel400.yaml"), sc, seed=2027).run_chunk(np.arange(8))
    assert longer.revenue.sum() > base.revenue.sum()
    assert longer.effort[longer.rep_mask].mean() >= base.effort[base.rep_mask].mean()
