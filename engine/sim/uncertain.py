"""Behaviour the model assumes, made uncertain: drawn per run, weighted by the team's own data.

The simulator's behaviour has parameters that no roster or actuals file states: how strongly
morale drains (pay below expectation, outside offers, hopeless targets, unfairness) and how
costly effort is, so how strongly effort answers the plan. A forecast that fixes them at the
scenario's values treats as known exactly what is uncertain for a real team (issue 27: some
teams fade through the year, some do not react to their plan at all). Here they carry a
prior (:class:`BehaviourPrior`, ranges and reasons in docs/model.md §9), each forecast run
draws its own values from its own ``behaviour`` stream (engine/sim/streams.py: results stay
deterministic per seed and independent of chunks and workers), and the first half's
observed trajectory updates them by importance weighting (:func:`importance_weights`):
each run's weight is the likelihood of the team's production by closed block (plan period,
or month of a period in progress) given the effort its behaviour puts behind those months
(:class:`EffortModel`), the market and the reps' noise integrated out (Gaussian).

A team in post has lived under its plan: its morale sits below each rep's baseline where
recovery balances the drains, not at the baseline a plan study starts from, unless the new
plan year resets it (a new plan, new quotas). A rep with ``tenure`` months in the role starts
the year ``(1 - reset) x drain x gap x (1 - (1 - recovery)^tenure)`` below their baseline
(:func:`settled`), ``gap`` the stationary gap of the default drains (the mean monthly drain of
a short pilot at the baseline over ``recovery``; the WIP of issue 27 measured it the same
way) and ``reset`` drawn from the prior: 1 is the fresh start of a plan study, which fades
through the year; 0 a team that carries its settled morale into the year and does not fade.

Public: :class:`BehaviourPrior`, :class:`EffortModel`, :func:`fit_effort`,
:func:`importance_weights`, :func:`morale_params`, :func:`settled`, :func:`weighted_quantile`,
:data:`DRAINS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.sim.streams import RunStreams

__all__ = ["DRAINS", "BehaviourPrior", "EffortModel", "fit_effort", "importance_weights", "morale_params",
           "settled", "weighted_quantile"]

DRAINS = ("pay_gap", "outside_gap", "hopeless", "unfair")
"""The morale parameters the ``drain`` draw multiplies (docs/model.md §4); ``recovery``,
``wins`` and ``effort_floor`` keep the scenario's values."""


@dataclass(frozen=True)
class BehaviourPrior:
    """Prior ranges of the behaviour a forecast cannot read off a roster (docs/model.md §9).

    Attributes:
        drain: uniform range of the multiplier of the morale drains (:data:`DRAINS`): 0 is a
            team whose morale does not respond to its plan (it stays at its baseline), 1 the
            scenario's defaults, 2 a team that fades twice as fast.
        effort_cost: log-uniform range of the multiplier of every rep's cost of effort
            (``kappa``): above 1 effort answers the plan less, below 1 more.
        reset: uniform range of how far morale is reset to each rep's baseline at the start
            of the plan year: 0 a team in post that carries its settled morale into the new
            year (it does not fade), 1 a team whose morale starts every plan year afresh at
            its baseline and fades through it (the simulator's plan studies).
    """

    drain: tuple[float, float] = (0.0, 2.0)
    effort_cost: tuple[float, float] = (0.5, 2.0)
    reset: tuple[float, float] = (0.0, 1.0)

    names = ("drain", "effort_cost", "reset")

    def __post_init__(self) -> None:
        lo, hi = self.drain
        if not 0.0 <= lo <= hi:
            raise ValueError(f"'drain' must be a range 0 <= low <= high (got {self.drain})")
        lo, hi = self.effort_cost
        if not 0.0 < lo <= hi:
            raise ValueError(f"'effort_cost' must be a range 0 < low <= high (got {self.effort_cost})")
        lo, hi = self.reset
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"'reset' must be a range 0 <= low <= high <= 1 (got {self.reset})")

    def draw(self, streams: RunStreams) -> np.ndarray:
        """``(runs, 3)`` each run's ``(drain, effort_cost, reset)``, from its own ``behaviour`` stream."""
        (d0, d1), (k0, k1), (r0, r1) = self.drain, self.effort_cost, self.reset
        u = np.stack([g.random(3) for g in streams["behaviour"]]) if streams.runs else np.zeros((0, 3))
        return np.stack([d0 + (d1 - d0) * u[:, 0], np.exp(math.log(k0) + (math.log(k1) - math.log(k0)) * u[:, 1]),
                         r0 + (r1 - r0) * u[:, 2]], axis=1)

    def mean(self) -> np.ndarray:
        """The prior mean of each parameter."""
        (d0, d1), (k0, k1), (r0, r1) = self.drain, self.effort_cost, self.reset
        lk = math.log(k1) - math.log(k0)
        return np.array([(d0 + d1) / 2, (k1 - k0) / lk if lk > 0 else k0, (r0 + r1) / 2])

    def describe(self) -> str:
        return (f"morale drains x U({self.drain[0]:g}, {self.drain[1]:g}), cost of effort x log-U("
                f"{self.effort_cost[0]:g}, {self.effort_cost[1]:g}), morale reset at the year's start "
                f"U({self.reset[0]:g}, {self.reset[1]:g}), per run")


def features(theta: np.ndarray) -> np.ndarray:
    """``(runs, 5)`` the regressors of the effort model: ``1, drain, ln effort_cost, reset,
    drain x reset`` (a fresh start fades in proportion to the drains)."""
    theta = np.asarray(theta, dtype=float)
    return np.stack([np.ones(len(theta)), theta[:, 0], np.log(theta[:, 1]), theta[:, 2], theta[:, 0] * theta[:, 2]],
                    axis=1)


