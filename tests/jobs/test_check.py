"""Design hazards rated on a simulated team: the jobs layer simulates, the lint only reads numbers."""

from __future__ import annotations

from pathlib import Path

from engine.jobs.check import attainment_quantiles, design_hazards, scenario_quantiles
from engine.plan import load_plan
from engine.plan.lint import lint_plan
from engine.sim.run import simulate
from engine.sim.scenario import default_scenario

PLAN = Path(__file__).resolve().parents[2] / "scenarios" / "plans" / "classic_ae.yaml"


def test_hazards_of_a_result_use_its_attainment_quantiles():
    """With a result, the findings are the lint's rated by that result's p10/p50/p90; with a
    scenario, by a short simulation of it (the same numbers as scenario_quantiles)."""
    checked = load_plan(PLAN)
    scenario = default_scenario()
    result = simulate(checked, scenario, runs=5, seed=scenario.seed)
    q = attainment_quantiles(result.document)
    assert [p for p, _ in q] == [0.1, 0.5, 0.9]
    assert design_hazards(checked, result=result) == lint_plan(checked, attainment_quantiles=q)
    assert scenario_quantiles(checked, scenario, runs=5) == q
    assert design_hazards(checked, scenario, runs=5) == lint_plan(checked, attainment_quantiles=q)


def test_without_a_team_the_findings_are_unrated():
    """No scenario and no result: the lint's own findings, rated by attainment level alone."""
    checked = load_plan(PLAN)
    assert design_hazards(checked) == lint_plan(checked)
