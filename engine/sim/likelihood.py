"""The likelihood of the crossed random-effects model of log attainment that
:func:`engine.sim.calibrate.fit_history` fits (its module docstring has the model and the
method): the panel without period effects (:class:`Panel`), with the market's period effects
(:class:`Crossed`: the exact marginal likelihood by Woodbury, restricted or not), and the
market's posterior mode under its prior (:class:`MarketFit`), with the finite-difference
Hessian the standard errors come from.

Variances are handled on unbounded scales: ``log`` for the sigmas, ``atanh`` for ``rho``
(:func:`natural` maps a point back).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize

from engine.sim.market import MarketModel

__all__ = [
    "MARKET_LR_NULL",
    "MARKET_NAMES",
    "MARKET_PRIOR_SDS",
    "MARKET_SCALES",
    "PRIOR_FLOOR",
    "PRIOR_SD_ATANH_RHO",
    "PRIOR_SD_LOG_MONTH_SIGMA",
    "PRIOR_SD_LOG_YEAR_SIGMA",
    "RHO_MAX",
    "Crossed",
    "MarketFit",
    "Panel",
    "hessian",
    "inverse",
    "natural",
    "prior_centre",
    "to_scale",
]


class Panel:
    """Log attainments with their rep and group codes (period of the year, or period), and
    the per-rep sums the likelihood needs: the model without period effects."""

    def __init__(self, y: np.ndarray, rep: np.ndarray, group: np.ndarray, n_reps: int,
                 n_groups: int):
        self.y, self.rep, self.group = y, rep, group
        self.n_reps, self.n_groups = n_reps, n_groups
        cells = rep * n_groups + group
        size, shape = n_reps * n_groups, (n_reps, n_groups)
        self.counts = np.bincount(cells, minlength=size).reshape(shape).astype(float)
        self.sums = np.bincount(cells, y, size).reshape(shape)
        self.n = self.counts.sum(axis=1)
        self.total = self.sums.sum(axis=1)
        self.squares = np.bincount(rep, y * y, n_reps)

    def nll(self, beta: np.ndarray, log_sa: float, log_s: float) -> float:
        """Exact negative log-likelihood: each rep's periods are jointly normal with
        covariance ``s^2 I + sigma_skill^2 J`` (compound symmetry, closed-form inverse)."""
        a2, s2 = math.exp(2 * log_sa), math.exp(2 * log_s)
        w = a2 / (s2 + self.n * a2)
        r_sum = self.total - self.counts @ beta
        r_sq = self.squares - 2 * self.sums @ beta + self.counts @ (beta * beta)
        quad = (r_sq - w * r_sum * r_sum) / s2
        logdet = (self.n - 1) * math.log(s2) + np.log(s2 + self.n * a2)
        return float(0.5 * np.sum(self.n * math.log(2 * math.pi) + logdet + quad))

    def gls(self, log_sa: float, log_s: float) -> np.ndarray:
        """The group effects that maximize the likelihood for given variances."""
        a2, s2 = math.exp(2 * log_sa), math.exp(2 * log_s)
        w = a2 / (s2 + self.n * a2)
        weighted = self.counts * w[:, None]
        lhs = np.diag(self.counts.sum(axis=0)) - weighted.T @ self.counts
        rhs = self.sums.sum(axis=0) - weighted.T @ self.total
        return np.linalg.solve(lhs, rhs)

    def profile(self, phi: np.ndarray) -> float:
        return self.nll(self.gls(phi[0], phi[1]), phi[0], phi[1])

    def start(self) -> np.ndarray:
        """Method-of-moments variances (one-way ANOVA) as a starting point, on the log scale."""
        means = self.sums.sum(axis=0) / self.counts.sum(axis=0)
        r = self.y - means[self.group]
        rep_mean = np.bincount(self.rep, r, self.n_reps) / self.n
        within = float(np.sum((r - rep_mean[self.rep]) ** 2)) / max(len(r) - self.n_reps, 1)
        within = max(within, 1e-8)
        between = max(float(np.var(rep_mean)) - within / float(np.mean(self.n)), 0.01 * within)
        return 0.5 * np.log([between, within])

    def fit(self) -> tuple[np.ndarray, np.ndarray, float, bool]:
        """Maximum likelihood: ``(beta, (log sigma_skill, log s), nll, converged)``.

        ``log sigma_skill`` is ``-inf`` when the maximum is at sigma_skill = 0 (no lasting
        differences between reps), where the likelihood has a closed form.
        """
        bounds = [(math.log(1e-6), math.log(20.0))] * 2
        best = optimize.minimize(self.profile, self.start(), method="L-BFGS-B", bounds=bounds)
        phi = best.x
        beta0 = self.gls(-math.inf, 0.0)  # the group means
        r = self.y - beta0[self.group]
        log_s0 = 0.5 * math.log(max(float(np.mean(r * r)), 1e-300))
        nll0 = self.nll(beta0, -math.inf, log_s0)
        if nll0 <= best.fun + 1e-9 * max(1.0, abs(best.fun)):
            return beta0, np.array([-math.inf, log_s0]), nll0, True
        return self.gls(phi[0], phi[1]), phi, float(best.fun), bool(best.success)

    def standardized(self, beta: np.ndarray, log_sa: float, log_s: float) -> np.ndarray:
        """Residuals times ``V^(-1/2)`` per rep: independent N(0, 1) under the model."""
        a2, s2 = math.exp(2 * log_sa), math.exp(2 * log_s)
        r = self.y - beta[self.group]
        c = (1.0 - np.sqrt(s2 / (s2 + self.n * a2))) / self.n
        r_sum = np.bincount(self.rep, r, self.n_reps)
        return (r - (c * r_sum)[self.rep]) / math.sqrt(s2)


# The market prior (penalized ML). Two or three years of one team's history hold one or two
# contrasts of year shocks, so on its own the likelihood would put year_sigma almost anywhere
# from 0 to several times the truth; the market nonetheless dominates the team total the
# simulator forecasts. The priors are centred on the given (base scenario's) market and wide
# enough for a history to move them: 0.7 on the log scale is a factor of 2 at one sd (95%:
# a quarter to four times the prior value); 0.5 on atanh(rho) spans rho 0.19 to 0.83 at one
# sd around 0.6.
PRIOR_SD_LOG_YEAR_SIGMA = 0.7
"""Prior sd of ``log year_sigma`` around the given market's value."""
PRIOR_SD_LOG_MONTH_SIGMA = 0.7
"""Prior sd of ``log month_sigma`` around the given market's value."""
PRIOR_SD_ATANH_RHO = 0.5
"""Prior sd of ``atanh(rho)`` around the given market's value."""
PRIOR_FLOOR = 0.01
"""A given sigma of 0 (no market) centres its log-normal prior here instead."""
MARKET_LR_NULL = (0.25, 0.5, 0.25)
"""Weights of chi2(0), chi2(1) and chi2(2) in the null distribution of the market's LR test.

The test compares the crossed model with the one without period effects by their restricted
(REML) likelihoods: both have the same fixed effects, and with maximum likelihood the season
effects (half the contrasts of two years) make the statistic far smaller than any boundary
distribution (0 in 73% of simulated null histories, against about half with REML). Under "no market"
both market variances are on the boundary and rho is unidentified: the chi-bar-square of two
variance components, ``0.25 chi2(0) + 0.5 chi2(1) + 0.25 chi2(2)``, is what this uses. On
simulated null histories (100 reps x 24 months, 60 x 36; 500 in all) it rejects 2.6-3.3% at
the 5% level and 6-9% at 10%: slightly conservative (``0.5 chi2(0) + 0.5 chi2(1)``, the
one-variance rule, rejects 8-9% at 5%)."""
RHO_MAX = 0.99  # the scenario's limits (engine/sim/scenario.py)
_SIGMA_MAX = 2.0
_LOG_MIN = math.log(1e-6)
MARKET_NAMES = ("year_sigma", "rho", "month_sigma")
MARKET_SCALES = ("log", "atanh", "log")
MARKET_PRIOR_SDS = (PRIOR_SD_LOG_YEAR_SIGMA, PRIOR_SD_ATANH_RHO, PRIOR_SD_LOG_MONTH_SIGMA)


