"""The market: a demand factor per month shared by every rep of a run (docs/model.md §1b).

Real demand moves a whole team together: a good or bad year, and months that stay good or
bad for a while. The scenario's ``market`` section gives the log demand factor of month
``t`` of plan year ``y`` as::

    x[t] = L[y] + m[t]
    L[y] ~ N(0, year_sigma^2)                         a level shock per plan year
    m[t] = rho * m[t-1] + month_sigma * eps[t]        a persistent monthly component
    m[0] ~ N(0, month_sigma^2 / (1 - rho^2))          (stationary: the year starts mid-cycle)

and every amount and count output of the month is multiplied by ``exp(x[t] - V / 2)``,
``V = year_sigma^2 + month_sigma^2 / (1 - rho^2)`` the stationary variance, so that the
factor has mean 1 and a scenario's levels keep their meaning. With ``team_share = w`` each
team's factor is ``sqrt(1 - w) x_company + sqrt(w) x_team`` with independent draws of the
same model: every team's factor then follows the same model on its own, and teams move
together with correlation ``1 - w``.

Reps see the months that have happened (the team's results) and expect the rest from them:
:meth:`MarketModel.outlook` is the exact Gaussian conditional of the coming months given the
past ones, the same computation the forecast uses to read the market off the actuals to date
(with measurement noise). Draws come from the run's own ``market`` stream
(engine/sim/streams.py), so plans compared on one seed share the same market path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["MarketModel", "MarketPath", "MarketReading", "team_index"]


@dataclass(frozen=True)
class MarketModel:
    """The market section of a scenario (all zero: no market).

    Attributes:
        year_sigma: sd of the log level shock of a plan year.
        rho: monthly AR(1) coefficient of the persistent component (0 <= rho < 1).
        month_sigma: innovation sd of the monthly component (log scale).
        team_share: share of each component's variance that is specific to a team (0: one
            factor for the whole company).
    """

    year_sigma: float = 0.10
    rho: float = 0.6
    month_sigma: float = 0.05
    team_share: float = 0.0

    @property
    def month_var(self) -> float:
        """Stationary variance of the monthly component."""
        return self.month_sigma ** 2 / max(1.0 - self.rho ** 2, 1e-12)

    @property
    def var(self) -> float:
        """Stationary variance of the log factor of one month."""
        return self.year_sigma ** 2 + self.month_var

    @property
    def active(self) -> bool:
        return self.var > 0.0

    def month_covariance(self, months: np.ndarray, years: np.ndarray) -> np.ndarray:
        """Covariance of ``x`` at absolute month numbers ``months`` in plan years ``years``."""
        months = np.asarray(months, dtype=float)
        years = np.asarray(years)
        lag = np.abs(months[:, None] - months[None, :])
        same = years[:, None] == years[None, :]
        return self.year_sigma ** 2 * same + self.month_var * np.power(self.rho, lag)

    # -- what the months so far say about the coming ones -----------------------------------

    def outlook(self, past: np.ndarray, ahead: int, obs_var: np.ndarray | float = 0.0
                ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of ``x`` in each of the ``ahead`` months after the ``past`` ones.

        Args:
            past: ``(..., t)`` log factors of the months of this plan year so far (seen
                exactly, or with measurement noise ``obs_var``, ``(t,)`` or a number).
            ahead: months to project.

        Returns:
            ``(mean (..., ahead), var (ahead,))``: the exact Gaussian conditional.
        """
        past = np.asarray(past, dtype=float)
        t = past.shape[-1]
        coef, var = _outlook_weights(self, t, ahead, _key(obs_var, t))
        mean = past @ coef.T if t else np.zeros(past.shape[:-1] + (ahead,))
        return mean, var

    def read(self, readings: np.ndarray, obs_var, weights: np.ndarray | None = None) -> MarketReading:
        """The market of ``t`` months given noisy readings of it (the forecast's actuals so far).

        Reading ``j`` is ``sum_t weights[j, t] x[t]`` plus noise of variance ``obs_var[j]``
        (``weights`` default: one reading per month). Exact Gaussian conditioning of
        ``(L, m[0..t-1])``.
        """
        readings = np.asarray(readings, dtype=float)
        k = readings.shape[-1]
        w = np.eye(k) if weights is None else np.asarray(weights, dtype=float)
        t = w.shape[1]
        s = self._prior(t)
        h = w @ _observe(t)
        r = np.diag(np.broadcast_to(np.asarray(obs_var, dtype=float), (k,))) + 1e-12 * np.eye(k)
        gain = s @ h.T @ np.linalg.inv(h @ s @ h.T + r)
        post = s - gain @ h @ s
        post = 0.5 * (post + post.T)
        state = readings @ gain.T
        months = _observe(t)
        pick = [0, t]
        return MarketReading(state=state[..., pick], cov=post[np.ix_(pick, pick)],
                             months=state @ months.T, months_var=np.diag(months @ post @ months.T).copy())

    def _prior(self, t: int) -> np.ndarray:
        """Prior covariance of ``(L, m[0], ..., m[t-1])``."""
        lag = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
        s = np.zeros((t + 1, t + 1))
        s[0, 0] = self.year_sigma ** 2
        s[1:, 1:] = self.month_var * np.power(self.rho, lag)
        return s

    # -- draws -------------------------------------------------------------------------------

    def draw(self, z: np.ndarray, months: int) -> np.ndarray:
        """Log factors ``(..., months)`` from standard normals ``z`` ``(..., years + months + 1)``
        (a level per 12-month plan year, then the monthly component's start and innovations)."""
        years = (months + 11) // 12
        level = self.year_sigma * z[..., :years]
        m = np.empty(z.shape[:-1] + (months,))
        prev = math.sqrt(self.month_var) * z[..., years]
        for t in range(months):
            prev = prev if t == 0 else self.rho * prev + self.month_sigma * z[..., years + t]
            m[..., t] = prev
        return np.repeat(level, 12, axis=-1)[..., :months] + m

    def continue_from(self, state: np.ndarray, z: np.ndarray, months: int) -> np.ndarray:
        """Log factors of ``months`` months after a state ``(..., 2)`` = ``(L, m[t-1])``,
        with innovations ``z`` ``(..., months)`` (the level stays: one plan year)."""
        out = np.empty(state.shape[:-1] + (months,))
        m = state[..., 1]
        for j in range(months):
            m = self.rho * m + self.month_sigma * z[..., j]
            out[..., j] = state[..., 0] + m
        return out

    def factor(self, x: np.ndarray) -> np.ndarray:
        """The demand multiplier ``exp(x - V/2)`` (mean 1 under the stationary prior)."""
        return np.exp(np.asarray(x) - self.var / 2.0)

    def expected_factor(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        """``E[exp(x - V/2)]`` for ``x ~ N(mean, var)``."""
        return np.exp(np.asarray(mean) + (np.asarray(var) - self.var) / 2.0)


def _key(obs_var, t: int) -> tuple[float, ...]:
    v = np.broadcast_to(np.asarray(obs_var, dtype=float), (t,))
    return tuple(float(x) for x in v)


def _observe(t: int) -> np.ndarray:
    """``x[j] = L + m[j]``: the observation matrix of ``(L, m[0..t-1])``."""
    h = np.zeros((t, t + 1))
    h[:, 0] = 1.0
    h[np.arange(t), np.arange(t) + 1] = 1.0
    return h


@lru_cache(maxsize=512)
def _posterior_weights(model: MarketModel, t: int, obs: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Gain ``(2, t)`` and covariance ``(2, 2)`` of ``(L, m[t-1])`` given ``t`` months."""
    if t == 0:
        return np.zeros((2, 0)), np.diag([model.year_sigma ** 2, model.month_var])
    s = model._prior(t)
    h = _observe(t)
    r = np.diag(obs) + 1e-12 * np.eye(t)
    k = s @ h.T @ np.linalg.inv(h @ s @ h.T + r)
    post = s - k @ h @ s
    pick = [0, t]  # L and m[t-1]
    cov = post[np.ix_(pick, pick)]
    return k[pick], 0.5 * (cov + cov.T)


@lru_cache(maxsize=512)
def _outlook_weights(model: MarketModel, t: int, ahead: int, obs: tuple[float, ...]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(ahead, t)`` on the months seen and variances ``(ahead,)`` of the coming months."""
    gain, cov = _posterior_weights(model, t, obs)
    j = np.arange(1, ahead + 1)
    decay = np.power(model.rho, j)
    if t == 0:  # nothing seen: the prior (a new year's level and a stationary monthly part)
        return np.zeros((ahead, 0)), np.full(ahead, model.var)
    coef = gain[0][None, :] + decay[:, None] * gain[1][None, :]
    var = cov[0, 0] + 2 * decay * cov[0, 1] + decay ** 2 * cov[1, 1] + model.month_var * (1.0 - decay ** 2)
    return coef, var


@dataclass(frozen=True)
class MarketReading:
    """What readings of ``t`` months say about the market (:meth:`MarketModel.read`).

    Attributes:
        state, cov: posterior mean ``(..., 2)`` and covariance ``(2, 2)`` of ``(L, m[t-1])``.
        months, months_var: posterior mean ``(..., t)`` and variance ``(t,)`` of each ``x[t]``.
    """

    state: np.ndarray
    cov: np.ndarray
    months: np.ndarray
    months_var: np.ndarray


@dataclass
class MarketPath:
    """The market of a chunk of runs: log factors per run, team and month.

    Attributes:
        model: the scenario's market.
        x: ``(runs, teams, months)`` log factors (the demand multiplier is ``model.factor(x)``).
        team_of_slot: ``(runs, slots)`` team index of each slot (its seat's team).
        z: the run's standard normals behind ``x`` (``(runs, 1 + teams, years + months + 1)``).
    """

    model: MarketModel
    x: np.ndarray
    team_of_slot: np.ndarray
    z: np.ndarray | None = None  # the standard normals drawn (a conditioner may redraw from them)

    @classmethod
    def draw(cls, model: MarketModel, z: np.ndarray, months: int, team_of_slot: np.ndarray) -> MarketPath:
        """From ``z`` ``(runs, 1 + teams, years + months + 1)``: the company's factor and each team's."""
        x = model.draw(z, months)
        w = model.team_share
        teams = x.shape[1] - 1
        if teams == 0 or w <= 0.0:
            xt = np.repeat(x[:, :1], max(teams, 1), axis=1)
        else:
            xt = math.sqrt(1.0 - w) * x[:, :1] + math.sqrt(w) * x[:, 1:]
        return cls(model, xt, team_of_slot, z)

    def factor(self, t: int) -> np.ndarray:
        """``(runs, slots)`` demand multiplier of month ``t``."""
        f = self.model.factor(self.x[:, :, t])
        return np.take_along_axis(f, self.team_of_slot, axis=1)

    def outlook(self, t: int, months: int) -> tuple[np.ndarray, np.ndarray]:
        """What a rep deciding in month ``t`` expects of the market in months ``t .. months-1``,
        seeing the plan year's months before ``t``: ``(runs, slots, months - t)`` expected
        multipliers and ``(months - t,)`` variances of the log factor. Months of a later plan
        year get the prior (a new level)."""
        y0 = (t // 12) * 12
        ahead = months - t
        within = min(ahead, y0 + 12 - t)
        mean, var = self.model.outlook(self.x[:, :, y0:t], within)
        f = self.model.expected_factor(mean, var)
        if within < ahead:
            f = np.concatenate([f, np.ones(f.shape[:-1] + (ahead - within,))], axis=-1)
            var = np.concatenate([var, np.full(ahead - within, self.model.var)])
        idx = np.broadcast_to(self.team_of_slot[:, :, None], self.team_of_slot.shape + (ahead,))
        return np.take_along_axis(f, idx, axis=1), var


def team_index(columns: dict, n: int) -> tuple[np.ndarray, int]:
    """Each seat's team index (sorted team names) and the number of teams: the simulator's
    and the forecast's one reading of the roster's ``team`` column (one team without it)."""
    team = columns.get("team")
    if team is None:
        return np.zeros(n, dtype=np.int64), 1
    names, index = np.unique(np.asarray(team).astype(str), return_inverse=True)
    return index.astype(np.int64), len(names)
