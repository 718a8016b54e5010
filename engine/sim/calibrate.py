"""Calibrate a scenario to a team's own history (simulation-model.md, item 6).

The history is one row per rep and period: ``rep_id``, ``period`` (``2026-03`` monthly,
``2026-Q1`` quarterly; half-years and years work too) and ``attainment`` (result / target),
or ``actual`` and ``target`` instead of ``attainment``. The model of log attainment is a
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
``0.25 chi2(0) + 0.5 chi2(1) + 0.25 chi2(2)`` (see :data:`MARKET_LR_NULL`). The residual
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

Public functions: :func:`load_history`, :func:`fit_history`, :func:`calibration_report`,
:func:`write_calibrated_scenario`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import optimize, stats

from engine.core.atomic import write_text_atomic
from engine.core.errors import DataError, DataErrors
from engine.core.inputs import PeriodInfo
from engine.core.periods import KINDS, MONTHS_PER_PERIOD, check_period_kind, parse_period_label
from engine.core.text import did_you_mean
from engine.data.load import (
    MAX_ERRORS,
    TableSource,
    _cell_text,
    _listing,
    _numbers,
    read_table,
)
from engine.sim.market import MarketModel
from engine.sim.scenario import (
    DEFAULT_SCENARIO,
    Output,
    default_scenario,
    load_scenario,
    parse_scenario,
)

__all__ = [
    "MARKET_LR_NULL",
    "MIN_PERIODS",
    "MIN_REPS",
    "PRIOR_SD_ATANH_RHO",
    "PRIOR_SD_LOG_MONTH_SIGMA",
    "PRIOR_SD_LOG_YEAR_SIGMA",
    "Calibration",
    "MarketParameter",
    "calibration_report",
    "fit_history",
    "load_history",
    "write_calibrated_scenario",
]

MIN_REPS = 2
"""Skill dispersion is the spread between reps: at least this many are needed."""

MIN_PERIODS = 3
"""At least this many distinct periods are needed to separate noise from skill and season."""

_EXAMPLES = {"month": "2026-03", "quarter": "2026-Q1", "half": "2026-H1", "year": "2026"}
_PLURAL = {"month": "months", "quarter": "quarters", "half": "halves", "year": "years"}
_ADJECTIVE = {"month": "monthly", "quarter": "quarterly", "half": "half-yearly", "year": "yearly"}
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SIGNIFICANT = 0.01  # p-values below this raise a warning in the report


# --------------------------------------------------------------------------- loading


def load_history(path_or_df: TableSource, *, fiscal_year_start: int = 1) -> pd.DataFrame:
    """Read and check a team's per-rep, per-period attainment history.

    Args:
        path_or_df: a CSV/TSV, Excel or Parquet file, or a DataFrame, with columns
            ``rep_id``, ``period`` and ``attainment`` (result / target, 0 or more), or
            ``actual`` (0 or more) and ``target`` (positive) instead of ``attainment``
            (``attainment`` wins when all three are present). Periods are labels of one
            kind: ``2026-03`` (month), ``2026-Q1`` (quarter), ``2026-H1`` (half) or
            ``2026`` (year); the kind is the one most labels have.
        fiscal_year_start: month (1-12) in which the fiscal year starts; places quarters,
            halves and years in calendar months for seasonality.

    Returns:
        One row per rep and period with columns ``rep_id`` (text), ``period`` (canonical
        label) and ``attainment`` (float), indexed by the row number as a spreadsheet shows
        it (header = row 1). ``attrs`` holds ``source`` (the file as named, or
        ``history``), ``period_kind`` and ``fiscal_year_start``.

    Raises:
        ValueError: ``fiscal_year_start`` is not a month number 1-12.
        DataError: the file is missing, unreadable or of an unknown type (from
            :func:`~engine.data.load.read_table`).
        DataErrors: every problem found, each naming its row, column and rep:
            ``missing-column`` (with did-you-mean), ``missing-value``, ``not-a-number``,
            ``negative-value``, ``not-positive`` (a target of 0 or less), ``bad-period``,
            ``duplicate-row``, ``too-few-reps``, ``too-few-periods``.
    """
    check_period_kind("month", fiscal_year_start)
    source = path_or_df.attrs.get("source") if isinstance(path_or_df, pd.DataFrame) else None
    frame = read_table(path_or_df, "history")
    name = source or ("history" if isinstance(path_or_df, pd.DataFrame) else str(path_or_df))
    errors: list[DataError] = []
    found = 0

    def error(code: str, message: str, *, row: int | None = None, column: str | None = None,
              rep: str | None = None, hint: str | None = None) -> None:
        nonlocal found
        found += 1
        if len(errors) < MAX_ERRORS:
            errors.append(DataError(code, message, file=name, row=row, column=column, rep=rep,
                                    hint=hint))

    value_columns = _value_columns(frame, name, error)
    if errors:
        raise DataErrors(errors)

    rows = frame.index.to_numpy()
    ids = frame["rep_id"].to_numpy(dtype=object)
    for i in np.flatnonzero(pd.isna(ids)):
        error("missing-value", "'rep_id' is empty", row=int(rows[i]), column="rep_id")

    labels, kind = _period_labels(frame, ids, rows, error)

    if value_columns == ("attainment",):
        attainment, _ = _checked_numbers(frame, "attainment", ids, rows, error, positive=False)
    else:
        actual, ok_a = _checked_numbers(frame, "actual", ids, rows, error, positive=False)
        target, ok_t = _checked_numbers(frame, "target", ids, rows, error, positive=True)
        ok = ok_a & ok_t
        with np.errstate(divide="ignore", invalid="ignore"):
            attainment = np.where(ok, actual / np.where(ok, target, 1.0), np.nan)

    keyed = ~pd.isna(ids) & ~pd.isna(labels)
    first: dict[tuple[str, str], int] = {}
    for i in np.flatnonzero(keyed):
        key = (ids[i], labels[i])
        if key in first:
            error("duplicate-row",
                  f"a second row for rep '{ids[i]}' in period {labels[i]} "
                  f"(the first is row {first[key]})",
                  row=int(rows[i]), column="period", rep=ids[i],
                  hint="keep one row per rep and period (add up split rows first)")
        else:
            first[key] = int(rows[i])

    n_reps = len({key[0] for key in first})
    n_periods = len({key[1] for key in first})
    what = f"{kind} periods" if kind else "periods"
    if n_reps < MIN_REPS:
        error("too-few-reps",
              f"the history has {n_reps} rep{'s' if n_reps != 1 else ''}; calibration needs at "
              f"least {MIN_REPS} (skill dispersion is the spread between reps)",
              hint="include every rep of the team, one row per rep and period")
    if n_periods < MIN_PERIODS:
        error("too-few-periods",
              f"the history has {n_periods} distinct {what}; calibration needs at least "
              f"{MIN_PERIODS} (to tell noise from skill and seasonality)",
              hint="give more periods of history (a year of months or two years of quarters "
              "is a good start)")
    elif first and n_reps >= MIN_REPS and max(Counter(k[0] for k in first).values()) < 2:
        error("too-few-periods",
              "no rep has more than one period: skill and noise cannot be told apart",
              hint="give at least two periods for some reps")
    if errors:
        if found > len(errors):
            errors.append(DataError("too-many-errors",
                                    f"{found - len(errors)} more problems are not listed "
                                    f"(at most {MAX_ERRORS} are reported)",
                                    hint="fix these first, then load again"))
        raise DataErrors(sorted(errors, key=lambda e: (e.row is None, e.row or 0)), total=found)

    out = pd.DataFrame(
        {"rep_id": ids.astype(object), "period": labels.astype(object),
         "attainment": attainment.astype(np.float64)},
        index=frame.index,
    )
    out.attrs = {"source": name, "period_kind": kind, "fiscal_year_start": fiscal_year_start}
    return out


def _value_columns(frame: pd.DataFrame, name: str, error: Callable[..., None]) -> tuple[str, ...]:
    """Which columns hold the attainment; reports the missing ones."""
    present = [str(c) for c in frame.columns]
    for column in ("rep_id", "period"):
        if column not in present:
            error("missing-column", f"no column '{column}' in the history", column=column,
                  hint=did_you_mean(column, present) or _listing(present))
    if "attainment" in present:
        return ("attainment",)
    has_actual, has_target = "actual" in present, "target" in present
    if has_actual and has_target:
        return ("actual", "target")
    if has_actual or has_target:
        missing = "target" if has_actual else "actual"
        error("missing-column",
              f"no column '{missing}' in the history (attainment is actual / target)",
              column=missing,
              hint=did_you_mean(missing, present) or _listing(present))
    else:
        error("missing-column",
              "no column 'attainment' in the history (nor 'actual' and 'target')",
              column="attainment",
              hint=did_you_mean("attainment", present)
              or f"give 'attainment' (result / target), or 'actual' and 'target'; "
              f"{_listing(present)}")
    return ()


def _period_labels(frame: pd.DataFrame, ids: np.ndarray, rows: np.ndarray,
                   error: Callable[..., None]) -> tuple[np.ndarray, str | None]:
    """Each row's canonical period label (None where bad), and the history's period kind."""
    codes, uniques = pd.factorize(frame["period"])
    texts = [_cell_text(cell) for cell in uniques]
    kinds: list[str | None] = []
    for text in texts:
        kinds.append(next((k for k in KINDS if text is not None and _parses(text, k)), None))
    rows_per_label = np.bincount(codes[codes >= 0], minlength=len(uniques))
    rows_of_kind = {k: int(sum(rows_per_label[c] for c, kk in enumerate(kinds) if kk == k))
                    for k in KINDS}
    kind = max(KINDS, key=lambda k: rows_of_kind[k]) if any(rows_of_kind.values()) else None
    canonical: list[str | None] = []
    reasons: list[tuple[str, str | None]] = []
    for cell, text, k in zip(uniques, texts, kinds):
        if text is None:
            canonical.append(None)
            reasons.append(("", None))
            continue
        hint = ("the cell holds a date, not a label: format the column as text"
                if isinstance(cell, dt.date) else None)
        if kind is None:
            canonical.append(None)
            message = (f"expected a period label like {_EXAMPLES['month']} (month) or "
                       f"{_EXAMPLES['quarter']} (quarter) (got {text!r})")
            reasons.append((message, hint))
            continue
        try:
            canonical.append(parse_period_label(text, kind).label)
            reasons.append(("", None))
        except ValueError as reason:
            canonical.append(None)
            if k is not None:
                hint = (f"the other periods in the history are {_PLURAL[kind]}: use one period "
                        "length throughout")
            reasons.append((str(reason), hint))
    table = np.array(canonical + [None], dtype=object)
    labels = table[codes]
    for i in np.flatnonzero(pd.isna(labels)):
        code = codes[i]
        rep = ids[i] if not pd.isna(ids[i]) else None
        if code < 0 or texts[code] is None:
            error("missing-value", "'period' is empty", row=int(rows[i]), column="period", rep=rep)
        else:
            message, hint = reasons[code]
            error("bad-period", message, row=int(rows[i]), column="period", rep=rep, hint=hint)
    return labels, kind


def _parses(text: str, kind: str) -> bool:
    try:
        parse_period_label(text, kind)
    except ValueError:
        return False
    return True


def _checked_numbers(frame: pd.DataFrame, column: str, ids: np.ndarray, rows: np.ndarray,
                     error: Callable[..., None], positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """A value column as floats, and where it is usable; reports empty, bad, out-of-range cells."""
    values, empty = _numbers(frame[column])
    finite = np.isfinite(values)
    for i in np.flatnonzero(empty | ~finite | (values <= 0 if positive else values < 0)):
        rep = ids[i] if not pd.isna(ids[i]) else None
        row = int(rows[i])
        if empty[i]:
            error("missing-value", f"'{column}' is empty", row=row, column=column, rep=rep)
        elif not finite[i]:
            got = _cell_text(frame[column].iloc[i])
            error("not-a-number", f"'{column}' must be a finite number (got {got!r})",
                  row=row, column=column, rep=rep)
        elif positive:
            error("not-positive", f"'{column}' must be positive (got {values[i]:g})",
                  row=row, column=column, rep=rep,
                  hint="attainment is actual / target: leave out periods without a target")
        else:
            error("negative-value", f"'{column}' must not be negative (got {values[i]:g})",
                  row=row, column=column, rep=rep,
                  hint="attainment is fitted on a log scale, so a period's result must be 0 or more: "
                       "where credit notes exceed a month's sales, net them against the sales they "
                       "reverse, or give the history by quarter (sum the months; see "
                       "scenarios/data/field_team_history.csv)")
    return values, ~empty & finite & (values > 0 if positive else values >= 0)


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
        return (_to_scale(self.estimate, self.scale) - _to_scale(_prior_centre(self.prior, self.scale),
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
            chi-bar-square :data:`MARKET_LR_NULL`; None when the market is not fitted.
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


class _Panel:
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
_RHO_MAX = 0.99  # the scenario's limits (engine/sim/scenario.py)
_SIGMA_MAX = 2.0
_LOG_MIN = math.log(1e-6)
_MARKET_NAMES = ("year_sigma", "rho", "month_sigma")
_MARKET_SCALES = ("log", "atanh", "log")
_MARKET_PRIOR_SDS = (PRIOR_SD_LOG_YEAR_SIGMA, PRIOR_SD_ATANH_RHO, PRIOR_SD_LOG_MONTH_SIGMA)


def _to_scale(value: float, scale: str) -> float:
    return math.log(value) if scale == "log" else math.atanh(value)


def _prior_centre(value: float, scale: str) -> float:
    """The natural value the prior is centred on (sigmas floored, rho within its limits)."""
    return max(value, PRIOR_FLOOR) if scale == "log" else min(max(value, 0.0), _RHO_MAX)


class _Moments:
    """What the profiled likelihood needs at one set of variances."""

    __slots__ = ("logdet", "xvx", "xvy", "yvy")

    def __init__(self, logdet: float, yvy: float, xvy: np.ndarray, xvx: np.ndarray):
        self.logdet, self.yvy, self.xvy, self.xvx = logdet, yvy, xvy, xvx


class _Crossed:
    """The panel with period effects: ``u`` over the periods, ``u ~ N(0, A C(theta) A')``.

    Variances are natural: ``(sa2, s2, year_sigma, rho, month_sigma)``. The fixed effects
    are one per period of the year: ``X = Z_u H`` with ``H`` the period-to-group indicator.
    """

    def __init__(self, panel: _Panel, period: np.ndarray, group_of_period: np.ndarray,
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


def _natural(x: np.ndarray) -> tuple[float, float, tuple[float, float, float]]:
    """``(sa2, s2, theta)`` from ``(log sigma_skill, log s, log year_sigma, atanh rho, log
    month_sigma)`` (``log sigma_skill = -inf``: 0)."""
    sa2 = math.exp(2 * x[0]) if math.isfinite(x[0]) else 0.0
    return sa2, math.exp(2 * x[1]), (math.exp(x[2]), math.tanh(x[3]), math.exp(x[4]))


class _MarketFit:
    """The penalized (MAP) fit of the crossed model, and the ML one behind the LR test."""

    def __init__(self, crossed: _Crossed, prior: MarketModel):
        self.crossed = crossed
        values = (prior.year_sigma, prior.rho, prior.month_sigma)
        self.centre = np.array([_to_scale(_prior_centre(v, sc), sc)
                                for v, sc in zip(values, _MARKET_SCALES)])
        self.sd = np.array(_MARKET_PRIOR_SDS)

    def penalty(self, x: np.ndarray) -> float:
        """Minus the log prior density of the market parameters (up to a constant)."""
        return 0.5 * float(np.sum(((np.asarray(x[2:5]) - self.centre) / self.sd) ** 2))

    def objective(self, x: np.ndarray) -> float:
        """Minus the log posterior of ``x`` (up to a constant): the restricted nll plus the
        prior."""
        sa2, s2, theta = _natural(x)
        return self.crossed.profile(sa2, s2, theta, restricted=True) + self.penalty(x)

    def full(self, t: np.ndarray, boundary: bool) -> float:
        """The penalized objective in ``(beta, [log sigma_skill], log s, log ys, atanh rho,
        log ms)`` (sigma_skill left out at the boundary): the nll plus the restricted
        likelihood's ``logdet(X' V^-1 X) / 2`` plus the prior. Minimizing it over ``beta``
        gives the GLS effects and leaves :meth:`objective`, so the posterior mode with the
        GLS effects is its minimum and its inverse Hessian holds the standard errors."""
        g = self.crossed.panel.n_groups
        x = np.concatenate([[-math.inf], t[g:]]) if boundary else t[g:]
        sa2, s2, theta = _natural(x)
        xvx = self.crossed.moments(sa2, s2, theta).xvx
        return (self.crossed.nll(t[:g], sa2, s2, theta) + self.penalty(x)
                + 0.5 * float(np.linalg.slogdet(xvx)[1]))

    def fit(self, phi0: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        """``(x, penalized objective, converged, sigma_skill at 0)`` at the posterior mode."""
        log_s = float(phi0[1])
        log_sa = float(phi0[0]) if math.isfinite(phi0[0]) else log_s - 1.0
        lo_hi = [(_LOG_MIN, math.log(20.0)), (_LOG_MIN, math.log(20.0)),
                 (_LOG_MIN, math.log(_SIGMA_MAX)), (0.0, math.atanh(_RHO_MAX)),
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
        sa2, s2, theta = _natural(x)
        start = np.array([math.sqrt(sa2), 0.5 * math.log(s2), *theta])

        def nll(q: np.ndarray) -> float:
            return self.crossed.profile(q[0] ** 2, math.exp(2 * q[1]), tuple(q[2:5]),
                                        restricted)

        bounds = [(0.0, 20.0), (_LOG_MIN, math.log(20.0)), (0.0, _SIGMA_MAX), (0.0, _RHO_MAX),
                  (0.0, _SIGMA_MAX)]
        best = optimize.minimize(nll, start, method="L-BFGS-B", bounds=bounds)
        null = optimize.minimize(lambda q: nll(np.concatenate([q, [0.0, 0.0, 0.0]])), start[:2],
                                 method="L-BFGS-B", bounds=bounds[:2])
        alternative = min(float(best.fun), nll(start), float(null.fun))
        return max(2.0 * (float(null.fun) - alternative), 0.0)


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
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
        history: what :func:`load_history` returned, or anything it accepts (it is checked
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
        DataErrors: as :func:`load_history`; also ``too-few-reps`` / ``too-few-periods``
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

    panel = _Panel(y, rep_codes, groups, len(rep_ids), g)
    beta, phi, nll, converged = panel.fit()  # the model without period effects
    separable = len(period_labels) > g  # some period of the year seen in two fiscal years
    n_years = len({p.fiscal_year for p in infos})

    lr = lr_df = lr_p = None
    market, theta_cov = prior, None
    period_var = 0.0
    rho_at_limit = False
    if separable:
        months, years = _period_months(infos, length)
        crossed = _Crossed(panel, period_codes, group_of_period, months, years, length)
        fitter = _MarketFit(crossed, prior)
        x, _, converged, at_boundary = fitter.fit(phi)
        sa2, s2, theta = _natural(x)
        beta = crossed.gls(sa2, s2, theta)
        nll = crossed.nll(beta, sa2, s2, theta)
        log_sa, log_s = float(x[0]), float(x[1])
        # Standard errors: inverse Hessian of the penalized objective in (beta, log sa, log s,
        # log ys, atanh rho, log ms); at sigma_skill = 0 without log sa.
        free = [i for i in range(g + 5) if not (at_boundary and i == g)]
        cov = np.zeros((g + 5, g + 5))
        t = np.concatenate([beta, x])[free]
        cov[np.ix_(free, free)] = _inverse(_hessian(lambda v: fitter.full(v, at_boundary), t))
        market = MarketModel(*theta, team_share=prior.team_share)
        period_var = crossed.period_var(theta)
        theta_cov = cov[g + 2:, g + 2:]
        rho_at_limit = theta[1] < 1e-3 or theta[1] > _RHO_MAX - 1e-3
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
            cov[np.ix_(free, free)] = _inverse(_hessian(
                lambda t: panel.nll(t[:-1], -math.inf, t[-1]), np.append(beta, log_s)))
        else:
            cov = _inverse(_hessian(lambda t: panel.nll(t[:-2], t[-2], t[-1]),
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
            lambda v: crossed.period_var(_natural(np.concatenate([[0.0, 0.0], v]))[2]), x[2:])
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
        labels.append(_MONTH_NAMES[months_of[0] - 1] if length == 1
                      else f"{_MONTH_NAMES[months_of[0] - 1]}-{_MONTH_NAMES[months_of[-1] - 1]}")

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
    """The p-value of the market's LR statistic under :data:`MARKET_LR_NULL`."""
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
            zip(_MARKET_NAMES, values, priors, _MARKET_SCALES, _MARKET_PRIOR_SDS)):
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