def to_scale(value: float, scale: str) -> float:
    return math.log(value) if scale == "log" else math.atanh(value)


def prior_centre(value: float, scale: str) -> float:
    """The natural value the prior is centred on (sigmas floored, rho within its limits)."""
    return max(value, PRIOR_FLOOR) if scale == "log" else min(max(value, 0.0), RHO_MAX)


class _Moments:
    """What the profiled likelihood needs at one set of variances."""

    __slots__ = ("logdet", "xvx", "xvy", "yvy")

    def __init__(self, logdet: float, yvy: float, xvy: np.ndarray, xvx: np.ndarray):
        self.logdet, self.yvy, self.xvy, self.xvx = logdet, yvy, xvy, xvx


class Crossed:
    """The panel with period effects: ``u`` over the periods, ``u ~ N(0, A C(theta) A')``.

    Variances are natural: ``(sa2, s2, year_sigma, rho, month_sigma)``. The fixed effects
    are one per period of the year: ``X = Z_u H`` with ``H`` the period-to-group indicator.
    """

    def __init__(self, panel: Panel, period: np.ndarray, group_of_period: np.ndarray,
                 months: np.ndarray, years: np.ndarray, length: int):
        self.panel, self.period, self.length = panel, period, length
        self.n_periods = t = len(group_of_period)
        r = panel.n_reps
        self.counts = np.bincount(panel.rep * t + period, minlength=r * t).reshape(r, t).astype(float)
        self.per_period = self.counts.sum(axis=0)
        self.period_sums = np.bincount(period, panel.y, t)
        self.squares = float(panel.y @ panel.y)
        self.h = np.zeros((t, panel.n_groups))
        self.h[np.arange(t), group_of_period] = 1.0
        # N' diag(w) N needs only one Gram matrix per number of periods a rep has (w depends
        # on nothing else): O(R T^2) once, then O(k T^2) per evaluation for k distinct counts.
        self.sizes, size_of_rep = np.unique(panel.n, return_inverse=True)
        self.grams = np.zeros((len(self.sizes), t, t))
        self.cross = np.zeros((len(self.sizes), t))  # N' total, per count
        for j in range(len(self.sizes)):
            rows = self.counts[size_of_rep == j]
            self.grams[j] = rows.T @ rows
            self.cross[j] = rows.T @ panel.total[size_of_rep == j]
        self.months, self.years = months, years
        self._moments: dict[tuple[float, ...], _Moments] = {}
        self._roots: dict[tuple[float, ...], np.ndarray] = {}

    # -- the market's covariance ----------------------------------------------------------

    def sigma_u(self, theta: Sequence[float]) -> np.ndarray:
        """``A C A'``: the market's covariance averaged over each period's months."""
        ys, rho, ms = theta
        c = MarketModel(ys, rho, ms).month_covariance(self.months, self.years)
        if self.length == 1:
            return c
        t, m = self.n_periods, self.length
        return c.reshape(t, m, t, m).mean(axis=(1, 3))

    def period_var(self, theta: Sequence[float]) -> float:
        """Variance of ``u`` in one period (the same for every period of a kind)."""
        return float(np.mean(np.diag(self.sigma_u(theta))))

    def root(self, theta: Sequence[float]) -> np.ndarray:
        """``L`` with ``L L' = Sigma_u``: Cholesky, or the eigen square root when ``Sigma_u``
        is singular (a market variance at 0; numpy's eigh is much slower on small matrices
        when the machine is busy, so it is the fallback)."""
        key = tuple(float(x) for x in theta)
        hit = self._roots.get(key)
        if hit is None:
            sigma = self.sigma_u(theta)
            try:
                hit = np.linalg.cholesky(sigma)
            except np.linalg.LinAlgError:
                values, vectors = np.linalg.eigh(sigma)
                hit = vectors * np.sqrt(np.clip(values, 0.0, None))
            if len(self._roots) > 256:
                self._roots.clear()
            self._roots[key] = hit
        return hit

    # -- the likelihood -------------------------------------------------------------------

    def _k(self, sa2: float, s2: float) -> tuple[np.ndarray, np.ndarray]:
        """Rep weights ``w`` (per number of periods) and ``K = Z_u' V0^-1 Z_u``."""
        w = sa2 / (s2 + self.sizes * sa2)
        k = (np.diag(self.per_period) - np.tensordot(w, self.grams, axes=1)) / s2
        return w, k

    def moments(self, sa2: float, s2: float, theta: Sequence[float]) -> _Moments:
        key = (sa2, s2, *(float(x) for x in theta))
        hit = self._moments.get(key)
        if hit is not None:
            return hit
        p = self.panel
        w, k = self._k(sa2, s2)
        ky = (self.period_sums - w @ self.cross) / s2  # Z_u' V0^-1 y
        w_rep = sa2 / (s2 + p.n * sa2)
        yvy = (self.squares - float(w_rep @ (p.total * p.total))) / s2
        logdet = float(np.sum((p.n - 1) * math.log(s2) + np.log(s2 + p.n * sa2)))
        lu = self.root(theta)
        pk = lu.T @ k  # L' K
        s = np.eye(self.n_periods) + pk @ lu
        s = 0.5 * (s + s.T)  # I + L' K L: symmetric, eigenvalues at least 1
        logdet += 2.0 * float(np.sum(np.log(np.diag(np.linalg.cholesky(s)))))
        a = lu.T @ ky
        solved = np.linalg.solve(s, np.column_stack([pk, a]))  # numpy's LAPACK: scipy's is slow here
        kv = k - pk.T @ solved[:, :-1]  # Z_u' V^-1 Z_u
        kyv = ky - pk.T @ solved[:, -1]  # Z_u' V^-1 y
        yvy -= float(a @ solved[:, -1])
        hit = _Moments(logdet, yvy, self.h.T @ kyv, self.h.T @ kv @ self.h)
        if len(self._moments) > 512:
            self._moments.clear()
        self._moments[key] = hit
        return hit

    def nll(self, beta: np.ndarray, sa2: float, s2: float, theta: Sequence[float]) -> float:
        mo = self.moments(sa2, s2, theta)
        quad = mo.yvy - 2.0 * float(beta @ mo.xvy) + float(beta @ mo.xvx @ beta)
        return 0.5 * (len(self.panel.y) * math.log(2 * math.pi) + mo.logdet + quad)

    def gls(self, sa2: float, s2: float, theta: Sequence[float]) -> np.ndarray:
        mo = self.moments(sa2, s2, theta)
        return np.linalg.solve(mo.xvx, mo.xvy)

    def profile(self, sa2: float, s2: float, theta: Sequence[float],
                restricted: bool = False) -> float:
        """The nll with the fixed effects at their GLS values; ``restricted``: the restricted
        (REML) nll, up to a constant, which adds ``logdet(X' V^-1 X) / 2``."""
        nll = self.nll(self.gls(sa2, s2, theta), sa2, s2, theta)
        if restricted:
            nll += 0.5 * float(np.linalg.slogdet(self.moments(sa2, s2, theta).xvx)[1])
        return nll

    # -- what the fit leaves ----------------------------------------------------------------

    def residuals(self, beta: np.ndarray, sa2: float, s2: float, theta: Sequence[float]
                  ) -> tuple[np.ndarray, np.ndarray]:
        """``(u_hat, z)``: the market's posterior mean per period, and the residuals times
        ``V^(-1/2)`` (independent N(0, 1) under the model)."""
        p = self.panel
        r = p.y - (self.h @ beta)[self.period]
        _, k = self._k(sa2, s2)
        w = sa2 / (s2 + p.n * sa2)
        r_rep = np.bincount(p.rep, r, p.n_reps)
        kr = (np.bincount(self.period, r, self.n_periods) - self.counts.T @ (w * r_rep)) / s2
        lu = self.root(theta)
        m = lu.T @ k @ lu
        values, q = np.linalg.eigh(0.5 * (m + m.T))
        values = np.clip(values, 0.0, None)
        a = q.T @ (lu.T @ kr)
        u_hat = lu @ (q @ (a / (1.0 + values)))  # Sigma_u Z_u' V^-1 r
        # V = V0^(1/2) (I + G G') V0^(1/2) with G = V0^(-1/2) Z_u L: z = (I + G G')^(-1/2) r0,
        # (I + G G')^(-1/2) = I + G Q diag(f) Q' G', f = ((1 + l)^(-1/2) - 1) / l.
        root1 = np.sqrt(1.0 + values)
        v = lu @ (q @ (-a / (root1 * (1.0 + root1))))
        s = math.sqrt(s2)
        c = (1.0 - np.sqrt(s2 / (s2 + p.n * sa2))) / p.n
        z = (r - (c * r_rep)[p.rep]) / s + (v[self.period] - (c * (self.counts @ v))[p.rep]) / s
        return u_hat, z


