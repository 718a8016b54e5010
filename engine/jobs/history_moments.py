"""The history's moments against the model's, for the calibration by simulation (issue 27, item 1).

:func:`engine.jobs.history.calibrate_under_plan` moves the calibrated scenario's structural
parameters until simulating the plan that paid the history reproduces the history's moments
(:mod:`engine.sim.moments`): the level its mean attainment, the noise its period-to-period
variation within reps, the skill spread its dispersion across reps, the seasonality its
within-year profile. This module computes both sides the same way and takes the steps (the
seasonality's, a ratio, is :func:`engine.jobs.history._next_season`).

**A team in post.** The simulation runs a burn-in year (:data:`BURN_IN`) and matches the year
after: the history's team is in post, while the simulator's team starts at its baseline morale and
fades through its first year, which would otherwise be read as a within-year profile of demand
(docs/notes/issue27.md, stop 35: matching the first year's profile over-corrects the
out-of-model back-test to realized / P50 0.961; the second year's gives 0.992).

**Why.** The statistical fit (:func:`engine.sim.calibrate.fit_history`) reads noise and skill
on the log scale of the periods with a result (zeros left out). On lumpy business (a few deals a
month, some months with none) the log scale's long left tail reads as noise and the months left
out hide what weak reps lack, so the fit's noise is too large and its skill spread too small for
what the money does (measured on the out-of-model generator: noise sigma 0.96 where the
generator's monthly coefficient of variation, 0.95, corresponds to 0.80; docs/notes/issue27.md,
stop 35). Indirect inference corrects the estimator's bias whatever its cause: the same
statistics on the model's simulated history and on the real one, the parameters moved until
they agree (Gourieroux, Monfort and Renault 1993; McFadden 1989; the model is simulated as the
forecast simulates it, with its effort response, timing and turnover, so what the model adds to
the moments is not counted twice).

**Steps.** Broyden's method (Broyden 1965, *Mathematics of Computation* 19, 577-593) on
``p = (log level, CV^2 of the monthly noise, skill variance)`` against
``m = (log mean, within, between)``: ``p <- p + J^-1 (m_history - m_simulated)``, the
Jacobian ``J`` started at its structural value (the mean moves with the level one for one,
``within`` with the noise's squared CV, ``between`` with the skill variance and by the noise a
year's mean keeps, ``1 / periods`` of it) and updated by each step's secant. Common random
numbers (the same seed every step) make the steps deterministic and the moments smooth in the
parameters.

Public: :class:`MomentStep`, :func:`history_moments`, :func:`simulated_moments`, :func:`window_offset`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from engine.core.periods import MONTHS_PER_PERIOD, parse_period_label
from engine.plan.validate import CheckedPlan
from engine.sim.executor import SimTask, chunks_of, simulation_for
from engine.sim.moments import Moments, attainment_moments
from engine.sim.scenario import Scenario
from engine.sim.scenario_model import QuotaPolicy

__all__ = ["MomentStep", "history_moments", "simulated_moments", "window_offset"]

CHUNK = 20
"""Runs simulated together (the result does not depend on it: each run draws from its own streams)."""

BURN_IN = 12
"""Months simulated before the year whose moments are matched (:func:`simulated_moments`)."""


def history_moments(frame: pd.DataFrame) -> Moments:
    """The moments of a loaded history (:func:`~engine.data.history.load_history`'s frame): units are
    fiscal years, periods the periods of the year."""
    kind = frame.attrs.get("period_kind", "month")
    start = int(frame.attrs.get("fiscal_year_start", 1))
    infos = {p: parse_period_label(p, kind, start) for p in frame["period"].astype(str).unique()}
    year = frame["period"].astype(str).map(lambda p: infos[p].fiscal_year)
    number = frame["period"].astype(str).map(lambda p: infos[p].number).to_numpy() - 1
    years = {y: i for i, y in enumerate(sorted(year.unique()))}
    reps = {r: i for i, r in enumerate(frame["rep_id"].unique())}
    periods = 12 // MONTHS_PER_PERIOD[kind]
    att = np.zeros((len(years), len(reps), periods))
    on = np.zeros(att.shape, dtype=bool)
    u = year.map(years).to_numpy()
    r = frame["rep_id"].map(reps).to_numpy()
    att[u, r, number] = frame["attainment"].to_numpy(dtype=float)
    on[u, r, number] = True
    return attainment_moments(att, on)


def simulated_moments(checked: CheckedPlan, scenario: Scenario, runs: int, seed: int,
                      months_per_period: int = 1, burn_in: int = BURN_IN, fiscal_year_start: int = 1) -> Moments:
    """Simulate ``runs`` plan years of the scenario's team under a plan, kept month by month.

    The team is simulated for ``burn_in`` months first (a year: the team in post, its morale and
    turnover where a year of the plan leaves them, as the history's team is and as the forecast
    settles it) and the moments are those of the 12 months after, starting in the calendar month
    the history's fiscal years start in (:func:`window_offset` more months when the scenario's
    start is another), so that period ``p`` of the simulation is period ``p`` of the history's year.

    Returns:
        The moments of the runs' period attainments (each month's primary output over the rep's
        seat's annual target / 12, summed over the history's periods; a period counts where the
        rep held the seat all of it, as a history of whole periods); runs are the units.
    """
    first = burn_in + window_offset(scenario, fiscal_year_start)
    if first:
        scenario = replace(scenario, months=12 + first, quota_policy=QuotaPolicy())
    task = SimTask(checked, scenario, seed)
    sim = simulation_for(task)
    target = np.asarray(sim.roster.columns[scenario.primary_target], dtype=float)
    L = int(months_per_period)
    periods = 12 // L
    att = np.zeros((runs, sim.slots, periods))
    on = np.zeros(att.shape, dtype=bool)
    year = slice(first, first + periods * L)
    for idx in chunks_of(runs, CHUNK):
        d = sim.run_chunk(idx, keep=True).detail
        assert d is not None
        primary = d["actual"][scenario.primary_measure][:, :, year]  # (runs, slots, months)
        active = d["active"][:, :, year].astype(bool)
        quota = target[d["seat"]] / 12.0  # (runs, slots): the seat's monthly target
        by_period = primary.reshape(len(idx), sim.slots, periods, L).sum(axis=3)
        att[idx] = by_period / np.maximum(quota[..., None] * L, 1e-12)
        on[idx] = active.reshape(len(idx), sim.slots, periods, L).all(axis=3)
    return attainment_moments(att, on)


def window_offset(scenario: Scenario, fiscal_year_start: int) -> int:
    """Months from the scenario's start to the next start of the history's fiscal year (0-11)."""
    return (int(fiscal_year_start) - scenario.start.month) % 12


@dataclass
class MomentStep:
    """Broyden's steps on ``(log level, noise CV^2, skill variance)`` towards the history's moments.

    Attributes:
        target: the history's moments.
        periods: periods per year (the weight of the noise in ``between``).
        moves: which of the three parameters may move (a scenario whose noise is not lognormal or
            whose skill is not lognormal keeps that one).
    """

    target: Moments
    periods: int
    moves: tuple[bool, bool, bool] = (True, True, True)
    jacobian: np.ndarray | None = None
    last: tuple[np.ndarray, np.ndarray] | None = None

    def gaps(self, simulated: Moments, mean: float) -> np.ndarray:
        """History less simulation, on the moments' scales (log mean, within, between)."""
        return np.array([math.log(self.target.mean / mean), self.target.within - simulated.within,
                         self.target.between - simulated.between])

    def next(self, p: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """The parameters to simulate next, from the ones just simulated and their gaps."""
        m = -gap  # the simulated moments, up to a constant
        if self.jacobian is None:
            self.jacobian = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0 / self.periods, 1.0]])
        elif self.last is not None:
            dp, dm = p - self.last[0], m - self.last[1]
            if float(dp @ dp) > 0:
                self.jacobian = self.jacobian + np.outer(dm - self.jacobian @ dp, dp) / float(dp @ dp)
        self.last = (p.copy(), m.copy())
        free = np.array(self.moves)
        step = np.zeros(3)
        J = self.jacobian[np.ix_(free, free)]
        try:
            step[free] = np.linalg.solve(J, gap[free])
        except np.linalg.LinAlgError:
            step[free] = gap[free]
        if not np.all(np.isfinite(step)):
            step = np.where(free, gap, 0.0)
        # A step of at most a factor 2 on the level, and the variances kept positive.
        step[0] = float(np.clip(step[0], -math.log(2.0), math.log(2.0)))
        out = p + step
        out[1] = max(out[1], 0.5 * p[1], 1e-4)
        out[2] = max(out[2], 0.0)
        return out
