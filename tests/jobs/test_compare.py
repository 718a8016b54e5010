"""Comparing plans on common random numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.jobs.compare import compare_plans, paired_difference
from engine.plan import load_plan
from engine.report.text import comparison_table
from engine.sim.scenario import default_scenario

PLANS = Path(__file__).resolve().parents[2] / "scenarios" / "plans"


def test_same_plan_twice_differs_by_exactly_zero():
    """Common random numbers: the same plan compared with itself differs by 0, with a zero-width CI."""
    p = load_plan(PLANS / "classic_ae.yaml")
    cmp = compare_plans([p, p], default_scenario(), runs=3, seed=3)
    d = cmp.differences[0]
    for key in ("cost", "revenue", "share_at_or_above_target", "attrition_rate"):
        assert d[key]["mean"] == 0.0 and d[key]["ci_low"] == 0.0 and d[key]["ci_high"] == 0.0


def test_differences_and_table():
    """Each later plan gets paired differences to the first, shown in the side-by-side table."""
    a, b = load_plan(PLANS / "seeds_base_float_excess.yaml"), load_plan(PLANS / "classic_ae.yaml")
    cmp = compare_plans([a, b], default_scenario(), runs=4, seed=3)
    doc = cmp.document
    assert [p["plan"] for p in doc["plans"]] == ["seeds_base_float_excess", "classic_ae"]
    diff = doc["differences"][0]["cost"]
    assert np.isclose(diff["mean"], doc["plans"][1]["cost"]["mean"] - doc["plans"][0]["cost"]["mean"], rtol=1e-12)
    assert diff["ci_low"] <= diff["mean"] <= diff["ci_high"]
    table = comparison_table(cmp, "USD")
    assert "seeds_base_float_excess" in table and "classic_ae" in table and "cost (mean) (USD)" in table


def test_paired_difference_interval():
    """The paired CI is the t interval of the per-run differences."""
    d = paired_difference(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.5, 4.5, 5.0]))
    assert d["mean"] == 1.0
    assert d["ci_low"] < 1.0 < d["ci_high"]
    # t(0.975, 3) = 3.182446305; sd of [1, 0.5, 1.5, 1] is 0.408248; sqrt(4) = 2.
    assert np.isclose(d["ci_high"] - 1.0, 3.182446305 * 0.4082482905 / 2, rtol=1e-6)


def test_a_plan_with_base_pay_calls_its_cost_incentive_cost():
    """With base pay the cost rows are the incentive's alone: the text table (simulate,
    compare), the report's key figures and the differences call them incentive cost, per plan
    year too, beside base pay and total pay cost; the JSON keys do not change. A plan without
    base pay keeps 'cost'."""
    from dataclasses import replace

    from engine.report.html import key_figures_html

    cn = load_plan(PLANS / "seeds_cn_deals.yaml")
    sc = replace(default_scenario(), reps=24, teams=2, months=24)
    cmp = compare_plans([cn, cn], sc, runs=2, seed=3)
    doc = cmp.results[0].document
    assert {"cost", "cost_of_sales", "base_pay_cost", "total_pay_cost"} <= set(doc)
    assert "cost" in doc["by_year"][0] and "cost" in cmp.differences[0] and "cost 2027" in cmp.differences[0]
    table = comparison_table(cmp, "CNY")
    labels = [line.split("  ")[0] for line in table.splitlines()]
    for label in ("incentive cost (mean) (CNY)", "incentive cost P90 (CNY)", "incentive cost of sales",
                  "incentive cost 2027 (mean) (CNY)", "base pay (mean) (CNY)", "total pay cost (mean) (CNY)",
                  "replacement cost (CNY)"):
        assert label in labels, label
    assert labels.count("incentive cost (mean) (CNY)") == 2  # the figures and the differences
    assert not [x for x in labels if x.startswith("cost")]
    page = key_figures_html(cmp.results)
    assert ">incentive cost P50 (CNY)</td>" in page and ">cost P50" not in page
    plain = compare_plans([load_plan(PLANS / "classic_ae.yaml")], replace(sc, months=12), runs=2, seed=3)
    text = comparison_table(plain, "USD")
    assert "cost (mean) (USD)" in text and "cost of sales" in text and "incentive" not in text
