"""Incentive design engine: plans, statements and explanations.

The public API::

    plan = load_plan("plan.yaml")                  # validated plan (raises PlanErrors)
    df = statements(plan, roster, actuals)         # rounded payout statements
    prog = compile_plan(plan)                      # vectorized payout function
    result = prog.evaluate(load_for_plan(plan, roster, actuals))
    voted = weights_from_votes(plan, "votes.csv")  # the team's KPI weights, within bounds

The stages, each a folder, each using only the ones before it: ``core`` (inputs, periods,
errors, atomic writes, text helpers) -> ``plan`` -> ``data`` -> ``sim``
-> ``jobs`` -> ``report`` -> ``app`` (the CLI and the studio). ``charts`` is
:mod:`engine.report.charts`. Inside IPython, importing the package registers the notebook
HTML of plans and results (:mod:`engine.report.display`).
"""

import sys
from typing import TYPE_CHECKING

from engine.core.errors import (
    DataError,
    DataErrors,
    EngineError,
    EvaluationError,
    PlanError,
    PlanErrors,
)
from engine.data.statements import load_for_plan, statements
from engine.plan import CheckedPlan, CompiledPlan, compile_plan, load_plan, parse_plan

__all__ = [
    "CheckedPlan",
    "CompiledPlan",
    "DataError",
    "DataErrors",
    "EngineError",
    "EvaluationError",
    "PlanError",
    "PlanErrors",
    "compile_plan",
    "load_for_plan",
    "load_plan",
    "parse_plan",
    "statements",
    "weights_from_votes",
]
__version__ = "0.1.0"


if TYPE_CHECKING:
    from engine.jobs.weights import weights_from_votes


def __getattr__(name: str):
    """``from engine import charts``: the charts module, loaded on first use (plotly is heavy);
    likewise ``weights_from_votes`` (the jobs layer brings scipy.stats: a second at every
    start of the command line, which it does not need to pay statements)."""
    if name == "charts":
        from engine.report import charts

        return charts
    if name == "weights_from_votes":
        from engine.jobs.weights import weights_from_votes

        return weights_from_votes
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


if "IPython" in sys.modules:  # a notebook: show plans and results as HTML tables
    from engine.report.display import register_display_hooks

    register_display_hooks()