def morale_params(base: dict, theta: np.ndarray) -> dict:
    """The scenario's morale parameters with each run's drains: ``(runs, 1)`` arrays for
    :data:`DRAINS` (they broadcast over the slots), the others unchanged."""
    out = dict(base)
    for k in DRAINS:
        out[k] = float(base[k]) * np.asarray(theta, dtype=float)[:, :1]
    return out


def settled(tenure: np.ndarray, recovery: float) -> np.ndarray:
    """Share of the stationary morale gap a rep ``tenure`` months in the role has reached:
    ``1 - (1 - recovery)^tenure`` (the gap obeys ``g' = g + D - recovery g``)."""
    r = min(max(float(recovery), 0.0), 1.0)
    return 1.0 - np.power(1.0 - r, np.maximum(np.nan_to_num(np.asarray(tenure, dtype=float)), 0.0))


@dataclass(frozen=True)
class EffortModel:
    """The effort behind the closed months as a function of a run's behaviour.

    ``ln F_t(theta) = features(theta) . coef[t]``: the team's expected primary output at
    the chosen effort over that at effective effort 1, in closed month ``t``, fitted by least
    squares over a pilot whose runs draw their behaviour from the prior (:func:`fit_effort`).

    Attributes:
        coef: ``(months, 5)`` regression coefficients per closed month.
        weights: ``(months,)`` the team's expected output per closed month at skill 1 and
            effort 1, over its total at the pilot's mean effort factor (``B_t / sum B F``).
    """

    coef: np.ndarray
    weights: np.ndarray

    def factor(self, theta: np.ndarray) -> np.ndarray:
        """``(runs, months)`` the effort factor of each closed month for each run's behaviour."""
        # Row by row (not a matrix product, whose BLAS kernel sums in an order that depends
        # on how many runs the chunk holds): a run's numbers do not depend on its chunk.
        return np.exp((features(theta)[:, None, :] * self.coef[None, :, :]).sum(axis=2))

    def skill_shift(self, theta: np.ndarray) -> np.ndarray:
        """``(runs,)`` log of the effort behind the actuals so far under each run's behaviour,
        relative to the pilot's mean: the skill read off the actuals is lower by as much
        where the run's behaviour put more effort behind them."""
        return np.log(np.maximum((self.factor(theta) * self.weights).sum(axis=1), 1e-300))


def fit_effort(theta: np.ndarray, factor: np.ndarray, base: np.ndarray) -> EffortModel:
    """Least-squares fit of ``ln factor`` on :func:`features` of ``theta``, month by month.

    Args:
        theta: ``(runs, 3)`` the pilot runs' behaviour.
        factor: ``(runs, months)`` each pilot run's effort factor per closed month.
        base: ``(months,)`` the team's expected output per closed month at skill and effort 1.
    """
    x = features(theta)
    y = np.log(np.maximum(np.asarray(factor, dtype=float), 1e-12))
    coef = np.linalg.lstsq(x, y, rcond=None)[0].T  # (months, 5)
    mean_f = np.exp(y).mean(axis=0)
    total = float(np.dot(base, mean_f))
    return EffortModel(coef=coef, weights=np.asarray(base, dtype=float) / max(total, 1e-300))


def importance_weights(log_predicted: np.ndarray, log_observed: np.ndarray, cov: np.ndarray
                       ) -> tuple[np.ndarray, float, np.ndarray]:
    """Normalized importance weights of runs from a Gaussian likelihood of the observed blocks.

    Block ``b``'s residual ``y_rb = log_observed_b - log_predicted_rb`` is ``N(0, cov)``
    under run ``r``'s behaviour (the market, the team's mean skill and the reps' noise
    integrated out, all in ``cov``); the weight is ``exp(-y' cov^-1 y / 2)`` normalized (the
    determinant does not depend on the run).

    Returns:
        ``(weights (runs,), effective sample size, log-likelihood (runs,))``.
    """
    y = np.asarray(log_observed, dtype=float)[None, :] - np.asarray(log_predicted, dtype=float)
    prec = np.linalg.inv(np.asarray(cov, dtype=float))
    ll = -0.5 * np.einsum("rk,kj,rj->r", y, prec, y)
    w = np.exp(ll - ll.max())
    w = w / w.sum()
    return w, float(1.0 / np.sum(w * w)), ll


def weighted_quantile(x: np.ndarray, weights: np.ndarray | None, q, axis: int = 0) -> np.ndarray:
    """Quantiles ``q`` of ``x`` along ``axis`` under ``weights`` (None: ``numpy.quantile``).

    The weighted inverse CDF at the midpoints of the sorted values' weights, interpolated
    linearly; with equal weights it is the Hazen quantile.
    """
    if weights is None:
        return np.quantile(x, q, axis=axis)
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    ws = w[order]
    cum = np.cumsum(ws, axis=-1) - 0.5 * ws
    cum = cum / ws.sum(axis=-1, keepdims=True)
    qs = np.atleast_1d(np.asarray(q, dtype=float))
    flat_x = xs.reshape(-1, xs.shape[-1])
    flat_c = cum.reshape(-1, cum.shape[-1])
    out = np.stack([np.interp(qs, c, v) for c, v in zip(flat_c, flat_x)], axis=-1)  # (q, rows)
    out = out.reshape((len(qs),) + xs.shape[:-1])
    return out if np.ndim(q) else out[0]
