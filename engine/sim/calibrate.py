"""Calibrate a scenario to a team's own history (simulation-model.md, item 6).

The history is one row per rep and period: ``rep_id``, ``period`` (``2026-03`` monthly,
``2026-Q1`` quarterly; half-years and years work too) and ``attainment`` (result / target),
or ``actual`` and ``target`` instead of ``attainment``. The model of log attainment is a
one-way random-effects model with period-of-year fixed effects::

    log(attainment[i, t]) = mu + log(season[t]) + a[i] + e[i, t]
    a[i] ~ N(0, sigma_skill^2)             skill = exp(a[i]), median 1
    e[i, t] ~ N(-s^2 / 2, s^2)             period noise, mean 1 on the attainment scale

fitted by maximum likelihood (the exact marginal likelihood of each rep's periods, so reps
may have different numbers of periods). Seasonality is one factor per period of the year
present in the history, normalized to mean 1; ``level = exp(mu)`` is the expected attainment
of a median-skill rep under the plan the history was paid under. This is the simulator's
production model (``engine/sim/behaviour.py``) at baseline effort with ``noise: lognormal``:
a calibrated scenario reproduces the history's spread, noise and seasonality.

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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import optimize, stats

from engine.core.atomic import write_text_atomic
from engine.core.errors import DataError, DataErrors
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
from engine.sim.scenario import DEFAULT_SCENARIO, Output, load_scenario, parse_scenario

__all__ = [
    "MIN_PERIODS",
    "MIN_REPS",
    "Calibration",
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
class Calibration:
    """The fitted model of a team's history and how well it fits.

    Parameters are on the attainment scale of the history's periods unless said otherwise;
    ``*_se`` are standard errors from the inverse Hessian of the negative log-likelihood
    (delta method for derived values; NaN where the Hessian is not usable).

    Attributes:
        source: the history file as named (``history`` for a DataFrame).
        period_kind: ``month``, ``quarter``, ``half`` or ``year``.
        months_per_period: 1, 3, 6 or 12.
        n_reps: reps fitted (reps whose every attainment is 0 are left out).
        n_periods: distinct periods fitted.
        n_observations: rep-periods fitted.
        first_period, last_period: the history's range.
        periods_per_rep: (min, median, max) periods per rep.
        zeros_dropped: attainments of 0 left out of the fit.
        reps_dropped: reps left out because every attainment of theirs is 0.
        sigma_skill: standard deviation of log skill between reps.
        noise_sigma: period noise sigma (log scale) at the history's period length.
        monthly_noise_sigma: the same for one month (= noise_sigma for monthly history).
        level: expected attainment of a median-skill rep, averaged over the periods of
            the year present (under the plan the history was paid under).
        season_labels: the periods of the year present (``Jan``, ``Apr-Jun``...).
        season_factors: their factors (mean 1).
        seasonality: 12 monthly factors, January first; 1.0 for months not in the history.
        months_present: calendar months (1-12) the history covers.
        log_likelihood: maximized log-likelihood of log attainment.
        n_parameters: parameters fitted (season factors, level, sigma_skill, noise sigma).
        aic, bic: ``2k - 2 LL`` and ``k ln(n) - 2 LL``.
        icc: share of the variance of log attainment due to skill.
        residual_ks_statistic, residual_ks_pvalue: Kolmogorov-Smirnov test of the
            standardized (decorrelated) residuals against N(0, 1).
        rep_means_ks_statistic, rep_means_ks_pvalue: two-sample KS test of each rep's mean
            attainment against those of ``simulations`` teams simulated from the fit.
        rep_means_observed, rep_means_predicted: (p10, p50, p90) of per-rep mean attainment.
        period_effects_lr, period_effects_df, period_effects_pvalue: likelihood-ratio test
            of one effect per period against seasonality alone (team-wide shocks or a trend);
            None when every period is its own period of the year.
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


class _Panel:
    """Log attainments with their rep and group codes (period of the year, or period), and
    the per-rep sums the likelihood needs."""

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


