"""Moments of a team's attainment, the same on a history and on simulated plan years (issue 27).

The statistics that the calibration by simulation (:func:`engine.jobs.history.calibrate_under_plan`)
makes the model reproduce: computed by one function on the history (units are fiscal years) and
on simulations of the plan that paid it (units are runs), so that whatever the statistics miss of
the truth they miss alike on both sides (indirect inference: Gourieroux, Monfort and Renault
1993, *Journal of Applied Econometrics* 8, S85-S118; simulated moments: McFadden 1989,
*Econometrica* 57, 995-1026).

The input is one ``(units, reps, periods)`` array of attainments (a rep's result over its target
in the period) and a mask of who was in the role. Per unit and period, the team's mean
attainment ``T[u, t]`` (zeros included) carries what moves every rep together (seasonality, the
market, the plan's calendar); each rep's attainment relative to it, ``x[u, i, t] / T[u, t]``,
carries what is the rep's own:

* ``mean``: the mean over rep-years of each rep's mean attainment in the unit (the level);
* ``within``: the mean over rep-years of the squared coefficient of variation of the rep's
  relative attainment across its periods of the unit (period-to-period noise: skill, season and
  market divide out);
* ``between``: the variance over rep-years of the log of the rep's mean relative attainment,
  averaged over units (dispersion across reps: skill, plus the noise a year's mean keeps);
* ``profile``: the team's mean attainment in each period of the year, averaged over the units
  that have the period, over its mean (the within-year profile: seasonality and whatever else
  the team does over its year).

``within`` and ``between`` use rep-years with at least half of the unit's periods (and at
least 2) and a positive mean: a rep who held the seat for a month tells little of either.
Zero attainments count: the moments are on the natural scale, where the money is, so lumpy
months with nothing booked weigh as they pay.

Public: :class:`Moments`, :func:`attainment_moments`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Moments", "attainment_moments"]


@dataclass(frozen=True)
class Moments:
    """The moments of :func:`attainment_moments`.

    Attributes:
        mean: mean over rep-years of the rep's mean attainment.
        within: mean squared coefficient of variation of a rep's attainment relative to the
            team's, across the periods of a year.
        between: variance of the log of a rep-year's mean relative attainment.
        rep_years: rep-years in ``mean``.
        used: rep-years in ``within`` and ``between``.
        profile: per period of the year, the team's mean attainment over its mean across the
            periods (NaN for a period no unit has).
        rep_sums, rep_counts: per unit, the sum of its rep-years' mean attainments and their
            number (``mean`` is their ratio; a simulation's runs weigh them as units).
    """

    mean: float
    within: float
    between: float
    rep_years: int
    used: int
    profile: tuple[float, ...] = ()
    rep_sums: tuple[float, ...] = ()
    rep_counts: tuple[int, ...] = ()


def attainment_moments(attainment: np.ndarray, active: np.ndarray) -> Moments:
    """The moments of attainments ``(units, reps, periods)`` where ``active`` (same shape) is True.

    Args:
        attainment: attainment per unit (fiscal year or run), rep and period of the year.
        active: whether the rep was in the role in that period (other cells are ignored).

    Returns:
        The :class:`Moments` (NaN where no rep-year qualifies).
    """
    att = np.asarray(attainment, dtype=float)
    on = np.asarray(active, dtype=bool) & np.isfinite(att)
    x = np.where(on, att, 0.0)
    n = on.sum(axis=2)  # (units, reps) periods in the role
    years = n > 0
    rep_mean = np.where(years, x.sum(axis=2) / np.maximum(n, 1), 0.0)
    sums, counts = rep_mean.sum(axis=1), years.sum(axis=1)
    mean = float(sums.sum() / counts.sum()) if years.any() else math.nan

    heads = on.sum(axis=1)  # (units, periods)
    team = x.sum(axis=1) / np.maximum(heads, 1)
    seen = heads > 0
    by_period = np.where(seen.any(axis=0), np.where(seen, team, 0.0).sum(axis=0)
                         / np.maximum(seen.sum(axis=0), 1), np.nan)
    centre = float(np.nanmean(by_period)) if np.isfinite(by_period).any() else math.nan
    profile = tuple(float(v) for v in by_period / centre) if centre > 0 else tuple([math.nan] * len(by_period))
    rep_sums = tuple(float(v) for v in sums)
    rep_counts = tuple(int(c) for c in counts)
    rel = np.where(on, x / np.where(team > 0, team, np.inf)[:, None, :], 0.0)
    periods = att.shape[2]
    enough = n >= max(2, (periods + 1) // 2)
    m = rel.sum(axis=2) / np.maximum(n, 1)
    use = enough & (m > 0)
    if not use.any():
        return Moments(mean, math.nan, math.nan, int(years.sum()), 0, profile, rep_sums, rep_counts)
    dev = np.where(on, rel - m[..., None], 0.0)
    var = (dev * dev).sum(axis=2) / np.maximum(n - 1, 1)
    within = float((var[use] / m[use] ** 2).mean())
    logs = np.where(use, np.log(np.where(use, m, 1.0)), 0.0)
    k = use.sum(axis=1)  # per unit
    ok = k > 1
    middle = logs.sum(axis=1) / np.maximum(k, 1)
    ss = (np.where(use, logs - middle[:, None], 0.0) ** 2).sum(axis=1)
    between = float((ss[ok] / (k[ok] - 1)).sum() / ok.sum()) if ok.any() else math.nan
    return Moments(mean, within, between, int(years.sum()), int(use.sum()), profile, rep_sums, rep_counts)
