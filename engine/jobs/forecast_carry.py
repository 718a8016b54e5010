"""Business moved across the as-of period end (docs/model.md §9, issue 27 stop 33).

The closed months' actuals do not show what the team pushed past the last closed period's
end: :func:`carry_across` measures it at the model's rate (a pilot's net carry), and how much
of it the team's own month-of-period profile says it moved (:func:`month_profile`,
:class:`CarryRead`); :func:`unmoved` puts it back into the as-of month for the reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.jobs.forecast_team import Setup, Team, dated_months, plan_season


def unmoved(real: np.ndarray, carry_in: np.ndarray | None, multiplier: float | None) -> np.ndarray:
    """``(R, M)`` the real primary output with the business moved across the as-of period end
    (``carry_in`` at the mean of its multiplier) back in the as-of month."""
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
    """How much more often reps' months collapse at period ends than in other months.

    Args:
        output: ``(..., R, M)`` each rep's primary output per closed month.
        full: ``(..., R)`` reps in the role in every closed month (the others are left out).
        season: ``(M,)`` the months' demand factors.
        ends: ``(M,)`` bool, the months that end a plan period.

    Returns:
        ``(...)`` the share of collapsed rep-months (:data:`COLLAPSED`) in period-end months
        minus that in the other months: a team that moves business across period ends has
        more (its last months low, its first months high); the market and the seasonality move
        every month alike and cancel. NaN where no rep was in the role throughout.
    """
    x = np.asarray(output, dtype=float) / np.asarray(season, dtype=float)
    low = x < COLLAPSED * x.mean(axis=-1, keepdims=True)
    full = np.asarray(full, dtype=bool)
    n = full.astype(float).sum(axis=-1)
    at_end = np.where(full[..., None], low[..., ends], False).sum(axis=(-2, -1)) / np.maximum(n * ends.sum(), 1)
    other = np.where(full[..., None], low[..., ~ends], False).sum(axis=(-2, -1)) / np.maximum(n * (~ends).sum(), 1)
    return np.where(n > 0, at_end - other, np.nan)


@dataclass(frozen=True)
class CarryRead:
    """How much of the model's carry-in the team's month-of-period profile says it moved.

    The multiplier ``u`` of the carry-in (prior uniform on ``carry``) given the team's
    :func:`month_profile` ``d``: the pilot (the model's own team, which moves business at the
    model's rate, ``u = 1``) gives ``d1`` on average with sd ``s`` over its runs; a team that
    moves nothing shows about 0. With ``d ~ N(u d1, s^2)`` the posterior of ``u`` is the
    normal ``N(d / d1, (s / d1)^2)`` truncated to the prior's range (``center``, ``sd``);
    where the pilot's profile does not stand out of its noise (``d1 < 2 s``) or cannot be
    measured, the prior (``center`` None).

    Attributes:
        low, high: the prior's range.
        center, sd: the normal's centre and sd, or None (the prior).
        observed, model, model_sd: ``d``, ``d1``, ``s`` (NaN when not measured).
        mean: the posterior mean of ``u``.
    """

    low: float
    high: float
    center: float | None
    sd: float | None
    observed: float
    model: float
    model_sd: float
    mean: float


def read_carry(carry: tuple[float, float], observed: float, pilot: np.ndarray) -> CarryRead:
    """The multiplier's posterior (:class:`CarryRead`) from the team's profile and the pilot's."""
    from scipy import stats

    lo, hi = float(carry[0]), float(carry[1])
    pilot = pilot[np.isfinite(pilot)]
    d1 = float(pilot.mean()) if len(pilot) else math.nan
    s = float(pilot.std(ddof=1)) if len(pilot) > 2 else math.nan
    if not (math.isfinite(observed) and math.isfinite(d1) and math.isfinite(s)) or hi <= lo or d1 < 2 * s \
            or s <= 0:
        return CarryRead(lo, hi, None, None, observed, d1, s, 0.5 * (lo + hi))
    center, sd = observed / d1, s / d1
    a, b = (lo - center) / sd, (hi - center) / sd
    return CarryRead(lo, hi, center, sd, observed, d1, s, float(stats.truncnorm.mean(a, b, loc=center, scale=sd)))


def carry_across(setup: Setup, team: Team, pilot: list, carry: tuple[float, float]
              ) -> tuple[float, np.ndarray, CarryRead]:
    """What the team moved across the as-of period end into the first open month, at the
    model's rate: the pilot's net carry (pushed out less pulled in, roster seats) as a share of
    a month's expected business in the last closed period, times each roster rep's real
    business per month in that period (zero when the as-of month is not a period's last:
    nobody moves business then); and how much of it the team's month profile says it moved
    (:class:`CarryRead`)."""
    M, R = team.closed_months, team.n_reps
    last = [m for m in range(M) if setup.period_of_month[m] == setup.period_of_month[M - 1]]
    carried = sum(float(r.carry_out.sum()) for r in pilot if r.carry_out is not None)
    month = sum(float(r.primary_expected[:, last].sum()) for r in pilot if r.primary_expected is not None) / len(last)
    share = carried / month if month > 0 else 0.0
    per_month = team.real[team.primary][:, last].sum(axis=1) / len(last)
    pom = setup.period_of_month
    ends = np.array([m == 11 or pom[m + 1] != pom[m] for m in range(M)])
    season = plan_season(setup, team.scenario)[:M]
    if ends.all() or not ends.any():
        return share, share * per_month, read_carry(carry, math.nan, np.array([]))
    months = dated_months(setup, team.primary, M)
    if months is None:
        return share, share * per_month, read_carry(carry, math.nan, np.array([]))
    full = (team.active_days[:, :M] >= team.days[None, :M]).all(axis=1)
    observed = float(month_profile(months, full, season, ends))
    sims = []
    for r in pilot:
        d = r.detail
        if d is None:
            continue
        sims.append(month_profile(d["actual"][team.primary][:, :R, :M], np.asarray(d["active"][:, :R, :M]).all(axis=2),
                                  season, ends))
    return share, share * per_month, read_carry(carry, observed, np.concatenate(sims) if sims else np.array([]))
