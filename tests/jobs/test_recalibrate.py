"""Recalibration: search bounded parameters and weights on common random numbers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.core.errors import PlanErrors
from engine.jobs.recalibrate import (
    RecalibrationSpec,
    decompose_targets,
    metric_catalogue,
    parse_constraint,
    recalibrate,
)
from engine.plan import load_plan, parse_plan
from engine.plan.rewrite import plan_numbers
from engine.report.text import recalibration_text
from engine.sim.scenario import parse_scenario
from tests.cli import incentive

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "scenarios" / "plans"

# A pure commission plan: cost = rate x revenue, so cost of sales is the rate itself, and
# more commission means more effort and revenue. Maximising revenue subject to a cost of
# sales ceiling c therefore has its optimum exactly at rate = c.
TOY = """\
# Toy plan: one bounded commission rate.
plan: toy_commission
period: quarter

parameters:
  rate: {value: 0.01, min: 0.01, max: 0.05}   # commission on revenue

target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
targets:
  revenue: roster.quota / 4
components:
  - name: commission
    kind: rate
    base: revenue
    rate: rate
"""

TEAM = parse_scenario("scenario: toy_team\nseed: 11\n"
                      "team: {reps: 24, teams: 2, extra_columns: {new_customer_quota: 24}}\n", "toy_team.yaml")


def toy(tmp_path: Path):
    path = tmp_path / "toy.yaml"
    path.write_text(TOY, encoding="utf-8")
    return load_plan(path)


def test_optimum_moves_to_the_constraint(tmp_path):
    """With a cost-of-sales ceiling of 3%, the best commission rate for revenue is 3%:
    the search finds it, revenue rises, and the constraint holds."""
    ck = toy(tmp_path)
    rec = recalibrate(ck, RecalibrationSpec(maximize="revenue", subject_to=["cost_of_sales <= 0.03"], budget=10), TEAM,
                      runs=12)
    new_rate = rec.checked.plan.parameter_values["rate"]
    assert 0.027 <= new_rate <= 0.03
    assert rec.feasible and rec.result.values["cost_of_sales"] <= 0.03
    assert rec.result.values["revenue"] > rec.baseline.values["revenue"]
    eff = rec.effects.set_index("metric")
    assert eff.loc["revenue", "role"] == "objective" and eff.loc["cost_of_sales", "role"] == "constraint"
    assert eff.loc["revenue", "ci_low"] > 0  # a significant, paired improvement
    assert list(rec.changes["name"]) == ["rate"] and rec.changes["new_text"].iloc[0] == f"{new_rate:g}"
    assert rec.evaluations <= 10
    # The printed report shows the change as a diff of the plan text, comment kept.
    text = recalibration_text(rec)
    assert "--- a/toy.yaml" in text and "+++ b/toy.yaml" in text
    assert "-  rate: {value: 0.01, min: 0.01, max: 0.05}   # commission on revenue" in text
    assert f"+  rate: {{value: {new_rate:g}, min: 0.01, max: 0.05}}   # commission on revenue" in text


def test_same_seed_same_answer(tmp_path):
    """Common random numbers and a seeded screen: the same seed gives the same plan and history."""
    ck = toy(tmp_path)
    spec = RecalibrationSpec(maximize="profit", subject_to=["cost_of_sales <= 0.04"], budget=6)
    a, b = recalibrate(ck, spec, TEAM, runs=6, seed=5), recalibrate(ck, spec, TEAM, runs=6, seed=5)
    assert a.plan_text == b.plan_text
    pd.testing.assert_frame_equal(a.history, b.history)
    assert json.dumps(a.document, sort_keys=True) == json.dumps(b.document, sort_keys=True)
    # Spreading the work over processes (here in one-run chunks) changes nothing, to the bit.
    c = recalibrate(ck, spec, TEAM, runs=6, seed=5, workers=2)
    assert c.plan_text == a.plan_text
    pd.testing.assert_frame_equal(a.history, c.history)
    assert json.dumps(a.document, sort_keys=True) == json.dumps(c.document, sort_keys=True)


def test_infeasible_constraint_is_reported(tmp_path):
    """A ceiling below the lowest allowed rate cannot be met: the least infeasible plan is
    returned, flagged, with the constraint and its excess named."""
    ck = toy(tmp_path)
    rec = recalibrate(ck, RecalibrationSpec(maximize="revenue", subject_to=["cost_of_sales <= 0.5%"], budget=6), TEAM,
                      runs=6)
    assert not rec.feasible
    assert rec.checked.plan.parameter_values["rate"] == 0.01  # least infeasible: the bottom of the range
    row = rec.constraint_rows[0]
    assert not row["satisfied"] and row["excess"] == pytest.approx(0.005, abs=1e-6)
    text = recalibration_text(rec)
    assert "NOT MET (over by +0.5pp)" in text and "no candidate met every constraint" in text
    assert rec.document["feasible"] is False


def test_bounds_respected_and_weights_sum_to_one():
    """Every evaluated candidate of a scorecard plan keeps its weights summing to 1 within the
    allowed change, and every parameter within its bounds."""
    ck = load_plan(PLANS / "kpi_scorecard.yaml")
    rec = recalibrate(ck, RecalibrationSpec(maximize="revenue", subject_to=["cost_of_sales <= 0.08"], budget=7,
                                            weight_change=0.1), TEAM, runs=4)
    hist = rec.history
    wcols = ["kpi.revenue_attainment", "kpi.collection_rate", "kpi.satisfaction", "kpi.new_logos"]
    assert set(wcols) <= set(hist.columns)
    assert np.allclose(hist[wcols].sum(axis=1), 1.0, atol=1e-9)
    start = np.array([0.4, 0.2, 0.2, 0.2])
    assert (np.abs(hist[wcols].to_numpy() - start) <= 0.1 + 1e-9).all()
    assert (hist[wcols].to_numpy() >= 0.05 - 1e-12).all()
    w = [m.weight.tree.value for m in rec.checked.plan.component("kpi").metrics]
    assert abs(sum(w) - 1) < 1e-9
    seeds = load_plan(PLANS / "seeds_base_float_excess.yaml")
    rec = recalibrate(seeds, RecalibrationSpec(minimize="cost", subject_to=["share_at_or_above_target >= 0.3"],
                                               budget=6), TEAM, runs=3)
    for p in seeds.plan.parameters:
        col = rec.history[p.name]
        assert ((col >= p.min) & (col <= p.max)).all()
        new = rec.checked.plan.parameter_values[p.name]
        assert p.min <= new <= p.max
    assert float(rec.checked.plan.parameter_values["complaint_limit"]).is_integer()


def test_output_plan_differs_only_in_numbers(tmp_path):
    """The written plan is the original text with only the changed numbers replaced."""
    ck = toy(tmp_path)
    rec = recalibrate(ck, RecalibrationSpec(maximize="revenue", subject_to=["cost_of_sales <= 0.03"], budget=6), TEAM,
                      runs=6)
    new_rate = rec.changes["new_text"].iloc[0]
    assert rec.plan_text == TOY.replace("{value: 0.01, min", f"{{value: {new_rate}, min")
    assert plan_numbers(parse_plan(rec.plan_text))["rate"] == float(new_rate)


def test_constraint_parsing():
    """Constraints read numbers, percents and bounds relative to the baseline; bad ones say how to write them."""
    m = metric_catalogue()
    c = parse_constraint("share_at_or_above_target >= 60%", m)
    assert (c.metric, c.op, c.value, c.relative) == ("share_at_or_above_target", ">=", 0.6, None)
    assert parse_constraint("cost <= 7,000,000", m).value == 7e6
    c = parse_constraint("attrition_rate <= baseline + 0.01", m)
    assert c.bound(0.25) == pytest.approx(0.26)
    assert parse_constraint("cost<baseline*1.05", m).bound(100.0) == pytest.approx(105.0)
    with pytest.raises(PlanErrors) as exc:
        parse_constraint("cost_of_sales 0.12", m)
    assert exc.value.codes == ["bad-constraint"] and "cost_of_sales <= 0.12" in exc.value.render()
    with pytest.raises(PlanErrors) as exc:
        parse_constraint("cost_of_sale <= 0.12", m)
    text = exc.value.render()
    assert exc.value.codes == ["unknown-metric"] and "did you mean 'cost_of_sales'?" in text
    assert "share_at_or_above_target" in text and "profit" in text  # the valid names are listed
    with pytest.raises(PlanErrors) as exc:
        parse_constraint("cost <= lots", m)
    assert exc.value.codes == ["bad-constraint"]


def test_objective_errors(tmp_path):
    """Exactly one objective, a known metric, and something to search."""
    ck = toy(tmp_path)
    with pytest.raises(PlanErrors) as exc:
        recalibrate(ck, RecalibrationSpec(budget=1), TEAM, runs=2)
    assert exc.value.codes == ["bad-objective"]
    with pytest.raises(PlanErrors) as exc:
        recalibrate(ck, RecalibrationSpec(maximize="proft", budget=1), TEAM, runs=2)
    assert "did you mean 'profit'?" in exc.value.render()
    with pytest.raises(PlanErrors) as exc:
        recalibrate(ck, RecalibrationSpec(maximize="revenue", budget=1, freeze=["rate"]), TEAM, runs=2)
    assert exc.value.codes == ["nothing-to-recalibrate"]
    with pytest.raises(PlanErrors) as exc:
        recalibrate(ck, RecalibrationSpec(maximize="revenue", budget=1, vary=["rte"]), TEAM, runs=2)
    assert "did you mean 'rate'?" in exc.value.render()


def test_decompose_targets_sums_and_scales():
    """Targets are proportional to expected output and add up to the company target; every rep
    reaches target with the same probability, P(relative output >= stretch)."""
    expected = np.array([100.0, 200.0, 300.0])
    rel = np.linspace(0.5, 1.5, 101)
    t, stretch, share, goal_total = decompose_targets(expected, rel, 660.0, 0.6)
    assert t.sum() == pytest.approx(660.0) and np.allclose(t / expected, 1.1)
    assert stretch == pytest.approx(1.1) and share == pytest.approx(0.40, abs=0.011)
    assert goal_total == pytest.approx(np.quantile(rel, 0.4) * 600.0)


def test_targets_end_to_end(tmp_path):
    """Per-rep annual, quarterly and monthly targets: annual targets sum to the company target,
    months and quarters to each rep's year, and targets scale with the roster's potential."""
    roster = pd.DataFrame({
        "rep_id": [f"R{i:02d}" for i in range(12)], "quota": [1_000_000.0] * 12, "ti": [80_000.0] * 12,
        "base_salary": [80_000.0] * 12, "team": ["A"] * 6 + ["B"] * 6,
        "potential": [900_000.0, 1_800_000.0] * 6,
    })
    path = tmp_path / "roster.csv"
    roster.to_csv(path, index=False)
    sc = TEAM.with_overrides(roster=str(path), reps=12)
    ck = toy(tmp_path)
    # Budget 1: only the current plan is simulated, so expected output is exactly the potential.
    spec = RecalibrationSpec(maximize="revenue", budget=1, targets=True, company_target=12_345_678.91,
                             potential_column="potential")
    rec = recalibrate(ck, spec, sc, runs=4)
    t = rec.targets
    assert list(t.columns) == ["rep_id", "period", "target"]
    annual = t[t.period == "2027"].set_index("rep_id")["target"]
    assert round(annual.sum(), 2) == 12_345_678.91
    assert annual["R01"] / annual["R00"] == pytest.approx(2.0, rel=1e-6)
    months = t[t.period.str.fullmatch(r"\d{4}-\d{2}")]
    quarters = t[t.period.str.contains("Q")]
    assert len(months) == 12 * 12 and len(quarters) == 12 * 4
    for rep, year in annual.items():
        assert round(months[months.rep_id == rep].target.sum(), 2) == round(year, 2)
        assert round(quarters[quarters.rep_id == rep].target.sum(), 2) == round(year, 2)
    # Seasonality: December (1.20) above January (0.90).
    r0 = months[months.rep_id == "R00"].set_index("period")["target"]
    assert r0["2027-12"] / r0["2027-01"] == pytest.approx(1.2 / 0.9, rel=1e-3)
    info = rec.document["targets"]
    assert 0 <= info["expected_share_reaching"] <= 1 and info["company_target"] == 12_345_678.91


def test_cli_end_to_end_on_shipped_plan(tmp_path):
    """`incentive recalibrate` on a shipped plan writes a valid plan that differs from the original
    only in parameter lines, prints the changes and effects, and writes JSON."""
    out, js = tmp_path / "new.yaml", tmp_path / "rec.json"
    proc = incentive("recalibrate", PLANS / "classic_ae.yaml", "--maximize", "profit", "--subject-to",
                     "cost_of_sales <= 0.136", "--runs", "6", "--budget-evals", "6", "--workers", "1",
                     "--out", out, "--json", js)
    assert proc.returncode == 0, proc.stderr
    assert "Predicted effect" in proc.stdout and "cost_of_sales <= 0.136" in proc.stdout
    assert "By skill quartile" in proc.stdout and f"wrote {out}" in proc.stdout
    new = load_plan(out)
    original = (PLANS / "classic_ae.yaml").read_text()
    for old_line, new_line in zip(original.splitlines(), out.read_text().splitlines()):
        if old_line != new_line:
            assert old_line.lstrip().startswith(("threshold:", "threshold_pay:")), new_line
    assert len(original.splitlines()) == len(out.read_text().splitlines())
    doc = json.loads(js.read_text())
    assert doc["plan"] == "classic_ae" and doc["objective"]["metric"] == "profit"
    assert doc["changes"] and doc["feasible"] is True
    assert doc["objective"]["recalibrated"] >= doc["objective"]["baseline"]
    assert {r["metric"] for r in doc["effects"]} >= {"cost", "revenue", "profit", "cost_of_sales"}
    for row in doc["changes"]:
        assert row["new"] == new.plan.parameter_values[row["name"]]
        assert f"{row['name']}: {row['old_text']} → {row['new_text']}" in proc.stdout


@pytest.mark.parametrize("args, fragments", [
    (["--subject-to", "cost_of_sales 0.12"], ["error[bad-constraint]", "cost_of_sales <= 0.12"]),
    (["--subject-to", "cost_of_sale <= 0.12"], ["error[unknown-metric]", "did you mean 'cost_of_sales'?",
                                                "share_at_or_above_target"]),
])
def test_cli_bad_constraint_exits_2(tmp_path, args, fragments):
    """A malformed constraint or unknown metric: exit 2, a clear message, no traceback, no file."""
    out = tmp_path / "new.yaml"
    proc = incentive("recalibrate", PLANS / "classic_ae.yaml", "--maximize", "revenue", *args, "--out", out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    for f in fragments:
        assert f in proc.stderr, proc.stderr
    assert not out.exists()


def test_cli_plan_without_bounds_exits_2(tmp_path):
    """A plan with nothing to search says so (exit 2)."""
    plan = tmp_path / "fixed.yaml"
    plan.write_text(TOY.replace("{value: 0.01, min: 0.01, max: 0.05}", "0.01"))
    proc = incentive("recalibrate", plan, "--maximize", "revenue", "--out", tmp_path / "o.yaml")
    assert proc.returncode == 2 and "nothing-to-recalibrate" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_infeasible_exits_1_but_writes_the_plan(tmp_path):
    """No candidate can meet the constraint: the least infeasible plan is written for
    inspection, the report says NOT MET, and the exit status is 1 so a script notices."""
    plan = tmp_path / "toy.yaml"
    plan.write_text(TOY)
    team = tmp_path / "team.yaml"
    team.write_text("scenario: toy_team\nseed: 11\nteam: {reps: 24, teams: 2, extra_columns: {new_customer_quota: 24}}\n")
    out = tmp_path / "new.yaml"
    proc = incentive("recalibrate", plan, "--scenario", team, "--maximize", "revenue", "--subject-to",
                     "cost_of_sales <= 0.5%", "--runs", "4", "--budget-evals", "3", "--workers", "1", "--out", out)
    assert proc.returncode == 1, proc.stderr
    assert "NOT MET" in proc.stdout and "least infeasible" in proc.stderr and "Traceback" not in proc.stderr
    assert out.exists()


def _big_roster(path: Path, n: int = 2000) -> None:
    rng = np.random.default_rng(1)
    base = np.round(rng.normal(85_000, 10_000, n), -2)
    ti = base.copy()
    pd.DataFrame({"rep_id": [f"E{i:05d}" for i in range(n)], "team": [f"T{i % 100:03d}" for i in range(n)],
                  "quota": np.round((base + ti) * rng.lognormal(np.log(5), 0.08, n), -3), "ti": ti,
                  "base_salary": base}).to_csv(path, index=False)


def test_cli_2000_rep_roster(tmp_path):
    """A realistic 2,000-rep roster: a few runs and a tiny budget finish in seconds, and the
    targets cover every rep and add up to the roster's quotas."""
    roster = tmp_path / "roster.csv"
    _big_roster(roster)
    out, targets = tmp_path / "new.yaml", tmp_path / "targets.csv"
    t0 = time.perf_counter()
    proc = incentive("recalibrate", PLANS / "seeds_base_float_excess.yaml", "--roster", roster, "--maximize",
                     "profit", "--subject-to", "cost_of_sales <= 0.07", "--runs", "2", "--budget-evals", "3",
                     "--workers", "1", "--targets-out", targets, "--out", out)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    t = pd.read_csv(targets, dtype={"target_period": str})
    assert t.rep_id.nunique() == 2000 and len(t) == 2000 * 4  # a row per rep and quarter
    quotas = pd.read_csv(roster)["quota"].sum()
    # each row's quota is four times the quarter's target: the year's targets add up to the quotas
    assert round(t.quota.sum() / 4, 0) == round(quotas, 0)
    assert "2000 reps" in proc.stdout
    assert elapsed < 60, elapsed
    print(f"2,000-rep recalibration (3 simulations x 2 runs, targets): {elapsed:.1f} s")


