"""The text of a calibration (:class:`~engine.sim.calibrate.Calibration`): what
``incentive calibrate`` and ``incentive forecast --history`` print about the fit.

Formatting only: the numbers are the fit's (:mod:`engine.sim.calibrate`).

Public: :func:`calibration_report`.
"""

from __future__ import annotations

import math

from engine.core.periods import PERIOD_ADJECTIVE, PERIOD_PLURAL
from engine.core.text import p_value
from engine.sim.calibrate import Calibration

__all__ = ["calibration_report"]


def calibration_report(cal: Calibration) -> str:
    """A readable report of a calibration: parameters, fit statistics and warnings.

    Args:
        cal: what :func:`~engine.sim.calibrate.fit_history` returned.

    Returns:
        Plain text, one item per line, ending with a newline.
    """
    per = cal.period_kind
    lines = [
        f"Calibration of {cal.source}",
        (f"  {cal.n_reps} reps, {cal.n_periods} {PERIOD_ADJECTIVE[per]} periods ({cal.first_period} "
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
                          f"gives that {PERIOD_ADJECTIVE[per]} noise if months are independent"))
    lines += [
        _row("level", _pm(cal.level, cal.level_se),
             "expected attainment of a median-skill rep under the historical plan"),
        "",
    ]
    if len(cal.season_labels) > 1:
        lines.append(f"Seasonality (mean 1 over the {PERIOD_PLURAL[per]} of the year present)")
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
        _row("residual KS", f"D {cal.residual_ks_statistic:.3f}, p {p_value(cal.residual_ks_pvalue)}",
             "standardized residuals vs normal (p < 0.01: noise not lognormal)"),
        _row("rep means KS", f"D {cal.rep_means_ks_statistic:.3f}, p {p_value(cal.rep_means_ks_pvalue)}",
             f"per-rep mean attainment vs {cal.simulations} teams simulated from the fit "
             f"(seed {cal.seed})"),
        _row("", "", f"p10/p50/p90 observed {obs[0]:.2f}/{obs[1]:.2f}/{obs[2]:.2f}, "
             f"predicted {pred[0]:.2f}/{pred[1]:.2f}/{pred[2]:.2f}"),
    ]
    if cal.period_effects_pvalue is not None:
        lines.append(_row("market LR",
                          f"LR {cal.period_effects_lr:.1f}, p {p_value(cal.period_effects_pvalue)}",
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
