"""The default team shaped to a plan's own columns, and deal-level plans in the simulator
(engine/sim/shape.py; the Mix of engine/core/inputs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.core.inputs import Inputs, Mix
from engine.plan import compile_plan, load_plan, parse_plan
from engine.sim.scenario import Deals, default_scenario, parse_scenario
from engine.sim.shape import describe, mix_for, shape_scenario
from tests.cli import incentive
from tests.plan.strategies import period_infos

ROOT = Path(__file__).resolve().parents[2]
CN = ROOT / "scenarios" / "plans" / "seeds_cn_deals.yaml"

DEAL_PLAN = """
plan: deals
period: quarter
target_incentive: roster.ti / 4
measures:
  new_rev: "where(actuals.customer == 'new', actuals.amount, 0)"
  big: {expr: "where(actuals.amount >= 100000, 1, 0)", aggregate: sum}
  deals: {expr: "1", aggregate: count}
  avg_deal: {expr: actuals.amount, aggregate: mean}
components:
  - {name: c, kind: rate, base: new_rev, rate: 1}
"""


def _inputs(amounts: np.ndarray, mix: Mix) -> Inputs:
    R = len(amounts)
    return Inputs(rep_ids=np.array([f"R{i}" for i in range(R)], dtype=object), periods=period_infos("quarter", 1, [0]),
                  roster={"ti": np.full(R, 40_000.0)}, actuals={"amount": np.asarray(amounts, float).reshape(R, 1)},
                  active=np.ones((R, 1), dtype=bool), proration=np.ones((R, 1)), mix=mix)


@pytest.fixture(scope="module")
def deal_plan():
    return parse_plan(DEAL_PLAN, "deals.yaml")


def _mix(checked, shares=(("new", 0.4), ("old", 0.6)), count=4.0, sigma=0.8):
    sc = default_scenario()
    from dataclasses import replace

    sc = replace(sc, deals=Deals(count, sigma, (("customer", shares),)))
    mix = mix_for(checked, sc)
    assert mix is not None
    return mix


def test_a_share_of_deals_carries_its_share_of_the_amount(deal_plan):
    """With 40% of deals from new customers, a measure summing new customers' amounts is 40%
    of the period's amount, whatever the size spread; count is the expected deals per period
    (4 a month, 12 a quarter); a mean over deals is the mean deal."""
    mix = _mix(deal_plan)
    res = compile_plan(deal_plan).evaluate(_inputs(np.array([300_000.0, 0.0, 1_234.5]), mix))
    np.testing.assert_allclose(res.values["new_rev"][:, 0], [120_000.0, 0.0, 493.8], rtol=1e-12)
    np.testing.assert_allclose(res.values["deals"][:, 0], [12.0, 12.0, 12.0])
    np.testing.assert_allclose(res.values["avg_deal"][:, 0], [25_000.0, 0.0, 102.875], rtol=1e-12)
    np.testing.assert_allclose(res.columns["c"][:, 0], res.values["new_rev"][:, 0])


def test_large_deals_come_with_large_months(deal_plan):
    """The expected number of deals above a threshold rises with the period's amount and stays
    between 0 and the deals of the period (deal sizes spread lognormally around the mean)."""
    mix = _mix(deal_plan)
    amounts = np.array([0.0, 200_000.0, 600_000.0, 1_200_000.0, 3_000_000.0])
    big = compile_plan(deal_plan).evaluate(_inputs(amounts, mix)).values["big"][:, 0]
    assert big[0] == 0.0 and np.all(np.diff(big) >= 0) and big[-1] <= 12.0 + 1e-9
    assert big[-1] > big[1]


def test_the_plans_own_roster_columns_are_multiples_of_the_teams_amounts():
    """A plan in Chinese with its own roster columns: the target reads 年度指标 / 4, so 年度指标 is
    the team's quota; the target incentive 年度浮动奖金 / 4, so 年度浮动奖金 is its target incentive;
    base pay 月底薪 x 3 a quarter, so 月底薪 is a twelfth of its annual base salary. The amount the
    plan measures against its target is the team's revenue."""
    checked = load_plan(CN)
    shaped, how = shape_scenario(checked, default_scenario())
    derived = {name: (source, factor) for name, source, factor in shaped.derived_columns}
    assert derived["年度指标"] == ("quota", pytest.approx(1.0))
    assert derived["年度浮动奖金"] == ("ti", pytest.approx(1.0))
    assert derived["月底薪"][0] == "base_salary" and derived["月底薪"][1] == pytest.approx(1 / 12)
    amount = shaped.output("金额")
    assert amount.kind == "share_of" and amount.get("of") == "revenue" and amount.get("base") == 1.0
    attrs = dict(shaped.deals.attributes)
    assert dict(attrs["客户类型"]) == {"新客户": 0.5, "老客户": 0.5}
    assert set(dict(attrs["产品线"])) == {"新产品", "(other)"}  # one value named: the others exist too
    assert any("年度指标" in line for line in describe(how))


def test_a_scenario_overrides_the_mapping_in_the_plans_own_columns(tmp_path):
    """`columns:` and `deals:` in a scenario win over the mapping the engine would choose."""
    sc = parse_scenario("""
scenario: own
columns:
  年度指标: {from: quota, factor: 2}
deals:
  count: 6
  attributes:
    客户类型: {新客户: 0.2, 老客户: 0.8}
""", "own.yaml")
    shaped, _ = shape_scenario(load_plan(CN), sc)
    derived = {name: (source, factor) for name, source, factor in shaped.derived_columns}
    assert derived["年度指标"] == ("quota", 2.0)
    assert shaped.deals.count == 6.0
    assert dict(dict(shaped.deals.attributes)["客户类型"]) == {"新客户": 0.2, "老客户": 0.8}


