"""The forecast's behaviour prior (issue 27): drawn per run, reported, and it moves the forecast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.jobs.forecast import forecast
from engine.plan import load_plan
from engine.sim.uncertain import BehaviourPrior

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "scenarios" / "data"
SEEDS = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


@pytest.fixture(scope="module")
def seeds():
    return load_plan(SEEDS)


def _run(checked, behaviour, **kw):
    return forecast(checked, DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv", runs=24, seed=5,
                    decompose=False, behaviour=behaviour, **kw)


def test_a_team_that_fades_is_forecast_lower(seeds):
    """Morale drains twice the scenario's, starting afresh, forecast a lower second half than a
    team whose morale does not drain: the behaviour drawn reaches the simulated months."""
    fades = _run(seeds, BehaviourPrior(drain=(2.0, 2.0), effort_cost=(1.0, 1.0), reset=(1.0, 1.0)))
    steady = _run(seeds, BehaviourPrior(drain=(0.0, 0.0), effort_cost=(1.0, 1.0), reset=(1.0, 1.0)))
    assert fades.summary["paid_to_date"] == steady.summary["paid_to_date"]
    assert fades.summary["expected_remaining"] < steady.summary["expected_remaining"]


def test_the_update_is_reported(seeds):
    """The assumptions say the prior, the settled gap and what the actuals did to it (the
    parameters' weighted means against the prior's, the effective runs); the forecast before
    issue 27 (behaviour=None) says the behaviour was taken as known."""
    fc = _run(seeds, BehaviourPrior())
    a = dict(fc.assumptions)
    assert a["behaviour"].startswith("uncertain: morale drains x U(0, 2)")
    after = a["behaviour after the actuals so far"]
    assert "drain" in after and "(prior 1.00)" in after and "effective runs" in after
    runs = float(after.split("effective runs ")[1].split(" of")[0])
    assert 1 <= runs <= 24
    old = _run(seeds, None, in_post=False)
    b = dict(old.assumptions)
    assert b["behaviour"].startswith("the scenario's, known") and b["behaviour after the actuals so far"] == "n/a"
    assert b["seats of leavers so far refilled"] == "no"
    assert not np.array_equal(fc.annual, old.annual)
