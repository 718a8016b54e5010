"""With and without history (engine/jobs/with_history.py): when the two forecasts disagree, and
which one the output says to trust."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from engine.jobs.forecast import Forecast
from engine.jobs.with_history import (
    GroupEffect,
    _moved_only,
    check_history,
    moved_parameters,
    parameter_groups,
    scenario_parameters,
    surprise,
)
from engine.report.text import history_check_text
from engine.sim.scenario import Dist, default_scenario

SCENARIO = default_scenario()


def made(p50: float, spread: float, skills: tuple[float, ...], level: float | None = None) -> Forecast:
    """A forecast with the given annual bands (P05 = P50 - spread ... P95 = P50 + spread), roster
    skills (posterior medians) and market level read."""
    reps = pd.DataFrame({"rep_id": [f"R{i}" for i in range(len(skills))] + ["(new hires)"],
                         "skill_median": [*skills, math.nan]})
    summary = {"p05": p50 - spread, "p50": p50, "p90": p50 + 0.8 * spread, "p95": p50 + spread}
    market = None if level is None else {"level": level}
    return Forecast(plan="p", scenario="s", currency="USD", minor_unit=2, as_of="2027-Q2",
                    as_of_date=dt.date(2027, 6, 30), closed_months=6, runs=10, seed=1, budget=None,
                    method="by period", by_period=pd.DataFrame(), reps=reps, annual=np.zeros(10),
                    summary=summary, market=market)


FITTED = SimpleNamespace(market_fitted=True)


def test_surprise_is_the_market_level_plus_the_mean_skill_shift():
    """How far the actuals sit from the scenario: the market level read plus the roster's mean
    posterior log skill (new hires left out), less the prior's mean (0 for a median-1 skill)."""
    fc = made(100.0, 10.0, (math.exp(0.1), math.exp(-0.3)), level=0.05)
    assert surprise(fc, SCENARIO) == pytest.approx(0.05 + (0.1 - 0.3) / 2)
    assert surprise(made(100.0, 10.0, (1.0, 1.0)), SCENARIO) == pytest.approx(0.0)


def test_bands_that_overlap_agree():
    """Each P50 inside the other's P05-P95 band: they agree, either will do."""
    check = check_history(made(100.0, 10.0, (1.1,)), SCENARIO, made(108.0, 10.0, (1.0,)), SCENARIO, FITTED)
    assert not check.disagree and check.trust == "either"
    assert "agree" in history_check_text(check, "USD")


@pytest.mark.parametrize(("with_skill", "without_skill", "trust"), [
    (1.02, 1.25, "with history"),     # the calibrated scenario expected the actuals; the base did not
    (0.70, 1.05, "without history"),  # the history describes another team than this year's
])
def test_disagreeing_forecasts_trust_the_one_that_expected_the_actuals(with_skill, without_skill, trust):
    """Either P50 outside the other's band: trust the forecast whose scenario sat nearer the actuals
    so far (the smaller team-wide surprise), and say by how much each was off."""
    check = check_history(made(100.0, 5.0, (with_skill,) * 3), SCENARIO, made(120.0, 5.0, (without_skill,) * 3),
                          SCENARIO, FITTED)
    assert check.disagree and check.trust == trust
    text = history_check_text(check, "USD")
    assert f"trust the forecast {trust}" in text
    assert f"{100 * (with_skill - 1):+.1f}%" in text and f"{100 * (without_skill - 1):+.1f}%" in text
    assert check.document["trust"] == trust and check.document["with_history"]["p50"] == 100.0


def test_what_weakens_the_history_is_said():
    """One fiscal year of history, a level the history plan did not reproduce, another plan: each
    is named with the verdict."""
    fit = SimpleNamespace(converged=False, plan="old_plan", tolerance=0.005)
    check = check_history(made(100.0, 5.0, (1.0,)), SCENARIO, made(130.0, 5.0, (1.3,)), SCENARIO,
                          SimpleNamespace(market_fitted=False), fit, other_plan=True)
    weak = check.reasons[-1]
    assert weak.startswith("what weakens the history")
    assert "one fiscal year" in weak and "old_plan did not reproduce" in weak and "another plan" in weak


