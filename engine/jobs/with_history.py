"""With and without history: whether the two forecasts agree, and which to trust when they do not
(issue 27, item 4).

``incentive forecast --history`` forecasts with a scenario calibrated to the team's history; the
same forecast without it uses the base scenario. Both read the actuals so far, so both end where
the closed months are; they differ in what they expect of the rest of the year. They **disagree**
when either's P50 lies outside the other's P05-P95 band.

Which to trust then rests on the one thing both can be held to, the actuals so far: each forecast
reads how far the team's first months sit from what its scenario expected, team-wide (the
market's level shock read off the actuals, plus the mean of the roster reps' posterior log skill
less its prior mean). The forecast whose scenario expected the actuals better (the smaller
surprise) has less to correct for the rest of the year, where the correction is only partial
(the skills shrink towards the scenario's prior), so it is the one to trust. What weakens the
history is said with it: a history of one fiscal year (its market is the prior's), a level that
the simulations of the history plan did not reproduce, a history paid under another plan.

What the history changed is said with it (item 4, "finance can read why"): each scenario
parameter whose value the calibration moved, from the base scenario's value to the calibrated
one (:func:`moved_parameters`: the skill spread, the primary output's level, noise and
sigma, the seasonality, the market; the level also says what it was fitted at before the
effort of the plan that paid the history was taken out), and what the forecast with history
gives against the one without at P50 and P90 (:attr:`HistoryCheck.effect`); on request,
what each group of moved parameters does alone (:func:`effects_alone`: the forecast without history
with only that group moved, one forecast per group).

Public: :class:`GroupEffect`, :class:`HistoryCheck`, :class:`MovedParameter`, :func:`effects_alone`,
:func:`check_history`, :func:`moved_parameters`, :func:`parameter_groups`,
:func:`scenario_parameters`, :func:`show_value`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from engine.jobs.forecast import Forecast, forecast
from engine.jobs.history import HistoryFit
from engine.plan.validate import CheckedPlan
from engine.sim.calibrate import Calibration
from engine.sim.population import log_skill_prior
from engine.sim.scenario import Scenario

__all__ = ["GroupEffect", "HistoryCheck", "MovedParameter", "check_history", "effects_alone", "log_shift_percent",
           "moved_parameters", "parameter_groups", "scenario_parameters", "show_value"]

BANDS = ("p05", "p50", "p90", "p95")
EFFECT = ("p50", "p90")
"""The bands whose change the history's effect reports."""
NOT_PARAMETERS = frozenset({"name", "file", "label", "roster", "seed"})
"""Scenario fields that name or place it rather than model the team (a calibrated scenario's
differ from its base's by construction)."""
MEANING = {
    "skill.sigma": "spread of log skill between reps",
    "level": "expected output over quota of a median-skill rep at baseline effort",
    "noise": "the noise model of a rep's monthly output",
    "sigma": "noise of a rep's monthly output, sd of its log",
    "deals_per_month": "deals a rep closes in a month, each of a random size",
    "size_sigma": "spread of deal sizes, sd of their log",
    "seasonality": "monthly demand factors, January first, mean 1",
    "market.year_sigma": "sd of the log of a plan year's market level, shared by every rep",
    "market.rho": "how much of a month's market swing carries into the next",
    "market.month_sigma": "monthly market swing, sd of its log",
    "market.team_share": "share of the market's variance specific to a team",
}
"""What a parameter means, by its dotted name or, for an output's, its last part."""


@dataclass(frozen=True)
class MovedParameter:
    """One scenario parameter the history moved.

    Attributes:
        name: dotted name (``skill.sigma``, ``outputs.revenue.level``, ``seasonality``,
            ``market.year_sigma``).
        without_history: its value in the base scenario (None: the base has no such parameter).
        with_history: its value in the calibrated scenario (None: the calibration dropped it).
        meaning: what it is, in words.
        note: how it was reached, where there is more to say (the level read under a plan).
    """

    name: str
    without_history: object
    with_history: object
    meaning: str
    note: str = ""

    @property
    def document(self) -> dict:
        """The parameter's entry in the JSON's ``history_check.moved``."""
        return {"parameter": self.name, "without_history": _plain(self.without_history),
                "with_history": _plain(self.with_history), "meaning": self.meaning, "note": self.note}

    @property
    def change(self) -> str:
        """``0.25 -> 0.14`` (``(none)`` for a parameter one side has not)."""
        return f"{show_value(self.without_history)} -> {show_value(self.with_history)}"


