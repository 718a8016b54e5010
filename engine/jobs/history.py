"""Read a team's history under the plan that paid it (issue 12, item 3).

:func:`engine.sim.calibrate.fit_history` fits ``level``, the expected attainment of a
median-skill rep *in the history*. That history was earned under some plan, so its level
already holds the effort that plan induced (and the morale, ramp and attrition of the
team that earned it). The simulator multiplies ``level`` by the effort response of the
plan it simulates (docs/model.md §2: expected primary output = level x quota/12 x skill x
season x ramp x E^elasticity), so a plainly calibrated scenario counts that effort twice
and forecasts with ``--history`` run high.

:func:`calibrate_under_plan` calibrates as ``incentive calibrate`` does and then moves the
primary output's ``level`` until *simulating the history plan on the calibrated scenario
reproduces the history's mean attainment*: a root search ``level <- level x (target /
simulated)^(1/slope)``, the slope the secant's on the log scale (1 at the first step), with
common random numbers (the same seed at every step), stopped at a relative tolerance or after
a few simulations. That is ``moments=False``. By default (issue 27, item 1) the noise, the skill
spread and the seasonality move with the level: the simulation, a burn-in year and the year
after, must also reproduce the history's variation within reps, its dispersion across reps and
its within-year profile (:func:`_by_moments`; the statistics and steps are
:mod:`engine.jobs.history_moments`): the fit reads noise and skill on the log scale of the
periods with a result, which is biased on lumpy business (docs/model.md §9, "calibration by
simulation").

**Mean attainment**, the one definition on both sides: the mean over *rep-years* of a
rep's attainment over the part of one plan year they were in. In the simulation a rep-year
is a rep slot of one run (``ChunkResult.rep_mask``) and its attainment is
``ChunkResult.attainment`` (annual primary / annual quota prorated to the rep's active
days); in the history it is a rep's periods within one fiscal year, whose attainment is the
mean of those periods' attainments (equal to primary / target over them when the periods'
targets are equal). Zero attainments count: the fit leaves them out because the lognormal
model has none, but they are part of what the team earned, so the adjusted level also
corrects the fitted one for them (and for the ramp of new hires the history holds).

The simulated team is the base scenario's (its roster or generated team): the adjusted
level assumes the effort the history plan buys from that team is the effort it bought from
the team in the history.

Public: :class:`HistoryFit`, :func:`calibrate_under_plan`, :func:`fitted_scenario`,
:func:`history_attainment`, :func:`market_mean_factor`, :func:`simulated_attainment`,
:func:`write_scenario_under_plan`; the fit in words is
:func:`engine.report.text.history_fit_report`.
"""

from __future__ import annotations

import math
import os
import tempfile
import textwrap
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from engine.core.atomic import write_text_atomic
from engine.core.yamledit import YamlEditor
from engine.data.history import load_history
from engine.data.load import TableSource
from engine.jobs.history_moments import (
    BURN_IN,
    MomentStep,
    history_moments,
    simulated_moments,
    window_offset,
)
from engine.plan.validate import CheckedPlan
from engine.sim.calibrate import Calibration, fit_history
from engine.sim.calibrated_scenario import scenario_number, write_calibrated_scenario
from engine.sim.executor import Executor, SimTask, chunks_of, simulation_for
from engine.sim.moments import Moments
from engine.sim.scenario import Scenario, load_scenario, parse_scenario
from engine.sim.streams import RunStreams

__all__ = [
    "DEFAULT_ITERATIONS",
    "DEFAULT_RUNS",
    "DEFAULT_TOLERANCE",
    "HistoryFit",
    "calibrate_under_plan",
    "fitted_scenario",
    "history_attainment",
    "market_mean_factor",
    "simulated_attainment",
    "write_scenario_under_plan",
]

DEFAULT_RUNS = 20
"""Simulated runs per step (the base team in each). Each run simulates a burn-in year and the year
whose moments are matched (:data:`~engine.jobs.history_moments.BURN_IN`), so 20 runs cost what 40
plan years did; with the market as a control variate (:func:`_simulated`) the simulated mean
attainment's standard error is about 0.7-1.2% on the out-of-model back-test's histories, far
below the history's own sampling error (docs/notes/issue27.md, stop 35)."""

DEFAULT_TOLERANCE = 0.005
"""Stop when the simulated mean attainment is within this share of the history's."""

DEFAULT_ITERATIONS = 8
"""At most this many simulations of the history plan (the first at the fitted level)."""

_OLD_NOTE = ("The level includes the effort reps gave under the plan the history was paid "
             "under.")


