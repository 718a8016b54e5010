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

Public: :class:`HistoryCheck`, :func:`check_history`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.jobs.forecast import Forecast
from engine.jobs.history import HistoryFit
from engine.sim.calibrate import Calibration
from engine.sim.population import log_skill_prior
from engine.sim.scenario import Scenario

__all__ = ["HistoryCheck", "check_history", "log_shift_percent"]

BANDS = ("p05", "p50", "p90", "p95")


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
    """

    with_history: dict[str, float]
    without_history: dict[str, float]
    disagree: bool
    surprise_with: float
    surprise_without: float
    trust: str
    reasons: tuple[str, ...]

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
                "reasons": list(self.reasons)}


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
    return HistoryCheck(bands_with, bands_without, disagree, s_with, s_without, trust, tuple(reasons))


def _bands(fc: Forecast) -> dict[str, float]:
    out = {k: float(fc.summary[k]) for k in BANDS}
    if fc.budget is not None:
        out["over_budget"] = float(fc.summary["probability_over_budget"])
    return out


def log_shift_percent(log_shift: float) -> str:
    """A log shift as a signed percentage of the expected level (``+4.1%``)."""
    return f"{100 * math.expm1(log_shift):+.1f}%"
