"""Design hazards rated on a simulated team: the simulation half of ``incentive check --scenario``.

The lint (:func:`engine.plan.lint.lint_plan`) scans what a plan pays and needs only numbers
to say what share of reps a hazard concerns: the attainment quantiles. This module gets
them from the simulator, briefly (:data:`SIM_RUNS` runs) or from results already simulated,
and hands them down as plain pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from engine.plan.lint import Finding, lint_plan
from engine.plan.validate import CheckedPlan
from engine.sim.run import SimResult, simulate
from engine.sim.scenario import Scenario

__all__ = ["QUANTILES", "SIM_RUNS", "attainment_quantiles", "design_hazards", "scenario_quantiles"]

SIM_RUNS = 20  # runs simulated for `incentive check --scenario`
QUANTILES = ((0.1, "p10"), (0.5, "p50"), (0.9, "p90"))  # quantile -> key of the attainment figures


def attainment_quantiles(document: dict) -> tuple[tuple[float, float], ...]:
    """The p10, p50 and p90 of simulated attainment (result / target over the year) read from
    a simulation document, as ``((0.1, a10), (0.5, a50), (0.9, a90))`` (missing ones left out)."""
    att = document["attainment"]
    return tuple((q, float(att[k])) for q, k in QUANTILES if att.get(k) is not None)


def scenario_quantiles(checked: CheckedPlan, scenario: Scenario, runs: int = SIM_RUNS,
                       seed: int | None = None) -> tuple[tuple[float, float], ...]:
    """Simulate the plan briefly on the scenario and return its attainment quantiles.

    Args:
        checked: the validated plan.
        scenario: the team to simulate.
        runs: Monte Carlo runs.
        seed: master seed (default: the scenario's).

    Returns:
        See :func:`attainment_quantiles`.

    Raises:
        EngineError: the scenario cannot be simulated for this plan.
    """
    seed = scenario.seed if seed is None else seed
    return attainment_quantiles(simulate(checked, scenario, runs=runs, seed=seed).document)


def design_hazards(checked: CheckedPlan, scenario: Scenario | None = None, roster: pd.DataFrame | None = None,
                   result: SimResult | None = None, runs: int = SIM_RUNS) -> list[Finding]:
    """The lint findings of a plan, rated by simulated attainment when a scenario or a result
    is given (what ``incentive check --scenario`` and the report show).

    Args:
        checked: the validated plan.
        scenario: simulated for :data:`SIM_RUNS` runs (its seed) when ``result`` is not given.
        roster: the reference rep's roster (medians), as for :func:`~engine.plan.lint.lint_plan`.
        result: a simulation of this plan already run: its attainment quantiles are used.
        runs: runs simulated for ``scenario``.

    Returns:
        The findings, in file order.

    Raises:
        EngineError: the scenario cannot be simulated for this plan, or the plan cannot be
            evaluated for the reference rep.
    """
    quantiles: Sequence[tuple[float, float]] | None = None
    if result is not None:
        quantiles = attainment_quantiles(result.document)
    elif scenario is not None:
        quantiles = scenario_quantiles(checked, scenario, runs=runs)
    return lint_plan(checked, roster=roster, attainment_quantiles=quantiles or None)