@dataclass(frozen=True)
class GroupEffect:
    """What one group of the moved parameters does alone.

    Attributes:
        group: the group's name (:func:`parameter_groups`).
        parameters: the moved parameters in it.
        p50, p90: the annual P50 and P90 of the forecast without history with only this group
            moved to its value with history (same runs, seed, as-of and budget).
    """

    group: str
    parameters: tuple[str, ...]
    p50: float
    p90: float


def parameter_groups(moved: tuple[MovedParameter, ...]) -> dict[str, tuple[str, ...]]:
    """The moved parameters in groups that move together: by the scenario field they sit in
    (``skill``, ``seasonality``, ``market``...), an output's ``level`` on its own and the rest of
    that output's parameters (its noise model and what goes with it) as ``outputs.<name>.noise``."""
    groups: dict[str, list[str]] = {}
    for m in moved:
        parts = m.name.split(".")
        if parts[0] == "outputs" and len(parts) > 2:
            key = m.name if parts[2] == "level" else f"outputs.{parts[1]}.noise"
        else:
            key = parts[0]
        groups.setdefault(key, []).append(m.name)
    return {k: tuple(v) for k, v in groups.items()}


def effects_alone(checked: CheckedPlan, roster, actuals, without_scenario: Scenario, with_scenario: Scenario,
          moved: tuple[MovedParameter, ...], **options) -> tuple[GroupEffect, ...]:
    """What each group of moved parameters does alone: for each group of
    :func:`parameter_groups`, the forecast with the scenario without history and only that
    group at its value with history.

    Args:
        checked, roster, actuals: as for :func:`~engine.jobs.forecast.forecast`.
        without_scenario, with_scenario: the base and the calibrated scenario.
        moved: what :func:`moved_parameters` returned for them.
        **options: the forecasts' other arguments (runs, seed, budget, as_of, workers...), as the
            two forecasts compared had them; no variance decomposition.

    Returns:
        One :class:`GroupEffect` per group, in the order of ``moved``.
    """
    out = []
    for group, names in parameter_groups(moved).items():
        scenario = _moved_only(without_scenario, with_scenario, names)
        fc = forecast(checked, roster, actuals, scenario=scenario, **{**options, "decompose": False})
        out.append(GroupEffect(group, names, float(fc.summary["p50"]), float(fc.summary["p90"])))
    return tuple(out)