def _inverse(hess: np.ndarray) -> np.ndarray:
    """The inverse of a positive definite Hessian; NaN when it is not one."""
    try:
        np.linalg.cholesky(hess)
        return np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.full_like(hess, np.nan)


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
        missing = [_MONTH_NAMES[m - 1] for m in range(1, 13) if m not in cal.months_present]
        out.append(f"the history does not cover {', '.join(missing)}: seasonality 1.0 there")
    groups = len(cal.season_labels)
    if groups > 1 and once * 2 > groups:
        out.append(f"{once} of the {groups} {_PLURAL[cal.period_kind]} of the year appear in "
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
                       f"allows 0 to {_RHO_MAX:g}): its standard error is not meaningful")
        for p in cal.market_parameters:
            if math.isfinite(p.shift) and abs(p.shift) > 2.0:
                out.append(f"the history's market {p.name} is far from the prior: the estimate "
                           f"{p.estimate:.3g} is {abs(p.shift):.1f} prior sds "
                           f"{'above' if p.shift > 0 else 'below'} the prior's centre "
                           f"{_prior_centre(p.prior, p.scale):.3g}, which still pulls it that way")
    if cal.months_per_period > 1:
        out.append(f"the monthly noise sigma ({cal.monthly_noise_sigma:.3f}) is derived from "
                   f"the {_ADJECTIVE[cal.period_kind]} one ({cal.noise_sigma:.3f}) assuming "
                   "independent months")
    if cal.residual_ks_pvalue < _SIGNIFICANT:
        out.append(f"the standardized residuals are not normal (KS p = "
                   f"{cal.residual_ks_pvalue:.2g}): the lognormal noise misstates the tails")
    if cal.rep_means_ks_pvalue < _SIGNIFICANT:
        out.append(f"the per-rep mean attainments differ from those the fit predicts (KS p = "
                   f"{cal.rep_means_ks_pvalue:.2g}): skill may not be lognormal")
    return out


