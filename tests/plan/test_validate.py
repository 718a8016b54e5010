"""A checked plan is an immutable value (style habit 9: spec objects are frozen)."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from engine.plan import load_plan
from engine.plan.validate import with_parameters

PLAN = Path(__file__).resolve().parents[2] / "scenarios" / "plans" / "classic_ae.yaml"


def test_a_checked_plan_cannot_be_changed():
    """Its fields cannot be reassigned and its tables cannot be written to."""
    checked = load_plan(PLAN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked.source = ""  # type: ignore[misc]
    with pytest.raises(TypeError):
        checked.actual_columns["revenue"] = "max"  # type: ignore[index]
    with pytest.raises(AttributeError):
        checked.roster_columns.add("x")  # type: ignore[attr-defined]
    assert isinstance(checked.order, tuple)


def test_with_parameters_returns_a_new_plan_and_keeps_the_old_one():
    """Moving a parameter builds a new checked plan; the original keeps its values and source."""
    checked = load_plan(PLAN)
    moved = with_parameters(checked, {"threshold": 0.6})
    assert checked.plan.parameter_values["threshold"] == 0.5 and checked.overrides == ()
    assert moved.plan.parameter_values["threshold"] == 0.6
    assert moved.overrides == (("threshold", 0.6),) and moved.source == checked.source
    again = pickle.loads(pickle.dumps(moved))
    assert again.plan.parameter_values["threshold"] == 0.6