@dataclass(frozen=True)
class HistoryFit:
    """The level of a calibrated scenario, read under the plan that paid the history.

    Attributes:
        plan: name of the plan the history was paid under (the plan simulated).
        source: the history file as named.
        primary: the scenario's primary output (whose ``level`` was adjusted).
        target: the history's mean attainment (see the module docstring: mean over
            rep-years of each rep's mean attainment in that fiscal year, zeros included).
        rep_years: how many rep-years that mean is over.
        fitted_level: ``level`` as fitted (and written) by plain calibration.
        level: the adjusted level (4 significant digits, as a scenario file holds it).
        effort_factor: ``fitted_level / level``: how much more the history's reps
            produced than the scenario's baseline, mostly the effort the plan bought (above
            1 when the plan buys more than the no-incentive effort at the team's morale).
        simulated_fitted: mean attainment simulated under the plan at ``fitted_level``.
        simulated: mean attainment simulated under the plan at ``level``.
        simulated_se: its Monte Carlo standard error (runs as units, after the market's
            control variate): the adjusted level is uncertain by about the same share.
        iterations: simulations of the plan run (the first at the fitted level).
        converged: whether ``simulated`` is within ``tolerance`` of ``target``.
        tolerance: the relative tolerance.
        runs, seed: each simulation's runs and seed (the same seed every time: common
            random numbers).
        trace: ``(level, simulated mean attainment)`` of every simulation, in order.
        moments: whether the noise and the skill spread were calibrated by simulation too
            (:mod:`engine.jobs.history_moments`); False: only the level moved.
        fitted_noise_sigma, noise_sigma: the primary output's monthly lognormal noise sigma as
            fitted and as calibrated by simulation (equal when ``moments`` is False or the noise
            is not lognormal).
        fitted_skill_sigma, skill_sigma: the skill spread (sd of log skill) as fitted and as
            calibrated by simulation.
        history_moments: the history's ``(within, between)`` moments
            (:class:`~engine.sim.moments.Moments`); NaN without ``moments``.
        simulated_moments: the same of the history plan simulated at the kept parameters.
        fitted_seasonality, seasonality: the 12 monthly factors as fitted and as calibrated by
            simulation (empty without ``moments``).
        history_profile, simulated_profile: the within-year profile (per period of the year) of
            the history and of the simulation at the kept parameters.
    """

    plan: str
    source: str
    primary: str
    target: float
    rep_years: int
    fitted_level: float
    level: float
    effort_factor: float
    simulated_fitted: float
    simulated: float
    simulated_se: float
    iterations: int
    converged: bool
    tolerance: float
    runs: int
    seed: int
    trace: tuple[tuple[float, float], ...]
    moments: bool = False
    fitted_noise_sigma: float = math.nan
    noise_sigma: float = math.nan
    fitted_skill_sigma: float = math.nan
    skill_sigma: float = math.nan
    history_moments: tuple[float, float] = (math.nan, math.nan)
    simulated_moments: tuple[float, float] = (math.nan, math.nan)
    fitted_seasonality: tuple[float, ...] = ()
    seasonality: tuple[float, ...] = ()
    history_profile: tuple[float, ...] = ()
    simulated_profile: tuple[float, ...] = ()

    @property
    def gap(self) -> float:
        """``simulated / target - 1`` at the adjusted level."""
        return self.simulated / self.target - 1.0


# --------------------------------------------------------------------------- the two means


def history_attainment(history: TableSource, *, fiscal_year_start: int = 1) -> tuple[float, int]:
    """The history's mean attainment, as the simulation measures it.

    Args:
        history: what :func:`~engine.data.history.load_history` returned, or anything it
            accepts (then read with ``fiscal_year_start``).
        fiscal_year_start: month the fiscal years start in (for a file or raw table).

    Returns:
        ``(mean, rep_years)``: the mean over rep-years (a rep within one fiscal year) of the
        mean of that rep's period attainments in the year, zero attainments included; and
        the number of rep-years.
    """
    frame = history if isinstance(history, pd.DataFrame) and "fiscal_year_start" in history.attrs \
        else load_history(history, fiscal_year_start=fiscal_year_start)
    # Canonical labels start with the fiscal year (2026, 2026-03, 2026-Q1, 2026-H1).
    year = frame["period"].astype(str).str[:4]
    per_rep_year = frame.groupby([frame["rep_id"], year], sort=False)["attainment"].mean()
    return float(per_rep_year.mean()), int(per_rep_year.size)