# --------------------------------------------------------------------------- report


def calibration_report(cal: Calibration) -> str:
    """A readable report of a calibration: parameters, fit statistics and warnings.

    Args:
        cal: what :func:`fit_history` returned.

    Returns:
        Plain text, one item per line, ending with a newline.
    """
    per = cal.period_kind
    lines = [
        f"Calibration of {cal.source}",
        (f"  {cal.n_reps} reps, {cal.n_periods} {_ADJECTIVE[per]} periods ({cal.first_period} "
         f"to {cal.last_period}), {cal.n_observations} rep-periods; periods per rep "
         f"{cal.periods_per_rep[0]}-{cal.periods_per_rep[2]} (median {cal.periods_per_rep[1]:g})"),
        f"  zero attainments left out of the fit: {cal.zeros_dropped}",
        "",
        "Parameters (estimate ± standard error)",
        _row("sigma_skill", f"{_pm(cal.sigma_skill, cal.sigma_skill_se)}",
             "spread of log skill between reps (skill = exp(a), median 1)"),
        _row(f"noise sigma ({per})", f"{_pm(cal.noise_sigma, cal.noise_sigma_se)}",
             f"noise of log attainment in one {per}, independent between reps"),
    ]
    if cal.months_per_period > 1:
        lines.append(_row("noise sigma (month)",
                          _pm(cal.monthly_noise_sigma, cal.monthly_noise_sigma_se),
                          f"gives that {_ADJECTIVE[per]} noise if months are independent"))
    lines += [
        _row("level", _pm(cal.level, cal.level_se),
             "expected attainment of a median-skill rep under the historical plan"),
        "",
    ]
    if len(cal.season_labels) > 1:
        lines.append(f"Seasonality (mean 1 over the {_PLURAL[per]} of the year present)")
        cells = [f"{label} {_pm(f, se)}" for label, f, se in
                 zip(cal.season_labels, cal.season_factors, cal.season_factors_se)]
        for i in range(0, len(cells), 4):
            lines.append("  " + "   ".join(f"{c:<20}" for c in cells[i:i + 4]).rstrip())
    else:
        lines.append(f"Seasonality: none (one {per} of the year: {cal.season_labels[0]})")
    lines += ["", *_market_report(cal)]
    obs, pred = cal.rep_means_observed, cal.rep_means_predicted
    lines += [
        "",
        "Fit",
        _row("log-likelihood", f"{cal.log_likelihood:.1f}",
             f"of log attainment at the estimates, k = {cal.n_parameters} parameters"),
        _row("AIC", f"{cal.aic:.1f}", "2k - 2 log-likelihood: lower is better, same history only"),
        _row("BIC", f"{cal.bic:.1f}", "k ln(n) - 2 log-likelihood: as AIC, penalizing k more"),
        _row("ICC", f"{cal.icc:.3f}",
             "share of log-attainment variance due to lasting skill differences"),
        _row("residual KS", f"D {cal.residual_ks_statistic:.3f}, p {_p(cal.residual_ks_pvalue)}",
             "standardized residuals vs normal (p < 0.01: noise not lognormal)"),
        _row("rep means KS", f"D {cal.rep_means_ks_statistic:.3f}, p {_p(cal.rep_means_ks_pvalue)}",
             f"per-rep mean attainment vs {cal.simulations} teams simulated from the fit "
             f"(seed {cal.seed})"),
        _row("", "", f"p10/p50/p90 observed {obs[0]:.2f}/{obs[1]:.2f}/{obs[2]:.2f}, "
             f"predicted {pred[0]:.2f}/{pred[1]:.2f}/{pred[2]:.2f}"),
    ]
    if cal.period_effects_pvalue is not None:
        lines.append(_row("market LR",
                          f"LR {cal.period_effects_lr:.1f}, p {_p(cal.period_effects_pvalue)}",
                          "team-wide market vs none (restricted likelihoods, chi-bar-square "
                          "of 2 variances)"))
    else:
        lines.append(_row("market LR", "n/a",
                          "each period is its own period of the year: not testable"))
    lines += ["", "Warnings" if cal.warnings else "Warnings: none"]
    lines += [f"  - {w}" for w in cal.warnings]
    return "\n".join(lines) + "\n"


