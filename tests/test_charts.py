"""The chart API: readable axes (units, currency), one colour per plan everywhere, and
markers at the values they claim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from engine.jobs.compare import compare_plans
from engine.plan import load_plan
from engine.report import charts
from engine.report.display import to_html
from engine.sim.population import build_roster
from engine.sim.run import simulate
from engine.sim.scenario import default_scenario

PLANS = Path(__file__).resolve().parents[1] / "scenarios" / "plans"
NAMES = ("seeds_base_float_excess", "classic_ae", "kpi_scorecard")


@pytest.fixture(scope="module")
def scenario():
    return default_scenario()


@pytest.fixture(scope="module")
def plans():
    return [load_plan(PLANS / f"{n}.yaml") for n in NAMES]


@pytest.fixture(scope="module")
def cmp(plans, scenario):
    return compare_plans(plans, scenario, runs=5, seed=3, workers=1, keep_reps=True)


def _titles(fig: go.Figure) -> list[str]:
    layout = fig.to_dict()["layout"]
    return [v["title"]["text"] for k, v in layout.items()
            if k.startswith(("xaxis", "yaxis")) and v.get("title", {}).get("text")]


def _trace_colour(t) -> str:
    if t.type == "bar":
        return t.marker.color
    if t.type == "box":
        return t.marker.color
    return t.line.color


def test_money_axes_name_the_currency(cmp, plans, scenario):
    """Every axis that carries money says which currency; attainment axes say % of target."""
    roster = build_roster(scenario)
    for fig in (charts.payout_curve(plans[0], roster=roster), charts.payout_curves(plans, roster),
                charts.cost_distribution(cmp.results), charts.payout_distribution(cmp.results),
                charts.winners_losers(cmp)):
        titles = _titles(fig)
        assert any("(USD)" in t for t in titles), titles
        assert fig.layout.title.text
    assert any("% of" in t for t in _titles(charts.attainment_distribution(cmp.results)))
    assert any("% of target" in t for t in _titles(charts.payout_curve(plans[0])))
    # Thousands separators on money axes.
    assert charts.cost_distribution(cmp.results).layout.xaxis.tickformat == ",.0f"
    assert charts.payout_curve(plans[0]).layout.yaxis.tickformat == ",.0f"


def test_each_plan_keeps_its_colour_in_every_chart(cmp, plans):
    """Plan i is drawn in PALETTE[i] in every multi-plan chart (the winners chart starts at plan 2)."""
    expected = charts.plan_colours(NAMES)
    assert list(expected.values()) == list(charts.PALETTE[:3])
    figs = [charts.payout_curves(plans), charts.attainment_distribution(cmp.results),
            charts.payout_distribution(cmp.results), charts.cost_distribution(cmp.results),
            charts.cost_of_sales(cmp.results), charts.morale_risk(cmp.results), charts.winners_losers(cmp)]
    for fig in figs:
        seen = {t.name: _trace_colour(t) for t in fig.data if t.name in expected}
        assert seen, fig.layout.title.text
        for name, colour in seen.items():
            assert colour == expected[name], (fig.layout.title.text, name, colour)
    assert {t.name for t in charts.winners_losers(cmp).data} == set(NAMES[1:])


def test_cost_markers_sit_at_p50_p90_p95(cmp):
    """The P50/P90/P95 markers are the quantiles of the per-run team cost (and the document's)."""
    fig = charts.cost_distribution(cmp.results)
    for label, q in (("P50", 50), ("P90", 90), ("P95", 95)):
        trace = next(t for t in fig.data if t.name == label)
        for x, y, r in zip(trace.x, trace.y, cmp.results):
            assert y == r.plan
            assert x == pytest.approx(np.percentile(np.asarray(r.per_run["cost"]), q), rel=1e-12)
            assert x == pytest.approx(r.document["cost"][f"p{q}"], rel=1e-12)
    runs = [t for t in fig.data if t.type == "box"]
    assert [len(t.x) for t in runs] == [5, 5, 5]


def test_payout_curve_data_is_a_fine_grid_that_adds_up(plans, scenario):
    """0 to 200% in 1-point steps; components (and adjustments) add up to the total; at 100%
    the seeds plan pays the reference rep its annual target incentive (base + floating bonus)."""
    roster = build_roster(scenario)
    df = charts.payout_curve_data(plans[0], roster=roster)
    assert len(df) == 201 and df.index[0] == 0 and df.index[-1] == 200 and np.allclose(np.diff(df.index), 1)
    parts = [c.name for c in plans[0].plan.components] + (["adjustment"] if "adjustment" in df else [])
    assert np.allclose(df[parts].sum(axis=1), df["total"])
    assert df.loc[100, "total"] == pytest.approx(float(np.median(roster.ti)))
    assert df.loc[79, "total"] == 0 and df.loc[80, "total"] == pytest.approx(0.4 * float(np.median(roster.ti)))
    assert (np.diff(df["total"]) >= -1e-9).all()
    fig = charts.payout_curve(plans[0], roster=roster)
    assert [t.name for t in fig.data][:2] == ["base_and_float", "excess_commission"]
    # Parameter overrides move the curve: a base threshold at 70% pays the base bonus there.
    moved = charts.payout_curve_data(plans[0], params={"base_threshold": 0.7}, roster=roster)
    assert moved.loc[70, "total"] > 0 and df.loc[70, "total"] == 0


def test_distribution_charts_need_per_rep_values(plans, scenario):
    """Without keep_reps there are no per-rep values: the error says how to get them."""
    r = simulate(plans[0], scenario, runs=2, seed=1)
    with pytest.raises(ValueError, match="keep_reps=True"):
        charts.attainment_distribution([r])
    charts.cost_distribution([r])  # per-run figures are always there
    charts.morale_risk([r])


def test_distributions_are_shares_of_the_sample(cmp):
    """Each plan's histogram sums to 100% of its sampled rep-years."""
    for fig in (charts.attainment_distribution(cmp.results), charts.payout_distribution(cmp.results)):
        for t in fig.data:
            assert sum(t.y) == pytest.approx(100.0)


def test_morale_bars_are_means_over_runs_with_intervals(cmp):
    """The attrition bar is the mean of the per-run attrition rates, with a CI around it."""
    fig = charts.morale_risk(cmp.results)
    for t, r in zip(fig.data, cmp.results):
        x = np.asarray(r.per_run["attrition_rate"])
        assert t.y[0] == pytest.approx(100 * x.mean())
        assert t.error_y.array[0] > 0 and t.error_y.arrayminus[0] > 0


def test_labels_rename_results(cmp):
    """labels= names results in legends and categories (e.g. a plan with moved parameters)."""
    labels = ["A", "B", "C"]
    for build in (charts.cost_distribution, charts.attainment_distribution, charts.payout_distribution,
                  charts.cost_of_sales, charts.morale_risk):
        fig = build(cmp.results, labels=labels)
        assert {t.name for t in fig.data} - {"P50", "P90", "P95"} == set(labels), build.__name__
    with pytest.raises(ValueError, match="labels must name every result"):
        charts.morale_risk(cmp.results, labels=["A"])


@pytest.fixture(scope="module")
def seeds_forecast():
    from engine.jobs.forecast import forecast

    data = PLANS.parent / "data"
    return forecast(load_plan(PLANS / "seeds_base_float_excess.yaml"), data / "seeds_roster.csv",
                    data / "seeds_actuals.csv", runs=30, seed=5, budget=90_000)


def test_forecast_by_period_shows_paid_then_percentiles(seeds_forecast):
    fc = seeds_forecast
    fig = charts.forecast_by_period(fc)
    traces = {t.name: t for t in fig.data}
    df = fc.by_period[fc.by_period["period"] != "year"]
    closed, open_ = df[df["status"] == "closed"], df[df["status"] != "closed"]
    assert list(traces["paid (closed periods)"].y) == pytest.approx(list(closed["paid"]))
    assert list(traces["forecast P50"].y) == pytest.approx(list(open_["p50"]))
    # The whisker reaches the P90 of each open period.
    p50 = np.asarray(traces["forecast P50"].y, dtype=float)
    assert p50 + np.asarray(traces["forecast P50"].error_y.array) == pytest.approx(open_["p90"].to_numpy(float))
    assert "USD" in fig.layout.yaxis.title.text


def test_forecast_distribution_marks_budget_and_percentiles(seeds_forecast):
    fc = seeds_forecast
    fig = charts.forecast_distribution(fc)
    lines = sorted(s.x0 for s in fig.layout.shapes)
    expected = sorted([float(np.quantile(fc.annual, q)) for q in (0.5, 0.9, 0.95)] + [90_000.0])
    assert lines == pytest.approx(expected)
    share = float(np.mean(np.asarray(fc.annual) > 90_000))
    assert any(f"{100 * share:.1f}% of runs above" in a.text for a in fig.layout.annotations)
    assert "USD" in fig.layout.xaxis.title.text


def test_forecast_shows_itself_in_a_notebook(seeds_forecast):
    html = to_html(seeds_forecast)
    assert "Forecast of seeds_base_float_excess" in html and "<table" in html and "Budget 90,000" in html


def test_by_year_shows_each_plan_year_at_its_values(plans, scenario, cmp):
    """The plan-year chart: per plan (its colour, one legend entry), bars over the plan years
    at the mean of each year's per-run incentive cost and revenue with their 95% CI, and at the
    document's by_year share at or above target and attrition (in percent); a comparison of
    one plan year has no such chart."""
    from dataclasses import replace

    from engine.jobs.compare import mean_interval
    from engine.sim.scenario import QuotaPolicy

    sc = replace(scenario, reps=24, teams=2, months=24, quota_policy=QuotaPolicy("ratchet", 0.0, 1.0))
    two = compare_plans(plans[:2], sc, runs=3, seed=3, workers=1)
    assert charts.years_of(two.results) == ["2027", "2028"]
    fig = charts.by_year(two.results, labels=["now", "then"])
    assert [t.name for t in fig.data if t.showlegend] == ["now", "then"]
    for i, r in enumerate(two.results):
        traces = [t for t in fig.data if t.name == ("now", "then")[i]]
        assert len(traces) == 4 and {t.marker.color for t in traces} == {charts.PALETTE[i]}
        cost, revenue, share, attrition = traces
        assert list(cost.x) == ["2027", "2028"]
        for j, year in enumerate(("2027", "2028")):
            c = mean_interval(r.per_run[f"cost {year}"])
            assert cost.y[j] == pytest.approx(c["mean"]) == pytest.approx(r.document["by_year"][j]["cost"]["mean"])
            assert cost.error_y.array[j] == pytest.approx(c["ci_high"] - c["mean"])
            assert revenue.y[j] == pytest.approx(mean_interval(r.per_run[f"revenue {year}"])["mean"])
            e = r.document["by_year"][j]
            assert share.y[j] == pytest.approx(100 * e["attainment"]["share_at_or_above_target"])
            assert attrition.y[j] == pytest.approx(100 * e["morale"]["attrition_rate"])
    assert "USD" in fig.layout.yaxis.title.text and fig.layout.yaxis3.ticksuffix == "%"
    assert charts.years_of(cmp.results) == []
    with pytest.raises(ValueError, match="several plan years"):
        charts.by_year(cmp.results)
