"""Several plan years: the horizon up to 60 months, year-to-date terms restarting each plan
year, the quota policy (fixed, growth, ratchet), reps weighing the ratchet, and ``by_year``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import PlanErrors
from engine.jobs.compare import compare_plans
from engine.plan import load_plan
from engine.report.text import comparison_table
from engine.sim.market import MarketModel
from engine.sim.run import simulate
from engine.sim.scenario import QuotaPolicy, default_scenario, parse_scenario
from engine.sim.simulate import Simulation

ROOT = Path(__file__).resolve().parents[2]
CURVE = ROOT / "tests" / "sim" / "plans" / "quarterly_curve_uncapped.yaml"
TRUEUP = ROOT / "scenarios" / "plans" / "annual_quarterly_trueup.yaml"


@pytest.fixture(scope="module")
def small():
    """A small team over two plan years (fast enough for the default suite)."""
    return replace(default_scenario(), reps=24, teams=2, months=24)


# -- parsing -------------------------------------------------------------------------------


def test_quota_policy_and_a_60_month_horizon_parse():
    """``horizon.months`` goes up to 60 and ``quota_policy`` reads kind, growth, weight and discount."""
    sc = parse_scenario("scenario: s\nhorizon: {months: 60}\nquota_policy:\n  kind: ratchet\n  growth: 0.05\n"
                        "  weight: 0.5\n  discount: 0.3\n")
    assert sc.months == 60
    assert sc.quota_policy == QuotaPolicy("ratchet", 0.05, 0.5, 0.3)
    assert parse_scenario("scenario: s\n").quota_policy == QuotaPolicy()  # fixed by default


@pytest.mark.parametrize("text, line, col, fragment", [
    ("scenario: s\nhorizon: {months: 61}\n", 2, 19, "from 1 to 60 (got 61)"),
    ("scenario: s\nquota_policy: {kind: rachet}\n", 2, 22, "did you mean 'ratchet'"),
    ("scenario: s\nquota_policy: {kind: ratchet, weight: 1.5}\n", 2, 39, "weight must be between 0 and 1"),
    ("scenario: s\nquota_policy: {growth: -1}\n", 2, 24, "more than -1"),
    ("scenario: s\nquota_policy: {discount: 2}\n", 2, 26, "discount must be between 0 and 1"),
    ("scenario: s\nquota_policy: {knd: growth}\n", 2, 16, "kind"),
])
def test_bad_quota_policies(text, line, col, fragment):
    """Quota policy and horizon errors are located like the other scenario errors, with a did-you-mean."""
    with pytest.raises(PlanErrors) as info:
        parse_scenario(text, "s.yaml")
    err = info.value.errors[0]
    assert (err.span.line, err.span.column) == (line, col), err.render()
    assert fragment in err.render()


def test_next_quota_arithmetic():
    """fixed keeps the quota; growth multiplies by (1 + g); ratchet is ((1 - w) q + w actual)(1 + g)."""
    q, a = np.array([100.0, 200.0]), np.array([150.0, 100.0])
    assert np.array_equal(QuotaPolicy("fixed", 0.05).next_quota(q, a), q)
    assert np.allclose(QuotaPolicy("growth", 0.05).next_quota(q, a), [105.0, 210.0])
    assert np.allclose(QuotaPolicy("ratchet", 0.10, 0.5).next_quota(q, a), [137.5, 165.0])
    assert np.allclose(QuotaPolicy("ratchet", 0.0, 1.0).next_quota(q, a), a)


def test_a_ratchet_keeps_quotas_positive(small):
    """A rep who books nothing (a hire of the year's last month with no deal) does not get a
    zero quota: a ratchet never cuts below a tenth of this year's quota, and the months out of
    the role count at target."""
    sc = replace(small, reps=6, teams=1, quota_policy=QuotaPolicy("ratchet", 0.0, 1.0))
    sim = Simulation(load_plan(CURVE), sc, seed=5)
    state = _first_year(sim, [0])
    q0 = np.asarray(state.quota, dtype=float).copy()
    a, b = np.nonzero(state.present[0])[0][:2]  # two reps in the role at the year's end
    state.actual["revenue"][0, a, :12] = 0.0
    state.active_m[0, b, :11] = False
    state.actual["revenue"][0, b, :12] = 0.0
    sim._new_year(state, 11)
    assert state.quota[0, a] == pytest.approx(0.1 * q0[0, a])
    assert state.quota[0, b] == pytest.approx(q0[0, b] * 11 / 12)


# -- the simulation across plan years --------------------------------------------------------


def _first_year(sim: Simulation, runs):
    """The state after the first plan year's months and the year boundary."""
    state = sim._begin(np.asarray(runs))
    for t in range(12):
        for step in (sim._backfill, sim._seat, sim._decide, sim._produce, sim._close_period, sim._morale,
                     sim._quits):
            step(state, t)
    return state


@pytest.mark.parametrize("policy", [QuotaPolicy("growth", 0.05), QuotaPolicy("ratchet", 0.05, 0.6)])
def test_quota_policy_sets_next_years_quotas(small, policy):
    """At the plan year's end each seat's quota follows the policy: growth x (1 + g); ratchet
    ((1 - w) q + w x this year's primary, months out of the role at target) x (1 + g).
    The plan's target column moves with it; production does not (it scales with the seat)."""
    sc = replace(small, reps=6, teams=1, quota_policy=policy)
    sim = Simulation(load_plan(CURVE), sc, seed=5)
    state = _first_year(sim, [0, 1])
    q0 = np.asarray(state.quota, dtype=float).copy()
    prim = state.actual["revenue"][:, :, :12].sum(axis=2)
    in_role = state.active_m[:, :, :12].sum(axis=2)
    holders = state.present.copy()
    sim._new_year(state, 11)
    expected = np.maximum(policy.next_quota(q0, prim + q0 * (12 - in_role) / 12.0), 0.1 * q0)
    assert np.allclose(state.quota[holders], expected[holders])
    assert np.allclose(state.roster_cols["quota"][holders], expected[holders])
    assert np.allclose(state.scale[holders], q0[holders])  # the territory's potential is unchanged
    # a backfill into a seat later gets the seat's quota of that year
    assert np.allclose(state.seat_quota[np.nonzero(holders)[0], state.seat[holders]], state.quota[holders])


def test_year_to_date_terms_restart_each_plan_year(small):
    """A plan that accumulates over the year (year-to-date true-up) pays the first quarter of
    year 2 from zero: as if that quarter were evaluated alone, not on two years to date."""
    sim = Simulation(load_plan(TRUEUP), replace(small, reps=6, teams=1), seed=2)
    result = sim.run_chunk(np.arange(2), keep=True)
    d = result.detail
    roster = sim._slot_roster(d["seat"])
    roster["status"] = np.full(d["seat"].shape, "tenured", dtype=object)
    roster["tenure_months"] = np.full(d["seat"].shape, 24.0)
    inputs_all = sim._realized_inputs(list(range(8)), d["actual"], d["active"], roster)
    inputs_q5 = sim._realized_inputs([4], d["actual"], d["active"], roster)
    pay_all, pay_q5 = sim.prog.evaluate(inputs_all).total, sim.prog.evaluate(inputs_q5).total
    assert np.allclose(pay_all[..., 4], pay_q5[..., 0])
    assert pay_q5.sum() > 0
    # and the year's cost is what its quarters paid
    assert result.by_year is not None and result.period_cost is not None
    assert np.allclose(result.by_year["cost"][:, 1], result.period_cost[:, 4:8].sum(axis=1))


def test_fixed_quotas_give_a_second_year_like_the_first(small):
    """With fixed quotas nothing drifts: year 2's revenue, cost and attainment are close to year 1's.

    The market's yearly level (sd 10% a year) is switched off: over a few runs it alone moves
    one year against another by more than the drift this test looks for."""
    steady = replace(small, market=MarketModel(year_sigma=0.0, rho=0.6, month_sigma=0.0))
    doc = simulate(load_plan(CURVE), steady, runs=8, seed=3).document
    y1, y2 = doc["by_year"]
    assert (y1["year"], y2["year"]) == ("2027", "2028")
    assert abs(y2["revenue"]["mean"] / y1["revenue"]["mean"] - 1) < 0.08
    assert abs(y2["cost"]["mean"] / y1["cost"]["mean"] - 1) < 0.15
    assert abs(y2["attainment"]["p50"] - y1["attainment"]["p50"]) < 0.12


def test_ratchet_makes_reps_hold_back_in_year_one(small):
    """Quotas ratcheted on this year's results make reps hold back (Weitzman 1980, "The 'ratchet
    principle' and performance incentives", Bell J. Econ. 11(1); Misra & Nair 2011, "A structural
    model of sales-force compensation dynamics", QME 9(3)): on the same seed (common random
    numbers), year 1 effort and revenue are lower under ``ratchet, weight: 1`` than under ``fixed``."""
    plan = load_plan(CURVE)
    fixed = simulate(plan, small, runs=4, seed=3).document
    ratchet = simulate(plan, replace(small, quota_policy=QuotaPolicy("ratchet", 0.0, 1.0)), runs=4,
                       seed=3).document
    f1, r1 = fixed["by_year"][0], ratchet["by_year"][0]
    assert r1["effort"]["mean"] < f1["effort"]["mean"] - 0.03
    assert r1["revenue"]["mean"] < 0.97 * f1["revenue"]["mean"]
    # a ratchet that ignores this year's results (weight 0) is a fixed policy: no holding back
    zero = simulate(plan, replace(small, quota_policy=QuotaPolicy("ratchet", 0.0, 0.0)), runs=4,
                    seed=3).document
    assert json.dumps(zero) == json.dumps(fixed)


def test_by_year_in_the_json(small):
    """More than 12 months: one ``by_year`` entry per plan year with cost, revenue, attainment
    and morale as at the top level; the years add up to the horizon. 12 months: no ``by_year``."""
    doc = simulate(load_plan(TRUEUP), replace(small, months=18), runs=3, seed=1).document
    years = doc["by_year"]
    assert [e["year"] for e in years] == ["2027", "2028"]
    for e in years:
        assert set(e["cost"]) == set(doc["cost"])
        assert set(doc["attainment"]) - {"gini"} == set(e["attainment"])
        assert set(e["morale"]) == set(doc["morale"])
    assert sum(e["revenue"]["mean"] for e in years) == pytest.approx(doc["revenue"]["mean"])
    assert sum(e["cost"]["mean"] for e in years) == pytest.approx(doc["cost"]["mean"])
    assert years[1]["revenue"]["mean"] < 0.7 * years[0]["revenue"]["mean"]  # six months of 2028
    one = simulate(load_plan(TRUEUP), replace(small, months=12), runs=2, seed=1).document
    assert "by_year" not in one


def test_compare_shows_years(small):
    """``compare`` adds per-year cost and revenue rows (with paired differences) when plans span several years."""
    plans = [load_plan(CURVE), load_plan(TRUEUP)]
    cmp = compare_plans(plans, small, runs=3, seed=4)
    text = comparison_table(cmp)
    for label in ("cost 2027 (mean)", "cost 2028 (mean)", "revenue 2027 (mean)", "revenue 2028 (mean)"):
        assert text.count(label) == 2  # the figures and the differences
    assert "cost 2028" in cmp.differences[0]
    assert "spans 2 plan years (2027, 2028): money, attainment and attrition are over the whole horizon" in text
    one_year = comparison_table(compare_plans(plans, replace(small, months=12), runs=2, seed=4))
    assert "plan years" not in one_year


def test_report_and_studio_show_years(small):
    """The HTML key figures (report, notebooks) carry the per-year rows; the studio's status
    line gives cost and revenue by plan year; a one-year document shows neither."""
    from engine.app.studio import _years_text
    from engine.report.html import key_figures_html

    result = simulate(load_plan(CURVE), replace(small, months=18), runs=2, seed=1)
    assert "revenue 2028 (mean)" in key_figures_html([result])
    text = _years_text(result.document, "USD")
    assert "2027 cost" in text and "2028 cost" in text
    one = simulate(load_plan(CURVE), replace(small, months=12), runs=2, seed=1)
    assert _years_text(one.document, "USD") == "" and "2027 (mean)" not in key_figures_html([one])


def test_seats_stay_filled_over_five_plan_years(small):
    """Backfills keep coming in every plan year: over 60 months the team does not shrink as
    leavers outnumber one year's hires (the slots kept for hires grow with the horizon)."""
    sc = replace(small, months=60)
    sim = Simulation(load_plan(CURVE), sc, seed=4)
    d = sim.run_chunk(np.arange(2), keep=True).detail
    in_role = d["active"].sum(axis=1)  # (runs, months): reps in the role each month
    hires = (d["seat"] >= 0).sum(axis=1) - sc.reps  # slots ever used beyond the starting seats
    assert hires.min() > 0.6 * sc.reps  # more than one year's worth of hires was needed ...
    assert in_role[:, -12:].mean() >= 0.85 * sc.reps  # ... and the last year is still staffed
    assert in_role[:, -12:].mean() >= 0.9 * in_role[:, :12].mean()


@pytest.mark.slow
def test_the_default_team_is_steady_over_several_plan_years():
    """Under an unchanged plan and fixed quotas the default team stays in its calibration
    band in every plan year (41-59% at or above target, 25-35% attrition: docs/scenario.md)
    and no year's revenue is more than 5% from the first's. The starting team is a running
    team (a tenure mix with reps still ramping, morale that settles within a quarter), not a
    fresh one that decays over its first plan years (before issue #28's fix: year 2 had 34%
    at target and 41% attrition, revenue 8% below year 1)."""
    sc = replace(default_scenario(), months=36)
    doc = simulate(load_plan(ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"), sc,
                   runs=200, seed=2027).document
    years = doc["by_year"]
    assert len(years) == 3
    first = years[0]["revenue"]["mean"]
    for y in years:
        assert 0.41 <= y["attainment"]["share_at_or_above_target"] <= 0.59, y["year"]
        assert 0.25 <= y["morale"]["attrition_rate"] <= 0.35, y["year"]
        assert abs(y["revenue"]["mean"] / first - 1) < 0.05, y["year"]
