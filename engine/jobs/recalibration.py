"""What a recalibration found (:class:`Recalibration`): the best plan's text and numbers,
the baseline and the result, each constraint's row, the effects on every metric and, when
asked, the new targets; as tables and as JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np
import pandas as pd

from engine.jobs.candidates import Evaluation
from engine.jobs.objectives import Constraint
from engine.plan.validate import CheckedPlan

__all__ = ["ConstraintRow", "Recalibration"]


class ConstraintRow(TypedDict):
    """One constraint of a recalibration, before and after (a row of the JSON document)."""

    constraint: str
    metric: str
    op: str
    bound: float
    baseline: float | None
    recalibrated: float | None
    satisfied: bool
    excess: float | None


@dataclass
class Recalibration:
    """What :func:`recalibrate` found.

    Attributes:
        plan_text: the recalibrated plan (the original text with only the changed numbers).
        checked: the recalibrated plan, validated.
        changes: one row per plan number that moved (old -> new, bounds, line).
        effects: one row per metric: baseline, recalibrated, paired difference and 95% CI.
        quartiles: per skill quartile of the starting team: attainment, payout, share at
            target and effort before and after, with paired differences.
        targets: per rep and period targets (``rep_id, period, target``) when requested.
        target_summary: per rep (potential, expected output, annual target, chance to reach).
        history: every evaluation of the search (stage, numbers, objective, violation).
        feasible: whether the returned plan meets every constraint (on the simulation).
        notes: what the user should know (infeasibility, no improvement, target stretch...).
    """

    plan_text: str
    checked: CheckedPlan
    objective: str
    sense: str
    constraints: list[Constraint]
    changes: pd.DataFrame
    effects: pd.DataFrame
    quartiles: pd.DataFrame
    history: pd.DataFrame
    feasible: bool
    baseline: Evaluation
    result: Evaluation
    evaluations: int
    budget: int
    runs: int
    seed: int
    scenario: str
    method: str
    margin: float | None
    notes: list[str] = field(default_factory=list)
    targets: pd.DataFrame | None = None
    target_roster: pd.DataFrame | None = None
    target_summary: pd.DataFrame | None = None
    target_info: dict | None = None
    constraint_rows: list[ConstraintRow] = field(default_factory=list)
    baseline_text: str = ""  # the original plan's text (for the diff)

    @property
    def document(self) -> dict:
        """The JSON document (``--json``)."""
        def records(df: pd.DataFrame | None) -> list | None:
            if df is None:
                return None
            return [{k: _json(v) for k, v in row.items()} for row in df.to_dict(orient="records")]

        return {
            "plan": self.checked.plan.name,
            "scenario": self.scenario,
            "runs": self.runs,
            "seed": self.seed,
            "method": self.method,
            "evaluations": self.evaluations,
            "budget": self.budget,
            "objective": {"metric": self.objective, "sense": self.sense,
                          "baseline": self.baseline.values.get(self.objective),
                          "recalibrated": self.result.values.get(self.objective)},
            "margin": self.margin,
            "constraints": self.constraint_rows,
            "feasible": self.feasible,
            "changes": records(self.changes),
            "effects": records(self.effects),
            "quartiles": records(self.quartiles),
            "targets": None if self.target_info is None else {**self.target_info,
                                                              "reps": records(self.target_summary)},
            "notes": self.notes,
            "history": records(self.history),
            "baseline": self.baseline.document,
            "recalibrated": self.result.document,
        }


def _json(v):
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v