def _market_report(cal: Calibration) -> list[str]:
    """The market section of the report: each parameter, its se, its prior, what the data did."""
    m = cal.market
    if not cal.market_fitted:
        return [
            ("Market: not fitted (one fiscal year: every period is its own period of the year, "
             "so team-wide swings cannot be told apart from seasonality)"),
            (f"  the given market is kept: year_sigma {m.year_sigma:g}, rho {m.rho:g}, "
             f"month_sigma {m.month_sigma:g}, team_share {m.team_share:g} (total sd "
             f"{cal.market_sd:.3f} per month)"),
        ]
    lines = [(f"Market (fitted to {cal.n_fiscal_years} fiscal years: separable from "
              "seasonality; posterior mode, prior centred on the given market)")]
    for p in cal.market_parameters:
        moved = (f"data removed {p.learned:.0%} of the prior variance"
                 if math.isfinite(p.learned) else "posterior sd n/a")
        lines.append(_row(p.name, _pm(p.estimate, p.se),
                          f"prior {p.prior:.3g} (sd {p.prior_sd:g} on the {p.scale} scale); "
                          f"{moved}"))
    lines.append(_row("total sd (month)", _pm(cal.market_sd, cal.market_sd_se),
                      "sd of the log demand factor of one month (shared by every rep)"))
    lines.append(_row("team_share", f"{m.team_share:g}", "not fitted: the given market's"))
    return lines