def simulated_attainment(checked: CheckedPlan, scenario: Scenario, *, runs: int = DEFAULT_RUNS,
                         seed: int | None = None, workers: int = 1,
                         executor: Executor | None = None) -> float:
    """Mean attainment of ``runs`` simulated plan years of the scenario's team under a plan.

    The mean over rep-years (every rep slot of every run that held a rep,
    ``ChunkResult.rep_mask``) of ``ChunkResult.attainment``: annual primary / annual quota
    prorated to the rep's active days, corrected by the runs' market (a control variate,
    :func:`market_mean_factor`; the plain mean when the scenario has no market).

    Args:
        checked: the plan.
        scenario: the scenario.
        runs: runs to simulate.
        seed: master seed (default: the scenario's).
        workers: processes (ignored when ``executor`` is given).
        executor: an open executor to run on (kept open for the caller).
    """
    return _simulated(checked, scenario, runs, seed, workers, executor)[0]


def market_mean_factor(scenario: Scenario, seed: int, runs: np.ndarray, teams: int,
                       months: int = 12, first: int = 0) -> np.ndarray | None:
    """Each run's mean demand multiplier over the plan year, company-wide (None without a market).

    The simulator draws run ``i``'s market from its own ``market`` stream
    (:class:`~engine.sim.streams.RunStreams`), ``(1 + teams, years + months + 1)`` standard
    normals, first thing in the year; this redraws the same normals and averages the company
    factor ``exp(x - V/2)`` over the months. Its expectation is exactly 1 under the
    scenario's market (a stationary start), whatever the normals are, so it is a control
    variate: a draw that does not match the simulator's only loses the variance it removes,
    it never biases the mean.

    Args:
        scenario: the scenario simulated (its ``market``).
        seed: the simulation's master seed.
        runs: run indices.
        teams, months: the simulation's teams and months (``Simulation.teams``, ``.months``).
        first: the first month averaged (a simulation's later year: ``12``).

    Returns:
        ``(len(runs),)`` mean multipliers, or None.
    """
    model = scenario.market
    if not model.active:
        return None
    years = (months + 11) // 12
    z = RunStreams(seed, runs).standard_normal("market", (1 + teams, years + months + 1))
    return model.factor(model.draw(z[:, 0], months))[:, first:].mean(axis=1)


def _simulated(checked: CheckedPlan, scenario: Scenario, runs: int, seed: int | None, workers: int,
               executor: Executor | None) -> tuple[float, float]:
    """:func:`simulated_attainment` and its Monte Carlo standard error (runs are the units).

    The ratio of the rep-years' attainment to their count, less ``beta`` times the runs'
    mean market multiplier's departure from its expectation 1 (:func:`market_mean_factor`),
    ``beta`` the least-squares slope of each run's contribution on its multiplier (the
    regression estimator of a control variate; Glasserman 2003, *Monte Carlo Methods in
    Financial Engineering*, 4.1). The market's year shock is most of a run's variance, so
    this has the precision of several times as many runs (docs/notes/issue27.md).
    """
    seed = scenario.seed if seed is None else int(seed)
    if runs < 1:
        raise ValueError("runs must be at least 1")
    task = SimTask(checked, scenario, seed)
    sim = simulation_for(task)
    sums = np.zeros(runs)  # per run, filled by run index: the result does not depend on the chunks
    counts = np.zeros(runs)
    with (Executor(workers) if executor is None else nullcontext(executor)) as ex:
        chunks = chunks_of(runs, ex.chunk_size(sim.slots, runs))
        for _, res in ex.imap([(task, idx) for idx in chunks]):
            sums[res.run_index] = np.where(res.rep_mask, res.attainment, 0.0).sum(axis=1)
            counts[res.run_index] = res.rep_mask.sum(axis=1)
    return _mean_se(sums, counts, scenario, seed, sim.teams, sim.months)


def _mean_se(sums: np.ndarray, counts: np.ndarray, scenario: Scenario, seed: int, teams: int,
             months: int, first: int = 0) -> tuple[float, float]:
    """The mean attainment of the runs (per run: the sum of its rep-years' attainments and their
    number) and its standard error, the market's control variate applied (:func:`_simulated`)."""
    runs = len(sums)
    total = float(counts.sum())
    if not total:
        return math.nan, math.nan
    mean = float(sums.sum()) / total
    # The ratio estimator's linearized residuals, runs as independent units.
    resid = (sums - mean * counts) / (total / runs)
    factor = market_mean_factor(scenario, seed, np.arange(runs), teams, months, first)
    free = 1  # parameters estimated from the runs
    if factor is not None and runs > 3 and float(np.var(factor)) > 0:
        c = factor - factor.mean()
        beta = float(resid @ c) / float(c @ c)
        mean -= beta * float(factor.mean() - 1.0)
        resid = resid - beta * c
        free = 2
    se = math.sqrt(float(resid @ resid) / (runs * (runs - free))) if runs > free else math.nan
    return mean, se