def test_the_verdict_is_one_paragraph_for_the_workbook():
    """The workbook's Inputs sheet gets the answer and its reasons in one cell."""
    check = check_history(made(100.0, 5.0, (1.0,)), SCENARIO, made(130.0, 5.0, (1.3,)), SCENARIO, FITTED)
    assert check.verdict.startswith("trust the forecast with history: they disagree by more than their bands")
    assert check.verdict.endswith(".") and "\n" not in check.verdict


def test_a_budget_tested_is_compared_too():
    """With a budget, each forecast's chance of going over it stands in the table and the JSON."""
    a, b = made(100.0, 5.0, (1.0,)), made(130.0, 5.0, (1.3,))
    a = dataclasses.replace(a, budget=110.0, summary={**a.summary, "probability_over_budget": 0.02})
    b = dataclasses.replace(b, budget=110.0, summary={**b.summary, "probability_over_budget": 0.16})
    check = check_history(a, SCENARIO, b, SCENARIO, FITTED)
    text = history_check_text(check, "USD")
    assert "over budget" in text and "2.0%" in text and "16.0%" in text
    assert check.document["without_history"]["over_budget"] == 0.16


def calibrated_like(base):
    """The base scenario with what a calibration moves moved: skill spread, the primary output's
    level and noise (deals dropped for a lognormal sigma), seasonality, the market's rho."""
    primary = base.primary_measure
    outputs = []
    for o in base.outputs:
        if o.name == primary:
            params = {k: v for k, v in o.params if k not in ("deals_per_month", "size_sigma")}
            params.update(level=0.8, noise="lognormal", sigma=0.7)
            o = dataclasses.replace(o, params=tuple(params.items()))
        outputs.append(o)
    return dataclasses.replace(base, name="calibrated", file="c.yaml", label="fitted",
                               skill=Dist("lognormal", (("median", 1.0), ("sigma", 0.15))), outputs=tuple(outputs),
                               seasonality=(1.0,) * 12, market=dataclasses.replace(base.market, rho=0.5))


def test_scenario_parameters_are_named_by_where_they_sit():
    """Every parameter by a dotted name (a distribution's and an output's params under their own
    name, pairs by key, a list of numbers as one value); the scenario's name, file, label,
    roster and seed are not parameters."""
    params = scenario_parameters(SCENARIO)
    assert params["skill.sigma"] == 0.25 and params["skill.kind"] == "lognormal"
    assert params[f"outputs.{SCENARIO.primary_measure}.level"] == SCENARIO.output(SCENARIO.primary_measure).get("level")
    assert params["market.rho"] == SCENARIO.market.rho and params["seasonality"] == SCENARIO.seasonality
    assert params["morale.recovery"] == dict(SCENARIO.morale)["recovery"]
    assert not {"name", "file", "label", "roster", "seed"} & set(params)


def test_moved_parameters_are_exactly_the_ones_the_history_changed():
    """Without -> with history for each parameter that differs, nothing for those that do not; a
    parameter the calibration dropped has None on the history side, one it added None on the
    other; the level says what it was fitted at and the effort taken out under the history plan."""
    with_scenario = calibrated_like(SCENARIO)
    primary = f"outputs.{SCENARIO.primary_measure}"
    fit = SimpleNamespace(fitted_level=0.96, level=0.8, plan="old_plan", effort_factor=1.2)
    moved = {m.name: m for m in moved_parameters(SCENARIO, with_scenario, fit)}
    out = SCENARIO.output(SCENARIO.primary_measure)
    assert set(moved) == {"skill.sigma", f"{primary}.level", f"{primary}.noise", f"{primary}.sigma",
                          f"{primary}.deals_per_month", f"{primary}.size_sigma", "seasonality", "market.rho"}
    assert (moved["skill.sigma"].without_history, moved["skill.sigma"].with_history) == (0.25, 0.15)
    assert (moved[f"{primary}.level"].without_history, moved[f"{primary}.level"].with_history) == (out.get("level"), 0.8)
    assert moved[f"{primary}.deals_per_month"].with_history is None
    assert moved[f"{primary}.sigma"].without_history is None and moved[f"{primary}.sigma"].with_history == 0.7
    assert moved["market.rho"].change == "0.6 -> 0.5" and moved["skill.sigma"].meaning
    assert moved["seasonality"].with_history == (1.0,) * 12
    assert "fitted 0.96" in moved[f"{primary}.level"].note and "old_plan" in moved[f"{primary}.level"].note
    assert moved_parameters(SCENARIO, SCENARIO) == ()