def _row(name: str, value: str, meaning: str) -> str:
    return f"  {name:<21} {value:<23} {meaning}".rstrip()


def _pm(value: float, se: float) -> str:
    return f"{value:.3f} ± {se:.3f}" if math.isfinite(se) else f"{value:.3f} ± n/a"


def _p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


# --------------------------------------------------------------------------- writing


def write_calibrated_scenario(cal: Calibration, out_path: str | os.PathLike[str],
                              base: str | os.PathLike[str] | None = None,
                              name: str | None = None) -> Path:
    """Write a runnable scenario: a base scenario with the fitted values put in.

    Sets ``reps.skill`` to ``{dist: lognormal, median: 1.0, sigma: <sigma_skill>}``; on the
    primary output, ``level``, ``noise: lognormal`` and ``sigma: <monthly noise sigma>``
    (dropping ``deals_per_month`` and ``size_sigma``); ``seasonality`` to the 12 fitted
    monthly factors; ``market`` to ``cal.market`` (the fitted year_sigma, rho and
    month_sigma, or the market the fit kept; the base's key is replaced, flow or block style,
    or added after ``seasonality``, with a comment giving the standard errors and the
    history; a base market the fit kept unfitted stays as written); and ``scenario`` to
    ``name``. Everything else, comments included, is the base file's text; the base's opening
    comment becomes a fit summary. Fit with ``market_prior=load_scenario(base).market`` so
    that the prior, and the market kept from one fiscal year, are the base's. The result is
    validated before it is written, atomically (a failure leaves no file behind).

    Args:
        cal: what :func:`fit_history` returned.
        out_path: where to write the YAML (parent folders are created).
        base: path of the base scenario; the built-in default scenario when None.
        name: the scenario's name; ``calibrated_<history file stem>`` when None.

    Returns:
        The path written.

    Raises:
        PlanErrors: the base scenario is invalid, or ``name`` is not a valid identifier.
    """
    base_path = Path(base) if base is not None else DEFAULT_SCENARIO
    base_scenario = load_scenario(base_path)  # validates the base
    text = base_path.read_text(encoding="utf-8")
    if name is None:
        name = "calibrated_" + re.sub(r"\W", "_", Path(cal.source).stem)
    base_name = "the built-in default scenario" if base is None else str(base)
    out = Path(out_path)
    editor = _Editor(text)
    editor.move_roster(base_path, out)
    new_text = editor.calibrated(cal, base_scenario.primary_measure, base_scenario.outputs, name,
                                 base_name, base_scenario.market)
    parse_scenario(new_text, str(out))  # never write a scenario that does not load
    write_text_atomic(out, new_text)
    return out


