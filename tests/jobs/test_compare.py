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
