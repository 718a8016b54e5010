"""Plans: parse, validate, compile.

``load_plan(path)`` reads a YAML plan, validates it (raising :class:`~engine.errors.PlanErrors`
with every problem), and returns a :class:`~engine.plan.validate.CheckedPlan`;
``compile_plan`` lowers it to the vectorized evaluator.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import PlanErrors
from engine.plan.compile import CompiledPlan, PayoutArrays, compile_plan
from engine.plan.model import Plan
from engine.plan.parse import build_plan
from engine.plan.reference import ReferenceEvaluator
from engine.plan.source import parse_yaml, read_yaml
from engine.plan.validate import CheckedPlan, check_plan

__all__ = [
    "load_plan", "parse_plan", "check_plan", "compile_plan", "CheckedPlan", "CompiledPlan",
    "PayoutArrays", "Plan", "ReferenceEvaluator",
]


def _finish(root, filename: str, text: str) -> CheckedPlan:
    plan, errors = build_plan(root, filename)
    if plan is None:
        raise PlanErrors(errors)
    try:
        checked = check_plan(plan)
    except PlanErrors as exc:
        raise PlanErrors(list(errors) + list(exc.errors)) from None
    if errors:
        raise PlanErrors(errors)
    checked.source = text
    return checked


def parse_plan(text: str, filename: str = "<plan>") -> CheckedPlan:
    """Parse and validate plan text."""
    return _finish(parse_yaml(text, filename), filename, text)


def load_plan(path: str | Path) -> CheckedPlan:
    """Read, parse and validate a plan file."""
    root = read_yaml(path)  # checks existence, size and encoding first
    return _finish(root, str(path), Path(path).read_text(encoding="utf-8"))