def test_shaping_twice_changes_nothing():
    """Shaping an already shaped scenario adds no column, output or deal twice."""
    checked = load_plan(CN)
    once, _ = shape_scenario(checked, default_scenario())
    twice, how = shape_scenario(checked, once)
    assert twice == once and not how.roster and not how.actuals


def test_a_plan_in_its_own_columns_simulates_forecasts_and_checks_with_no_scenario(tmp_path):
    """The analyst's journey on a plan in Chinese with Chinese column names and no scenario
    file: `check` says how the team was mapped, `simulate` runs, `forecast` reads the team's
    own roster and transactions (the team's quota and target incentive recovered from its own
    columns)."""
    proc = incentive("check", CN)
    assert proc.returncode == 0, proc.stderr
    assert "Simulated team" in proc.stdout and "roster.年度指标 = 1 x quota" in proc.stdout
    proc = incentive("simulate", CN, "--runs", 2, "--workers", 1, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["cost"]["mean"] > 0 and 0.01 < doc["cost_of_sales"] < 0.3
    proc = incentive("forecast", CN, "--roster", ROOT / "scenarios/data/seeds_cn_roster.csv", "--actuals",
                     ROOT / "scenarios/data/seeds_cn_deals.csv", "--runs", 10, "--workers", 1, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    fc = json.loads(proc.stdout)
    assert fc["plan"] == "新老客户提成方案"
    proc = incentive("forecast", CN, "--roster", ROOT / "scenarios/data/seeds_cn_roster.csv", "--actuals",
                     ROOT / "scenarios/data/seeds_cn_deals.csv", "--as-of", "2027-05", "--runs", 5, "--workers", 1)
    # a quarter in progress: the deals reloaded by month; 5 runs of 5 slots with 5 months ahead
    # (arrays of shape (5, 5, 5), once read the wrong way round when packing cells)
    assert proc.returncode == 0, proc.stderr
    assert "2027-Q2  in progress" in proc.stdout


HUNTING = """
scenario: hunting
team: {reps: 24, teams: 4}
activities:
  selling: {share: 0.6}
  hunting: {share: 0.1}
  collections: {share: 0.15}
  care: {share: 0.15}
outputs:
  revenue: {kind: amount, activity: selling, noise: deals, deals_per_month: 4, size_sigma: 0.8}
  collected: {kind: share_of, of: revenue, activity: collections, base: 0.9, gain: 0.05, sd: 0.02}
deals:
  attributes:
    customer:
      new: {share: 0.3, activity: hunting, gain: 0.3}
      old: 0.7
"""

FLAT = """
plan: flat
period: quarter
target_incentive: roster.ti / 4
measures:
  rev: {expr: actuals.revenue, aggregate: sum}
  new_rev: "where(actuals.customer == 'new', actuals.revenue, 0)"
targets:
  rev: roster.quota / 4
components:
  - {name: commission, kind: rate, base: rev, rate: roster.ti / roster.quota}
"""


def test_a_bonus_on_new_customers_moves_effort_toward_hunting_them():
    """With an activity per attribute value (hunting new customers, farming the rest), a plan
    that pays extra on new customers' deals raises their share of the deals against the same
    plan without it (same reps and random numbers): reps respond to deal-level incentives."""
    from engine.jobs.compare import compare_plans

    sc = parse_scenario(HUNTING, "hunting.yaml")
    flat = parse_plan(FLAT, "flat.yaml")
    spiff = parse_plan(FLAT.replace("plan: flat", "plan: spiff") +
                       "  - {name: new_bonus, kind: rate, base: new_rev, rate: 3 * roster.ti / roster.quota}\n",
                       "spiff.yaml")
    cmp = compare_plans([flat, spiff], sc, runs=4, seed=3)
    shares = []
    for r in cmp.results:
        m = r.document["measures"]
        shares.append(m["deals.customer=new"] / (m["deals.customer=new"] + m["deals.customer=old"]))
    assert shares[1] > shares[0] + 0.05, shares


SCORE_PLAN = """
plan: scored
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
  csat: {expr: actuals.csat, aggregate: mean}
  avg_deal: {expr: "actuals.revenue", aggregate: mean}
components:
  - {name: c, kind: rate, base: revenue, rate: 0.01}
"""


def test_a_score_averaged_over_the_period_is_not_split_over_its_deals():
    """A survey score gathered with `mean` is a level, not an amount the period's
    deals share out: under the simulator's deal mix the measure is the period's score (4.2
    stays 4.2, not 4.2 / 12 deals), while the revenue the deals carry still averages to the
    mean deal. The default scenario's `csat` output is a score; `revenue` rides on the deals."""
    checked = parse_plan(SCORE_PLAN, "scored.yaml")
    shaped, _ = shape_scenario(checked, default_scenario())
    mix = mix_for(checked, shaped)
    assert mix is not None and mix.levels == frozenset({"csat"})
    R = 2
    inputs = Inputs(rep_ids=np.array(["R0", "R1"], dtype=object), periods=period_infos("quarter", 1, [0]),
                    roster={"ti": np.full(R, 40_000.0)},
                    actuals={"revenue": np.array([[120_000.0], [0.0]]), "csat": np.array([[4.2], [3.1]])},
                    active=np.ones((R, 1), dtype=bool), proration=np.ones((R, 1)), mix=mix)
    res = compile_plan(checked).evaluate(inputs)
    np.testing.assert_allclose(res.values["csat"][:, 0], [4.2, 3.1], rtol=1e-12)
    np.testing.assert_allclose(res.values["avg_deal"][:, 0], [10_000.0, 0.0], rtol=1e-12)