def _moved_only(base: Scenario, calibrated: Scenario, names: tuple[str, ...]) -> Scenario:
    """``base`` with the named parameters at their value in ``calibrated`` (a whole scenario
    field at a time; an output's parameters one by one)."""
    fields: dict[str, object] = {}
    params: dict[str, dict[str, object]] = {}
    for name in names:
        parts = name.split(".")
        if parts[0] == "outputs" and len(parts) > 2:
            params.setdefault(parts[1], {})[parts[2]] = dict(calibrated.output(parts[1]).params).get(parts[2])
        else:
            fields[parts[0]] = getattr(calibrated, parts[0])
    if params:
        outputs = []
        for o in base.outputs:
            if o.name in params:
                p = dict(o.params)
                for key, value in params[o.name].items():
                    if value is None:
                        p.pop(key, None)
                    else:
                        p[key] = value
                o = dataclasses.replace(o, params=tuple(p.items()))
            outputs.append(o)
        fields["outputs"] = tuple(outputs)
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def scenario_parameters(scenario: Scenario) -> dict[str, object]:
    """A scenario's parameters by dotted name: every field but :data:`NOT_PARAMETERS`, a
    distribution or a model by its fields (``skill.sigma``, ``market.rho``), a named item by
    its name (``outputs.revenue.level``), ``(key, value)`` pairs by key (``morale.recovery``),
    a list of numbers as one value (``seasonality``)."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(scenario):
        if f.name not in NOT_PARAMETERS:
            _flatten(f.name, getattr(scenario, f.name), out)
    return out


def moved_parameters(without_scenario: Scenario, with_scenario: Scenario,
                     fit: HistoryFit | None = None) -> tuple[MovedParameter, ...]:
    """Each parameter whose value differs between the scenario without history and the one
    calibrated to it, in the scenario's order (the calibrated one's new parameters last).

    Args:
        without_scenario: the base scenario.
        with_scenario: the scenario calibrated to the history.
        fit: the level read under the plan that paid the history: the primary output's level
            then says the level the history was fitted at and the effort taken out of it.

    Returns:
        The moved parameters (empty when the two scenarios model the team alike).
    """
    before, after = scenario_parameters(without_scenario), scenario_parameters(with_scenario)
    level = f"outputs.{with_scenario.primary_measure}.level"
    moved = []
    for name in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(name), after.get(name)
        if _same(a, b):
            continue
        note = ""
        if name == level and fit is not None:
            note = (f"fitted {show_value(fit.fitted_level)} to the history, {show_value(fit.level)} once the "
                    f"effort {fit.plan} paid for is taken out: effort factor {fit.effort_factor:.3f}")
        moved.append(MovedParameter(name, a, b, _meaning(name), note))
    return tuple(moved)


def show_value(value: object) -> str:
    """A parameter's value as the text and the workbook show it (4 significant digits; a list
    of numbers with 2 decimals; ``(none)`` for a parameter a scenario does not have)."""
    if value is None:
        return "(none)"
    if isinstance(value, tuple):
        return " ".join(f"{float(v):.2f}" for v in value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{float(value):.4g}"


def _flatten(prefix: str, value: object, out: dict[str, object]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name not in ("name", "label"):  # a distribution's or an output's params under its own name
                _flatten(prefix if f.name == "params" else f"{prefix}.{f.name}", getattr(value, f.name), out)
    elif isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)
                                                    for v in value):
        for key, v in value:
            _flatten(f"{prefix}.{key}", v, out)
    elif isinstance(value, tuple) and value and all(dataclasses.is_dataclass(v) and hasattr(v, "name")
                                                    for v in value):
        for v in value:
            _flatten(f"{prefix}.{v.name}", v, out)
    elif isinstance(value, tuple) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        out[prefix] = tuple(float(v) for v in value)
    else:
        out[prefix] = value


def _same(a: object, b: object) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _meaning(name: str) -> str:
    if name in MEANING:
        return MEANING[name]
    if name.startswith("outputs."):
        return MEANING.get(name.rsplit(".", 1)[-1], "")
    return ""


def _plain(value: object) -> object:
    """A value as JSON holds it."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class HistoryCheck:
    """The forecasts with and without history side by side.

    Attributes:
        with_history, without_history: ``p05``, ``p50``, ``p90``, ``p95`` of the annual payout,
            and ``over_budget``, the probability it exceeds the budget, when one was tested.
        disagree: either P50 lies outside the other's P05-P95 band.
        surprise_with, surprise_without: how far the actuals so far sit from what each scenario
            expected, team-wide, on the log scale (market level read + mean posterior log skill
            less the prior's mean; 0: as expected).
        trust: ``with history``, ``without history``, or ``either`` (they agree).
        reasons: sentences saying why, and what weakens the history.
        moved: the scenario parameters the history moved (:func:`moved_parameters`).
        alone: what each group of them does alone (:func:`effects_alone`; empty unless asked for).
    """

    with_history: dict[str, float]
    without_history: dict[str, float]
    disagree: bool
    surprise_with: float
    surprise_without: float
    trust: str
    reasons: tuple[str, ...]
    moved: tuple[MovedParameter, ...] = ()
    alone: tuple[GroupEffect, ...] = ()

    @property
    def effect(self) -> dict[str, dict[str, float]]:
        """What the history did to P50 and P90: for each, ``without_history``, ``with_history``,
        ``change`` (with less without) and ``change_percent`` (of the value without)."""
        out = {}
        for k in EFFECT:
            a, b = self.without_history[k], self.with_history[k]
            out[k] = {"without_history": a, "with_history": b, "change": b - a,
                      "change_percent": 100.0 * (b / a - 1.0) if a else math.nan}
        return out

    def alone_change(self, group: GroupEffect) -> dict[str, float]:
        """A group's P50 and P90 alone less the forecast without history's, in percent of it."""
        return {k: 100.0 * (getattr(group, k) / self.without_history[k] - 1.0) if self.without_history[k]
                else math.nan for k in EFFECT}

    @property
    def effect_sentence(self) -> str:
        """``with history, P50 5,960,000 instead of 6,350,000 (-6.1%) and P90 ...``."""
        parts = [f"{k.upper()} {v['with_history']:,.0f} instead of {v['without_history']:,.0f} "
                 f"({v['change_percent']:+.1f}%)" for k, v in self.effect.items()]
        return "with history, " + " and ".join(parts)

    @property
    def headline(self) -> str:
        """The answer: ``trust the forecast with history`` (or without), or that they agree."""
        return "they agree within their bands" if self.trust == "either" else f"trust the forecast {self.trust}"

    @property
    def verdict(self) -> str:
        """The answer and its reasons in one paragraph (the workbook's)."""
        return f"{self.headline}: " + "; ".join(self.reasons) + "."

    @property
    def document(self) -> dict:
        """The ``history_check`` entry of ``incentive forecast --json``."""
        return {"with_history": {k: round(v, 4 if k == "over_budget" else 2) for k, v in self.with_history.items()},
                "without_history": {k: round(v, 4 if k == "over_budget" else 2)
                                    for k, v in self.without_history.items()},
                "disagree": self.disagree, "surprise_with": round(self.surprise_with, 4),
                "surprise_without": round(self.surprise_without, 4), "trust": self.trust,
                "reasons": list(self.reasons), "moved": [m.document for m in self.moved],
                "effect": {k: {f: round(x, 2) for f, x in v.items()} for k, v in self.effect.items()},
                "alone": [{"group": g.group, "parameters": list(g.parameters), "p50": round(g.p50, 2),
                           "p90": round(g.p90, 2),
                           **{f"{k}_change_percent": round(v, 2) for k, v in self.alone_change(g).items()}}
                          for g in self.alone]}


