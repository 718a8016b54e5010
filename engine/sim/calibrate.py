"""Calibrate a scenario to a team's own history (simulation-model.md, item 6).

The history is one row per rep and period, read by :func:`engine.data.history.load_history`
(``rep_id``, ``period``, ``attainment``). The model of log attainment is a
crossed random-effects model: lasting rep skill, a market shared by every rep in a period,
and period-of-year fixed effects (seasonality)::

    log(attainment[i, t]) = beta[g(t)] + a[i] + u[t] + e[i, t]
    a[i] ~ N(0, sigma_skill^2)             skill = exp(a[i]), median 1, iid over reps
    e[i, t] ~ N(0, s^2)                    period noise, iid
    u ~ N(0, Sigma_u(theta))               the market over the history's periods

``g(t)`` is the period of the year of period ``t`` (its calendar start month). ``Sigma_u``
is the covariance of the market's log factor (engine/sim/market.py) averaged over each
period's months: ``A C A'`` with ``C = MarketModel(year_sigma, rho, month_sigma)
.month_covariance(...)`` over every month the periods span (absolute month numbers, each
with its fiscal year: one level shock per fiscal year) and ``A`` averaging each period's
months (the identity for monthly history). ``theta = (year_sigma, rho, month_sigma)``.

Estimation. The likelihood is the exact Gaussian marginal likelihood, computed without the
``n x n`` covariance: the rep effects are eliminated per rep in closed form (compound
symmetry: ``V0 = s^2 I + sigma_skill^2 Z_a Z_a'``), then the period block by Woodbury
(``V = V0 + Z_u L L' Z_u'``, ``Sigma_u = L L'``: ``logdet V = logdet V0 + logdet(I + L' K L)``
with ``K = Z_u' V0^-1 Z_u`` from the rep x period count matrix), so a fit costs
``O(R T^2 + T^3)`` per evaluation (1,000 reps x 60 periods is quick). Both variance
boundaries work (``sigma_skill = 0``: closed form; market variance 0: ``L = 0``). The fixed
effects are profiled out by GLS.

The variances are fitted on the restricted (REML) likelihood, the likelihood of the
contrasts the season effects leave: with plain maximum likelihood the season effects (with
two years, the mean of each period of the year over both) take half the period-to-period
variation with them and the market's variances come out about half too small (simulated
two-year histories of 100 reps: month_sigma 0.029 on average for a true 0.05, 28% of 95%
intervals covering it; restricted: 0.046 and 94%). The market's ``theta`` is then the posterior mode (penalized
REML) under priors centred on the market the fit is given (by default the built-in
scenario's; pass the base scenario's): ``log year_sigma`` and ``log month_sigma`` ~ N(log
prior, 0.7^2), ``atanh(rho)`` ~ N(atanh(prior rho), 0.5^2). A short history cannot pin the
market down yet the market dominates a team's total: two years hold one contrast of year
shocks (the season effects absorb their mean), so ``year_sigma`` leans on the prior, and
the report says how far the data moved each parameter (posterior against prior sd).
Standard errors come from the inverse Hessian of the penalized objective (delta method on
the natural scale); the estimates' log-likelihood, AIC and BIC are the plain (ML)
likelihood's at them. Without the market (one fiscal year) the fit is plain maximum
likelihood, as before the market existed.

**Separability.** Season and market can be told apart only when some period of the year
appears in two fiscal years. With one year (every period is its own period of the year)
they cannot: the fit says so (``market_fitted`` False, a warning), fits the model without
period effects (this year's team-wide swings land in the seasonality) and keeps the given
market (written unchanged when it is the base scenario's).

**Level.** The simulator multiplies demand by ``exp(x - V/2)``, mean 1, so ``level`` is
the attainment of a median-skill rep at the mean market: ``level x season[g] =
exp(beta[g] + s^2/2 + V_u/2)`` with ``V_u`` the variance of ``u`` in one period (the
stationary monthly variance for monthly history, that of a period's average otherwise),
averaged over the periods of the year present; the season factors are these normalized to
mean 1. Without the market (one year) ``V_u = 0``: the year's own market is in ``beta``.
This is the simulator's production model (``engine/sim/behaviour.py``) at baseline effort
with ``noise: lognormal``: a calibrated scenario reproduces the history's spread, noise,
seasonality and market.

Tests. The market's likelihood-ratio test compares the crossed model with the model
without period effects, both at their maximum without the prior, by their restricted (REML)
likelihoods (the two share their fixed effects); the null puts both market variances on the
boundary and leaves ``rho`` unidentified, so the p-value is that of the chi-bar-square
``0.25 chi2(0) + 0.5 chi2(1) + 0.25 chi2(2)`` (see
:data:`~engine.sim.likelihood.MARKET_LR_NULL`). The residual
test decorrelates the residuals exactly (``V^-1/2``); the rep-means test simulates teams
with new skills and noise on the history's market path (its posterior mean).

Decisions:

* **Zero attainments are dropped** (and counted in the report): the lognormal model has no
  zeros, and treating them as censored would need an arbitrary detection limit. The fitted
  level and noise are therefore those of periods with some result.
* **Periods longer than a month** (quarters...) give the noise of a period; the monthly
  sigma for the scenario assumes independent months of equal expected value:
  ``CV_period^2 = CV_month^2 / L`` for ``L`` months per period (lognormal ``CV^2 = exp(s^2) - 1``).
  Each period-of-year factor applies to every month of that period.
* Months are calendar months of each period's start (``fiscal_year_start`` shifts quarters,
  halves and years); months absent from the history get seasonality 1.0.
* ``team_share`` is not fitted (one team's history cannot see it): it is the given market's.

Public: :func:`fit_history` and what it returns, :class:`Calibration`. The likelihood and
the market prior are :mod:`engine.sim.likelihood`; reading the history is
:mod:`engine.data.history`, the report's text :mod:`engine.report.calibrate`, writing the
calibrated scenario :mod:`engine.sim.calibrated_scenario`, and ``incentive calibrate`` the job
:mod:`engine.jobs.calibrate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from engine.core.errors import DataError, DataErrors
from engine.core.inputs import PeriodInfo
from engine.core.periods import (
    MONTH_NAMES,
    MONTHS_PER_PERIOD,
    PERIOD_ADJECTIVE,
    PERIOD_PLURAL,
    parse_period_label,
)
from engine.data.history import MIN_PERIODS, MIN_REPS, load_history
from engine.data.load import TableSource
from engine.sim.likelihood import (
    MARKET_LR_NULL,
    MARKET_NAMES,
    MARKET_PRIOR_SDS,
    MARKET_SCALES,
    RHO_MAX,
    Crossed,
    MarketFit,
    Panel,
    hessian,
    inverse,
    natural,
    prior_centre,
    to_scale,
)
from engine.sim.market import MarketModel
from engine.sim.scenario import default_scenario

__all__ = [
    "Calibration",
    "MarketParameter",
    "fit_history",
]

_SIGNIFICANT = 0.01  # p-values below this raise a warning in the report


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class MarketParameter:
    """One parameter of the market: the estimate, its prior and how far the data moved it.

    Attributes:
        name: ``year_sigma``, ``rho`` or ``month_sigma``.
        estimate: the value written to the scenario: the posterior mode, or the given
            market's value when the market is not fitted.
        se: its standard error (delta method from the posterior sd; NaN when not fitted).
        prior: the prior's centre (the given market's value).
        scale: the scale of the prior (``log`` or ``atanh``).
        prior_sd: the prior's sd on that scale.
        posterior_sd: the posterior sd on that scale (inverse Hessian of the penalized
            objective); NaN when not fitted or not available.
    """

    name: str
    estimate: float
    se: float
    prior: float
    scale: str
    prior_sd: float
    posterior_sd: float

    @property
    def learned(self) -> float:
        """Share of the prior variance the history removed: ``1 - (posterior sd / prior
        sd)^2`` (near 0: the estimate is the prior's; near 1: the data's; NaN: not fitted)."""
        return 1.0 - (self.posterior_sd / self.prior_sd) ** 2 if self.prior_sd > 0 else math.nan

    @property
    def shift(self) -> float:
        """How far the estimate moved from the prior's centre, in prior sds (on the prior's
        scale; NaN when not fitted)."""
        if not math.isfinite(self.posterior_sd):
            return math.nan
        return (to_scale(self.estimate, self.scale) - to_scale(prior_centre(self.prior, self.scale),
                                                                 self.scale)) / self.prior_sd


@dataclass(frozen=True)
class Calibration:
    """The fitted model of a team's history and how well it fits.

    Parameters are on the attainment scale of the history's periods unless said otherwise;
    ``*_se`` are standard errors from the inverse Hessian of the negative log-likelihood
    (when the market is fitted: the restricted one, penalized by the market prior); delta
    method for derived values; NaN where the Hessian is not usable.

    Attributes:
        source: the history file as named (``history`` for a DataFrame).
        period_kind: ``month``, ``quarter``, ``half`` or ``year``.
        months_per_period: 1, 3, 6 or 12.
        n_reps: reps fitted (reps whose every attainment is 0 are left out).
        n_periods: distinct periods fitted.
        n_observations: rep-periods fitted.
        n_fiscal_years: fiscal years the fitted periods fall in.
        first_period, last_period: the history's range.
        periods_per_rep: (min, median, max) periods per rep.
        zeros_dropped: attainments of 0 left out of the fit.
        reps_dropped: reps left out because every attainment of theirs is 0.
        sigma_skill: standard deviation of log skill between reps.
        noise_sigma: period noise sigma (log scale) at the history's period length.
        monthly_noise_sigma: the same for one month (= noise_sigma for monthly history).
        level: expected attainment of a median-skill rep at the mean market (demand factor
            1), averaged over the periods of the year present (under the plan the history
            was paid under).
        season_labels: the periods of the year present (``Jan``, ``Apr-Jun``...).
        season_factors: their factors (mean 1).
        seasonality: 12 monthly factors, January first; 1.0 for months not in the history.
        months_present: calendar months (1-12) the history covers.
        market: the market to simulate: fitted ``year_sigma``, ``rho`` and ``month_sigma``
            (the given market's when not fitted) and the given market's ``team_share``.
        market_prior: the market the fit was given (the prior's centre).
        market_fitted: whether the market was fitted (the history spans two fiscal years,
            some period of the year seen in both); False: season and market are not
            separable and ``market`` is ``market_prior``.
        market_note: one sentence on where ``market`` comes from.
        market_parameters: ``year_sigma``, ``rho``, ``month_sigma``: estimate, se, prior.
        market_sd, market_sd_se: the market's total stationary sd of the log factor of one
            month, ``sqrt(year_sigma^2 + month_sigma^2 / (1 - rho^2))``.
        market_period_var: the variance of the market's log factor averaged over one
            period (``V_u`` of the level; 0 when not fitted).
        log_likelihood: log-likelihood of log attainment at the estimates (the prior is not
            included).
        n_parameters: parameters fitted (season factors, sigma_skill, noise sigma, and the
            three market parameters when fitted).
        aic, bic: ``2k - 2 LL`` and ``k ln(n) - 2 LL``.
        icc: share of the variance of log attainment between reps in a period due to skill.
        residual_ks_statistic, residual_ks_pvalue: Kolmogorov-Smirnov test of the
            standardized (decorrelated) residuals against N(0, 1).
        rep_means_ks_statistic, rep_means_ks_pvalue: two-sample KS test of each rep's mean
            attainment against those of ``simulations`` teams simulated from the fit.
        rep_means_observed, rep_means_predicted: (p10, p50, p90) of per-rep mean attainment.
        period_effects_lr, period_effects_df, period_effects_pvalue: likelihood-ratio test
            of the market (team-wide period effects) against none (restricted likelihoods,
            no prior); ``df`` is 2, the market's variances, and the p-value that of the
            chi-bar-square :data:`~engine.sim.likelihood.MARKET_LR_NULL`; None when the market
            is not fitted.
        converged: whether the optimizer reported success.
        seed, simulations: the simulation behind the rep-means test.
        warnings: what the user should know before trusting the fit.
    """

    source: str
    period_kind: str
    months_per_period: int
    n_reps: int
    n_periods: int
    n_observations: int
    first_period: str
    last_period: str
    periods_per_rep: tuple[int, float, int]
    zeros_dropped: int
    reps_dropped: tuple[str, ...]
    sigma_skill: float
    sigma_skill_se: float
    noise_sigma: float
    noise_sigma_se: float
    monthly_noise_sigma: float
    monthly_noise_sigma_se: float
    level: float
    level_se: float
    season_labels: tuple[str, ...]
    season_factors: tuple[float, ...]
    season_factors_se: tuple[float, ...]
    seasonality: tuple[float, ...]
    months_present: tuple[int, ...]
    log_likelihood: float
    n_parameters: int
    aic: float
    bic: float
    icc: float
    residual_ks_statistic: float
    residual_ks_pvalue: float
    rep_means_ks_statistic: float
    rep_means_ks_pvalue: float
    rep_means_observed: tuple[float, float, float]
    rep_means_predicted: tuple[float, float, float]
    period_effects_lr: float | None
    period_effects_df: int | None
    period_effects_pvalue: float | None
    converged: bool
    seed: int
    simulations: int
    warnings: tuple[str, ...]
    n_fiscal_years: int = 1
    market: MarketModel = field(default_factory=MarketModel)
    market_prior: MarketModel = field(default_factory=MarketModel)
    market_fitted: bool = False
    market_note: str = ""
    market_parameters: tuple[MarketParameter, ...] = ()
    market_sd: float = math.nan
    market_sd_se: float = math.nan
    market_period_var: float = 0.0


def _period_months(infos: Sequence[PeriodInfo], length: int) -> tuple[np.ndarray, np.ndarray]:
    """Absolute month number (year * 12 + month - 1) and fiscal year of every month of every
    period, period by period."""
    months = np.array([p.start.year * 12 + p.start.month - 1 + j for p in infos
                       for j in range(length)], dtype=float)
    years = np.repeat([p.fiscal_year for p in infos], length)
    return months, years


def fit_history(history: TableSource, *, seed: int = 2027, simulations: int = 50,
                market_prior: MarketModel | None = None) -> Calibration:
    """Fit skill dispersion, noise, seasonality and the market to a history (module
    docstring: the crossed model, restricted likelihood and the market prior).

    Args:
        history: what :func:`~engine.data.history.load_history` returned, or anything it accepts (it is checked
            again; the calendar is the one of ``load_history``'s ``fiscal_year_start``).
        seed: seed of the simulated teams behind the per-rep-means test (the fit itself is
            deterministic).
        simulations: how many teams to simulate for that test.
        market_prior: the market the prior is centred on, and the one kept when the history
            cannot separate market from seasonality (one fiscal year): pass the base
            scenario's (``load_scenario(base).market``); the built-in default scenario's
            when None.

    Returns:
        The fitted :class:`Calibration`.

    Raises:
        DataErrors: as :func:`~engine.data.history.load_history`; also ``too-few-reps`` / ``too-few-periods``
            when too little is left once zero attainments are dropped.
    """
    prior = market_prior if market_prior is not None else default_scenario().market
    frame = load_history(history, fiscal_year_start=_attr(history, "fiscal_year_start", 1))
    source = frame.attrs["source"]
    kind = frame.attrs["period_kind"]
    fys = frame.attrs["fiscal_year_start"]
    length = MONTHS_PER_PERIOD[kind]

    attainment = frame["attainment"].to_numpy(dtype=float)
    positive = attainment > 0
    zeros = int((~positive).sum())
    all_ids = frame["rep_id"].to_numpy(dtype=object)
    kept = frame.loc[positive]
    reps_dropped = tuple(sorted(set(all_ids) - set(kept["rep_id"])))
    _check_enough(kept, kind, zeros, source)

    rep_codes, rep_ids = pd.factorize(kept["rep_id"])
    period_codes, period_labels = pd.factorize(kept["period"])
    infos = [parse_period_label(label, kind, fys) for label in period_labels]
    start_months = np.array([p.start.month for p in infos])
    group_months = np.unique(start_months)  # calendar month each period of the year starts in
    group_of_period = np.searchsorted(group_months, start_months)
    groups = group_of_period[period_codes]
    y = np.log(kept["attainment"].to_numpy(dtype=float))
    n_obs = len(y)
    g = len(group_months)

    panel = Panel(y, rep_codes, groups, len(rep_ids), g)
    beta, phi, nll, converged = panel.fit()  # the model without period effects
    separable = len(period_labels) > g  # some period of the year seen in two fiscal years
    n_years = len({p.fiscal_year for p in infos})

    lr = lr_df = lr_p = None
    market, theta_cov = prior, None
    period_var = 0.0
    rho_at_limit = False
    if separable:
        months, years = _period_months(infos, length)
        crossed = Crossed(panel, period_codes, group_of_period, months, years, length)
        fitter = MarketFit(crossed, prior)
        x, _, converged, at_boundary = fitter.fit(phi)
        sa2, s2, theta = natural(x)
        beta = crossed.gls(sa2, s2, theta)
        nll = crossed.nll(beta, sa2, s2, theta)
        log_sa, log_s = float(x[0]), float(x[1])
        # Standard errors: inverse Hessian of the penalized objective in (beta, log sa, log s,
        # log ys, atanh rho, log ms); at sigma_skill = 0 without log sa.
        free = [i for i in range(g + 5) if not (at_boundary and i == g)]
        cov = np.zeros((g + 5, g + 5))
        t = np.concatenate([beta, x])[free]
        cov[np.ix_(free, free)] = inverse(hessian(lambda v: fitter.full(v, at_boundary), t))
        market = MarketModel(*theta, team_share=prior.team_share)
        period_var = crossed.period_var(theta)
        theta_cov = cov[g + 2:, g + 2:]
        rho_at_limit = theta[1] < 1e-3 or theta[1] > RHO_MAX - 1e-3
        lr = fitter.likelihood_ratio(x)
        lr_df = 2  # the market's two variances (rho is unidentified without them)
        lr_p = _market_lr_pvalue(lr)
        u_hat, z = crossed.residuals(beta, sa2, s2, theta)
        mean_path = beta[groups] + u_hat[period_codes]
        k = g + 5
    else:
        log_sa, log_s = float(phi[0]), float(phi[1])
        at_boundary = not math.isfinite(log_sa)
        # Standard errors: inverse Hessian of the likelihood in (beta, log sa, log s); at
        # sigma_skill = 0 (a boundary) that of (beta, log s) with sigma_skill fixed.
        if at_boundary:
            free = [*range(g), g + 1]
            cov = np.zeros((g + 2, g + 2))
            cov[np.ix_(free, free)] = inverse(hessian(
                lambda t: panel.nll(t[:-1], -math.inf, t[-1]), np.append(beta, log_s)))
        else:
            cov = inverse(hessian(lambda t: panel.nll(t[:-2], t[-2], t[-1]),
                                    np.concatenate([beta, phi])))
        z = panel.standardized(beta, log_sa, log_s)
        mean_path = beta[groups]
        k = g + 2
    sa = math.exp(log_sa)
    s = math.exp(log_s)

    # Derived values: expected attainment of a median-skill rep per period of the year, at
    # the mean market (demand factor exp(x - V/2) = 1 on average).
    expected = np.exp(beta + s * s / 2 + period_var / 2)
    level = float(expected.mean())
    factors = expected / level
    grad_level = np.zeros(len(cov))
    grad_level[:g] = expected / g
    grad_level[g + 1] = level * s * s
    if separable:
        grad_level[g + 2:] = level / 2 * _gradient(
            lambda v: crossed.period_var(natural(np.concatenate([[0.0, 0.0], v]))[2]), x[2:])
    level_se = _delta(grad_level, cov)
    factors_se = []
    for j in range(g):
        grad = np.zeros(len(cov))
        grad[:g] = -factors[j] * expected / (g * level)
        grad[j] += factors[j]
        factors_se.append(_delta(grad, cov))
    sa_se = sa * math.sqrt(cov[g, g]) if np.isfinite(cov[g, g]) and sa > 0 else math.nan
    s_se = s * math.sqrt(cov[g + 1, g + 1]) if np.isfinite(cov[g + 1, g + 1]) else math.nan
    monthly_s, dmonthly = _monthly_sigma(s, length)
    monthly_s_se = abs(dmonthly) * s_se
    parameters, market_sd, market_sd_se = _market_summary(market, prior, theta_cov)

    months_present: list[int] = []
    seasonality = [1.0] * 12
    labels = []
    for m0, factor in zip(group_months, factors):
        months_of = [(int(m0) - 1 + j) % 12 + 1 for j in range(length)]
        months_present.extend(months_of)
        for m in months_of:
            seasonality[m - 1] = float(factor)
        labels.append(MONTH_NAMES[months_of[0] - 1] if length == 1
                      else f"{MONTH_NAMES[months_of[0] - 1]}-{MONTH_NAMES[months_of[-1] - 1]}")

    # Goodness of fit.
    ks = stats.kstest(z, "norm")
    observed_means = np.bincount(rep_codes, np.exp(y), panel.n_reps) / panel.n
    rng = np.random.default_rng(seed)
    sim_means = np.empty((simulations, panel.n_reps))
    for team in range(simulations):  # the same reps, periods and market path; new skills and noise
        skill = rng.normal(0.0, sa, panel.n_reps)
        simulated = np.exp(mean_path + skill[rep_codes] + rng.normal(0.0, s, n_obs))
        sim_means[team] = np.bincount(rep_codes, simulated, panel.n_reps) / panel.n
    ks_means = stats.ks_2samp(observed_means, sim_means.ravel())

    if separable:
        note = (f"fitted to {n_years} fiscal years of history (posterior mode, prior centred on "
                f"the given market)")
    else:
        note = ("not fitted: every period is its own period of the year (one fiscal year), so "
                "the market cannot be told apart from seasonality; these are the given "
                "market's values")
    per_rep = panel.n.astype(int)
    periods_sorted = sorted(infos, key=lambda p: p.start)
    cal = Calibration(
        source=source, period_kind=kind, months_per_period=length, n_reps=panel.n_reps,
        n_periods=len(period_labels), n_observations=n_obs,
        first_period=periods_sorted[0].label, last_period=periods_sorted[-1].label,
        periods_per_rep=(int(per_rep.min()), float(np.median(per_rep)), int(per_rep.max())),
        zeros_dropped=zeros, reps_dropped=reps_dropped,
        sigma_skill=sa, sigma_skill_se=sa_se, noise_sigma=s, noise_sigma_se=s_se,
        monthly_noise_sigma=monthly_s, monthly_noise_sigma_se=monthly_s_se,
        level=level, level_se=level_se,
        season_labels=tuple(labels), season_factors=tuple(float(f) for f in factors),
        season_factors_se=tuple(factors_se), seasonality=tuple(seasonality),
        months_present=tuple(sorted(set(months_present))),
        log_likelihood=-nll, n_parameters=k, aic=2 * k + 2 * nll,
        bic=k * math.log(n_obs) + 2 * nll, icc=sa * sa / (sa * sa + s * s),
        residual_ks_statistic=float(ks.statistic), residual_ks_pvalue=float(ks.pvalue),
        rep_means_ks_statistic=float(ks_means.statistic),
        rep_means_ks_pvalue=float(ks_means.pvalue),
        rep_means_observed=_deciles(observed_means), rep_means_predicted=_deciles(sim_means),
        period_effects_lr=lr, period_effects_df=lr_df, period_effects_pvalue=lr_p,
        converged=converged, seed=seed, simulations=simulations, warnings=(),
        n_fiscal_years=n_years, market=market, market_prior=prior, market_fitted=separable,
        market_note=note, market_parameters=parameters, market_sd=market_sd,
        market_sd_se=market_sd_se, market_period_var=period_var,
    )
    once = int((np.bincount(group_of_period) == 1).sum())
    notes = _warnings(cal, at_boundary, bool(np.isnan(cov).any()), attainment.size, once,
                      rho_at_limit)
    return replace(cal, warnings=tuple(notes))


def _market_lr_pvalue(lr: float) -> float:
    """The p-value of the market's LR statistic under :data:`~engine.sim.likelihood.MARKET_LR_NULL`."""
    if lr <= 1e-9:
        return 1.0
    return float(sum(w * stats.chi2.sf(lr, df) for df, w in enumerate(MARKET_LR_NULL) if df))


def _gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central finite-difference gradient."""
    step = np.eye(len(x)) * h
    return np.array([(f(x + e) - f(x - e)) / (2 * h) for e in step])


def _market_summary(market: MarketModel, prior: MarketModel, cov: np.ndarray | None
                    ) -> tuple[tuple[MarketParameter, ...], float, float]:
    """Each market parameter with its se and prior; the total sd per month and its se.

    ``cov`` is the posterior covariance of ``(log ys, atanh rho, log ms)`` (None: not fitted).
    """
    values = (market.year_sigma, market.rho, market.month_sigma)
    priors = (prior.year_sigma, prior.rho, prior.month_sigma)
    out = []
    for j, (name, value, centre, scale, sd) in enumerate(
            zip(MARKET_NAMES, values, priors, MARKET_SCALES, MARKET_PRIOR_SDS)):
        post = math.sqrt(cov[j, j]) if cov is not None and np.isfinite(cov[j, j]) else math.nan
        slope = value if scale == "log" else 1.0 - value * value  # d natural / d scale
        out.append(MarketParameter(name, float(value), slope * post, float(centre), scale, sd, post))
    total = math.sqrt(market.var)
    if cov is None or total == 0.0:
        return tuple(out), total, math.nan
    ys, rho, ms = values
    z = math.atanh(rho)
    grad = np.array([2 * ys * ys, ms * ms * math.sinh(2 * z), 2 * ms * ms * math.cosh(z) ** 2])
    return tuple(out), total, _delta(grad / (2 * total), cov)
def _attr(history: object, key: str, default):
    return history.attrs.get(key, default) if isinstance(history, pd.DataFrame) else default


def _check_enough(kept: pd.DataFrame, kind: str, zeros: int, source: str) -> None:
    """Enough reps and periods once zero attainments are dropped."""
    if not zeros:
        return  # load_history checked the counts
    n_reps = kept["rep_id"].nunique()
    n_periods = kept["period"].nunique()
    after = f"after leaving out {zeros} zero attainment{'s' if zeros != 1 else ''}, "
    errors = []
    if n_reps < MIN_REPS:
        errors.append(DataError(
            "too-few-reps", f"{after}the history has {n_reps} rep{'s' if n_reps != 1 else ''} "
            f"with a positive attainment; calibration needs at least {MIN_REPS}", file=source))
    if n_periods < MIN_PERIODS:
        errors.append(DataError(
            "too-few-periods", f"{after}the history has {n_periods} distinct {kind} periods; "
            f"calibration needs at least {MIN_PERIODS}", file=source))
    elif n_reps >= MIN_REPS and kept["rep_id"].value_counts().max() < 2:
        errors.append(DataError(
            "too-few-periods", f"{after}no rep has more than one period: skill and noise "
            "cannot be told apart", file=source))
    if errors:
        raise DataErrors(errors)


def _delta(grad: np.ndarray, cov: np.ndarray) -> float:
    var = float(grad @ cov @ grad)
    return math.sqrt(var) if np.isfinite(var) and var >= 0 else math.nan


def _monthly_sigma(s: float, length: int) -> tuple[float, float]:
    """Monthly lognormal sigma from a period's, assuming independent months; and its derivative.

    ``CV_period^2 = CV_month^2 / length`` with ``CV^2 = exp(sigma^2) - 1``.
    """
    if length == 1:
        return s, 1.0
    cv2 = length * math.expm1(s * s)
    monthly = math.sqrt(math.log1p(cv2))
    derivative = length * 2 * s * math.exp(s * s) / (1 + cv2) / (2 * monthly)
    return monthly, derivative


def _deciles(values: np.ndarray) -> tuple[float, float, float]:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return float(p10), float(p50), float(p90)


def _warnings(cal: Calibration, at_boundary: bool, no_se: bool, n_rows: int,
              once: int, rho_at_limit: bool) -> list[str]:
    out = []
    if cal.zeros_dropped:
        share = cal.zeros_dropped / n_rows
        dropped = (f" (and reps {', '.join(cal.reps_dropped[:5])}"
                   f"{', ...' if len(cal.reps_dropped) > 5 else ''}, who had nothing else)"
                   if cal.reps_dropped else "")
        out.append(f"{cal.zeros_dropped} zero attainments ({share:.1%}) were left out{dropped}: "
                   "the lognormal model has no zeros, so level and noise describe periods with "
                   "a result" + ("; with this many zeros consider deal-level noise"
                                 if share > 0.05 else ""))
    if not cal.converged:
        out.append("the optimizer did not report convergence: treat the estimates with care")
    if at_boundary:
        out.append("sigma_skill is 0 (the likelihood is highest at the boundary): differences "
                   "between reps are no larger than the noise explains; it has no standard error")
    elif no_se:
        out.append("the Hessian is not positive definite: standard errors are not available")
    if cal.periods_per_rep[1] < 6:
        out.append(f"few periods per rep (median {cal.periods_per_rep[1]:g}): skill and "
                   "noise are hard to tell apart; their standard errors are large")
    if cal.n_reps < 20:
        out.append(f"only {cal.n_reps} reps: sigma_skill rests on few reps "
                   f"(se {cal.sigma_skill_se:.3f})")
    if len(cal.months_present) < 12:
        missing = [MONTH_NAMES[m - 1] for m in range(1, 13) if m not in cal.months_present]
        out.append(f"the history does not cover {', '.join(missing)}: seasonality 1.0 there")
    groups = len(cal.season_labels)
    if groups > 1 and once * 2 > groups:
        out.append(f"{once} of the {groups} {PERIOD_PLURAL[cal.period_kind]} of the year appear in "
                   "only one period: their seasonality cannot be told apart from one-off "
                   "team-wide swings")
    if not cal.market_fitted:
        m = cal.market
        out.append(f"the history covers one fiscal year, so the market (team-wide swings) "
                   "cannot be told apart from seasonality: this year's swings are in the "
                   f"seasonality and the market is the given one (year_sigma {m.year_sigma:g}, "
                   f"rho {m.rho:g}, month_sigma {m.month_sigma:g})")
    else:
        if rho_at_limit:
            out.append(f"the market's rho is at its limit ({cal.market.rho:.2f}; the scenario "
                       f"allows 0 to {RHO_MAX:g}): its standard error is not meaningful")
        for p in cal.market_parameters:
            if math.isfinite(p.shift) and abs(p.shift) > 2.0:
                out.append(f"the history's market {p.name} is far from the prior: the estimate "
                           f"{p.estimate:.3g} is {abs(p.shift):.1f} prior sds "
                           f"{'above' if p.shift > 0 else 'below'} the prior's centre "
                           f"{prior_centre(p.prior, p.scale):.3g}, which still pulls it that way")
    if cal.months_per_period > 1:
        out.append(f"the monthly noise sigma ({cal.monthly_noise_sigma:.3f}) is derived from "
                   f"the {PERIOD_ADJECTIVE[cal.period_kind]} one ({cal.noise_sigma:.3f}) assuming "
                   "independent months")
    if cal.residual_ks_pvalue < _SIGNIFICANT:
        out.append(f"the standardized residuals are not normal (KS p = "
                   f"{cal.residual_ks_pvalue:.2g}): the lognormal noise misstates the tails")
    if cal.rep_means_ks_pvalue < _SIGNIFICANT:
        out.append(f"the per-rep mean attainments differ from those the fit predicts (KS p = "
                   f"{cal.rep_means_ks_pvalue:.2g}): skill may not be lognormal")
    return out
