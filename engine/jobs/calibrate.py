"""Calibrate a scenario to a team's history: the job behind ``incentive calibrate``.

Read the history (:mod:`engine.data.history`), fit it (:mod:`engine.sim.calibrate`, the
base scenario's market as the prior) and write the calibrated scenario
(:mod:`engine.sim.calibrated_scenario`); given the plan the history was paid under, the level
is read under that plan instead (:func:`engine.jobs.history.calibrate_under_plan`). The
report's text is :func:`engine.report.calibrate.calibration_report`.

Public: :class:`CalibrationRun`, :func:`calibrate`, :func:`calibrate_scenario`,
:func:`calibrated_scenario`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.data.history import load_history
from engine.data.load import TableSource
from engine.jobs.history import (
    DEFAULT_RUNS,
    HistoryFit,
    calibrate_under_plan,
    fitted_scenario,
    write_scenario_under_plan,
)
from engine.plan.validate import CheckedPlan
from engine.sim.calibrate import Calibration, fit_history
from engine.sim.calibrated_scenario import write_calibrated_scenario
from engine.sim.scenario import Scenario, load_scenario

__all__ = ["CalibrationRun", "calibrate", "calibrate_scenario", "calibrated_scenario"]


@dataclass(frozen=True)
class CalibrationRun:
    """What :func:`calibrate` fitted and wrote.

    Attributes:
        calibration: the fit of the history.
        fit: the level read under the plan that paid the history (None without that plan).
        path: the scenario written.
    """

    calibration: Calibration
    fit: HistoryFit | None
    path: Path


def calibrate(history: TableSource, out: str | os.PathLike[str], *,
              base: str | os.PathLike[str] | None = None, name: str | None = None,
              fiscal_year_start: int = 1, paid_under: CheckedPlan | None = None,
              runs: int = DEFAULT_RUNS, seed: int | None = None, workers: int = 1) -> CalibrationRun:
    """Fit a history and write the calibrated scenario, as ``incentive calibrate`` does.

    Args:
        history: the history file or table (:func:`~engine.data.history.load_history`).
        out: the scenario YAML to write.
        base: the scenario to start from (the built-in one when None); its market is the
            fit's prior.
        name: the written scenario's name (default ``calibrated_<history stem>``).
        fiscal_year_start: month in which the history's fiscal years start.
        paid_under: the plan the history was paid under: the level is then set so that
            simulating it reproduces the history's mean attainment
            (:func:`~engine.jobs.history.calibrate_under_plan`); without it the level holds
            that plan's effort.
        runs, seed, workers: with ``paid_under``, the simulations of the plan (runs each,
            master seed, processes).

    Returns:
        The :class:`CalibrationRun`.

    Raises:
        DataError, DataErrors: problems in the history.
        PlanErrors: the base scenario is invalid, or ``name`` is not a valid identifier.
    """
    frame = load_history(history, fiscal_year_start=fiscal_year_start)
    if paid_under is not None:
        _, cal, fit = calibrate_under_plan(frame, paid_under, base=base, name=name, runs=runs, seed=seed,
                                           workers=workers)
        return CalibrationRun(cal, fit, write_scenario_under_plan(cal, fit, out, base=base, name=name))
    prior = load_scenario(None if base is None else Path(base)).market  # the base's market is the prior
    cal = fit_history(frame, market_prior=prior)
    return CalibrationRun(cal, None, write_calibrated_scenario(cal, out, base=base, name=name))


def calibrated_scenario(history: TableSource, base: Scenario | str | None = None) -> Scenario:
    """A scenario calibrated in memory to an attainment history (as ``incentive calibrate``)."""
    return calibrate_scenario(history, base)[0]


def calibrate_scenario(history: TableSource, base: Scenario | str | None = None) -> tuple[Scenario, Calibration]:
    """The scenario calibrated in memory to an attainment history, and the fit behind it
    (a :class:`~engine.sim.calibrate.Calibration`, for the report of what was fitted)."""
    return fitted_scenario(load_history(history), base)
