"""Plans: parse, validate, compile.

``load_plan(path)`` reads a YAML plan, validates it (raising :class:`~engine.core.errors.PlanErrors`
with every problem), and returns a :class:`~engine.plan.validate.CheckedPlan`;
``compile_plan`` lowers it to the vectorized evaluator. What each kind of component means
at every stage lives in one module per kind, registered in :data:`engine.plan.kinds.KINDS`.
"""

from __future__ import annotations

from pathlib import Path

from engine.core.errors import PlanErrors
from engine.plan import numba_backend as _numba_backend  # noqa: F401  (adds the "numba" row of BACKENDS)
from engine.plan.compile import CompiledPlan, PayoutArrays, compile_plan
from engine.plan.model import Plan
from engine.plan.parse import build_plan
from engine.plan.reference import ReferenceEvaluator
from engine.plan.source import parse_yaml, read_yaml
from engine.plan.validate import CheckedPlan, check_plan

__all__ = [
    "CheckedPlan",
    "CompiledPlan",
    "PayoutArrays",
    "Plan",
    "ReferenceEvaluator",
    "check_plan",
    "compile_plan",
    "load_plan",
    "parse_plan",
]


def _finish(root, filename: str, text: str) -> CheckedPlan:
    plan, errors = build_plan(root, filename)
    if plan is None:
        raise PlanErrors(errors)
    try:
        checked = check_plan(plan, source=text)
    except PlanErrors as exc:
        raise PlanErrors(list(errors) + _not_follow_ons(exc.errors, errors, root)) from None
    if errors:
        raise PlanErrors(errors)
    return checked


def _defined_names(root) -> set[str]:
    """Names the file defines (measures, targets, components), read from the YAML itself."""
    from engine.plan.source import YMap, YScalar, YSeq

    names: set[str] = set()
    if not isinstance(root, YMap):
        return names
    for section in ("measures", "targets", "parameters"):
        node = root.get(section)
        if isinstance(node, YMap):
            names |= set(node.keys())
    components = root.get("components")
    if isinstance(components, YSeq):
        for item in components.items:
            name = item.get("name") if isinstance(item, YMap) else None
            if isinstance(name, YScalar) and isinstance(name.value, str):
                names.add(name.value)
    return names


def _not_follow_ons(found, parse_errors, root) -> list:
    """Validation errors less those that only follow from a parse error: a name whose
    definition did not parse is unknown to validation, but the user's mistake is the
    definition, already reported."""
    if not parse_errors:
        return list(found)
    defined = _defined_names(root)

    def follow_on(e) -> bool:
        if e.code != "unknown-name" or not e.span or not e.span.text:
            return False
        s = e.span
        word = s.text[s.column - 1: s.column - 1 + s.length]
        return word.split(".")[-1] in defined
    return [e for e in found if not follow_on(e)]


def parse_plan(text: str, filename: str = "<plan>", like: str | None = None) -> CheckedPlan:
    """Parse and validate plan text (``like``: the text it was edited from, see
    :func:`~engine.plan.source.parse_yaml`)."""
    return _finish(parse_yaml(text, filename, like=like), filename, text)


def load_plan(path: str | Path) -> CheckedPlan:
    """Read, parse and validate a plan file."""
    root = read_yaml(path)  # checks existence, size and encoding first
    return _finish(root, str(path), Path(path).read_text(encoding="utf-8"))
