"""Reading the plan file's shape: a file of another kind is named for what it is."""

from __future__ import annotations

import pytest

from engine.core.errors import PlanErrors
from engine.plan import parse_plan


def test_a_scenario_given_as_a_plan_is_one_clear_error():
    text = "# a scenario\nscenario: team\nseed: 3\nteam: {reps: 10}\n"
    with pytest.raises(PlanErrors) as info:
        parse_plan(text, "team.yaml")
    (error,) = info.value.errors
    assert error.code == "not-a-plan" and (error.span.line, error.span.column) == (2, 1)
    assert "--scenario" in (error.hint or "")