def fit_history(history: TableSource, *, seed: int = 2027, simulations: int = 50) -> Calibration:
    """Fit skill dispersion, noise and seasonality to a history by maximum likelihood.

    Args:
        history: what :func:`load_history` returned, or anything it accepts (it is checked
            again; the calendar is the one of ``load_history``'s ``fiscal_year_start``).
        seed: seed of the simulated teams behind the per-rep-means test (the fit itself is
            deterministic).
        simulations: how many teams to simulate for that test.

    Returns:
        The fitted :class:`Calibration`.

    Raises:
        DataErrors: as :func:`load_history`; also ``too-few-reps`` / ``too-few-periods``
            when too little is left once zero attainments are dropped.
    """
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

    panel = _Panel(y, rep_codes, groups, len(rep_ids), len(group_months))
    beta, phi, nll, converged = panel.fit()
    log_sa, log_s = float(phi[0]), float(phi[1])
    sa, s = math.exp(log_sa), math.exp(log_s)
    k = panel.n_groups + 2
    n_obs = len(y)

    g = panel.n_groups
    # Standard errors: inverse Hessian of the full likelihood in (beta, log sa, log s); at
    # sigma_skill = 0 (a boundary) that of (beta, log s) with sigma_skill fixed.
    at_boundary = not math.isfinite(log_sa)
    if at_boundary:
        free = [*range(g), g + 1]
        cov = np.zeros((g + 2, g + 2))
        cov[np.ix_(free, free)] = _inverse(_hessian(
            lambda t: panel.nll(t[:-1], -math.inf, t[-1]), np.append(beta, log_s)))
    else:
        cov = _inverse(_hessian(lambda t: panel.nll(t[:-2], t[-2], t[-1]),
                                np.concatenate([beta, phi])))

    # Derived values: expected attainment of a median-skill rep per period of the year.
    expected = np.exp(beta + s * s / 2)
    level = float(expected.mean())
    factors = expected / level
    grad_level = np.concatenate([expected / g, [0.0, level * s * s]])
    level_se = _delta(grad_level, cov)
    factors_se = []
    for j in range(g):
        grad = np.zeros(g + 2)
        grad[:g] = -factors[j] * expected / (g * level)
        grad[j] += factors[j]
        factors_se.append(_delta(grad, cov))
    sa_se = sa * math.sqrt(cov[-2, -2]) if np.isfinite(cov[-2, -2]) and sa > 0 else math.nan
    s_se = s * math.sqrt(cov[-1, -1]) if np.isfinite(cov[-1, -1]) else math.nan
    monthly_s, dmonthly = _monthly_sigma(s, length)
    monthly_s_se = abs(dmonthly) * s_se

    months_present: list[int] = []
    seasonality = [1.0] * 12
    labels = []
    for m0, factor in zip(group_months, factors):
        months = [(int(m0) - 1 + j) % 12 + 1 for j in range(length)]
        months_present.extend(months)
        for m in months:
            seasonality[m - 1] = float(factor)
        labels.append(_MONTH_NAMES[months[0] - 1] if length == 1
                      else f"{_MONTH_NAMES[months[0] - 1]}-{_MONTH_NAMES[months[-1] - 1]}")

    # Goodness of fit.
    z = panel.standardized(beta, log_sa, log_s)
    ks = stats.kstest(z, "norm")
    observed_means = np.bincount(rep_codes, np.exp(y), panel.n_reps) / panel.n
    rng = np.random.default_rng(seed)
    sim_means = np.empty((simulations, panel.n_reps))
    for team in range(simulations):  # the same reps and periods, new skills and noise
        skill = rng.normal(0.0, sa, panel.n_reps)
        simulated = np.exp(beta[groups] + skill[rep_codes] + rng.normal(0.0, s, n_obs))
        sim_means[team] = np.bincount(rep_codes, simulated, panel.n_reps) / panel.n
    ks_means = stats.ks_2samp(observed_means, sim_means.ravel())

    lr = lr_df = lr_p = None
    if len(period_labels) > g:
        per_period = _Panel(y, rep_codes, period_codes, panel.n_reps, len(period_labels))
        _, _, nll_periods, _ = per_period.fit()
        lr = max(2.0 * (nll - nll_periods), 0.0)
        lr_df = len(period_labels) - g
        lr_p = float(stats.chi2.sf(lr, lr_df))

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
    )
    once = int((np.bincount(group_of_period) == 1).sum())
    notes = _warnings(cal, at_boundary, bool(np.isnan(cov).any()), attainment.size, once)
    return replace(cal, warnings=tuple(notes))


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
              once: int) -> list[str]:
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
    if cal.period_effects_pvalue is not None and cal.period_effects_pvalue < _SIGNIFICANT:
        out.append(f"periods differ team-wide beyond seasonality (LR p = "
                   f"{cal.period_effects_pvalue:.2g}): shocks or a trend the simulator does "
                   "not model are counted as rep noise")
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
    obs, pred = cal.rep_means_observed, cal.rep_means_predicted
    lines += [
        "",
        "Fit",
        _row("log-likelihood", f"{cal.log_likelihood:.1f}",
             f"of log attainment at the maximum, k = {cal.n_parameters} parameters"),
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
        lines.append(_row("period effects",
                          f"LR {cal.period_effects_lr:.1f}, df {cal.period_effects_df}, "
                          f"p {_p(cal.period_effects_pvalue)}",
                          "team-wide swings between periods beyond seasonality (shocks, trend)"))
    else:
        lines.append(_row("period effects", "n/a",
                          "each period is its own period of the year: not testable"))
    lines += ["", "Warnings" if cal.warnings else "Warnings: none"]
    lines += [f"  - {w}" for w in cal.warnings]
    return "\n".join(lines) + "\n"


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
    monthly factors; and ``scenario`` to ``name``. Everything else, comments included, is
    the base file's text; the base's opening comment becomes a fit summary. The result is
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
                                 base_name)
    parse_scenario(new_text, str(out))  # never write a scenario that does not load
    write_text_atomic(out, new_text)
    return out


def _num(x: float) -> str:
    """A number as YAML reads it back as a float: positional, 4 significant digits."""
    return np.format_float_positional(float(x), precision=4, unique=False, fractional=False,
                                      trim="0")


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
                   base_name: str) -> str:
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
        return self.apply()

    def header(self, cal: Calibration, base_name: str, primary: str) -> None:
        """Replace the opening comment block with a summary of the fit (no date)."""
        sigma = (f"{cal.noise_sigma:.3f} per {cal.period_kind} = {cal.monthly_noise_sigma:.3f} "
                 "per month" if cal.months_per_period > 1 else f"{cal.noise_sigma:.3f} per month")
        summary = (
            f"Calibrated scenario: {base_name} fitted to the history in {cal.source} "
            f"(`incentive\0calibrate`). Fit: {cal.n_reps} reps, {cal.n_periods} "
            f"{_ADJECTIVE[cal.period_kind]} periods ({cal.n_observations} rep-periods, "
            f"{cal.zeros_dropped} zero attainments left out); sigma_skill {cal.sigma_skill:.3f}, "
            f"noise sigma {sigma}, level {cal.level:.3f}, residual KS p-value "
            f"{_p(cal.residual_ks_pvalue)}. Fitted keys: reps.skill, outputs.{primary} (level, "
            "noise), seasonality; the rest is the base scenario's. The level includes the effort "
            "reps gave under the plan the history was paid under."
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