def _num(x: float) -> str:
    """A number as YAML reads it back as a float: positional, 4 significant digits."""
    return np.format_float_positional(float(x), precision=4, unique=False, fractional=False,
                                      trim="0")


def _market_comment(cal: Calibration) -> list[str]:
    """The comment above a written ``market`` key: the model, and where the values come from."""
    prior = cal.market_prior
    text = ("The market moves every rep of a run together: each month's demand is multiplied by "
            "exp(x - var/2), x = a plan-year level shock (sd year_sigma) + an AR(1) monthly part "
            "(coefficient rho, innovation sd month_sigma). ")
    if cal.market_fitted:
        ys, rho, ms = cal.market_parameters
        text += (f"Fitted to {cal.source} ({cal.n_fiscal_years} fiscal years; posterior mode, "
                 f"prior centred on year_sigma {prior.year_sigma:g}, rho {prior.rho:g}, month_sigma "
                 f"{prior.month_sigma:g}): year_sigma {ys.estimate:.3f} (se {ys.se:.3f}), rho "
                 f"{rho.estimate:.2f} (se {rho.se:.2f}), month_sigma {ms.estimate:.3f} (se "
                 f"{ms.se:.3f}); total sd of a month's log factor {cal.market_sd:.3f} (se "
                 f"{cal.market_sd_se:.3f}). team_share is not fitted.")
    else:
        text += (f"Not fitted: {cal.source} covers one fiscal year, where the market cannot be "
                 "told apart from seasonality; these are the values the fit was given.")
    return textwrap.wrap(text, 86, break_on_hyphens=False)


def _seasonality_text(factors: Sequence[float], decimals: int = 4) -> list[str]:
    """Factors rounded so that they still average exactly 1 (largest remainders), so that the
    scenario does not renormalize them and months at 1.0 stay 1.0."""
    scale = 10 ** decimals
    units = np.asarray(factors, dtype=float) * scale
    rounded = np.floor(units + 1e-9)
    short = round(len(units) * scale - float(rounded.sum()))
    order = np.argsort(-(units - rounded), kind="stable")
    rounded[order[:short]] += 1
    texts = [f"{u / scale:.{decimals}f}".rstrip("0") for u in rounded]
    return [t + "0" if t.endswith(".") else t for t in texts]


