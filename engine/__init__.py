"""Incentive design engine: plans, statements and explanations.

The public API::

    plan = load_plan("plan.yaml")                  # validated plan (raises PlanErrors)
    df = statements(plan, roster, actuals)         # rounded payout statements
    prog = compile_plan(plan)                      # vectorized payout function
    result = prog.evaluate(load_for_plan(plan, roster, actuals))
"""

from engine.errors import DataError, DataErrors, EngineError, EvaluationError, PlanError, PlanErrors
from engine.plan import CheckedPlan, CompiledPlan, compile_plan, load_plan, parse_plan
from engine.statements import load_for_plan, statements

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
]
__version__ = "0.1.0"