# --------------------------------------------------------------------------- the fixed point


def calibrate_under_plan(history: TableSource, plan_checked: CheckedPlan,
                         base: Scenario | str | os.PathLike[str] | None = None, *,
                         name: str | None = None, fiscal_year_start: int = 1,
                         runs: int = DEFAULT_RUNS, seed: int | None = None,
                         iterations: int = DEFAULT_ITERATIONS, tolerance: float = DEFAULT_TOLERANCE,
                         workers: int = 1, moments: bool = True) -> tuple[Scenario, Calibration, HistoryFit]:
    """Calibrate a scenario to a history read under the plan that paid it.

    Fits the history (:func:`~engine.sim.calibrate.fit_history`), writes the calibrated
    scenario to a temporary file and loads it (as ``incentive calibrate`` and
    ``forecast --history`` do), then repeats ``level <- level x (target / simulated)^(1/slope)``
    on the primary output (``slope``: :func:`_slope`), where ``target`` is the history's mean attainment
    (:func:`history_attainment`) and ``simulated`` that of the history plan simulated on the
    scenario (:func:`simulated_attainment`, same seed every time), until they agree within
    ``tolerance`` or after ``iterations`` simulations. Levels are rounded to 4 significant
    digits (what a scenario file holds), so the returned scenario and the one
    :func:`write_scenario_under_plan` writes are the same. When the iterations run out the
    level with the smallest gap is kept (``HistoryFit.converged`` is then False).

    With ``moments`` (the default) the noise and the skill spread move with the level: the
    history plan is simulated month by month and the parameters ``(level, noise sigma, skill
    sigma)`` take Broyden's steps until the simulation reproduces the history's mean attainment,
    its variation within reps and its dispersion across reps (:func:`_by_moments`; indirect
    inference, :mod:`engine.jobs.history_moments`). The simulations then run in this process
    (``workers`` is not used).

    Args:
        history: a history file or table (as :func:`~engine.data.history.load_history`).
        plan_checked: the plan the history was paid under.
        base: the base scenario (a :class:`Scenario` loaded from a file, or a path; the
            built-in default when None).
        name: the calibrated scenario's name (default ``calibrated_<history stem>``).
        fiscal_year_start: month the history's fiscal years start in.
        runs: runs per simulation.
        seed: master seed of every simulation (default: the base scenario's).
        iterations: most simulations of the plan (at least 1).
        tolerance: relative tolerance on the mean attainment (positive).
        workers: processes for the simulations (without ``moments``).
        moments: calibrate the noise and the skill spread by simulation too.

    Returns:
        ``(scenario, calibration, fit)``: the calibrated scenario with the adjusted level,
        the :class:`~engine.sim.calibrate.Calibration`, and the :class:`HistoryFit`.

    Raises:
        DataError, DataErrors: problems in the history (from ``load_history``).
        PlanErrors: the base scenario is invalid.
        ValueError: ``runs`` or ``iterations`` below 1, or ``tolerance`` not positive.
    """
    if runs < 1 or iterations < 1:
        raise ValueError("runs and iterations must be at least 1")
    if not tolerance > 0:
        raise ValueError("tolerance must be positive")
    frame = load_history(history, fiscal_year_start=fiscal_year_start) \
        if not (isinstance(history, pd.DataFrame) and "fiscal_year_start" in history.attrs) else history
    scenario, cal = fitted_scenario(frame, base, name=name)
    target, rep_years = history_attainment(frame)
    primary = scenario.primary_measure
    fitted = float(scenario.output(primary).get("level"))
    seed = scenario.seed if seed is None else int(seed)
    if moments:
        return _by_moments(frame, plan_checked, scenario, cal, target, rep_years, runs, seed, iterations,
                           tolerance)

    trace: list[tuple[float, float]] = []
    errors: list[float] = []
    level = fitted
    with Executor(workers) as ex:  # one pool for every step
        for _ in range(iterations):
            simulated, se = _simulated(plan_checked, with_level(scenario, level), runs, seed, workers, ex)
            trace.append((level, simulated))
            errors.append(se)
            if abs(simulated / target - 1.0) <= tolerance or not simulated > 0:
                break
            step = round_level(level * (target / simulated) ** (1.0 / _slope(trace)))
            if step == level or any(step == lv for lv, _ in trace):  # rounding: no new level to try
                break
            level = step
    best = min(range(len(trace)), key=lambda i: abs(trace[i][1] / target - 1.0))
    best_level, best_sim = trace[best]
    fit = HistoryFit(
        plan=plan_checked.plan.name, source=cal.source, primary=primary, target=target, rep_years=rep_years,
        fitted_level=fitted, level=best_level, effort_factor=fitted / best_level,
        simulated_fitted=trace[0][1], simulated=best_sim, simulated_se=errors[best], iterations=len(trace),
        converged=abs(best_sim / target - 1.0) <= tolerance, tolerance=tolerance, runs=runs, seed=seed,
        trace=tuple(trace),
    )
    return with_level(scenario, best_level), cal, fit


