"""Business moved across period ends: whether the team does it, and what it carried across
the as-of period end (docs/model.md §9; issue 27, stops 33 and 34).

The model's reps move business at a period's close (engine/sim/simulate.py, timing): pulled
from next month, pushed into it. A real team may not, and that is worth several points of the
year's payout. :func:`team_profile` measures the team's own month-of-period profile, the
pilots of the team with the model's timing and without it measure the same
(:func:`pilot_profiles`), and :func:`read_timing` weighs the two (:class:`TimingRead`); the
forecast runs then mix the two models in those proportions. :func:`carry_across` measures the
carry across the as-of period end at the model's rate (the closed months do not show it), and
:func:`unmoved` puts its expectation back into the as-of month for the reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from engine.jobs.forecast_team import Setup, Team, dated_months, plan_season
from engine.sim.scenario import Scenario

TIMING_PRIOR = 0.5
"""The prior probability that a team moves business across period ends as the model's reps
do (the other half: it does not move any)."""
GOLDEN = 0.6180339887498949
"""The runs that move business are ``frac((i + 1) x GOLDEN) < p`` (:func:`timing_runs`)."""


def without_timing(scenario: Scenario) -> Scenario:
    """The scenario with no business moved across period ends (neither pulled nor pushed)."""
    return replace(scenario, timing_max_shift=0.0, timing_max_push=0.0)


def moves_business(scenario: Scenario) -> bool:
    """Whether the scenario's reps may move business across period ends at all."""
    return scenario.timing_max_shift > 0 or scenario.timing_max_push > 0


def unmoved(real: np.ndarray, carry_in: np.ndarray | None, multiplier: float | None) -> np.ndarray:
    """``(R, M)`` the real primary output with the business moved across the as-of period end
    (``carry_in`` times its expected ``multiplier``) back in the as-of month."""
    if carry_in is None or multiplier is None or real.shape[1] == 0:
        return real
    out = np.array(real, dtype=float, copy=True)
    out[:, -1] = np.maximum(out[:, -1] + multiplier * carry_in, 0.0)
    return out


COLLAPSED = 0.3
"""A rep's month is *collapsed* below this share of the rep's average month of the closed
months (after the seasonality): what a rep who moved most of a month's business across a
period end shows (:func:`month_profile`)."""