class _Editor:
    """Text edits on a YAML file, located with PyYAML's node marks (comments survive)."""

    def __init__(self, text: str):
        self.text = text if text.endswith("\n") else text + "\n"
        self.root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        self.edits: list[tuple[int, int, int, str]] = []
        self.body = 0  # where the opening comment block ends
        while self.body < len(self.text):
            line = self.text[self.body:self.line_end(self.body)].strip()
            if line and not line.startswith("#"):
                break
            self.body = self.line_end(self.body)

    # -- locating ---------------------------------------------------------------------

    @staticmethod
    def item(mapping: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
        if not isinstance(mapping, yaml.MappingNode):
            return None
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
        return None

    def end(self, node: yaml.Node) -> int:
        """Where a node's text ends (a block collection's last value, not the comments after)."""
        if isinstance(node, yaml.ScalarNode):
            return node.end_mark.index
        assert isinstance(node, yaml.CollectionNode)  # a composed node is a scalar, a sequence or a mapping
        if node.flow_style or not node.value:
            return node.end_mark.index
        last = node.value[-1]
        return self.end(last[1] if isinstance(node, yaml.MappingNode) else last)

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """Index just past the newline ending the line holding ``index``."""
        return self.text.index("\n", index) + 1

    # -- editing ----------------------------------------------------------------------

    def edit(self, start: int, end: int, new: str) -> None:
        """Replace ``text[start:end]``; insertions at one place keep the order they were made."""
        self.edits.append((start, end, len(self.edits), new))

    def replace(self, node: yaml.Node, new: str, comment: str | None = None) -> None:
        """Replace a value; ``comment`` replaces the comment after it on its line."""
        start, end = node.start_mark.index, self.end(node)
        rest_end = self.line_end(end) - 1
        rest = self.text[end:rest_end]
        if comment is None or (rest.strip() and not rest.strip().startswith("#")):
            self.edit(start, end, new)
            return
        line = self.text[self.line_start(start):start] + new
        column = len(self.text[self.line_start(end):end]) + rest.find("#") if "#" in rest else 0
        pad = max(column - len(line), 2) if "#" in rest else 2
        self.edit(start, rest_end, new + " " * pad + "# " + comment)

    def comments_above(self, key: yaml.Node, lines: Sequence[str]) -> None:
        """Replace the comment lines right above a key (same indentation) with ``lines``."""
        first = self.line_start(key.start_mark.index)
        indent = self.text[first:key.start_mark.index]
        start = first
        while start > self.body:  # the opening comment is the header's
            prev = self.line_start(start - 1)
            if not self.text[prev:start].strip().startswith("#") or \
                    not self.text[prev:start].startswith(indent + "#"):
                break
            start = prev
        self.edit(start, first, "".join(f"{indent}# {t}\n" for t in lines))

    def set_key(self, mapping: yaml.MappingNode, key: str, value: str,
                comment: str | None = None) -> None:
        """Set ``key`` in a block mapping: replace its value, or add a line after the last key."""
        found = self.item(mapping, key)
        if found is not None:
            self.replace(found[1], value, comment)
            return
        indent = " " * mapping.value[0][0].start_mark.column
        at = self.line_end(self.end(mapping))
        line = f"{indent}{key}: {value}"
        if comment:
            line += " " * max(self.comment_column(mapping) - len(line), 2) + "# " + comment
        self.edit(at, at, line + "\n")

    def comment_column(self, mapping: yaml.MappingNode) -> int:
        """The column most comments after the values of a block mapping start at (0: none)."""
        columns = []
        for _, v in mapping.value:
            end = self.end(v)
            rest = self.text[end:self.line_end(end)]
            if rest.strip().startswith("#"):
                columns.append(end - self.line_start(end) + rest.index("#"))
        return max(set(columns), key=columns.count) if columns else 0

    def remove_key(self, mapping: yaml.MappingNode, key: str) -> None:
        """Remove a one-line ``key: value`` from a block mapping (with its comment)."""
        found = self.item(mapping, key)
        if found is None:
            return
        k, v = found
        start = self.line_start(k.start_mark.index)
        end = self.line_end(self.end(v))
        self.edit(start, end, "")

    def apply(self) -> str:
        text = self.text
        last = len(text) + 1
        for start, end, _, new in sorted(self.edits, reverse=True):
            if end > last:  # pragma: no cover - the edits are built not to overlap
                raise ValueError("overlapping edits")
            text = text[:start] + new + text[end:]
            last = start
        return text

    # -- the calibration ----------------------------------------------------------------

    def move_roster(self, base: Path, out: Path) -> None:
        """Keep a relative ``team.roster`` pointing at the same file from the new location."""
        team = self.item(self.root, "team")
        roster = self.item(team[1], "roster") if team is not None else None
        if roster is None or not isinstance(roster[1].value, str) or \
                Path(roster[1].value).is_absolute():
            return
        target = (base.parent / roster[1].value).resolve()
        try:
            moved = os.path.relpath(target, out.parent.resolve())
        except ValueError:  # another drive (Windows)
            moved = str(target)
        self.replace(roster[1], json.dumps(moved))

    def calibrated(self, cal: Calibration, primary: str, outputs: Sequence[Output], name: str,
                   base_name: str, base_market: MarketModel) -> str:
        root = self.root
        if not isinstance(root, yaml.MappingNode):  # pragma: no cover - load_scenario checked
            raise TypeError("a scenario must be a mapping")
        self.header(cal, base_name, primary)

        scen = self.item(root, "scenario")
        if scen is not None:
            self.replace(scen[1], name)
        # The base's label describes the base ("120 reps..."); say what this scenario is.
        label = self.item(root, "label")
        base_label = str(label[1].value) if label is not None and isinstance(label[1], yaml.ScalarNode) else ""
        new_label = (f"Calibrated to {Path(cal.source).name} ({cal.n_reps} reps, {cal.first_period} to "
                     f"{cal.last_period})" + (f"; team and behaviour of: {base_label}" if base_label else ""))
        quoted = json.dumps(new_label, ensure_ascii=False)
        if label is not None:
            self.replace(label[1], quoted)
        elif isinstance(root, yaml.MappingNode) and not root.flow_style:
            self.set_key(root, "label", quoted)

        skill = (f"{{dist: lognormal, median: 1.0, sigma: {_num(cal.sigma_skill)}}}")
        skill_note = [
            ("Productivity multiplier: expected output at baseline effort = level x quota/12 "
             "x skill."),
            (f"Fitted to {cal.source}: sigma is the spread of log attainment between reps (se "
             f"{cal.sigma_skill_se:.3f})."),
        ]
        reps = self.item(root, "reps")
        if reps is not None and isinstance(reps[1], yaml.MappingNode) and not reps[1].flow_style:
            found = self.item(reps[1], "skill")
            if found is not None:
                self.comments_above(found[0], skill_note)
            self.set_key(reps[1], "skill", skill)
        elif reps is not None and isinstance(reps[1], yaml.MappingNode):
            self.replace_flow(reps[1], {"skill": skill}, ())
        elif reps is not None:  # `reps:` with nothing under it
            self.replace(reps[1], f"{{skill: {skill}}}")
        else:
            self.append("reps:\n" + "".join(f"  # {t}\n" for t in skill_note)
                        + f"  skill: {skill}\n")

        self.primary_output(cal, primary, outputs)

        months = ", ".join(_seasonality_text(cal.seasonality))
        missing = [_MONTH_NAMES[m - 1] for m in range(1, 13) if m not in cal.months_present]
        season_note = [f"Monthly demand factors, January first (mean 1), fitted to {cal.source}."]
        if missing:
            season_note.append(f"Months not in the history ({', '.join(missing)}): 1.0.")
        season = self.item(root, "seasonality")
        if season is not None:
            self.comments_above(season[0], season_note)
            self.replace(season[1], f"[{months}]")
        else:
            self.append("".join(f"# {t}\n" for t in season_note) + f"seasonality: [{months}]\n")
        self.market(cal, base_market, season[1] if season is not None else None)
        return self.apply()

    def market(self, cal: Calibration, base_market: MarketModel,
               season: yaml.Node | None) -> None:
        """Write ``cal.market`` into the ``market`` key (after ``seasonality`` if the base has
        none); a base's market the fit kept (not fitted) stays as it is written."""
        m = cal.market
        if not cal.market_fitted and m == base_market:
            return
        values = {"year_sigma": _num(m.year_sigma), "rho": _num(m.rho),
                  "month_sigma": _num(m.month_sigma), "team_share": _num(m.team_share)}
        notes = _market_comment(cal)
        found = self.item(self.root, "market")
        if found is not None:
            key, node = found
            self.comments_above(key, notes)
            if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
                ses = {p.name: p.se for p in cal.market_parameters}
                for k, v in values.items():
                    comment = (f"fitted (se {ses[k]:.3g})" if cal.market_fitted and k in ses
                               else "not fitted")
                    self.set_key(node, k, v, comment)
            else:
                self.replace(node, "{" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}")
            return
        block = ("".join(f"# {t}\n" for t in notes) + "market: {"
                 + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}\n")
        if season is not None:
            at = self.line_end(self.end(season))
            self.edit(at, at, "\n" + block)
        else:
            self.append(block)

    def header(self, cal: Calibration, base_name: str, primary: str) -> None:
        """Replace the opening comment block with a summary of the fit (no date)."""
        sigma = (f"{cal.noise_sigma:.3f} per {cal.period_kind} = {cal.monthly_noise_sigma:.3f} "
                 "per month" if cal.months_per_period > 1 else f"{cal.noise_sigma:.3f} per month")
        summary = (
            f"Calibrated scenario: {base_name} fitted to the history in {cal.source} "
            f"(`incentive\0calibrate`). Fit: {cal.n_reps} reps, {cal.n_periods} "
            f"{_ADJECTIVE[cal.period_kind]} periods ({cal.n_observations} rep-periods, "
            f"{cal.zeros_dropped} zero attainments left out); sigma_skill {cal.sigma_skill:.3f}, "
            f"noise sigma {sigma}, level {cal.level:.3f}, market sd {cal.market_sd:.3f} per month"
            f"{'' if cal.market_fitted else ' (not fitted)'}, residual KS p-value "
            f"{_p(cal.residual_ks_pvalue)}. Fitted keys: reps.skill, outputs.{primary} (level, "
            "noise), seasonality"
            + (", market (year_sigma, rho, month_sigma); the rest is the base scenario's."
               if cal.market_fitted else
               "; the market is the one the fit was given (one fiscal year does not separate it "
               "from seasonality), the rest the base scenario's.")
            + " The level includes the effort reps gave under the plan the history was paid "
            "under."
        )
        lines = [line.replace("\0", " ") for line in
                 textwrap.wrap(summary, 88, break_on_hyphens=False)]
        self.edit(0, self.body, "".join(f"# {t}\n" for t in lines) + "\n")

    def primary_output(self, cal: Calibration, primary: str, outputs: Sequence[Output]) -> None:
        adjective = _ADJECTIVE[cal.period_kind]
        sigma_note = (f"fitted monthly noise (se {cal.monthly_noise_sigma_se:.3f})"
                      if cal.months_per_period == 1 else
                      f"monthly, from the fitted {adjective} {cal.noise_sigma:.3f} (independent "
                      "months)")
        level_note = (f"fitted (se {cal.level_se:.3f}): median-skill rep's attainment in the "
                      "history")
        values = {"level": (_num(cal.level), level_note),
                  "noise": ("lognormal", "fitted to the history"),
                  "sigma": (_num(cal.monthly_noise_sigma), sigma_note)}
        drop = ("deals_per_month", "size_sigma")
        outs = self.item(self.root, "outputs")
        node = self.item(outs[1], primary) if outs is not None else None
        if node is None:
            # The base relies on the default outputs: write them out with the fitted values.
            block = ["outputs:"]
            for o in outputs:
                params = dict(o.params)
                if o.name == primary:
                    for key in drop:
                        params.pop(key, None)
                    params.update({k: v for k, (v, _) in values.items()})
                block.append(f"  {o.name}:")
                block.append(f"    kind: {o.kind}")
                block.append(f"    activity: {o.activity}")
                block += [f"    {k}: {_num(v) if isinstance(v, float) else v}"
                          for k, v in params.items()]
            self.append("\n".join(block) + "\n")
            return
        mapping = node[1]
        assert isinstance(mapping, yaml.MappingNode)  # the base scenario is valid: an output is a mapping
        if mapping.flow_style:
            self.replace_flow(mapping, {k: v for k, (v, _) in values.items()}, drop)
            return
        for key in drop:
            self.remove_key(mapping, key)
        for key, (value, comment) in values.items():
            self.set_key(mapping, key, value, comment)

    def replace_flow(self, mapping: yaml.MappingNode, values: dict[str, str],
                     drop: Sequence[str]) -> None:
        """Rewrite a flow mapping ``{...}`` with keys set and dropped."""
        items = {k.value: self.text[v.start_mark.index:self.end(v)] for k, v in mapping.value
                 if k.value not in drop}
        items.update(values)
        self.edit(mapping.start_mark.index, mapping.end_mark.index,
                           "{" + ", ".join(f"{k}: {v}" for k, v in items.items()) + "}")

    def append(self, block: str) -> None:
        at = len(self.text)
        self.edit(at, at, "\n" + block)