MOMENT_TOLERANCE = 0.03
"""The moments' tolerance: ``within`` within this share of the history's, ``between`` within this
share of it or :data:`BETWEEN_TOLERANCE`, whichever is larger."""

BETWEEN_TOLERANCE = 0.005
"""Absolute tolerance on ``between`` (about the Monte Carlo error of 40 runs of 120 reps)."""

PROFILE_TOLERANCE = 0.03
"""The within-year profile's tolerance: every period's simulated share within this (log) of the
history's."""


def _by_moments(frame: pd.DataFrame, plan_checked: CheckedPlan, scenario: Scenario, cal: Calibration,
                target: float, rep_years: int, runs: int, seed: int, iterations: int,
                tolerance: float) -> tuple[Scenario, Calibration, HistoryFit]:
    """:func:`calibrate_under_plan` with the noise, the skill spread and the seasonality
    calibrated by simulation.

    Each step simulates the history plan on the scenario at ``(level, noise sigma, skill sigma,
    seasonality)`` for a burn-in year and the year after (same seed: common random numbers;
    :func:`~engine.jobs.history_moments.simulated_moments`), reads the mean attainment of the
    year after (the market's control variate, :func:`_mean_se`) and its moments, moves the first
    three by :class:`~engine.jobs.history_moments.MomentStep` and the seasonality by the ratio of
    the history's within-year profile to the simulated one (a fixed point: a period's simulated
    attainment moves with its demand one for one, give or take the effort it buys), until the
    mean is within ``tolerance``, the moments within :data:`MOMENT_TOLERANCE` and the profile
    within :data:`PROFILE_TOLERANCE` of the history's, or the iterations run out (the step with
    the smallest largest scaled gap is kept).
    """
    primary = scenario.primary_measure
    out = scenario.output(primary)
    fitted = float(out.get("level"))
    lognormal_noise = out.get("noise", "lognormal") == "lognormal"
    noise0 = float(out.get("sigma", 0.35)) if lognormal_noise else math.nan
    lognormal_skill = scenario.skill.kind == "lognormal"
    skill0 = float(scenario.skill.get("sigma", 0.0)) if lognormal_skill else math.nan
    length = cal.months_per_period
    wanted = history_moments(frame)
    moves = (True, lognormal_noise and math.isfinite(wanted.within),
             lognormal_skill and math.isfinite(wanted.between))
    stepper = MomentStep(wanted, 12 // length, moves)
    start = int(frame.attrs.get("fiscal_year_start", 1))
    burn = BURN_IN + window_offset(scenario, start)  # months before the matched year
    sim = simulation_for(SimTask(plan_checked, replace(scenario, months=12 + burn), seed))
    profile_wanted = np.array(wanted.profile, dtype=float)
    seen = np.isfinite(profile_wanted)

    def scaled(gap: np.ndarray, got: Moments) -> float:
        parts = [abs(gap[0]) / math.log1p(tolerance)]
        if moves[1]:
            parts.append(abs(gap[1]) / (MOMENT_TOLERANCE * wanted.within))
        if moves[2]:
            parts.append(abs(gap[2]) / max(MOMENT_TOLERANCE * wanted.between, BETWEEN_TOLERANCE))
        if seen.any():
            ratio = profile_wanted[seen] / np.array(got.profile, dtype=float)[seen]
            parts.append(float(np.abs(np.log(ratio)).max()) / PROFILE_TOLERANCE)
        return max(parts)

    level, noise, skill, season = fitted, noise0, skill0, tuple(scenario.seasonality)
    steps: list[tuple[float, float, float, tuple[float, ...], float, float, Moments, float]] = []
    for _ in range(iterations):
        here = replace(_with_spread(with_level(scenario, level), noise, skill), seasonality=season)
        got = simulated_moments(plan_checked, here, runs, seed, length, BURN_IN, start)
        mean, se = _mean_se(np.array(got.rep_sums), np.array(got.rep_counts, dtype=float), here, seed,
                            sim.teams, sim.months, burn)
        if not mean > 0:
            break
        gap = stepper.gaps(got, mean)
        steps.append((level, noise, skill, season, mean, se, got, scaled(gap, got)))
        if steps[-1][-1] <= 1.0:
            break
        p = np.array([math.log(level), math.expm1(noise * noise) if moves[1] else 0.0,
                      skill * skill if moves[2] else 0.0])
        q = stepper.next(p, gap)
        new = (round_level(math.exp(q[0])),
               round_level(math.sqrt(math.log1p(q[1]))) if moves[1] else noise,
               round_level(math.sqrt(q[2])) if moves[2] else skill,
               _next_season(season, profile_wanted, np.array(got.profile, dtype=float), length, start))
        if any(new == s[:4] for s in steps):  # rounding: nothing new to try
            break
        level, noise, skill, season = new
    if not steps:
        raise ValueError("the simulated mean attainment is not positive")
    best = min(steps, key=lambda s: s[-1])
    level, noise, skill, season, mean, se, got, worst = best
    fit = HistoryFit(
        plan=plan_checked.plan.name, source=cal.source, primary=primary, target=target, rep_years=rep_years,
        fitted_level=fitted, level=level, effort_factor=fitted / level, simulated_fitted=steps[0][4],
        simulated=mean, simulated_se=se, iterations=len(steps), converged=worst <= 1.0, tolerance=tolerance,
        runs=runs, seed=seed, trace=tuple((s[0], s[4]) for s in steps), moments=True,
        fitted_noise_sigma=noise0, noise_sigma=noise, fitted_skill_sigma=skill0, skill_sigma=skill,
        history_moments=(wanted.within, wanted.between), simulated_moments=(got.within, got.between),
        fitted_seasonality=tuple(scenario.seasonality), seasonality=season,
        history_profile=wanted.profile, simulated_profile=got.profile,
    )
    return replace(_with_spread(with_level(scenario, level), noise, skill), seasonality=season), cal, fit


def _next_season(season: tuple[float, ...], wanted: np.ndarray, got: np.ndarray, length: int,
                 fiscal_year_start: int = 1) -> tuple[float, ...]:
    """Each month's factor times its period's ratio of the history's profile to the simulated one
    (periods the history lacks stay), back to mean 1 and rounded as a scenario file holds it.
    Period ``p`` of the fiscal year holds calendar months ``fiscal_year_start + p x length`` on."""
    ratio = np.where(np.isfinite(wanted) & (got > 0), wanted / np.where(got > 0, got, 1.0), 1.0)
    by_fiscal_month = np.repeat(ratio, length)[:12]
    calendar = np.roll(by_fiscal_month, int(fiscal_year_start) - 1)  # January first
    months = np.asarray(season, dtype=float) * calendar
    return round_season(months / months.mean())


def round_season(factors: np.ndarray) -> tuple[float, ...]:
    """Twelve factors to 4 decimals that still average exactly 1 (largest remainders, as the
    calibrated scenario's writer rounds them, so it writes them unchanged)."""
    units = np.asarray(factors, dtype=float) * 10_000
    rounded = np.floor(units + 1e-9)
    short = round(len(units) * 10_000 - float(rounded.sum()))
    rounded[np.argsort(-(units - rounded), kind="stable")[:short]] += 1
    return tuple(float(u) / 10_000 for u in rounded)


def _with_spread(scenario: Scenario, noise: float, skill: float) -> Scenario:
    """The scenario with its primary output's lognormal ``sigma`` and its skill's ``sigma`` set
    (NaN: that one unchanged)."""
    if math.isfinite(noise):
        primary = scenario.primary_measure
        outputs = []
        for o in scenario.outputs:
            if o.name == primary:
                o = replace(o, params=tuple({**dict(o.params), "sigma": float(noise)}.items()))
            outputs.append(o)
        scenario = replace(scenario, outputs=tuple(outputs))
    if math.isfinite(skill):
        scenario = replace(scenario, skill=replace(scenario.skill, params=tuple(
            {**dict(scenario.skill.params), "sigma": float(skill)}.items())))
    return scenario


def _slope(trace: list[tuple[float, float]]) -> float:
    """The elasticity of the simulated mean attainment to the level, from the last two steps
    (a secant on the log scale), or 1 before there are two. The plan's effort grows with the
    level, so attainment moves a little more than the level does (1.13-1.16 measured on the
    seeds plan, docs/notes/issue27.md); a step by that slope lands in one or two simulations
    where ``level x target / simulated`` takes several. Kept within [0.25, 4]
    so that a noisy or flat pair of steps cannot send the level far."""
    if len(trace) < 2:
        return 1.0
    (l0, s0), (l1, s1) = trace[-2], trace[-1]
    if not (l0 > 0 and l1 > 0 and s0 > 0 and s1 > 0) or l0 == l1:
        return 1.0
    slope = math.log(s1 / s0) / math.log(l1 / l0)
    return float(np.clip(slope, 0.25, 4.0)) if math.isfinite(slope) else 1.0


def fitted_scenario(history: TableSource, base: Scenario | str | os.PathLike[str] | None = None, *,
                    name: str | None = None) -> tuple[Scenario, Calibration]:
    """The scenario calibrated to a history in memory (as ``incentive calibrate`` writes it),
    and the fit behind it; the level is the fitted one, with the effort of the plan that paid
    the history in it (:func:`calibrate_under_plan` takes it out).

    Args:
        history: a history file or table (as :func:`~engine.data.history.load_history`).
        base: the base scenario (a :class:`Scenario` loaded from a file, or a path; the
            built-in default when None); its market is the fit's prior.
        name: the calibrated scenario's name (default ``calibrated_<history stem>``).

    Returns:
        ``(scenario, calibration)``.
    """
    prior = base.market if isinstance(base, Scenario) else load_scenario(None if base is None else Path(base)).market
    cal = fit_history(history, market_prior=prior)  # the base's market is the prior
    base_file = base.file if isinstance(base, Scenario) else base
    with tempfile.TemporaryDirectory() as tmp:
        path = write_calibrated_scenario(cal, Path(tmp) / "calibrated.yaml", base=base_file, name=name)
        return load_scenario(path), cal


def round_level(x: float) -> float:
    """A level as a scenario file holds it: 4 significant digits (the calibration writer's)."""
    return float(scenario_number(x))


def with_level(scenario: Scenario, level: float) -> Scenario:
    """The scenario with its primary output's ``level`` set (the other params unchanged)."""
    primary = scenario.primary_measure
    outputs = []
    for o in scenario.outputs:
        if o.name == primary:
            params = dict(o.params)
            params["level"] = float(level)
            o = replace(o, params=tuple(params.items()))
        outputs.append(o)
    return replace(scenario, outputs=tuple(outputs))


# --------------------------------------------------------------------------- writing


def write_scenario_under_plan(cal: Calibration, fit: HistoryFit, out_path: str | os.PathLike[str],
                              base: Scenario | str | os.PathLike[str] | None = None,
                              name: str | None = None) -> Path:
    """Write the calibrated scenario with the level read under the history plan.

    The file is :func:`~engine.sim.calibrated_scenario.write_calibrated_scenario`'s (comments kept),
    with the primary output's ``level`` set to ``fit.level`` (its comment says so) and the
    opening summary saying which plan the level was read under. It is validated before it
    is written, atomically; it loads back with the level of the scenario
    :func:`calibrate_under_plan` returned.

    Args:
        cal, fit: what :func:`calibrate_under_plan` returned.
        out_path: where to write the YAML.
        base: the base scenario (as for :func:`calibrate_under_plan`).
        name: the scenario's name (default ``calibrated_<history stem>``).

    Returns:
        The path written.
    """
    out = Path(out_path)
    base_file = base.file if isinstance(base, Scenario) else base
    # Written next to the target so that a relative roster path is made relative to it.
    draft = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        write_calibrated_scenario(cal, draft, base=base_file, name=name)
        text = draft.read_text(encoding="utf-8")
    finally:
        draft.unlink(missing_ok=True)
    new_text = _set_level(_set_spread(text, fit), fit)
    scenario = parse_scenario(new_text, str(out))  # never write a scenario that does not load
    if float(scenario.output(fit.primary).get("level")) != fit.level:  # pragma: no cover - a bug
        raise RuntimeError("the written level differs from the adjusted one")
    if fit.moments and ((math.isfinite(fit.noise_sigma)
                         and float(scenario.output(fit.primary).get("sigma")) != fit.noise_sigma)
                        or (math.isfinite(fit.skill_sigma)
                            and float(scenario.skill.get("sigma")) != fit.skill_sigma)):  # pragma: no cover
        raise RuntimeError("the written noise or skill spread differs from the calibrated one")
    if fit.seasonality and not np.allclose(scenario.seasonality, fit.seasonality, rtol=0, atol=1e-12):  # pragma: no cover
        raise RuntimeError("the written seasonality differs from the calibrated one")
    write_text_atomic(out, new_text)
    return out


def _set_spread(text: str, fit: HistoryFit) -> str:
    """The text with the skill's sigma, the primary output's noise sigma (its comment saying so)
    and the seasonality calibrated by simulation put in (unchanged without ``fit.moments``)."""
    if not fit.moments:
        return text
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    edits: list[tuple[yaml.Node, str, str | None]] = []
    skill = _item(_item(_item(root, "reps"), "skill"), "sigma")
    if math.isfinite(fit.skill_sigma) and isinstance(skill, yaml.ScalarNode):
        edits.append((skill, scenario_number(fit.skill_sigma), None))
    noise = _item(_item(_item(root, "outputs"), fit.primary), "sigma")
    if math.isfinite(fit.noise_sigma) and isinstance(noise, yaml.ScalarNode):
        note = f"calibrated by simulation under {fit.plan} (fitted {fit.fitted_noise_sigma:#.4g} per month)"
        edits.append((noise, scenario_number(fit.noise_sigma), note))
    season = _item(root, "seasonality")
    if fit.seasonality and isinstance(season, yaml.SequenceNode) and season.flow_style:
        edits.append((season, "[" + ", ".join(f"{v:.4f}".rstrip("0").rstrip(".") for v in fit.seasonality) + "]",
                      None))
    for node, value, comment in sorted(edits, key=lambda e: -e[0].start_mark.index):
        text = _replace(text, node, value, comment)
    return text


def _replace(text: str, node: yaml.Node, value: str, note: str | None) -> str:
    """``text`` with ``node``'s text replaced by ``value``; with ``note``, the comment after it on
    its line (if any) says ``note`` instead, in the same column."""
    start, end = node.start_mark.index, node.end_mark.index
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[end:line_end]
    if note is not None and rest.strip().startswith("#"):
        column = end + rest.index("#")
        pad = " " * max(column - start - len(value), 2)
        return text[:start] + value + pad + "# " + note + text[line_end:]
    return text[:start] + value + text[end:]


def _set_level(text: str, fit: HistoryFit) -> str:
    """The text with the primary output's level (and its comment) and the header note set."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    node = _item(_item(root, "outputs"), fit.primary)
    level = _item(node, "level")
    if not isinstance(level, yaml.ScalarNode):  # pragma: no cover - the writer always sets it
        raise TypeError(f"no level on output {fit.primary!r} in the calibrated scenario")
    note = (f"read under {fit.plan}: fitted {fit.fitted_level:#.4g} / effort factor "
            f"{fit.effort_factor:.3f}")
    return _header(_replace(text, level, scenario_number(fit.level), note), fit)


def _item(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    found = YamlEditor.item(mapping, key)
    return None if found is None else found[1]


def _header(text: str, fit: HistoryFit) -> str:
    """Rewrite the opening comment block: the level is now net of the history plan's effort."""
    lines = text.splitlines(keepends=True)
    n = 0
    while n < len(lines) and lines[n].startswith("#"):
        n += 1
    summary = " ".join(line[1:].strip() for line in lines[:n]).strip()
    sentence = (f"The level is read under {fit.plan}, the plan the history was paid under "
                f"(`incentive\0calibrate\0--plan`): the fitted {fit.fitted_level:#.4g} included the "
                f"effort that plan induced; {scenario_number(fit.level)} reproduces the history's mean "
                f"attainment {fit.target:.3f} when {fit.plan} is simulated (effort factor "
                f"{fit.effort_factor:.3f}).")
    if fit.moments:
        sentence += (f" The noise, skill spread and seasonality are calibrated by simulation too: "
                     f"simulated for a burn-in year and the year after, {fit.plan} reproduces the "
                     f"history's variation within reps ({fit.history_moments[0]:.3f}), dispersion "
                     f"across reps ({fit.history_moments[1]:.3f}) and within-year profile; noise "
                     f"sigma {fit.fitted_noise_sigma:#.4g} "
                     f"-> {fit.noise_sigma:#.4g}, skill sigma {fit.fitted_skill_sigma:#.4g} -> "
                     f"{fit.skill_sigma:#.4g}.")
    summary = summary.replace("`incentive calibrate`", "`incentive\0calibrate`")
    summary = (summary.replace(_OLD_NOTE, sentence) if _OLD_NOTE in summary
               else f"{summary} {sentence}".strip())
    wrapped = [w.replace("\0", " ") for w in textwrap.wrap(summary, 88, break_on_hyphens=False)]
    return "".join(f"# {w}\n" for w in wrapped) + "".join(lines[n:])