def surprise(fc: Forecast, scenario: Scenario) -> float:
    """How far the actuals so far sit from what the forecast's scenario expected, team-wide (log):
    the market's level shock read off them plus the roster reps' mean posterior log skill less the
    prior's mean (0 when the year is over or nothing was read)."""
    prior_mean = log_skill_prior(scenario.skill)[0]
    roster = fc.reps[fc.reps["rep_id"] != "(new hires)"]
    skill = np.log(roster["skill_median"].to_numpy(dtype=float))
    skill = skill[np.isfinite(skill)]
    level = float(fc.market["level"]) if fc.market is not None else 0.0
    return level + (float(skill.mean()) - prior_mean if skill.size else 0.0)


def check_history(with_history: Forecast, with_scenario: Scenario, without_history: Forecast,
                  without_scenario: Scenario, cal: Calibration, fit: HistoryFit | None = None,
                  other_plan: bool = False) -> HistoryCheck:
    """Compare a forecast with history and one without (module docstring: the rule).

    Args:
        with_history, with_scenario: the forecast with the calibrated scenario, and that scenario.
        without_history, without_scenario: the forecast with the base scenario, and that scenario.
        cal: the history's fit.
        fit: the level read under the plan that paid the history (None: not read).
        other_plan: the history was paid under another plan than the one forecast.

    Returns:
        The :class:`HistoryCheck`.
    """
    bands_with, bands_without = _bands(with_history), _bands(without_history)
    disagree = not (bands_without["p05"] <= bands_with["p50"] <= bands_without["p95"]
                    and bands_with["p05"] <= bands_without["p50"] <= bands_with["p95"])
    s_with = surprise(with_history, with_scenario)
    s_without = surprise(without_history, without_scenario)
    read = (f"the actuals so far sit {log_shift_percent(s_with)} from what the calibrated scenario expected and "
            f"{log_shift_percent(s_without)} from what {without_scenario.name} expected")
    nearer = "with history" if abs(s_with) <= abs(s_without) else "without history"
    if not disagree:
        trust = "either"
        reasons = [(f"each P50 lies inside the other's P05-P95 band; {read}: where they differ (a budget "
                   f"near either band), the forecast {nearer} sat nearer the actuals")]
    else:
        trust = nearer
        reasons = [(f"they disagree by more than their bands; {read}, so the forecast {trust} has less to "
                   "correct for the rest of the year (the actuals correct a forecast only partly: the skills "
                   "shrink towards its scenario's)")]
    weak = []
    if not cal.market_fitted:
        weak.append("the history covers one fiscal year, so its market is the prior's")
    if fit is not None and not fit.converged:
        weak.append(f"simulating {fit.plan} did not reproduce the history's attainment within "
                    f"{fit.tolerance:.1%}")
    if other_plan:
        weak.append("the history was paid under another plan: its level is read through that plan's effort")
    if weak:
        reasons.append("what weakens the history: " + "; ".join(weak))
    return HistoryCheck(bands_with, bands_without, disagree, s_with, s_without, trust, tuple(reasons),
                        moved_parameters(without_scenario, with_scenario, fit))


def _bands(fc: Forecast) -> dict[str, float]:
    out = {k: float(fc.summary[k]) for k in BANDS}
    if fc.budget is not None:
        out["over_budget"] = float(fc.summary["probability_over_budget"])
    return out


def log_shift_percent(log_shift: float) -> str:
    """A log shift as a signed percentage of the expected level (``+4.1%``)."""
    return f"{100 * math.expm1(log_shift):+.1f}%"
