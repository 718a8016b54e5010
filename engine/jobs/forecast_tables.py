"""The forecast's tables from the runs: per period and year (:func:`period_table`), the
accrual (:func:`accrued`), per rep (:func:`rep_table`), the rest of the year against the
closed months (:func:`rest_of_year_parts`), the market read (:func:`market_document`) and
the assumptions (:func:`assumption_rows`)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from engine.jobs.forecast_carry import timing_runs
from engine.jobs.forecast_read import MarketRead, Reading
from engine.jobs.forecast_runs import Runs
from engine.jobs.forecast_team import Paid, Setup, Team, month_end, month_start, plan_season
from engine.jobs.rest_of_year import against_so_far
from engine.plan.validate import CheckedPlan
from engine.sim.scenario import Scenario
from engine.sim.uncertain import (
    BehaviourPrior,
    weighted_quantile,
)

QUANTILES = (0.5, 0.9, 0.95)


def rest_of_year_parts(setup: Setup, team: Team, read: Reading, scenario: Scenario, paid: Paid,
                  sims: Runs) -> dict | None:
    """Why the open months pay more or less than the closed ones (engine/jobs/rest_of_year.py)."""
    M = team.closed_months
    if sims.records is None or team.primary not in team.real or len(read.effort_factor) != M:
        return None
    season = plan_season(setup, scenario)
    rest = against_so_far(sims.records, sims.weights, closed_months=M, paid=paid.to_date,
                          closed_output=float(team.real[team.primary][:, :M].sum()),
                          closed_effort=np.asarray(read.effort_factor, dtype=float),
                          closed_present=(team.active_days[:, :M] > 0).sum(axis=0), season=season)
    if rest is not None:
        rest["output"]["measure"] = team.primary
    return rest


def period_table(setup: Setup, paid: Paid, sims: Runs) -> tuple[pd.DataFrame, set[int], np.ndarray]:
    """The table per period and for the year, the period in progress (if any), and the year's
    P05, P50, P90 and P95."""
    M, P = setup.closed_months, len(setup.periods)
    weights = sims.weights
    rows = []
    in_progress = {int(setup.period_of_month[M - 1])} if M < 12 and setup.closed_periods < P and \
        int(setup.period_of_month[M - 1]) == setup.closed_periods else set()
    for k, lb in enumerate(p.label for p in setup.periods):
        if k < setup.closed_periods:
            v = paid.by_period[k]
            rows.append((lb, "closed", v, v, v, v, v))
        else:
            x = sims.period_runs[:, k]
            q = weighted_quantile(x, weights, QUANTILES)
            rows.append((lb, "in progress" if k in in_progress else "forecast", np.nan,
                         float(np.average(x, weights=weights)), *map(float, q)))
    qy = weighted_quantile(sims.annual, weights, (0.05,) + QUANTILES)
    annual_mean = float(np.average(sims.annual, weights=weights))
    rows.append(("year", "", paid.to_date, annual_mean, float(qy[1]), float(qy[2]), float(qy[3])))
    return pd.DataFrame(rows, columns=["period", "status", "paid", "mean", "p50", "p90", "p95"]), in_progress, qy


def accrued(checked: CheckedPlan, setup: Setup, team: Team, paid: Paid, sims: Runs, in_progress: set[int],
             annual_mean: float) -> tuple[float, str, float]:
    """The cost recognised to date, the accrual method and the share of the year elapsed
    (module docstring)."""
    days, M = team.days, team.closed_months
    elapsed_days = float(days[:M].sum())
    share_year = elapsed_days / float(days.sum())
    if checked.plan.accumulate == "year":
        return max(paid.to_date, annual_mean * share_year), "ratable", share_year
    earned = paid.to_date
    for k in in_progress:
        ms = [m for m in range(12) if setup.period_of_month[m] == k]
        f = sum(days[m] for m in ms if m < M) / sum(days[m] for m in ms)
        earned += float(np.average(sims.period_runs[:, k], weights=sims.weights)) * f
    return earned, "by period", share_year


def rep_table(setup: Setup, team: Team, paid: Paid, read: Reading, sims: Runs) -> pd.DataFrame:
    """One row per roster rep, and a last ``(new hires)`` row for the backfills."""
    weights, open_periods, R, M = sims.weights, sims.open_periods, team.n_reps, team.closed_months
    runs = len(sims.annual)
    rem = sims.seat_pay[:, :, open_periods].sum(axis=2) if open_periods else np.zeros((runs, R))
    year_rep = paid.rep[None, :] + rem
    prim_obs = team.real[team.primary].sum(axis=1) if team.primary in team.real else np.full(R, np.nan)
    target_to_date = team.roster.quota * team.active_days[:, :M].sum(axis=1) / float(team.days.sum())
    reps = pd.DataFrame({
        "rep_id": team.ids, "paid_to_date": paid.rep,
        "expected_remaining": np.average(rem, axis=0, weights=weights),
        "expected_year": np.average(year_rep, axis=0, weights=weights),
        "p50_year": weighted_quantile(year_rep, weights, 0.5, axis=0),
        "p90_year": weighted_quantile(year_rep, weights, 0.9, axis=0),
        "quit_probability": np.average(sims.quit_seat, axis=0, weights=weights),
        "attainment_to_date": np.where(target_to_date > 0, prim_obs / np.maximum(target_to_date, 1e-9), np.nan),
        "skill_median": np.exp(read.skill_mean), "skill_sd": read.skill_sd,
    })
    hires_rem = (sims.period_runs[:, open_periods].sum(axis=1) - rem.sum(axis=1)) if open_periods else np.zeros(runs)
    hires_mean = float(np.average(hires_rem, weights=weights))
    reps.loc[len(reps)] = {"rep_id": "(new hires)", "paid_to_date": 0.0, "expected_remaining": hires_mean,
                           "expected_year": hires_mean, "p50_year": float(weighted_quantile(hires_rem, weights, 0.5)),
                           "p90_year": float(weighted_quantile(hires_rem, weights, 0.9)), "quit_probability": np.nan,
                           "attainment_to_date": np.nan, "skill_median": np.nan, "skill_sd": np.nan}
    return reps


def market_document(setup: Setup, market: MarketRead | None, scenario: Scenario, M: int) -> dict | None:
    """The market read off the closed months, for :attr:`Forecast.market` (None: not read)."""
    if market is None:
        return None
    mm = scenario.market
    return {
        "model": {"year_sigma": mm.year_sigma, "rho": mm.rho, "month_sigma": mm.month_sigma,
                  "team_share": mm.team_share},
        "months": [(month_start(setup.start, m).strftime("%Y-%m"), float(market.multiplier[0, m]),
                    float(market.sd_seen[0, m])) for m in range(M)],
        "level": float(market.mean[0, 0]), "level_sd": float(math.sqrt(market.cov[0, 0, 0])),
        "last": float(market.mean[0, 1]), "last_sd": float(math.sqrt(market.cov[0, 1, 1])),
    }


def assumption_rows(checked: CheckedPlan, setup: Setup, team: Team, read: Reading, sims: Runs,
                 scenario: Scenario, runs: int, seed: int, behaviour: BehaviourPrior | None, method: str,
                 as_of_date: dt.date, carry: tuple[float, float] | None = None) -> list[tuple[str, str]]:
    """``(item, value)`` pairs: what the forecast assumed, for the record."""
    plan, inputs, M = checked.plan, setup.inputs, team.closed_months
    refill = team.refill
    return [
        ("plan", plan.name), ("scenario", scenario.name), ("roster", inputs.sources.get("roster", "roster")),
        ("actuals", inputs.sources.get("actuals", "actuals")),
        ("plan year", f"{setup.start.isoformat()} to {month_end(setup.start, 11).isoformat()}"),
        ("as of", f"{setup.as_of} (closed through {as_of_date.isoformat()}, {M} of 12 months)"),
        ("actuals after the as-of point", "ignored" if setup.ignored_later else "none"),
        ("runs", str(runs)), ("seed", str(seed)),
        ("paid to date", "the closed periods' statements, as `incentive payout` computes them"),
        ("skill prior (log)",
         f"mean {team.prior_mean:.4f}, sd {team.prior_sd:.4f} ({scenario.skill.describe()})"),
        ("skill posterior", "normal shrinkage of log skill on production to date (see docs/model.md, Forecast)"),
        ("count outputs at the team's rates so far",
         ", ".join(f"{k} x {v:.3f}" for k, v in read.count_scale.items()) or "none read by the plan"),
        ("effort behind the actuals so far", ", ".join(f"{x:.3f}" for x in read.effort_factor) if M < 12 else "n/a"),
        ("quit hazard at the team's rate so far", f"x {read.quit_scale:.3f}"),
        ("seats of leavers so far refilled", "no" if refill is None else
         f"{int((refill >= 0).sum())} after {int(dict(scenario.attrition)['vacancy_months'])} months' vacancy"),
        ("behaviour", "the scenario's, known (every rep at baseline morale on the first day)" if behaviour is None
         else f"uncertain: {behaviour.describe()}; the team in post settled up to {read.settle_gap:.3f} below its "
              f"baseline morale (x drain x tenure's share of the way)"),
        ("behaviour after the actuals so far", "n/a" if behaviour is None or sims.theta_post is None else
         ", ".join(f"{n} {v:.2f} (prior {p:.2f})" for n, v, p in zip(behaviour.names, sims.theta_post,
                                                                    behaviour.mean()))
         + f"; runs weighted by the likelihood of the closed blocks, effective runs {sims.ess:.0f} of {runs}"),
        ("business moved across period ends", _timing_text(read, runs)),
        ("business moved across the as-of period end",
         "none carried" if carry is None or read.carry_in is None or read.carry_share is None else
         f"each run that moves business carries U({carry[0]:g}, {carry[1]:g}) x the model's rate into the first "
         f"open month: {read.carry_share:.3f} of a month's business of the last closed period (the pilot's pushes "
         f"less pulls), {float(read.carry_in.sum()):,.0f} of {team.primary} at that rate; the skill and market reads "
         f"see the as-of month with its expectation (x {read.p_on * 0.5 * sum(carry):.2f}) put back"),
        ("accrual method", method + (": expected annual payout x share of the year elapsed, at least paid to date"
                                     if method == "ratable" else
                                     ": closed periods as paid + expected pay of a period in progress x its "
                                     "share elapsed")),
        ("base_salary", "from the roster" if "base_salary" in setup.table.columns else
         f"from ti and the scenario's pay mix {scenario.pay_mix:g}"),
        ("production scale", f"the roster's {scenario.primary_target}"
         if scenario.primary_target in setup.table.columns or plan.targets else
         "each rep's run rate so far (the plan has no target; reps with nothing yet at the team's median)"),
        ("tenure", "from the roster" if "tenure_months" in setup.table.columns or "start_date" in setup.table.columns
         else "drawn from the scenario"),
    ]


def _timing_text(read: Reading, runs: int) -> str:
    """What the forecast assumed of the team's timing (engine/jobs/forecast_carry.py)."""
    t = read.timing
    if t is None:
        return "as the scenario's reps do, known (not read: no dated rows, or nothing to compare)"
    moving = int(timing_runs(runs, t.p_on).sum())
    return (f"{moving} of {runs} runs as the scenario's reps do, the others none: the team's month profile "
            f"(collapsed months where business is moved less elsewhere) {t.observed:+.3f}, the model's "
            f"{t.on_mean:+.3f} (sd {t.on_sd:.3f}) with its timing and {t.off_mean:+.3f} (sd {t.off_sd:.3f}) "
            f"without; prior {t.prior:.2f}, posterior {t.p_on:.3f}")