def month_profile(output: np.ndarray, full, season: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How much more often reps' months collapse in the months timing touches than in others.

    Args:
        output: ``(..., R, M)`` each rep's primary output per closed month.
        full: ``(..., R)`` reps in the role in every closed month (the others are left out).
        season: ``(M,)`` the months' demand factors.
        ends: ``(M,)`` bool, the months business is moved out of or into
            (:func:`timing_months`: a period's last month and the month after it).

    Returns:
        ``(...)`` the share of collapsed rep-months (:data:`COLLAPSED`) in those months minus
        that in the other months: a team that moves business across period ends has more (a
        push empties the period's last month, a pull the next period's first); the market and
        the seasonality move every month alike and cancel. NaN where no rep was in the role
        throughout.
    """
    x = np.asarray(output, dtype=float) / np.asarray(season, dtype=float)
    low = x < COLLAPSED * x.mean(axis=-1, keepdims=True)
    full = np.asarray(full, dtype=bool)
    n = full.astype(float).sum(axis=-1)
    at_end = np.where(full[..., None], low[..., ends], False).sum(axis=(-2, -1)) / np.maximum(n * ends.sum(), 1)
    other = np.where(full[..., None], low[..., ~ends], False).sum(axis=(-2, -1)) / np.maximum(n * (~ends).sum(), 1)
    return np.where(n > 0, at_end - other, np.nan)


def timing_months(setup: Setup, M: int) -> np.ndarray:
    """``(M,)`` bool: the closed months business is moved out of or into at a period's close
    (a period's last month, and the month after it inside the plan year)."""
    pom = setup.period_of_month
    return np.array([(m == 11 or pom[m + 1] != pom[m]) or (m > 0 and pom[m - 1] != pom[m]) for m in range(M)])


def team_profile(setup: Setup, team: Team) -> float:
    """The team's :func:`month_profile` over the closed months (NaN: not measurable, as
    without dated rows or when every closed month or none is touched by timing)."""
    M = team.closed_months
    touched = timing_months(setup, M)
    months = dated_months(setup, team.primary, M)
    if months is None or touched.all() or not touched.any():
        return math.nan
    full = (team.active_days[:, :M] >= team.days[None, :M]).all(axis=1)
    return float(month_profile(months, full, plan_season(setup, team.scenario)[:M], touched))


def pilot_profiles(setup: Setup, team: Team, pilot: list) -> np.ndarray:
    """``(runs,)`` the :func:`month_profile` of each pilot run's roster seats (a pilot kept
    with its monthly detail)."""
    M, R = team.closed_months, team.n_reps
    touched = timing_months(setup, M)
    season = plan_season(setup, team.scenario)[:M]
    sims = [month_profile(r.detail["actual"][team.primary][:, :R, :M],
                          np.asarray(r.detail["active"][:, :R, :M]).all(axis=2), season, touched)
            for r in pilot if r.detail is not None]
    return np.concatenate(sims) if sims else np.array([])


@dataclass(frozen=True)
class TimingRead:
    """Whether the team moves business across period ends as the model's reps do.

    Two models of the team: it moves business as the model's reps do (``on``), or it moves
    none. The team's :func:`month_profile` ``d`` is about normal under each, with the mean and
    sd over the runs of a pilot of the same team under that model; the posterior probability
    of ``on`` is ``prior x N(d; on) / (prior x N(d; on) + (1 - prior) x N(d; off))``.

    Attributes:
        observed: the team's profile ``d`` (NaN: not measured; then ``p_on`` is the prior).
        on_mean, on_sd, off_mean, off_sd: the pilots' profiles (NaN: not measured).
        prior: the prior probability of ``on``.
        p_on: its posterior.
    """

    observed: float
    on_mean: float
    on_sd: float
    off_mean: float
    off_sd: float
    prior: float
    p_on: float


def read_timing(observed: float, on: np.ndarray, off: np.ndarray, prior: float = TIMING_PRIOR) -> TimingRead:
    """The posterior of the team's timing (:class:`TimingRead`) from its profile and the
    pilots' with the model's timing (``on``) and without (``off``)."""
    on, off = on[np.isfinite(on)], off[np.isfinite(off)]
    m1, s1 = (float(on.mean()), float(on.std(ddof=1))) if len(on) > 2 else (math.nan, math.nan)
    m0, s0 = (float(off.mean()), float(off.std(ddof=1))) if len(off) > 2 else (math.nan, math.nan)
    if not all(math.isfinite(x) for x in (observed, m1, s1, m0, s0)) or s1 <= 0 or s0 <= 0:
        return TimingRead(observed, m1, s1, m0, s0, prior, prior)
    log_on = math.log(prior) - 0.5 * ((observed - m1) / s1) ** 2 - math.log(s1) if prior > 0 else -math.inf
    log_off = math.log1p(-prior) - 0.5 * ((observed - m0) / s0) ** 2 - math.log(s0) if prior < 1 else -math.inf
    top = max(log_on, log_off)
    p_on = math.exp(log_on - top) / (math.exp(log_on - top) + math.exp(log_off - top))
    return TimingRead(observed, m1, s1, m0, s0, prior, p_on)


def timing_runs(runs: int, p_on: float) -> np.ndarray:
    """``(runs,)`` bool: the runs that move business as the model's reps do, a share ``p_on``
    of them spread evenly over the run indices (run ``i`` when ``frac((i + 1) x GOLDEN) <
    p_on``): a function of the index only, so whatever the chunks, and independent of every
    run's random numbers."""
    return np.mod((np.arange(runs) + 1) * GOLDEN, 1.0) < p_on


TIMING_KEY = 34
"""The last word of the seed sequence ``(seed, run, TIMING_KEY)`` of :func:`timing_redrawn`."""


def timing_redrawn(seed: int, runs: int, p_on: float) -> np.ndarray:
    """``(runs,)`` bool: a share ``p_on`` of the runs, drawn independently of
    :func:`timing_runs` (run ``i``'s own uniform from the seed sequence ``(seed, i,``
    :data:`TIMING_KEY` ``)``): which runs move business when the variance decomposition redraws
    every source but one (engine/jobs/forecast_runs.py), so that the timing's share of the
    spread is not counted in every source's."""
    return np.array([np.random.default_rng([seed, i, TIMING_KEY]).random() for i in range(runs)]) < p_on


def carry_across(setup: Setup, team: Team, pilot: list) -> tuple[float, np.ndarray]:
    """What the team moved across the as-of period end into the first open month, at the
    model's rate: the pilot's net carry (pushed out less pulled in, roster seats) as a share of
    a month's expected business in the last closed period, and that share times each roster
    rep's real business per month in that period (zero when the as-of month is not a period's
    last: nobody moves business then)."""
    M = team.closed_months
    last = [m for m in range(M) if setup.period_of_month[m] == setup.period_of_month[M - 1]]
    carried = sum(float(r.carry_out.sum()) for r in pilot if r.carry_out is not None)
    month = sum(float(r.primary_expected[:, last].sum()) for r in pilot if r.primary_expected is not None) / len(last)
    share = carried / month if month > 0 else 0.0
    per_month = team.real[team.primary][:, last].sum(axis=1) / len(last)
    return share, share * per_month