@pytest.mark.slow
def test_default_budget_on_seeds_plan(tmp_path):
    """The full default search (100 runs, 40 simulations) improves profit on the seeds plan
    within a cost-of-sales ceiling and a minimum share at target."""
    ck = load_plan(PLANS / "seeds_base_float_excess.yaml")
    spec = RecalibrationSpec(maximize="profit", subject_to=["cost_of_sales <= 0.065",
                                                            "share_at_or_above_target >= 0.45"])
    rec = recalibrate(ck, spec, workers=2)
    assert rec.feasible
    assert rec.result.values["profit"] > rec.baseline.values["profit"]
    assert rec.evaluations <= 40


def test_targets_come_back_as_a_roster_the_plan_reads(tmp_path):
    """--targets-out writes an effective-dated roster: every column of the input roster, a
    row per rep and quarter within the rep's employment (a 15 February hire has none for
    January, a 31 May leaver none after May), the plan's quota column such that the plan's own
    `roster.quota / 4` gives the quarter's new target; with --actuals the quarters already
    measured keep their targets. `payout` reads the file as it is."""
    roster = tmp_path / "roster.csv"
    pd.DataFrame({"rep_id": ["A", "B", "C", "D"], "team": ["N", "N", "S", "S"],
                  "quota": [1_000_000.0, 1_200_000.0, 900_000.0, 1_100_000.0], "ti": 20_000.0,
                  "base_salary": 80_000.0, "start_date": ["", "2027-02-15", "", ""],
                  "end_date": ["", "", "2027-05-31", ""]}).to_csv(roster, index=False)
    actuals = tmp_path / "actuals.csv"
    pd.DataFrame({"rep_id": ["A", "B", "C", "D"], "period": "2027-Q1", "revenue": 200_000.0,
                  "complaints": 0}).to_csv(actuals, index=False)
    out, targets = tmp_path / "new.yaml", tmp_path / "targets.csv"
    proc = incentive("recalibrate", PLANS / "seeds_base_float_excess.yaml", "--roster", roster, "--actuals", actuals,
                     "--maximize", "revenue", "--runs", "2", "--budget-evals", "2", "--workers", "1",
                     "--targets-out", targets, "--out", out)
    assert proc.returncode == 0, proc.stderr
    t = pd.read_csv(targets, dtype=str, keep_default_na=False)
    assert {"rep_id", "team", "quota", "ti", "base_salary", "start_date", "end_date", "effective_from",
            "effective_to"} <= set(t.columns)
    b = t[t.rep_id == "B"]
    assert b.effective_from.tolist()[0] == "2027-02-15" and len(b) == 4
    c = t[t.rep_id == "C"]
    assert c.effective_to.tolist() == ["2027-03-31", "2027-05-31"]  # Q1 and Q2 (to the last day employed)
    q1 = t[t.target_period == "2027-Q1"].set_index("rep_id")["quota"].astype(float)
    original = pd.read_csv(roster).set_index("rep_id")["quota"]
    assert (q1 == original[q1.index]).all()  # Q1 has actuals: its targets stay
    q3 = t[t.target_period == "2027-Q3"].set_index("rep_id")["quota"].astype(float)
    assert not (q3 == original[q3.index]).all()
    st = tmp_path / "st.csv"
    proc = incentive("payout", PLANS / "seeds_base_float_excess.yaml", "--roster", targets, "--actuals", actuals,
                     "--out", st)
    assert proc.returncode == 0, proc.stderr
