"""Small helpers to evaluate a plan text on hand-made inputs with both evaluators."""

from __future__ import annotations

import datetime as dt

import numpy as np

from engine.core.inputs import Inputs, PeriodInfo
from engine.plan import ReferenceEvaluator, compile_plan, parse_plan


def months(n: int, year: int = 2027) -> tuple[PeriodInfo, ...]:
    out = []
    for m in range(1, n + 1):
        end = (dt.date(year, m + 1, 1) if m < 12 else dt.date(year + 1, 1, 1)) - dt.timedelta(days=1)
        out.append(PeriodInfo(f"{year}-{m:02d}", "month", year, m, dt.date(year, m, 1), end))
    return tuple(out)


def make_inputs(roster: dict, actuals: dict, periods=None, active=None, proration=None) -> Inputs:
    """Inputs from plain lists: roster columns (R,), actuals columns (R, P)."""
    first = np.asarray(next(iter(actuals.values())), dtype=float)
    R, P = first.shape
    periods = periods or months(P)
    rost = {}
    for k, v in roster.items():
        arr = np.asarray(v)
        rost[k] = arr.astype(object) if arr.dtype.kind in "US" else arr.astype(float)
    act = np.ones((R, P), dtype=bool) if active is None else np.asarray(active, dtype=bool)
    pro = act.astype(float) if proration is None else np.asarray(proration, dtype=float)
    return Inputs(
        rep_ids=np.array([f"r{i}" for i in range(R)], dtype=object), periods=tuple(periods),
        roster=rost, actuals={k: np.asarray(v, dtype=float) for k, v in actuals.items()},
        active=act, proration=pro,
    )


def evaluate_both(text: str, inputs: Inputs):
    """Evaluate with the compiled and the reference evaluator; assert they agree; return compiled."""
    checked = parse_plan(text, "t.yaml")
    fast = compile_plan(checked).evaluate(inputs)
    slow = ReferenceEvaluator(checked, inputs).run()
    np.testing.assert_allclose(fast.total, slow.total, rtol=1e-12, atol=1e-9)
    for name in fast.columns:
        np.testing.assert_allclose(fast.columns[name], slow.columns[name], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(fast.adjustment, slow.adjustment, rtol=1e-12, atol=1e-9)
    return fast
