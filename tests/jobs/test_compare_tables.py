"""Comparison tables for notebooks, and winners and losers by skill quartile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.jobs.compare import compare_plans, key_figures
from engine.plan import load_plan
from engine.report.display import to_html
from engine.sim.scenario import default_scenario

PLANS = Path(__file__).resolve().parents[2] / "scenarios" / "plans"


@pytest.fixture(scope="module")
def cmp():
    plans = [load_plan(PLANS / "seeds_base_float_excess.yaml"), load_plan(PLANS / "classic_ae.yaml")]
    return compare_plans(plans, default_scenario(), runs=4, seed=3, workers=1, keep_reps=True)


def test_tables_are_the_documents_figures(cmp):
    """Comparison.table() has a column per plan with the document's values; the differences
    table has each later plan's paired mean and CI."""
    t = cmp.table()
    assert list(t.columns) == ["seeds_base_float_excess", "classic_ae"]
    assert t.loc["cost P90", "classic_ae"] == cmp.results[1].document["cost"]["p90"]
    assert t.loc["attrition", "seeds_base_float_excess"] == cmp.results[0].document["morale"]["attrition_rate"]
    d = cmp.differences_table()
    row = d[(d.plan == "classic_ae") & (d.metric == "cost (mean)")].iloc[0]
    assert row["mean"] == cmp.differences[0]["cost"]["mean"] and row.ci_low <= row["mean"] <= row.ci_high
    single = key_figures([cmp.results[0]])
    assert list(single.columns) == ["seeds_base_float_excess"] and len(single) == len(t)


def test_html_reprs(cmp):
    """Notebook objects render as HTML tables (plans, comparison, single result)."""
    html = to_html(cmp)
    assert html.count("<table") == 2 and "classic_ae" in html and "±" in html
    assert "<table" in to_html(cmp.results[0])
    plan_html = to_html(load_plan(PLANS / "seeds_base_float_excess.yaml"))
    assert "base_and_float" in plan_html and "100%" in plan_html and "USD" in plan_html


def test_winners_losers_by_skill_quartile(cmp):
    """Per quartile: the paired mean payout change equals the difference of the per-run
    quartile means; shares of reps better and worse off are shares of the starting reps."""
    df = cmp.winners_losers()
    assert df["quartile"].tolist() == [1, 2, 3, 4] and set(df["plan"]) == {"classic_ae"}
    a, b = cmp.results[0].detail, cmp.results[1].detail
    for _, row in df.iterrows():
        j = row["quartile"] - 1
        assert row["mean_change"] == pytest.approx(np.mean(b.quartile_payout[:, j] - a.quartile_payout[:, j]))
        assert 0 <= row["share_better"] + row["share_worse"] <= 1
    # Independently: reps ranked by skill in run 0, top quarter, payout change.
    s = a.seats
    order = np.argsort(a.skill[:, :s], axis=1)
    top = order[:, -s // 4:]
    delta = np.take_along_axis(b.payout[:, :s] - a.payout[:, :s], top, axis=1)
    assert df.iloc[3]["share_better"] == pytest.approx((delta > 1.0).mean())


def test_winners_losers_needs_detail():
    """Without per-rep detail the error says how to get it."""
    p = load_plan(PLANS / "classic_ae.yaml")
    plain = compare_plans([p, p], default_scenario(), runs=2, seed=1, workers=1)
    with pytest.raises(ValueError, match="keep_reps=True"):
        plain.winners_losers()