def natural(x: np.ndarray) -> tuple[float, float, tuple[float, float, float]]:
    """``(sa2, s2, theta)`` from ``(log sigma_skill, log s, log year_sigma, atanh rho, log
    month_sigma)`` (``log sigma_skill = -inf``: 0)."""
    sa2 = math.exp(2 * x[0]) if math.isfinite(x[0]) else 0.0
    return sa2, math.exp(2 * x[1]), (math.exp(x[2]), math.tanh(x[3]), math.exp(x[4]))


class MarketFit:
    """The penalized (MAP) fit of the crossed model, and the ML one behind the LR test."""

    def __init__(self, crossed: Crossed, prior: MarketModel):
        self.crossed = crossed
        values = (prior.year_sigma, prior.rho, prior.month_sigma)
        self.centre = np.array([to_scale(prior_centre(v, sc), sc)
                                for v, sc in zip(values, MARKET_SCALES)])
        self.sd = np.array(MARKET_PRIOR_SDS)

    def penalty(self, x: np.ndarray) -> float:
        """Minus the log prior density of the market parameters (up to a constant)."""
        return 0.5 * float(np.sum(((np.asarray(x[2:5]) - self.centre) / self.sd) ** 2))

    def objective(self, x: np.ndarray) -> float:
        """Minus the log posterior of ``x`` (up to a constant): the restricted nll plus the
        prior."""
        sa2, s2, theta = natural(x)
        return self.crossed.profile(sa2, s2, theta, restricted=True) + self.penalty(x)

    def full(self, t: np.ndarray, boundary: bool) -> float:
        """The penalized objective in ``(beta, [log sigma_skill], log s, log ys, atanh rho,
        log ms)`` (sigma_skill left out at the boundary): the nll plus the restricted
        likelihood's ``logdet(X' V^-1 X) / 2`` plus the prior. Minimizing it over ``beta``
        gives the GLS effects and leaves :meth:`objective`, so the posterior mode with the
        GLS effects is its minimum and its inverse Hessian holds the standard errors."""
        g = self.crossed.panel.n_groups
        x = np.concatenate([[-math.inf], t[g:]]) if boundary else t[g:]
        sa2, s2, theta = natural(x)
        xvx = self.crossed.moments(sa2, s2, theta).xvx
        return (self.crossed.nll(t[:g], sa2, s2, theta) + self.penalty(x)
                + 0.5 * float(np.linalg.slogdet(xvx)[1]))

    def fit(self, phi0: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        """``(x, penalized objective, converged, sigma_skill at 0)`` at the posterior mode."""
        log_s = float(phi0[1])
        log_sa = float(phi0[0]) if math.isfinite(phi0[0]) else log_s - 1.0
        lo_hi = [(_LOG_MIN, math.log(20.0)), (_LOG_MIN, math.log(20.0)),
                 (_LOG_MIN, math.log(_SIGMA_MAX)), (0.0, math.atanh(RHO_MAX)),
                 (_LOG_MIN, math.log(_SIGMA_MAX))]
        start = np.clip(np.array([max(log_sa, log_s - 6.0), log_s, *self.centre]),
                        [b[0] for b in lo_hi], [b[1] for b in lo_hi])
        best = optimize.minimize(self.objective, start, method="L-BFGS-B", bounds=lo_hi)
        x, fun, success = best.x, float(best.fun), bool(best.success)
        if math.exp(x[0]) < 0.1 * math.exp(x[1]):  # sigma_skill small: is 0 better still?
            zero = optimize.minimize(lambda q: self.objective(np.concatenate([[-math.inf], q])),
                                     x[1:], method="L-BFGS-B", bounds=lo_hi[1:])
            if zero.fun <= fun + 1e-9 * max(1.0, abs(fun)):
                return np.concatenate([[-math.inf], zero.x]), float(zero.fun), bool(zero.success), True
        return x, fun, success, False

    def likelihood_ratio(self, x: np.ndarray, restricted: bool = True) -> float:
        """The LR statistic of the market: the crossed model against the one without period
        effects, both at their maximum (restricted likelihoods by default; no prior; natural
        scale, so that the market variances can reach 0), started at the posterior mode
        ``x``."""
        sa2, s2, theta = natural(x)
        start = np.array([math.sqrt(sa2), 0.5 * math.log(s2), *theta])

        def nll(q: np.ndarray) -> float:
            return self.crossed.profile(q[0] ** 2, math.exp(2 * q[1]), tuple(q[2:5]),
                                        restricted)

        bounds = [(0.0, 20.0), (_LOG_MIN, math.log(20.0)), (0.0, _SIGMA_MAX), (0.0, RHO_MAX),
                  (0.0, _SIGMA_MAX)]
        best = optimize.minimize(nll, start, method="L-BFGS-B", bounds=bounds)
        null = optimize.minimize(lambda q: nll(np.concatenate([q, [0.0, 0.0, 0.0]])), start[:2],
                                 method="L-BFGS-B", bounds=bounds[:2])
        alternative = min(float(best.fun), nll(start), float(null.fun))
        return max(2.0 * (float(null.fun) - alternative), 0.0)


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central finite-difference Hessian."""
    k = len(x)
    out = np.empty((k, k))
    f0 = f(x)
    step = np.eye(k) * h
    for i in range(k):
        out[i, i] = (f(x + step[i]) - 2 * f0 + f(x - step[i])) / (h * h)
        for j in range(i):
            up, down = x + step[i], x - step[i]
            out[i, j] = out[j, i] = (f(up + step[j]) - f(up - step[j])
                                     - f(down + step[j]) + f(down - step[j])) / (4 * h * h)
    return out


def inverse(hess: np.ndarray) -> np.ndarray:
    """The inverse of a positive definite Hessian; NaN when it is not one."""
    try:
        np.linalg.cholesky(hess)
        return np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.full_like(hess, np.nan)