def test_the_output_says_what_the_history_moved_and_what_that_did():
    """The text, the JSON and the verdict's companions name each moved parameter with both
    values, and P50 and P90 with and without history with the change between them."""
    with_scenario = calibrated_like(SCENARIO)
    check = check_history(made(100.0, 10.0, (1.0,)), with_scenario, made(125.0, 10.0, (1.0,)), SCENARIO, FITTED)
    assert check.effect["p50"] == {"without_history": 125.0, "with_history": 100.0, "change": -25.0,
                                   "change_percent": pytest.approx(-20.0)}
    assert check.effect["p90"]["change"] == pytest.approx(-25.0)  # 108 against 133
    text = history_check_text(check, "USD")
    assert "What the history moved" in text and "skill.sigma 0.25 -> 0.15" in text
    assert "market.rho 0.6 -> 0.5" in text
    assert "What that did (USD): with history, P50 100 instead of 125 (-20.0%) and P90 108 instead of 133 (-18.8%)" in text
    doc = check.document
    assert {m["parameter"] for m in doc["moved"]} == {m.name for m in check.moved}
    rho = next(m for m in doc["moved"] if m["parameter"] == "market.rho")
    assert (rho["without_history"], rho["with_history"]) == (0.6, 0.5)
    assert next(m for m in doc["moved"] if m["parameter"] == "seasonality")["with_history"] == [1.0] * 12
    assert doc["effect"]["p50"]["change"] == -25.0 and doc["effect"]["p90"]["without_history"] == 133.0
    same = check_history(made(100.0, 10.0, (1.0,)), SCENARIO, made(101.0, 10.0, (1.0,)), SCENARIO, FITTED)
    assert same.moved == () and "moved no parameter" in history_check_text(same)


def test_each_group_of_moved_parameters_alone_moves_exactly_that_group():
    """The moved parameters fall in groups that move together (a scenario field; an output's
    level alone and the rest of its parameters as its noise); the base with one group taken from
    the calibrated scenario differs from the base in exactly that group, and with every group it
    is the calibrated scenario again."""
    with_scenario = calibrated_like(SCENARIO)
    moved = moved_parameters(SCENARIO, with_scenario)
    groups = parameter_groups(moved)
    primary = f"outputs.{SCENARIO.primary_measure}"
    assert groups == {"skill": ("skill.sigma",), f"{primary}.level": (f"{primary}.level",),
                      f"{primary}.noise": (f"{primary}.noise", f"{primary}.deals_per_month", f"{primary}.size_sigma",
                                           f"{primary}.sigma"),
                      "seasonality": ("seasonality",), "market": ("market.rho",)}
    for names in groups.values():
        assert {m.name for m in moved_parameters(SCENARIO, _moved_only(SCENARIO, with_scenario, names))} == set(names)
    every = _moved_only(SCENARIO, with_scenario, tuple(m.name for m in moved))
    assert moved_parameters(with_scenario, every) == ()


def test_what_each_group_does_alone_is_said_against_the_forecast_without_history():
    """With the groups' forecasts, the text and the JSON give each group's P50 and P90 and their
    change from the forecast without history."""
    check = check_history(made(100.0, 10.0, (1.0,)), calibrated_like(SCENARIO), made(125.0, 10.0, (1.0,)), SCENARIO,
                          FITTED)
    check = dataclasses.replace(check, alone=(GroupEffect("seasonality", ("seasonality",), 110.0, 120.0),))
    assert check.alone_change(check.alone[0]) == {"p50": pytest.approx(-12.0), "p90": pytest.approx(100 * (120 / 133 - 1))}
    text = history_check_text(check, "USD")
    assert "Each group alone" in text and "- seasonality: P50 110 (-12.0%), P90 120 (-9.8%)" in text
    assert check.document["alone"] == [{"group": "seasonality", "parameters": ["seasonality"], "p50": 110.0,
                                        "p90": 120.0, "p50_change_percent": -12.0, "p90_change_percent": -9.77}]
    assert "Each group alone" not in history_check_text(dataclasses.replace(check, alone=()))
